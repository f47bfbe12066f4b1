"""The native ChaCha20-Poly1305 paths (kernels/chacha20_poly1305/native.py).

Every registered native row (native-avx2, native-ssse3, native-portable) is
checked against the RFC 7539 / OpenSSL / BoringSSL vector files of
cryptography_vectors and differentially against the openssl kernel, including
the hot paths. Lower paths are also exercised with CRYPTOBENCH_NATIVE_DISABLE
in a subprocess. Rows that are unavailable skip with their reason.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys

import pytest

from cryptobench import registry
from cryptobench import vectors as V
from cryptobench.errors import InvalidInput, InvalidKey, InvalidLength, InvalidNonce, InvalidTag

BACKENDS = ("native-avx2", "native-ssse3", "native-portable")
ALG = "chacha20-poly1305"
LENGTHS = sorted(set(range(0, 601)) | {1023, 1024, 1025, 1535, 1536, 1600, 2047, 2048, 8192, 8193, 16384, 16385})


def _kernel(backend):
    try:
        k = registry.get(ALG, backend)
    except Exception as exc:  # not registered at all
        pytest.skip(f"{backend}: {exc}")
    if not k.available:
        pytest.skip(f"{backend}: {k.reason}")
    return k


@pytest.fixture(scope="module")
def ref():
    return registry.get(ALG, "openssl")


@pytest.fixture(params=BACKENDS)
def kern(request):
    return _kernel(request.param)


def test_registered_with_paths():
    names = {k.backend: k for k in registry.kernels() if k.algorithm == ALG}
    for b, path in zip(BACKENDS, ("avx2-8x", "ssse3-4x", "portable")):
        assert b in names
        assert names[b].path == path
        assert names[b].constant_time is True
        if not names[b].available:
            assert names[b].reason


def test_aead_vector_files(kern):
    vs = V.aead_vectors(ALG)
    assert len(vs) > 10
    for v in vs:
        ctx = kern.impl.new(v.key)
        if v.valid:
            assert ctx.encrypt(v.nonce, v.plaintext, v.aad) == v.ciphertext + v.tag, v.source
            assert ctx.decrypt(v.nonce, v.ciphertext + v.tag, v.aad) == v.plaintext, v.source
        else:
            with pytest.raises(InvalidTag):
                ctx.decrypt(v.nonce, v.ciphertext + v.tag, v.aad)


def test_chacha20_rfc_vectors(kern):
    for v in V.chacha20_vectors():
        f = kern.hot_paths["chacha20"](v.key)
        assert f(v.nonce, v.counter, v.plaintext) == v.ciphertext, v.source


def test_poly1305_rfc_vectors(kern):
    import cryptography_vectors

    path = os.path.join(os.path.dirname(cryptography_vectors.__file__), "vectors", "cryptography_vectors", "poly1305", "rfc7539.txt")
    if not os.path.exists(path):
        path = os.path.join(os.path.dirname(cryptography_vectors.__file__), "poly1305", "rfc7539.txt")
    f = kern.hot_paths["poly1305"]()
    rec: dict[str, str] = {}
    n = 0
    for line in list(open(path)) + [""]:
        line = line.strip()
        if "=" in line and not line.startswith("#"):
            k, val = (x.strip() for x in line.split("=", 1))
            rec[k] = val
        elif not line and "TAG" in rec:
            assert f(bytes.fromhex(rec["KEY"]), bytes.fromhex(rec["MSG"])) == bytes.fromhex(rec["TAG"])
            n += 1
            rec = {}
    assert n >= 5


def test_differential_lengths(kern, ref):
    rng = random.Random(8439)
    key = rng.randbytes(32)
    a, b = kern.impl.new(key), ref.impl.new(key)
    for n in LENGTHS:
        nonce = rng.randbytes(12)
        pt = rng.randbytes(n)
        aad = rng.randbytes(rng.choice((0, 1, 12, 15, 16, 17, 64, 300)))
        ct = a.encrypt(nonce, pt, aad)
        assert ct == b.encrypt(nonce, pt, aad), n
        assert a.decrypt(nonce, ct, aad) == pt
        # bytearray / memoryview inputs take the from_buffer route
        assert a.encrypt(bytearray(nonce), memoryview(pt), bytearray(aad)) == ct
        out = bytearray(n + 16)
        assert a.encrypt_into(nonce, pt, aad, out) == n + 16 and out == ct
        # out may be the plaintext's buffer (in place) or the AAD's: the ciphertext written
        # over the AAD before it went through Poly1305 made a tag that never verified
        out = bytearray(pt + bytes(16))
        assert a.encrypt_into(nonce, memoryview(out)[:n], aad, out) == n + 16 and out == ct
        long_aad = rng.randbytes(n + 16)
        out = bytearray(long_aad)
        a.encrypt_into(nonce, pt, out, out)
        assert out == b.encrypt(nonce, pt, long_aad), n


def test_tampering_is_refused(kern):
    rng = random.Random(7)
    key, nonce = rng.randbytes(32), rng.randbytes(12)
    ctx = kern.impl.new(key)
    for n in (0, 1, 15, 16, 17, 63, 64, 65, 600, 1024, 8193):
        pt, aad = rng.randbytes(n), rng.randbytes(5)
        ct = ctx.encrypt(nonce, pt, aad)
        positions = {0, len(ct) - 1, len(ct) - 16, max(0, n - 1)}
        for i in positions:
            bad = bytearray(ct)
            bad[i] ^= 0x80
            with pytest.raises(InvalidTag):
                ctx.decrypt(nonce, bytes(bad), aad)
        with pytest.raises(InvalidTag):
            ctx.decrypt(nonce, ct, aad + b"x")
        with pytest.raises(InvalidTag):
            ctx.decrypt(bytes(12), ct, aad)
        with pytest.raises(InvalidTag):
            ctx.decrypt(nonce, ct[:15])


def test_bad_inputs(kern):
    impl = kern.impl
    with pytest.raises(InvalidKey):
        impl.new(bytes(16))
    with pytest.raises(TypeError):
        impl.new("k" * 32)
    with pytest.raises(InvalidLength):
        impl.new(bytes(32), tag_length=12)
    ctx = impl.new(bytes(32))
    with pytest.raises(InvalidNonce):
        ctx.encrypt(bytes(8), b"x")
    with pytest.raises(InvalidNonce):
        ctx.decrypt(bytes(16), bytes(32))
    with pytest.raises(TypeError):
        ctx.encrypt(bytes(12), "text")
    with pytest.raises(TypeError):
        ctx.encrypt(bytes(12), b"x", 5)
    with pytest.raises(TypeError):
        ctx.decrypt(bytes(12), None)
    with pytest.raises(TypeError):
        ctx.encrypt_into(bytes(12), b"x", b"", bytes(17))  # read-only output
    with pytest.raises(InvalidLength):
        ctx.encrypt_into(bytes(12), b"x", b"", bytearray(16))
    assert impl.supports(12, 16) is None
    assert impl.supports(8, 16) and impl.supports(12, 12)
    f = kern.hot_paths["chacha20"](bytes(32))
    with pytest.raises(InvalidInput):
        f(bytes(12), 2**32, b"x")
    with pytest.raises(TypeError):
        f(bytes(12), 1.0, b"x")
    with pytest.raises(InvalidLength):
        f(bytes(12), 2**32 - 1, bytes(65))  # second block would be 2^32
    assert len(f(bytes(12), 2**32 - 1, bytes(64))) == 64
    p = kern.hot_paths["poly1305"]()
    with pytest.raises(InvalidKey):
        p(bytes(31), b"")


def test_counter_limit_is_arithmetic(kern):
    """The AEAD length limit (2^32 - 1 blocks from counter 1) is refused without
    allocating or touching that much memory: the C check is on lengths alone."""
    from cryptobench.kernels.chacha20_poly1305 import native

    lib, ffi = native._lib, native._ffi
    path = {"avx2-8x": lib.CB_CHACHA_PATH_AVX2, "ssse3-4x": lib.CB_CHACHA_PATH_SSSE3, "portable": lib.CB_CHACHA_PATH_PORTABLE}[kern.path]
    ctx = ffi.new("cb_chacha_ctx *")
    assert lib.cb_chacha_ctx_init(ctx, path, bytes(32), 32) == 0
    big = native.MAX_LENGTH + 1
    one = ffi.new("uint8_t[1]")
    assert lib.cb_chacha_aead_encrypt(ctx, bytes(12), 12, ffi.NULL, 0, one, big, one, big + 16) == lib.CB_CHACHA_ERR_TOO_LONG
    assert lib.cb_chacha_aead_decrypt(ctx, bytes(12), 12, ffi.NULL, 0, one, big + 16, one, big) == lib.CB_CHACHA_ERR_TOO_LONG
    assert lib.cb_chacha20_xor(ctx, bytes(12), 12, 5, one, one, (2**32 - 5) * 64 + 1) == lib.CB_CHACHA_ERR_TOO_LONG
    # and the C entry points validate the rest too
    assert lib.cb_chacha_aead_encrypt(ctx, bytes(12), 11, ffi.NULL, 0, one, 0, one, 16) == lib.CB_CHACHA_ERR_ARG
    assert lib.cb_chacha_aead_encrypt(ctx, bytes(12), 12, ffi.NULL, 0, one, 1, one, 16) == lib.CB_CHACHA_ERR_ARG
    assert lib.cb_chacha_aead_decrypt(ctx, bytes(12), 12, ffi.NULL, 0, one, 15, one, 0) == lib.CB_CHACHA_ERR_ARG
    assert lib.cb_poly1305_mac(path, bytes(32), 31, b"", 0, one, 16) == lib.CB_CHACHA_ERR_ARG
    assert lib.cb_poly1305_mac(99, bytes(32), 32, b"", 0, one, 16) == lib.CB_CHACHA_ERR_PATH
    fresh = ffi.new("cb_chacha_ctx *")  # never initialised
    assert lib.cb_chacha20_xor(fresh, bytes(12), 12, 0, one, one, 1) == lib.CB_CHACHA_ERR_ARG
    # the path is re-checked at every call: an unknown one is refused
    ctx.path = 7
    assert lib.cb_chacha20_xor(ctx, bytes(12), 12, 0, one, one, 1) == lib.CB_CHACHA_ERR_PATH
    assert lib.cb_chacha_aead_encrypt(ctx, bytes(12), 12, ffi.NULL, 0, one, 1, one, 17) == lib.CB_CHACHA_ERR_PATH
    assert lib.cb_chacha_ctx_init(ctx, 7, bytes(32), 32) == lib.CB_CHACHA_ERR_PATH
    lib.cb_chacha_ctx_wipe(ctx)  # wiped: magic gone, refused
    assert lib.cb_chacha20_xor(ctx, bytes(12), 12, 0, one, one, 1) == lib.CB_CHACHA_ERR_ARG


def test_decrypt_failure_leaves_output_untouched(kern):
    from cryptobench.kernels.chacha20_poly1305 import native

    lib, ffi = native._lib, native._ffi
    path = {"avx2-8x": lib.CB_CHACHA_PATH_AVX2, "ssse3-4x": lib.CB_CHACHA_PATH_SSSE3, "portable": lib.CB_CHACHA_PATH_PORTABLE}[kern.path]
    ctx = ffi.new("cb_chacha_ctx *")
    lib.cb_chacha_ctx_init(ctx, path, bytes(range(32)), 32)
    for n in (0, 1, 64, 1000, 1471, 1472, 5000):
        pt = bytes(range(256)) * (n // 256 + 1)
        ct = kern.impl.new(bytes(range(32))).encrypt(bytes(12), pt[:n])
        bad = ct[:-1] + bytes([ct[-1] ^ 1])
        out = bytearray(b"\xaa" * n)
        rc = lib.cb_chacha_aead_decrypt(ctx, bytes(12), 12, ffi.NULL, 0, bad, len(bad), ffi.from_buffer(out), n)
        assert rc == lib.CB_CHACHA_ERR_TAG
        # untouched (tag checked first) or wiped (one-pass AVX2 path): never plaintext
        assert out in (bytearray(b"\xaa" * n), bytearray(n)), n


def test_hot_paths_differential(kern, ref):
    rng = random.Random(1305)
    key = rng.randbytes(32)
    mine, theirs = kern.hot_paths["chacha20"](key), ref.hot_paths["chacha20"](key)
    pm, pr = kern.hot_paths["poly1305"](), ref.hot_paths["poly1305"]()
    for n in list(range(0, 300)) + [511, 512, 513, 1023, 1024, 1025, 8192, 8193, 16384]:
        nonce, data = rng.randbytes(12), rng.randbytes(n)
        counter = rng.choice((0, 1, 7, 2**31, 2**32 - 300))
        assert mine(nonce, counter, data) == theirs(nonce, counter, data), (n, counter)
        pk = rng.randbytes(32)
        assert pm(pk, data) == pr(pk, data), n
    # the Poly1305 edge: h + 5 crossing 2^130 (key r = 1 style inputs)
    for pk in (bytes(16) + b"\xff" * 16, b"\x01" + bytes(15) + b"\xff" * 16, b"\xff" * 32):
        for data in (b"\xff" * 16, b"\xff" * 32, b"\xfb" + b"\xff" * 15, bytes(48)):
            assert pm(pk, data) == pr(pk, data)
        # long enough for the four-way vector Poly1305 of the AVX2 path
        for n in (256, 257, 320, 1000, 4096, 4111):
            for data in (b"\xff" * n, bytes(n), (b"\xfb" + b"\xff" * 15) * (n // 16) + b"\xff" * (n % 16)):
                assert pm(pk, data) == pr(pk, data), n


@pytest.mark.parametrize("disable,expect", [("avx2", "native-ssse3"), ("avx2,ssse3", "native-portable")])
def test_native_disable_forces_lower_paths(disable, expect):
    _kernel("native-portable")  # skip when the extension lacks the C code
    code = f"""
import random
from cryptobench import registry
from cryptobench import vectors as V
ks = {{k.backend: k for k in registry.kernels() if k.algorithm == "{ALG}"}}
assert not ks["native-avx2"].available and "disabled" in ks["native-avx2"].reason
if "ssse3" in "{disable}":
    assert not ks["native-ssse3"].available
k = ks["{expect}"]
if not k.available:
    raise SystemExit(0)
for v in V.aead_vectors("{ALG}"):
    c = k.impl.new(v.key)
    if v.valid:
        assert c.encrypt(v.nonce, v.plaintext, v.aad) == v.ciphertext + v.tag
    else:
        try:
            c.decrypt(v.nonce, v.ciphertext + v.tag, v.aad)
            raise AssertionError("accepted a bad tag")
        except Exception as e:
            assert type(e).__name__ == "InvalidTag"
r = ks["openssl"]
rng = random.Random(3)
key = rng.randbytes(32)
a, b = k.impl.new(key), r.impl.new(key)
for n in [0, 1, 63, 64, 65, 255, 256, 257, 600, 8193]:
    nonce, pt = rng.randbytes(12), rng.randbytes(n)
    assert a.encrypt(nonce, pt, b"ad") == b.encrypt(nonce, pt, b"ad")
print("ok")
"""
    env = dict(os.environ, CRYPTOBENCH_NATIVE_DISABLE=disable)
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr


def test_threads_share_nothing(kern, ref):
    """Concurrent callers on one context (the C call releases the GIL) each get
    their own result: the output scratch buffer is per thread."""
    import threading

    key = bytes(range(32))
    ctx, rctx = kern.impl.new(key), ref.impl.new(key)
    jobs = []
    for t in range(4):
        rng = random.Random(t)
        jobs.append([(rng.randbytes(12), rng.randbytes(rng.choice((0, 16, 100, 3000, 20000)))) for _ in range(150)])
    expect = [[rctx.encrypt(n, p, b"a") for n, p in job] for job in jobs]
    got: list = [None] * len(jobs)

    def work(i):
        got[i] = [ctx.encrypt(n, p, b"a") for n, p in jobs[i]]
        assert [ctx.decrypt(n, c, b"a") for (n, _), c in zip(jobs[i], got[i])] == [p for _, p in jobs[i]]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert got == expect


def test_wrong_types_and_inputs_not_modified(kern):
    ctx = kern.impl.new(bytes(32))
    for bad in (None, [1, 2, 3], "abc", 3, (1,)):
        with pytest.raises(TypeError):
            ctx.encrypt(bytes(12), b"abc", bad)
        with pytest.raises(TypeError):
            ctx.encrypt(bytes(12), bad)
        with pytest.raises(TypeError):
            ctx.decrypt(bytes(12), bad)
    with pytest.raises(TypeError):
        ctx.encrypt([0] * 12, b"abc")
    with pytest.raises(TypeError):
        ctx.encrypt(bytes(12), memoryview(bytes(64))[::2])
    pt, aad = bytearray(b"p" * 100), bytearray(b"a" * 20)
    ct = ctx.encrypt(bytes(12), pt, aad)
    assert pt == b"p" * 100 and aad == b"a" * 20
    assert ctx.decrypt(bytes(12), bytearray(ct), memoryview(aad)) == pt
