"""The native AES-GCM paths (kernels/aes_gcm/native.py, csrc/aes_gcm/).

Every available ``native-*`` aes-*-gcm row is checked against the CAVP files
(gcmEncryptExtIV, gcmDecrypt with FAIL cases), differentially against the
openssl backend, for tampering, bad input and its hot paths; the C entry
points are called directly with bad arguments. Lower paths are tested on the
same machine by running again with CRYPTOBENCH_NATIVE_DISABLE=vaes (aesni) and
=vaes,aesni (portable).
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from cryptobench import _reference, registry
from cryptobench.errors import InvalidKey, InvalidLength, InvalidNonce, InvalidTag

NATIVE = [
    k
    for k in registry.kernels()
    if k.family == "aes_gcm" and k.base_backend == "native"
]


def _ids(k):
    return k.name


def _require(kernel):
    if not kernel.available:
        pytest.skip(kernel.reason)


def _vectors_dir() -> Path:
    import cryptography_vectors

    return Path(os.path.dirname(cryptography_vectors.__file__)) / "ciphers" / "AES" / "GCM"


def load_rsp(path: Path) -> list[dict]:
    """NIST CAVP .rsp records (Count = ... blocks); FAIL kept as fail=True."""
    out, cur = [], None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line.startswith("Count"):
            cur = {"fail": False}
            out.append(cur)
        elif cur is None or not line or line.startswith(("#", "[")):
            continue
        elif line == "FAIL":
            cur["fail"] = True
        elif "=" in line:
            k, v = (x.strip() for x in line.split("=", 1))
            cur[k] = bytes.fromhex(v)
    return out


@pytest.fixture(scope="module")
def cavp():
    d = _vectors_dir()
    return {name: load_rsp(d / name) for name in (
        "gcmEncryptExtIV128.rsp", "gcmEncryptExtIV256.rsp", "gcmDecrypt128.rsp", "gcmDecrypt256.rsp")}


@pytest.mark.parametrize("kernel", NATIVE, ids=_ids)
def test_cavp(kernel, cavp):
    _require(kernel)
    bits = kernel.impl.key_size * 8
    n = fails = 0
    for rec in cavp[f"gcmEncryptExtIV{bits}.rsp"]:
        ctx = kernel.impl.new(rec["Key"], len(rec["Tag"]))
        assert ctx.encrypt(rec["IV"], rec["PT"], rec["AAD"]) == rec["CT"] + rec["Tag"]
        assert ctx.decrypt(rec["IV"], rec["CT"] + rec["Tag"], rec["AAD"]) == rec["PT"]
        n += 1
    for rec in cavp[f"gcmDecrypt{bits}.rsp"]:
        ctx = kernel.impl.new(rec["Key"], len(rec["Tag"]))
        data = rec["CT"] + rec["Tag"]
        if rec["fail"]:
            with pytest.raises(InvalidTag):
                ctx.decrypt(rec["IV"], data, rec["AAD"])
            fails += 1
        else:
            assert ctx.decrypt(rec["IV"], data, rec["AAD"]) == rec["PT"]
        n += 1
    assert n > 15000 and fails > 1000


LENGTHS = sorted(set(range(0, 301)) | {511, 512, 513, 1024, 4095, 4096, 8192, 8193, 16383, 16384})


@pytest.mark.parametrize("kernel", NATIVE, ids=_ids)
def test_differential_openssl(kernel):
    _require(kernel)
    ref = registry.get(kernel.algorithm, "openssl").impl
    rnd = random.Random(f"{kernel.name}")
    portable = kernel.backend == "native-portable"
    for n in LENGTHS:
        if portable and n > 2048 and n not in (8192, 8193, 16384):
            continue
        key = rnd.randbytes(kernel.impl.key_size)
        tag_len = rnd.choice([16, 16, 16, 12, 8, 4, 13])
        iv = rnd.randbytes(rnd.choice([12, 12, 12, 8, 16, 13, 60, 128]))
        aad = rnd.randbytes(rnd.choice([0, 0, 1, 15, 16, 17, 31, 200, 300]))
        pt = rnd.randbytes(n)
        mine, theirs = kernel.impl.new(key, tag_len), ref.new(key, tag_len)
        ct = mine.encrypt(iv, pt, aad)
        assert ct == theirs.encrypt(iv, pt, aad), (n, len(iv), len(aad), tag_len)
        assert mine.decrypt(iv, ct, aad) == pt
        assert theirs.decrypt(iv, ct, aad) == pt


@pytest.mark.parametrize("kernel", NATIVE, ids=_ids)
def test_short_ivs_agree_across_paths(kernel):
    """IVs of 1..7 bytes (openssl via cryptography refuses them): agree with the CAVP-checked aesni/portable."""
    _require(kernel)
    others = [k for k in NATIVE if k.available and k.algorithm == kernel.algorithm and k is not kernel]
    rnd = random.Random(7)
    for ivlen in range(1, 8):
        key, iv = rnd.randbytes(kernel.impl.key_size), rnd.randbytes(ivlen)
        pt, aad = rnd.randbytes(rnd.randrange(0, 100)), rnd.randbytes(rnd.randrange(0, 40))
        ct = kernel.impl.new(key).encrypt(iv, pt, aad)
        for o in others:
            assert o.impl.new(key).encrypt(iv, pt, aad) == ct
            assert o.impl.new(key).decrypt(iv, ct, aad) == pt


@pytest.mark.parametrize("kernel", NATIVE, ids=_ids)
def test_tamper_and_roundtrip(kernel):
    _require(kernel)
    rnd = random.Random(3)
    for n in (0, 1, 15, 16, 17, 63, 64, 65, 127, 128, 129, 255, 256, 257, 1000):
        key, iv, aad = rnd.randbytes(kernel.impl.key_size), rnd.randbytes(12), rnd.randbytes(20)
        pt = rnd.randbytes(n)
        ctx = kernel.impl.new(key)
        ct = ctx.encrypt(iv, pt, aad)
        assert ctx.decrypt(iv, ct, aad) == pt
        for i in {0, n // 2, n - 1, n, n + 15} if n else {0, 15}:
            bad = bytearray(ct)
            bad[i] ^= 0x01
            with pytest.raises(InvalidTag):
                ctx.decrypt(iv, bytes(bad), aad)
        with pytest.raises(InvalidTag):
            ctx.decrypt(iv, ct, aad + b"x")
        with pytest.raises(InvalidTag):
            ctx.decrypt(bytes([iv[0] ^ 1]) + iv[1:], ct, aad)
        with pytest.raises(InvalidTag):
            ctx.decrypt(iv, ct[:-1], aad)


@pytest.mark.parametrize("kernel", NATIVE, ids=_ids)
def test_buffer_types_and_inputs_unmodified(kernel):
    _require(kernel)
    key, iv, aad, pt = os.urandom(kernel.impl.key_size), os.urandom(12), os.urandom(9), os.urandom(300)
    ctx = kernel.impl.new(bytearray(key))
    want = ctx.encrypt(iv, pt, aad)
    for conv in (bytearray, memoryview, lambda b: memoryview(bytearray(b))):
        a, b, c = conv(iv), conv(pt), conv(aad)
        assert ctx.encrypt(a, b, c) == want
        assert bytes(a) == iv and bytes(b) == pt and bytes(c) == aad
        assert ctx.decrypt(a, conv(want), c) == pt
    # a non-contiguous view is copied, not rejected
    assert ctx.encrypt(iv, memoryview(pt + pt)[::2], aad) == ctx.encrypt(iv, (pt + pt)[::2], aad)
    out = bytearray(len(pt) + 16 + 5)
    assert ctx.encrypt_into(iv, pt, aad, out) == len(pt) + 16
    assert bytes(out[: len(pt) + 16]) == want
    # out may be the AAD's buffer (the native ChaCha20-Poly1305 tag covered ciphertext written over it)
    long_aad = os.urandom(len(pt) + 16)
    out = bytearray(long_aad)
    ctx.encrypt_into(iv, pt, out, out)
    assert bytes(out) == ctx.encrypt(iv, pt, long_aad)
    with pytest.raises(InvalidLength):
        ctx.encrypt_into(iv, pt, aad, bytearray(len(pt) + 15))
    with pytest.raises(TypeError):
        ctx.encrypt_into(iv, pt, aad, bytes(len(pt) + 16))


@pytest.mark.parametrize("kernel", NATIVE, ids=_ids)
def test_bad_input(kernel):
    _require(kernel)
    impl = kernel.impl
    with pytest.raises(InvalidKey):
        impl.new(b"k" * (impl.key_size + 1))
    with pytest.raises(TypeError):
        impl.new("k" * impl.key_size)
    for t in (3, 17, 0):
        with pytest.raises(InvalidLength):
            impl.new(b"k" * impl.key_size, t)
    with pytest.raises(TypeError):
        impl.new(b"k" * impl.key_size, 16.0)
    ctx = impl.new(b"k" * impl.key_size, 12)
    with pytest.raises(InvalidNonce):
        ctx.encrypt(b"", b"x")
    with pytest.raises(InvalidNonce):
        ctx.decrypt(b"", b"x" * 20)
    for bad in ("str", 5, None, [1, 2]):
        with pytest.raises(TypeError):
            ctx.encrypt(bad, b"x")
        with pytest.raises(TypeError):
            ctx.encrypt(b"n" * 12, bad)
        with pytest.raises(TypeError):
            ctx.decrypt(b"n" * 12, b"x" * 20, bad)
    with pytest.raises(InvalidTag):
        ctx.decrypt(b"n" * 12, b"x" * 11)
    assert impl.supports(12, 16) is None and impl.supports(1, 4) is None
    assert impl.supports(0, 16) and impl.supports(12, 3) and impl.supports(12, 17)


def _ctr_ref(key: bytes, block: bytes, data: bytes) -> bytes:
    """AES-CTR with inc32 (SP 800-38D §6.2), AES from cryptography (ECB)."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    prefix, c = block[:12], int.from_bytes(block[12:], "big")
    blocks = b"".join(prefix + ((c + i) % 2**32).to_bytes(4, "big") for i in range((len(data) + 15) // 16))
    ks = enc.update(blocks) + enc.finalize()
    return bytes(a ^ b for a, b in zip(data, ks))


@pytest.mark.parametrize("kernel", NATIVE, ids=_ids)
def test_hot_paths(kernel):
    _require(kernel)
    rnd = random.Random(11)
    key = rnd.randbytes(kernel.impl.key_size)
    ctr = kernel.hot_paths["aes-ctr"](key)
    for n in (0, 1, 16, 100, 128, 255, 256, 257, 4096 + 3):
        for block in (rnd.randbytes(16), rnd.randbytes(12) + b"\xff\xff\xff\xfa"):
            data = rnd.randbytes(n)
            assert ctr(block, data) == _ctr_ref(key, block, data), n
    h = rnd.randbytes(16)
    gh = kernel.hot_paths["ghash"](h)
    for nblocks in (0, 1, 2, 7, 8, 9, 15, 16, 17, 33, 64):
        data = rnd.randbytes(16 * nblocks)
        assert gh(data) == _reference.ghash(h, data), nblocks
    with pytest.raises(InvalidLength):
        gh(b"x" * 15)
    kx = kernel.hot_paths["key-expansion"]()
    stride = 32 if kernel.backend == "native-vaes" else 16
    # FIPS 197 Appendix A.1 / A.3: the last round keys
    rk = bytes(kx(bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")))
    assert rk[10 * stride : 10 * stride + 16].hex() == "d014f9a8c9ee2589e13f0cc8b6630ca6"
    rk = bytes(kx(bytes.fromhex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")))
    assert rk[14 * stride : 14 * stride + 16].hex() == "fe4890d1e6188d0b046df344706c631e"
    with pytest.raises(InvalidKey):
        kx(b"short")


def test_c_entry_points_reject_bad_arguments():
    from cryptobench import native

    ffi, lib = native.load()
    if lib is None or not hasattr(lib, "cb_aesgcm_portable_encrypt"):
        pytest.skip("native extension without csrc/aes_gcm")
    for prefix, path in (("portable", 1), ("aesni", 2), ("vaes", 3)):
        if not lib.cb_aesgcm_path_supported(path):
            continue
        f = lambda name: getattr(lib, f"cb_aesgcm_{prefix}_{name}")  # noqa: E731
        ctx = ffi.new("cb_aesgcm_ctx *")
        out = ffi.new("uint8_t[]", 64)
        # uninitialised context
        assert f("encrypt")(ctx, b"n" * 12, 12, ffi.NULL, 0, b"p", 1, out, 16) == lib.CB_AESGCM_ECTX
        assert f("init")(ctx, b"k" * 15, 15) == lib.CB_AESGCM_EARG
        assert f("init")(ffi.NULL, b"k" * 16, 16) == lib.CB_AESGCM_EARG
        assert f("init")(ctx, b"k" * 16, 16) == 0
        enc = f("encrypt")
        assert enc(ctx, b"n" * 12, 12, ffi.NULL, 0, b"p", 1, out, 16) == 0
        assert enc(ctx, b"n" * 12, 0, ffi.NULL, 0, b"p", 1, out, 16) == lib.CB_AESGCM_EARG
        assert enc(ctx, ffi.NULL, 12, ffi.NULL, 0, b"p", 1, out, 16) == lib.CB_AESGCM_EARG
        assert enc(ctx, b"n" * 12, 12, ffi.NULL, 5, b"p", 1, out, 16) == lib.CB_AESGCM_EARG
        assert enc(ctx, b"n" * 12, 12, ffi.NULL, 0, ffi.NULL, 1, out, 16) == lib.CB_AESGCM_EARG
        assert enc(ctx, b"n" * 12, 12, ffi.NULL, 0, b"p", 1, ffi.NULL, 16) == lib.CB_AESGCM_EARG
        assert enc(ctx, b"n" * 12, 12, ffi.NULL, 0, b"p", 1, out, 3) == lib.CB_AESGCM_EARG
        assert enc(ctx, b"n" * 12, 12, ffi.NULL, 0, b"p", 1, out, 17) == lib.CB_AESGCM_EARG
        assert enc(ctx, b"n" * 12, 12, ffi.NULL, 0, b"p", 2**36, out, 16) == lib.CB_AESGCM_EARG
        dec = f("decrypt")
        assert dec(ctx, b"n" * 12, 12, ffi.NULL, 0, b"x" * 15, 15, out, 16) == lib.CB_AESGCM_EARG
        # a tag failure wipes the output
        pt = ffi.new("uint8_t[8]", [0xAA] * 8)
        assert dec(ctx, b"n" * 12, 12, ffi.NULL, 0, b"x" * 24, 24, pt, 16) == lib.CB_AESGCM_ETAG
        assert bytes(ffi.buffer(pt)) == bytes(8)
        # a context of another path is refused
        other = getattr(lib, "cb_aesgcm_portable_encrypt" if prefix != "portable" else "cb_aesgcm_aesni_encrypt")
        if prefix != "portable" or lib.cb_aesgcm_path_supported(2):
            assert other(ctx, b"n" * 12, 12, ffi.NULL, 0, b"p", 1, out, 16) == lib.CB_AESGCM_ECTX
        assert f("ghash")(ctx, b"x" * 15, 15, out) == lib.CB_AESGCM_EARG
        rk = ffi.new("uint8_t[]", 480)
        assert f("expand_key")(rk, 100, b"k" * 16, 16) == lib.CB_AESGCM_EARG


@pytest.mark.parametrize("kernel", [k for k in NATIVE if k.backend != "native-portable"], ids=_ids)
def test_threads_share_a_context(kernel):
    """cffi releases the GIL during C calls: one context used from 4 threads at once."""
    _require(kernel)
    import threading

    rnd = random.Random(5)
    key = rnd.randbytes(kernel.impl.key_size)
    ctx = kernel.impl.new(key)
    ref = registry.get(kernel.algorithm, "openssl").impl.new(key)
    jobs = [(rnd.randbytes(12), rnd.randbytes(rnd.choice([0, 16, 100, 4096, 20000]))) for _ in range(64)]
    want = [ref.encrypt(iv, pt) for iv, pt in jobs]
    errors: list = []

    def worker() -> None:
        try:
            for _ in range(10):
                for (iv, pt), w in zip(jobs, want):
                    if ctx.encrypt(iv, pt) != w or ctx.decrypt(iv, w) != pt:
                        errors.append(len(pt))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
