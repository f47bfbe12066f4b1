"""The constant-time claims of the C kernels, checked with valgrind memcheck
("ctgrind", after Adam Langley's idea).

A small C harness per algorithm links the kernel sources as the extension is
built (csrc/build.py's flags) and calls the public entry points with their
secret inputs marked undefined (VALGRIND_MAKE_MEM_UNDEFINED): keys, plaintext,
GHASH subkeys, the ECDSA private key and nonce.  Memcheck then reports every
conditional branch and every memory address computed from a secret.  The
values that are public by design (an AEAD's verdict, an ECDSA signature, the
rare events that make the signer draw another nonce, whether a secret scalar
was in range) are marked public where the code branches on them, by
CB_DECLASSIFY in csrc/common/ct.h, which only the -DCB_CTGRIND build turns on.

Each check runs twice: with those declassification points (memcheck must
report nothing) and without them, as a control (memcheck must report the
branch on the verdict or the signature, which proves that the secrets were
marked and that memcheck sees their use).

Valgrind's CPUID hides ADX and SHA and cannot run VAES or VPCLMULQDQ on ymm, so
the harness takes the host's CPU features from CT_FEATURES instead of cpuid:
the MULX/ADX path runs as it does outside valgrind.  The SHA extensions are
left out (portable SHA-256 runs instead), and the VAES path is driven only
below the sizes where its 16-block ymm loops start (256 bytes of input, two
blocks of AAD): its key schedule, tails and tag, not its bulk loop.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
from pathlib import Path

from conftest import require_memcheck_header, require_tool

CSRC = Path(__file__).resolve().parent.parent / "csrc"

CB_CPU_SHA = 256  # csrc/common/cpu.h

_COMMON = r"""
#include <valgrind/memcheck.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cpu.h"

#define SECRET(p, n) VALGRIND_MAKE_MEM_UNDEFINED((p), (n))
#define PUBLIC(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))
#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "harness: line %d: %s is false\n", __LINE__, #cond); \
            exit(3);                                                             \
        }                                                                        \
    } while (0)

/* cpu.c's cb_cpu_features is renamed cb_cpu_features_host in this build:
 * the features come from CT_FEATURES (the host's), not valgrind's CPUID.
 * Run without CT_FEATURES, the harness prints the host's and exits. */
uint32_t cb_cpu_features_host(void);
uint32_t cb_cpu_features(void)
{
    return (uint32_t)strtoul(getenv("CT_FEATURES"), NULL, 0);
}

static void features_from_env(void)
{
    if (!getenv("CT_FEATURES")) {
        printf("%u\n", cb_cpu_features_host());
        exit(0);
    }
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed * 131 + i * 29 + (i >> 8));
}
"""

_AEAD_HARNESS = _COMMON + r"""
#include "aes_gcm.h"
#include "chacha20_poly1305.h"

#define MAX 4200
static uint8_t key[32], pt[MAX], ref[MAX], ct[MAX + 16], out[MAX + 16], iv[64], aad[1200], h[16], rk[480];
static const size_t LENS[] = {0, 1, 15, 16, 17, 63, 64, 127, 128, 129, 255, 256, 257,
                              447, 448, 959, 960, 1023, 1057, 2048, 4096};

typedef int (*aes_init_fn)(cb_aesgcm_ctx *, const uint8_t *, size_t);
typedef int (*aes_aead_fn)(const cb_aesgcm_ctx *, const uint8_t *, size_t, const uint8_t *, size_t,
                           const uint8_t *, size_t, uint8_t *, size_t);
typedef int (*aes_ctr_fn)(const cb_aesgcm_ctx *, const uint8_t *, const uint8_t *, size_t, uint8_t *);
typedef int (*aes_ghinit_fn)(cb_aesgcm_ctx *, const uint8_t *);
typedef int (*aes_ghash_fn)(const cb_aesgcm_ctx *, const uint8_t *, size_t, uint8_t *);
typedef int (*aes_xk_fn)(uint8_t *, size_t, const uint8_t *, size_t);

static const struct {
    const char *name;
    int id;
    aes_init_fn init;
    aes_aead_fn enc, dec;
    aes_ctr_fn ctr;
    aes_ghinit_fn ghinit;
    aes_ghash_fn ghash;
    aes_xk_fn xk;
    size_t max_len, max_aad; /* vaes: below its ymm loops (see the test's docstring) */
} AES[] = {
    {"portable", CB_AESGCM_PATH_PORTABLE, cb_aesgcm_portable_init, cb_aesgcm_portable_encrypt,
     cb_aesgcm_portable_decrypt, cb_aesgcm_portable_ctr, cb_aesgcm_portable_ghash_init,
     cb_aesgcm_portable_ghash, cb_aesgcm_portable_expand_key, MAX, sizeof aad},
    {"aesni", CB_AESGCM_PATH_AESNI, cb_aesgcm_aesni_init, cb_aesgcm_aesni_encrypt,
     cb_aesgcm_aesni_decrypt, cb_aesgcm_aesni_ctr, cb_aesgcm_aesni_ghash_init,
     cb_aesgcm_aesni_ghash, cb_aesgcm_aesni_expand_key, MAX, sizeof aad},
    {"vaes", CB_AESGCM_PATH_VAES, cb_aesgcm_vaes_init, cb_aesgcm_vaes_encrypt,
     cb_aesgcm_vaes_decrypt, cb_aesgcm_vaes_ctr, cb_aesgcm_vaes_ghash_init,
     cb_aesgcm_vaes_ghash, cb_aesgcm_vaes_expand_key, 255, 31},
};

/* Encrypt secret plaintext, publish ciphertext || tag (it goes on the wire),
 * decrypt it back, then decrypt with a wrong tag and a wrong ciphertext byte. */
static void aes_case(int a, const cb_aesgcm_ctx *ctx, size_t n, size_t aad_len, size_t iv_len, size_t tag_len)
{
    memcpy(pt, ref, n);
    SECRET(pt, n);
    CHECK(AES[a].enc(ctx, iv, iv_len, aad, aad_len, pt, n, ct, tag_len) == CB_AESGCM_OK);
    PUBLIC(ct, n + tag_len);
    CHECK(AES[a].dec(ctx, iv, iv_len, aad, aad_len, ct, n + tag_len, out, tag_len) == CB_AESGCM_OK);
    PUBLIC(out, n);
    CHECK(memcmp(out, ref, n) == 0);
    ct[n + tag_len - 1] ^= 0x80;
    CHECK(AES[a].dec(ctx, iv, iv_len, aad, aad_len, ct, n + tag_len, out, tag_len) == CB_AESGCM_ETAG);
    ct[n + tag_len - 1] ^= 0x80;
    if (n) {
        ct[n / 2] ^= 1;
        CHECK(AES[a].dec(ctx, iv, iv_len, aad, aad_len, ct, n + tag_len, out, tag_len) == CB_AESGCM_ETAG);
        ct[n / 2] ^= 1;
    }
}

static void aes_path(int a)
{
    for (size_t kl = 16; kl <= 32; kl += 16) {
        cb_aesgcm_ctx ctx, gctx;
        fill(key, sizeof key, (unsigned)kl);
        SECRET(key, sizeof key);
        CHECK(AES[a].init(&ctx, key, kl) == CB_AESGCM_OK);
        for (size_t i = 0; i < sizeof LENS / sizeof *LENS; i++) {
            size_t n = LENS[i];
            if (n > AES[a].max_len)
                continue;
            aes_case(a, &ctx, n, 0, 12, 16);
            aes_case(a, &ctx, n, 20, 12, 16);
            /* the key-stream and GHASH hot paths, secret input and subkey */
            memcpy(pt, ref, n);
            SECRET(pt, n);
            CHECK(AES[a].ctr(&ctx, iv, pt, n, out) == CB_AESGCM_OK);
            fill(h, sizeof h, (unsigned)n);
            SECRET(h, sizeof h);
            CHECK(AES[a].ghinit(&gctx, h) == CB_AESGCM_OK);
            size_t g = n & ~(size_t)15;
            if (g > AES[a].max_aad)
                g = AES[a].max_aad & ~(size_t)15;
            CHECK(AES[a].ghash(&gctx, pt, g, out) == CB_AESGCM_OK);
        }
        /* every tag length, IVs other than 96 bits (GHASH-derived J0), long AAD */
        for (size_t t = 4; t <= 16; t++)
            aes_case(a, &ctx, 33, 5, 12, t);
        aes_case(a, &ctx, 33, 0, 1, 16);
        aes_case(a, &ctx, 100, 7, 60, 16);
        aes_case(a, &ctx, 100, AES[a].max_aad, 12, 16);
        SECRET(key, sizeof key);
        CHECK(AES[a].xk(rk, sizeof rk, key, kl) == CB_AESGCM_OK);
    }
}

static const struct {
    const char *name;
    int id;
} CHACHA[] = {{"portable", CB_CHACHA_PATH_PORTABLE}, {"ssse3", CB_CHACHA_PATH_SSSE3}, {"avx2", CB_CHACHA_PATH_AVX2}};

static void chacha_case(const cb_chacha_ctx *ctx, size_t n, size_t aad_len)
{
    memcpy(pt, ref, n);
    SECRET(pt, n);
    CHECK(cb_chacha_aead_encrypt(ctx, iv, 12, aad, aad_len, pt, n, ct, n + 16) == CB_CHACHA_OK);
    PUBLIC(ct, n + 16);
    CHECK(cb_chacha_aead_decrypt(ctx, iv, 12, aad, aad_len, ct, n + 16, out, n) == CB_CHACHA_OK);
    PUBLIC(out, n);
    CHECK(memcmp(out, ref, n) == 0);
    ct[n + 15] ^= 0x80;
    CHECK(cb_chacha_aead_decrypt(ctx, iv, 12, aad, aad_len, ct, n + 16, out, n) == CB_CHACHA_ERR_TAG);
    ct[n + 15] ^= 0x80;
    if (n) {
        ct[n / 2] ^= 1;
        CHECK(cb_chacha_aead_decrypt(ctx, iv, 12, aad, aad_len, ct, n + 16, out, n) == CB_CHACHA_ERR_TAG);
        ct[n / 2] ^= 1;
    }
}

static void chacha_path(int c)
{
    cb_chacha_ctx ctx;
    fill(key, sizeof key, 7);
    SECRET(key, sizeof key);
    CHECK(cb_chacha_ctx_init(&ctx, CHACHA[c].id, key, 32) == CB_CHACHA_OK);
    for (size_t i = 0; i < sizeof LENS / sizeof *LENS; i++) {
        size_t n = LENS[i];
        chacha_case(&ctx, n, 0);
        chacha_case(&ctx, n, 20);
        memcpy(pt, ref, n);
        SECRET(pt, n);
        CHECK(cb_chacha20_xor(&ctx, iv, 12, 1, pt, out, n) == CB_CHACHA_OK);
        SECRET(key, sizeof key);
        CHECK(cb_poly1305_mac(CHACHA[c].id, key, 32, pt, n, out, 16) == CB_CHACHA_OK);
    }
    chacha_case(&ctx, 100, sizeof aad);
    cb_chacha_ctx_wipe(&ctx);
}

int main(void)
{
    features_from_env();
    fill(ref, sizeof ref, 1);
    fill(iv, sizeof iv, 2);
    fill(aad, sizeof aad, 3);
    for (int a = 0; a < (int)(sizeof AES / sizeof *AES); a++) {
        if (!cb_aesgcm_path_supported(AES[a].id))
            continue;
        aes_path(a);
        printf("ran aes-gcm %s\n", AES[a].name);
    }
    for (int c = 0; c < (int)(sizeof CHACHA / sizeof *CHACHA); c++) {
        if (cb_chacha_path_supported(CHACHA[c].id) != 1)
            continue;
        chacha_path(c);
        printf("ran chacha20-poly1305 %s\n", CHACHA[c].name);
    }
    return 0;
}
"""

_P256_HARNESS = _COMMON + r"""
#include "p256.h"

static const struct {
    const char *name;
    int id;
} PATHS[] = {{"portable", CB_P256_PORTABLE}, {"adx", CB_P256_ADX}};

/* n, n - 1 and 0: the ends of the scalar range */
static const uint8_t N[32] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff,
                              0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84,
                              0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};

int main(void)
{
    uint8_t d[32], k[32], digest[32], a[32], b[32], sig[2][4][72], pt[64], inv[32], fm[32];
    int len[2][4];
    features_from_env();
    CHECK(cb_p256_init() > 0);
    int ran[2] = {0, 0};
    for (int p = 0; p < 2; p++) {
        int path = PATHS[p].id;
        if (!cb_p256_path_ok(path))
            continue;
        for (int i = 0; i < 4; i++) {
            fill(d, 32, (unsigned)i + 11);
            d[0] &= 0x7f; /* below n */
            fill(digest, 32, (unsigned)i + 40);
            SECRET(d, 32);
            /* RFC 6979 nonce (HMAC-SHA256 of d), DER and r || s */
            len[p][i] = cb_p256_sign(path, sig[p][i], d, digest, NULL, i & 1);
            CHECK(len[p][i] > 0);
            /* a given nonce (the SigGen vectors' mode), secret too */
            fill(k, 32, (unsigned)i + 70);
            k[0] &= 0x7f;
            SECRET(d, 32);
            SECRET(k, 32);
            CHECK(cb_p256_sign(path, sig[p][i], d, digest, k, 0) == 64);
            len[p][i] = cb_p256_sign(path, sig[p][i], d, digest, NULL, i & 1);
            /* the constant-time hot paths */
            SECRET(k, 32);
            CHECK(cb_p256_base_mul(path, pt, k) == CB_P256_OK);
            SECRET(k, 32);
            CHECK(cb_p256_scalar_inv(path, inv, k) == CB_P256_OK);
            fill(a, 32, (unsigned)i + 90);
            fill(b, 32, (unsigned)i + 91);
            SECRET(a, 32);
            SECRET(b, 32);
            CHECK(cb_p256_field_mul(path, fm, a, b, 3) == CB_P256_OK);
        }
        /* scalars out of range are refused without a secret-dependent branch */
        memcpy(k, N, 32);
        SECRET(k, 32);
        CHECK(cb_p256_base_mul(path, pt, k) == CB_P256_ERANGE);
        memset(k, 0, 32);
        SECRET(k, 32);
        CHECK(cb_p256_scalar_inv(path, inv, k) == CB_P256_ERANGE);
        SECRET(k, 32);
        CHECK(cb_p256_sign(path, sig[p][0], d, digest, k, 0) == CB_P256_ERANGE);
        ran[p] = 1;
        printf("ran ecdsa-p256 %s\n", PATHS[p].name);
    }
    if (ran[0] && ran[1])
        for (int i = 0; i < 4; i++) {
            CHECK(len[0][i] == len[1][i]);
            CHECK(memcmp(sig[0][i], sig[1][i], (size_t)len[0][i]) == 0);
        }
    return 0;
}
"""

_REPORT = re.compile(r"Conditional jump or move depends on uninitialised value|Use of uninitialised value")


def _build_flags() -> list[str]:
    """The flags csrc/build.py compiles the extension with (no sanitizer)."""
    spec = importlib.util.spec_from_file_location("_cb_build", CSRC / "build.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    saved = {k: os.environ.pop(k) for k in ("CRYPTOBENCH_SANITIZE", "CRYPTOBENCH_CFLAGS") if k in os.environ}
    try:
        return mod.compile_flags()[0]
    finally:
        os.environ.update(saved)


def _tools() -> tuple[str, str]:
    gcc, valgrind = require_tool("gcc"), require_tool("valgrind")
    require_memcheck_header(gcc)
    return gcc, valgrind


def _build(gcc: str, tmp_path: Path, name: str, harness: str, folders: list[str], declassify: bool) -> Path:
    """The harness linked with the folders' sources; cpu.c alone is compiled
    with cb_cpu_features renamed, so the harness can supply the features."""
    flags = _build_flags() + ["-g"]
    dirs = [CSRC / "common"] + [CSRC / f for f in folders]
    inc = [f"-I{d}" for d in dirs]
    out = tmp_path / f"{name}-{'ct' if declassify else 'control'}"
    cpu_o = out.with_suffix(".cpu.o")
    subprocess.run([gcc, *flags, *inc, "-Dcb_cpu_features=cb_cpu_features_host", "-c",
                    str(CSRC / "common" / "cpu.c"), "-o", str(cpu_o)], check=True, capture_output=True)
    src = tmp_path / f"{name}.c"
    src.write_text(harness)
    sources = [str(p) for d in dirs[1:] for p in sorted(d.glob("*.c"))]
    asm = [str(p) for d in dirs[1:] for p in sorted(d.glob("*.S"))]
    cmd = [gcc, *flags, *inc, *(["-DCB_CTGRIND"] if declassify else []), str(src), *sources, str(cpu_o)]
    if asm:
        cmd += ["-x", "assembler-with-cpp", *asm]
    res = subprocess.run([*cmd, "-o", str(out), "-lpthread"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-3000:]
    return out


def _check(tmp_path: Path, name: str, harness: str, folders: list[str], expect_control: list[str]):
    gcc, valgrind = _tools()
    ct = _build(gcc, tmp_path, name, harness, folders, declassify=True)
    control = _build(gcc, tmp_path, name, harness, folders, declassify=False)
    host = subprocess.run([str(ct)], env={k: v for k, v in os.environ.items() if k != "CT_FEATURES"},
                          capture_output=True, text=True, check=True)
    # the host's CPU features, less SHA: valgrind cannot run the SHA extensions
    env = dict(os.environ, CT_FEATURES=hex(int(host.stdout) & ~CB_CPU_SHA))
    native = subprocess.run([str(ct)], env=env, capture_output=True, text=True, timeout=120)
    assert native.returncode == 0, native.stderr
    ran = native.stdout.split("\n")
    assert any(line.endswith(" portable") for line in ran), native.stdout

    res = subprocess.run([valgrind, "-q", "--error-exitcode=99", str(ct)], env=env, capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0 and not _REPORT.search(res.stderr), (
        f"memcheck saw a secret-dependent branch or address (exit {res.returncode}):\n{res.stderr[-6000:]}")
    # the same paths ran under valgrind as natively (CT_FEATURES made it so)
    assert res.stdout.split("\n") == ran, (res.stdout, native.stdout)

    res = subprocess.run([valgrind, "-q", str(control)], env=env, capture_output=True, text=True, timeout=600)
    for fn in expect_control:
        # the report's innermost frame is in fn
        assert re.search(rf"(?:{_REPORT.pattern})[^\n]*\n==\d+==\s+at 0x[0-9A-F]+: {fn} ", res.stderr), (
            f"the control build (no declassification) should report the branch in {fn}; memcheck said:\n"
            f"{res.stderr[-6000:]}")
    return ran


def test_aead_kernels_constant_time_under_memcheck(tmp_path):
    """AES-GCM (portable, AES-NI, VAES up to its ymm loops) and ChaCha20-Poly1305
    (portable, SSSE3, AVX2): no branch or address depends on the key, the
    plaintext or the GHASH subkey; only the decrypt verdict is public."""
    ran = _check(tmp_path, "aead", _AEAD_HARNESS, ["aes_gcm", "chacha20_poly1305"],
                 ["cb_aesgcm_portable_decrypt", "cb_chacha_aead_decrypt"])
    assert "ran chacha20-poly1305 portable" in ran


def test_p256_sign_constant_time_under_memcheck(tmp_path):
    """ECDSA P-256 sign (RFC 6979 and a given nonce), k*G, k^-1 mod n and the
    field multiplication, portable and MULX/ADX: nothing depends on d or k
    except the signature and the range verdicts, which are public."""
    ran = _check(tmp_path, "p256", _P256_HARNESS, ["p256"], ["sign_port"])
    assert "ran ecdsa-p256 portable" in ran
