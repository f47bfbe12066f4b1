"""The Numba AES-GCM and ChaCha20-Poly1305 kernels (numba-portable, numba-hw).

Every available numba row is run on the NIST CAVP GCM files (FAIL cases
included), the RFC 7539 / OpenSSL / BoringSSL ChaCha20-Poly1305 files, the RFC
ChaCha20 keystream vectors, differentially against the openssl backend (and a
small SP 800-38D reference for IVs shorter than OpenSSL takes), and on every hot
path against reference semantics. Rows that are unavailable skip with their
reason.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import struct
import subprocess
import sys

import pytest

from cryptobench import _reference as ref
from cryptobench import registry
from cryptobench import vectors as V
from cryptobench.errors import InvalidKey, InvalidLength, InvalidNonce, InvalidTag

pytestmark = pytest.mark.skipif(importlib.util.find_spec("numba") is None, reason="numba is not installed")

from cryptography.hazmat.primitives import poly1305  # noqa: E402
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes  # noqa: E402

AEADS = ("aes-128-gcm", "aes-256-gcm", "chacha20-poly1305")
TIERS = ("numba-portable", "numba-hw")


def _kernel(algorithm: str, backend: str):
    k = registry.get(algorithm, backend)
    if not k.available:
        pytest.skip(f"{k.name}: {k.reason}")
    return k


@pytest.fixture(params=[(a, t) for a in AEADS for t in TIERS], ids=lambda p: f"{p[0]}/{p[1]}")
def kernel(request):
    return _kernel(*request.param)


@pytest.fixture(params=[(a, t) for a in AEADS[:2] for t in TIERS], ids=lambda p: f"{p[0]}/{p[1]}")
def gcm_kernel(request):
    return _kernel(*request.param)


@pytest.fixture(params=TIERS)
def chacha_kernel(request):
    return _kernel("chacha20-poly1305", request.param)


# ---------------------------------------------------------------- registration and import


def test_import_and_registration_do_not_import_numba():
    code = (
        "import sys\n"
        "from cryptobench.registry import Registry\n"
        "import cryptobench.kernels.aes_gcm.numba as a, cryptobench.kernels.chacha20_poly1305.numba as c\n"
        "r = Registry(); a.register(r); c.register(r)\n"
        "print(len(r.all()), 'numba' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["6", "False"]


def test_rows_and_claims():
    for algorithm in AEADS:
        p = registry.get(algorithm, "numba-portable")
        h = registry.get(algorithm, "numba-hw")
        if algorithm.startswith("aes"):
            assert p.constant_time is False  # S-box / T-table lookups
            if h.available:
                assert h.constant_time is True
                assert h.path in ("aesni-pclmulqdq-x8", "vaes-vpclmulqdq-ymm-x16")
        else:
            assert p.constant_time is True
            assert h.constant_time is True
        for k in (p, h):
            assert k.available or k.reason


def test_prepare_reports_cache_stats(kernel):
    stats = kernel.prepare()
    assert set(stats) == {"cache_hits", "cache_misses"}
    assert all(isinstance(v, int) and v >= 0 for v in stats.values())


def test_second_process_loads_from_cache(kernel):
    kernel.prepare()  # this process has compiled (or loaded) everything
    code = (
        "import json\nfrom cryptobench import registry\n"
        f"print(json.dumps(registry.get({kernel.algorithm!r}, {kernel.backend!r}).prepare()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    stats = json.loads(out.strip().splitlines()[-1])
    assert stats["cache_misses"] == 0 and stats["cache_hits"] > 0


# ---------------------------------------------------------------- vectors


def _check_aead_vector(k, v):
    why = k.impl.supports(len(v.nonce), len(v.tag))
    if why:
        return
    ctx = k.impl.new(v.key, len(v.tag))
    if v.valid:
        if v.direction == "encrypt":
            assert ctx.encrypt(v.nonce, v.plaintext, v.aad) == v.ciphertext + v.tag, v.source
        assert ctx.decrypt(v.nonce, v.ciphertext + v.tag, v.aad) == v.plaintext, v.source
    else:
        with pytest.raises(InvalidTag):
            ctx.decrypt(v.nonce, v.ciphertext + v.tag, v.aad)


def test_aead_vectors(kernel):
    vs = V.aead_vectors(kernel.algorithm)
    assert len(vs) > 50
    if kernel.algorithm.startswith("aes"):
        assert any(not v.valid for v in vs) and any(len(v.nonce) != 12 for v in vs)
    for v in vs:
        _check_aead_vector(kernel, v)


def test_chacha20_keystream_vectors(chacha_kernel):
    for v in V.chacha20_vectors():
        f = chacha_kernel.hot_paths["chacha20"](v.key)
        assert f(v.nonce, v.counter, v.plaintext) == v.ciphertext, v.source


# ---------------------------------------------------------------- differential


def _gcm_reference(key: bytes, iv: bytes, pt: bytes, aad: bytes, tag_len: int) -> bytes:
    """SP 800-38D §7.1 from AES-ECB (cryptography) and _reference.ghash, any IV length."""
    ecb = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    h = ecb.update(bytes(16))

    def pad(b: bytes) -> bytes:
        return b + bytes(-len(b) % 16)

    if len(iv) == 12:
        j0 = iv + b"\x00\x00\x00\x01"
    else:
        j0 = ref.ghash(h, pad(iv) + bytes(8) + struct.pack(">Q", 8 * len(iv)))
    ctr = int.from_bytes(j0[12:], "big")
    blocks = b"".join(
        ecb.update(j0[:12] + ((ctr + i) & 0xFFFFFFFF).to_bytes(4, "big")) for i in range(1, len(pt) // 16 + 2)
    )
    ct = bytes(a ^ b for a, b in zip(pt, blocks))
    s = ref.ghash(h, pad(aad) + pad(ct) + struct.pack(">QQ", 8 * len(aad), 8 * len(ct)))
    tag = bytes(a ^ b for a, b in zip(ecb.update(j0), s))
    return ct + tag[:tag_len]


LENGTHS = [0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257, 511, 512, 513, 1000, 2048]


def test_differential_vs_openssl(kernel):
    rng = random.Random(f"numba/{kernel.name}")
    ossl = registry.get(kernel.algorithm, "openssl").impl
    ks = kernel.impl.key_size
    lengths = LENGTHS + [rng.randrange(0, 2049) for _ in range(20)]
    for n in lengths:
        key, pt, aad = rng.randbytes(ks), rng.randbytes(n), rng.randbytes(rng.choice([0, 1, 13, 16, 40, 300]))
        nonce = rng.randbytes(12)
        a, b = kernel.impl.new(key), ossl.new(key)
        ct = a.encrypt(nonce, pt, aad)
        assert ct == b.encrypt(nonce, pt, aad), n
        assert a.decrypt(nonce, ct, aad) == pt
        # bytes-like inputs are accepted and not modified
        buf = bytearray(pt)
        assert a.encrypt(memoryview(nonce), buf, bytearray(aad)) == ct and buf == pt
        # tampering: tag, ciphertext, AAD, nonce
        for bad_ct, bad_aad, bad_nonce in (
            (ct[:-1] + bytes([ct[-1] ^ 1]), aad, nonce),
            ((bytes([ct[0] ^ 0x80]) + ct[1:]) if n else ct, aad if n else aad + b"x", nonce),
            (ct, aad + b"\x00", nonce),
            (ct, aad, bytes([nonce[0] ^ 1]) + nonce[1:]),
        ):
            with pytest.raises(InvalidTag):
                a.decrypt(bad_nonce, bad_ct, bad_aad)


def test_gcm_iv_and_tag_lengths(gcm_kernel):
    rng = random.Random(f"ivtag/{gcm_kernel.name}")
    ossl = registry.get(gcm_kernel.algorithm, "openssl").impl
    ks = gcm_kernel.impl.key_size
    for iv_len in (1, 2, 7, 8, 11, 12, 13, 16, 17, 60, 64, 128, 129, 300):
        for tag_len in (4, 8, 12, 13, 16):
            key, iv = rng.randbytes(ks), rng.randbytes(iv_len)
            pt, aad = rng.randbytes(rng.randrange(0, 600)), rng.randbytes(rng.randrange(0, 40))
            want = _gcm_reference(key, iv, pt, aad, tag_len)
            ctx = gcm_kernel.impl.new(key, tag_len)
            assert ctx.encrypt(iv, pt, aad) == want, (iv_len, tag_len)
            assert ctx.decrypt(iv, want, aad) == pt
            if ossl.supports(iv_len, tag_len) is None:
                assert ossl.new(key, tag_len).encrypt(iv, pt, aad) == want
            with pytest.raises(InvalidTag):
                ctx.decrypt(iv, want[:-1] + bytes([want[-1] ^ 0x40]), aad)


def test_gcm_counter_wraps_mod_2_32(gcm_kernel):
    """inc32 (SP 800-38D §6.2) wraps the low 32 bits only; J0 from a non-96-bit IV can sit near the wrap."""
    rng = random.Random("wrap")
    ks = gcm_kernel.impl.key_size
    ctr = gcm_kernel.hot_paths["aes-ctr"]
    for _ in range(3):
        key = rng.randbytes(ks)
        block = rng.randbytes(12) + (0xFFFFFFFF - rng.randrange(0, 20)).to_bytes(4, "big")
        data = rng.randbytes(rng.randrange(300, 700))
        ecb = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
        c0 = int.from_bytes(block[12:], "big")
        stream = b"".join(
            ecb.update(block[:12] + ((c0 + i) & 0xFFFFFFFF).to_bytes(4, "big")) for i in range(len(data) // 16 + 1)
        )
        assert ctr(key)(block, data) == bytes(a ^ b for a, b in zip(data, stream))


# ---------------------------------------------------------------- hot paths


def test_gcm_hot_paths(gcm_kernel):
    rng = random.Random(f"hot/{gcm_kernel.name}")
    ks = gcm_kernel.impl.key_size
    ghash_setup = gcm_kernel.hot_paths["ghash"]
    for n in (0, 16, 32, 48, 128, 240, 256, 272, 512, 1024, 4096 + 48):
        h, data = rng.randbytes(16), rng.randbytes(n)
        assert ghash_setup(h)(data) == ref.ghash(h, data), n
    with pytest.raises(InvalidLength):
        ghash_setup(bytes(16))(bytes(15))
    ctr_setup = gcm_kernel.hot_paths["aes-ctr"]
    for n in (0, 1, 16, 17, 64, 255, 256, 257, 1024, 4099):
        key, data = rng.randbytes(ks), rng.randbytes(n)
        block = rng.randbytes(12) + rng.randrange(0, 1 << 24).to_bytes(4, "big")
        want = Cipher(algorithms.AES(key), modes.CTR(block)).encryptor().update(data)
        assert ctr_setup(key)(block, data) == want, n
    kx = gcm_kernel.hot_paths["key-expansion"]()
    # FIPS 197 Appendix A.1 / A.3: the last round key
    if ks == 16:
        key, last = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c"), "d014f9a8c9ee2589e13f0cc8b6630ca6"
    else:
        key = bytes.fromhex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")
        last = "fe4890d1e6188d0b046df344706c631e"
    sched = kx(key)
    raw = sched.tobytes() if sched.dtype.itemsize == 1 else b"".join(int(w).to_bytes(4, "big") for w in sched)
    assert raw[-16:].hex() == last
    assert kx(key).tobytes() == sched.tobytes()


def test_chacha_hot_paths(chacha_kernel):
    rng = random.Random(f"hot/{chacha_kernel.name}")
    for n in (0, 1, 63, 64, 65, 511, 512, 513, 1000, 4097):
        key, nonce, ctr = rng.randbytes(32), rng.randbytes(12), rng.randrange(0, 1 << 31)
        data = rng.randbytes(n)
        want = Cipher(algorithms.ChaCha20(key, struct.pack("<I", ctr) + nonce), mode=None).encryptor().update(data)
        assert chacha_kernel.hot_paths["chacha20"](key)(nonce, ctr, data) == want, n
        assert chacha_kernel.hot_paths["poly1305"]()(key, data) == poly1305.Poly1305.generate_tag(key, data), n
    # h close to p: all-ones blocks with r = 2^124-ish exercise the final reduction
    key = bytes([0xFF] * 16) + rng.randbytes(16)
    for n in (16, 32, 33, 64):
        data = b"\xff" * n
        assert chacha_kernel.hot_paths["poly1305"]()(key, data) == poly1305.Poly1305.generate_tag(key, data)


# ---------------------------------------------------------------- bad input


def test_bad_input(kernel):
    ks = kernel.impl.key_size
    with pytest.raises(InvalidKey):
        kernel.impl.new(bytes(ks + 1))
    with pytest.raises(TypeError):
        kernel.impl.new("k" * ks)
    ctx = kernel.impl.new(bytes(ks))
    with pytest.raises(TypeError):
        ctx.encrypt(bytes(12), "text")
    with pytest.raises(TypeError):
        ctx.decrypt(bytes(12), bytes(32), aad=5)
    with pytest.raises(InvalidNonce):
        ctx.encrypt(b"" if kernel.family == "aes_gcm" else bytes(8), b"x")
    with pytest.raises(InvalidTag):
        ctx.decrypt(bytes(12), bytes(3))
    with pytest.raises(InvalidLength):
        kernel.impl.new(bytes(ks), 3 if kernel.family == "aes_gcm" else 12)


# ---------------------------------------------------------------- the hw intrinsics really emit the instructions


def test_hw_intrinsics_lower_to_aesni_and_pclmulqdq():
    from cryptobench import native

    if native.missing("aesni", "pclmulqdq"):
        pytest.skip("CPU lacks AES-NI/PCLMULQDQ")
    import numba
    import numpy as np

    from cryptobench.kernels import _numba_common as nc

    aesenc, clmul_ll, m128_load, m128_store = nc.aesenc, nc.clmul_ll, nc.m128_load, nc.m128_store

    @numba.njit
    def probe(a, b, out):
        x = m128_load(a, 0)
        y = m128_load(b, 0)
        m128_store(out, 0, clmul_ll(x, y))
        m128_store(out, 16, aesenc(x, y))

    a, b = os.urandom(16), os.urandom(16)
    out = np.empty(32, np.uint8)
    probe(np.frombuffer(a, np.uint8), np.frombuffer(b, np.uint8), out)
    asm = "\n".join(probe.inspect_asm().values())
    assert "aesenc" in asm and "pclmulqdq" in asm
    x, y = int.from_bytes(a[:8], "little"), int.from_bytes(b[:8], "little")
    prod = 0
    for i in range(64):
        if (y >> i) & 1:
            prod ^= x << i
    assert int.from_bytes(out[:16].tobytes(), "little") == prod


# ---------------------------------------------------------------- both numba-hw AES code paths


@pytest.mark.parametrize("path", ["hw", "vaes"])
def test_aes_hw_code_paths(path):
    """numba-hw registers one code path per machine; test the other one too where the CPU allows."""
    from cryptobench import native
    from cryptobench.kernels.aes_gcm import numba as nb

    need = ("aesni", "pclmulqdq") + (("vaes", "vpclmulqdq", "avx2") if path == "vaes" else ())
    if native.missing(*need):
        pytest.skip(native.missing(*need))
    rng = random.Random(f"path/{path}")
    for algorithm, size in (("aes-128-gcm", 16), ("aes-256-gcm", 32)):
        aead = nb.AESGCM(size, path)
        for v in V.aead_vectors(algorithm)[::7]:
            if aead.supports(len(v.nonce), len(v.tag)) is None:
                ctx = aead.new(v.key, len(v.tag))
                if v.valid:
                    assert ctx.decrypt(v.nonce, v.ciphertext + v.tag, v.aad) == v.plaintext
                    if v.direction == "encrypt":
                        assert ctx.encrypt(v.nonce, v.plaintext, v.aad) == v.ciphertext + v.tag
                else:
                    with pytest.raises(InvalidTag):
                        ctx.decrypt(v.nonce, v.ciphertext + v.tag, v.aad)
        ossl = registry.get(algorithm, "openssl").impl
        for n in LENGTHS + [4096, 4097, 8191]:
            key, iv, pt, aad = rng.randbytes(size), rng.randbytes(12), rng.randbytes(n), rng.randbytes(n % 29)
            assert aead.new(key).encrypt(iv, pt, aad) == ossl.new(key).encrypt(iv, pt, aad), n
        for iv_len in (1, 7, 13, 64):
            key, iv, pt = rng.randbytes(size), rng.randbytes(iv_len), rng.randbytes(300)
            assert aead.new(key, 12).encrypt(iv, pt, b"a") == _gcm_reference(key, iv, pt, b"a", 12)
        h, data = rng.randbytes(16), rng.randbytes(16 * 37)
        assert nb._setup_ghash(path)(h)(data) == ref.ghash(h, data)


def test_numba_finds_a_private_cache_when_the_usual_ones_are_unusable(tmp_path, monkeypatch):
    # a read-only install, no usable home, and a $TMPDIR/cryptobench-numba-<uid> that is not
    # private (made by hand, mode 0755): Numba had nowhere to cache and every Numba kernel
    # FAILED its vectors ("cannot cache function ...: no locator available"). And with no
    # HOME and no passwd entry, "~/.cache/numba" was made inside the current directory.
    import os
    import stat
    import tempfile

    import numba
    from numba.misc import appdirs

    from cryptobench.kernels import _numba_common as nc

    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setattr(numba.config, "CACHE_DIR", "")
    real_writable = nc._writable_dir
    monkeypatch.setattr(nc, "_writable_dir", lambda p: "__pycache__" not in str(p) and real_writable(p))
    monkeypatch.setattr(appdirs.AppDirs, "user_cache_dir", property(lambda self: "~/.cache/numba"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    shared = tmp_path / f"cryptobench-numba-{os.getuid()}"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    try:
        got = nc.ensure_cache_dir()
        assert got is not None and got != str(shared) and got.startswith(str(shared) + "-")
        assert stat.S_IMODE(os.stat(got).st_mode) == 0o700 and os.environ["NUMBA_CACHE_DIR"] == got
        assert not (tmp_path / "~").exists()  # the unexpanded home was not made here
    finally:
        os.environ.pop("NUMBA_CACHE_DIR", None)
        numba.core.config.reload_config()
