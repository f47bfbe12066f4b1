"""The native ECDSA P-256 paths (native-adx, native-portable): the full
[P-256,SHA-256] CAVP sections and the RFC 6979 file, byte-identical DER against
openssl (both RFC 6979) with cross-verification, the hot paths against
cryptobench._reference, bad input, and the CRYPTOBENCH_NATIVE_DISABLE switch."""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys

import pytest

from cryptobench import _reference as ref
from cryptobench import registry, vectors
from cryptobench.errors import InvalidInput, InvalidKey, InvalidPoint, InvalidSignature
from cryptobench.kernels._ecdsa_common import GX, GY, N, P, encode_der, encode_point, rfc6979_nonce

PATHS = {"native-adx": "mulx-adx-asm", "native-portable": "portable-c"}
_BASE = ("asymmetric", "ECDSA")


@pytest.fixture(scope="module", params=sorted(PATHS))
def kernel(request):
    k = registry.get("ecdsa-p256-sha256", request.param)
    if not k.available:
        pytest.skip(f"{k.name} unavailable: {k.reason}")
    assert k.path == PATHS[request.param]
    assert k.constant_time
    meta = k.prepare()
    assert meta["table_bytes"] == 43 * 32 * 64
    return k


@pytest.fixture(scope="module")
def openssl():
    return registry.get("ecdsa-p256-sha256", "openssl").impl


def test_sigver(kernel):
    vecs = vectors.load_ecdsa_sigver(vectors.vector_path(*_BASE, "FIPS_186-3", "SigVer.rsp"))
    assert len(vecs) == 15
    for v in vecs:
        pub = kernel.impl.public_key(v.public)
        if v.valid:
            pub.verify_raw(v.message, v.r, v.s)
            pub.verify(v.message, encode_der(v.r, v.s))
        else:
            with pytest.raises(InvalidSignature):
                pub.verify_raw(v.message, v.r, v.s)
            if 0 < v.r < N and 0 < v.s < N:
                with pytest.raises(InvalidSignature):
                    pub.verify(v.message, encode_der(v.r, v.s))


class _ZeroFor:
    """Stands in for the native lib: signing with the RFC 6979 nonce (NULL k)
    or with one of the given ``bad`` ks reports r or s = 0, as C does with
    probability about 2^-256; every other call goes to C. Records each k."""

    def __init__(self, lib, ffi, bad):
        self._lib, self._null, self._bad, self.ks = lib, ffi.NULL, bad, []

    def cb_p256_sign(self, path, out, d, digest, k, der):
        k = None if k is self._null else bytes(k)
        self.ks.append(k)
        if k is None or k in self._bad:
            return -3  # CB_P256_EZERO
        return self._lib.cb_p256_sign(path, out, d, digest, k, der)


def test_sign_takes_the_next_nonce_when_r_or_s_is_zero(kernel):
    """RFC 6979 §3.4: after C reports r or s = 0 for the nonce, the following
    candidates of step h go to C as a given k (C checks their range) until
    one signs; with a caller's k the same report is InvalidInput."""
    from cryptobench.kernels._ecdsa_common import rfc6979_candidates

    d, msg = 0xC0FFEE, b"r or s is zero"
    e = int.from_bytes(hashlib.sha256(msg).digest(), "big")
    gen = rfc6979_candidates(d.to_bytes(32, "big"), e)
    first, second, third = next(gen), next(gen), next(gen)
    assert all(0 < int.from_bytes(c, "big") < N for c in (first, second, third))  # true for this d, msg
    python = registry.get("ecdsa-p256-sha256", "python").impl.private_key(d)
    for der in (True, False):
        for bad, want in (({first}, second), ({first, second}, third)):
            key = kernel.impl.private_key(d)
            key._lib = fake = _ZeroFor(key._lib, key._ffi, bad)
            got = key.sign(msg) if der else key.sign_raw(msg)
            r, s = python.sign_raw(msg, k=int.from_bytes(want, "big"))
            assert got == (encode_der(r, s) if der else (r, s))
            assert fake.ks == [None, first] + ([second] if want == third else []) + [want]
    key = kernel.impl.private_key(d)
    key._lib = _ZeroFor(key._lib, key._ffi, {(5).to_bytes(32, "big")})
    with pytest.raises(InvalidInput, match="r = 0 or s = 0"):
        key.sign_raw(msg, k=5)


def test_siggen_given_k(kernel):
    assert kernel.impl.supports_given_k
    vecs = vectors.load_ecdsa_siggen(vectors.vector_path(*_BASE, "FIPS_186-3", "SigGen.txt"))
    assert len(vecs) == 15
    for v in vecs:
        priv = kernel.impl.private_key(v.d)
        assert priv.sign_raw(v.message, k=v.k) == (v.r, v.s), v.source
        assert priv.public_key().encoded == v.public
        kernel.impl.public_key(v.public).verify_raw(v.message, v.r, v.s)


def test_rfc6979(kernel):
    vecs = vectors.load_ecdsa_rfc6979(vectors.vector_path(*_BASE, "RFC6979", "evppkey_ecdsa_rfc6979.txt"))
    assert any(v.kind == "sign-rfc6979" for v in vecs)
    for v in vecs:
        if v.kind == "sign-rfc6979":
            priv = kernel.impl.private_key(v.d)
            assert priv.sign(v.message) == v.signature, v.source
            assert priv.public_key().encoded == v.public
        pub = kernel.impl.public_key(v.public)
        if v.valid:
            pub.verify(v.message, v.signature)
        else:
            with pytest.raises(InvalidSignature):
                pub.verify(v.message, v.signature)


def test_rfc6979_nonce_matches_python(kernel):
    """sign_raw without k uses the RFC 6979 k of _ecdsa_common."""
    rng = random.Random(6979)
    for _ in range(8):
        d = rng.randrange(1, N)
        msg = rng.randbytes(rng.randrange(0, 200))
        digest = hashlib.sha256(msg).digest()
        k = rfc6979_nonce(d, digest)
        priv = kernel.impl.private_key(d)
        assert priv.sign_raw(msg) == priv.sign_raw(msg, k=k)


def test_differential_vs_openssl(kernel, openssl):
    rng = random.Random(20261127)
    lengths = [0, 1, 15, 16, 17, 63, 64, 65] + [rng.randrange(0, 2049) for _ in range(12)]
    for i, n in enumerate(lengths):
        d = rng.randrange(1, N) if i else N - 1
        msg = rng.randbytes(n)
        mine, theirs = kernel.impl.private_key(d), openssl.private_key(d)
        assert mine.public_key().encoded == theirs.public_key().encoded
        sig = mine.sign(msg)
        assert sig == theirs.sign(msg)  # both RFC 6979: identical DER
        assert mine.sign(bytearray(msg)) == sig
        assert mine.sign(memoryview(msg)) == sig
        opub = openssl.public_key(mine.public_key().encoded)
        npub = kernel.impl.public_key(theirs.public_key().encoded)
        opub.verify(msg, sig)
        npub.verify(msg, sig)
        mine.public_key().verify(memoryview(msg), bytearray(sig))
        # tampering: message, r, s, trailing byte
        with pytest.raises(InvalidSignature):
            npub.verify(msg + b"\x00", sig)
        bad = bytearray(sig)
        bad[-1] ^= 1
        with pytest.raises(InvalidSignature):
            npub.verify(msg, bytes(bad))
        bad = bytearray(sig)
        bad[6] ^= 0x40
        with pytest.raises(InvalidSignature):
            npub.verify(msg, bytes(bad))
        with pytest.raises(InvalidSignature):
            npub.verify(msg, sig + b"\x00")
    # keys from generate() interoperate
    g = kernel.impl.generate()
    openssl.public_key(g.public_key().encoded).verify(b"abc", g.sign(b"abc"))


def test_verify_rejects_wrong_rs(kernel):
    """verify compares x(R) with r (and r + n when r < p - n) projectively;
    (r, n - s) is the other valid signature (ECDSA malleability)."""
    rng = random.Random(5)
    priv = kernel.impl.private_key(rng.randrange(1, N))
    pub = priv.public_key()
    msg = b"m"
    r, s = priv.sign_raw(msg)
    pub.verify_raw(msg, r, s)
    with pytest.raises(InvalidSignature):
        pub.verify_raw(msg, (r + 1) % N or 1, s)
    pub.verify_raw(msg, r, N - s)
    with pytest.raises(InvalidSignature):
        pub.verify_raw(msg, r, s % (N - 1) + 1)


def test_bad_input(kernel):
    impl = kernel.impl
    for d in (0, N, N + 1, -1):
        with pytest.raises(InvalidKey):
            impl.private_key(d)
    for d in (1.0, "1", True, None):
        with pytest.raises(TypeError):
            impl.private_key(d)
    good = encode_point(GX, GY)
    with pytest.raises(InvalidPoint):
        impl.public_key(good[:-1])
    with pytest.raises(InvalidPoint):
        impl.public_key(b"\x02" + good[1:])
    with pytest.raises(InvalidPoint):
        impl.public_key(encode_point(GX, (GY + 1) % P))
    with pytest.raises(InvalidPoint):
        impl.public_key(b"\x04" + P.to_bytes(32, "big") + GY.to_bytes(32, "big"))
    with pytest.raises(TypeError):
        impl.public_key("04")
    priv = impl.private_key(12345)
    pub = priv.public_key()
    msg = b"hello"
    r, s = priv.sign_raw(msg)
    for rr, ss in ((0, s), (r, 0), (N, s), (r, N), (r + N, s), (r, s + N)):
        with pytest.raises(InvalidSignature):
            pub.verify_raw(msg, rr, ss)
    with pytest.raises(TypeError):
        pub.verify_raw(msg, float(r), s)
    with pytest.raises(TypeError):
        priv.sign("text")
    with pytest.raises(TypeError):
        pub.verify("text", encode_der(r, s))
    with pytest.raises(TypeError):
        pub.verify(msg, "sig")
    # non-canonical DER of a valid signature is rejected
    body_r = b"\x00" + r.to_bytes(32, "big")
    body_s = s.to_bytes((s.bit_length() + 8) // 8, "big")
    noncanon = b"\x02" + bytes([len(body_r)]) + body_r if body_r[1] & 0x80 == 0 else None
    if noncanon is not None:
        seq = noncanon + b"\x02" + bytes([len(body_s)]) + body_s
        with pytest.raises(InvalidSignature):
            pub.verify(msg, b"\x30" + bytes([len(seq)]) + seq)
    der = encode_der(r, s)
    with pytest.raises(InvalidSignature):
        pub.verify(msg, b"\x30\x81" + der[1:2] + der[2:])
    for k in (0, N, -5):
        with pytest.raises(InvalidInput):
            priv.sign_raw(msg, k=k)
    with pytest.raises(TypeError):
        priv.sign_raw(msg, k=1.5)


def test_hot_paths(kernel):
    rng = random.Random(99)
    fm = kernel.hot_paths["field-mul"]()
    for a, b, c in [(0, 5, 3), (1, 1, 0), (P - 1, P - 1, 1), (P - 1, 2, 7), (2, P - 1, 0)] + [
        (rng.randrange(P), rng.randrange(P), rng.randrange(0, 50)) for _ in range(30)
    ]:
        assert fm(a, b, c) == ref.field_mul(a, b, c)
    fb = kernel.hot_paths["fixed-base-mul"]()
    for k in [1, 2, 3, 31, 32, 33, 63, 64, 65, N - 1, N - 2, N // 2, 2**255, 2**252 - 1] + [
        rng.randrange(1, N) for _ in range(20)
    ]:
        assert fb(k) == ref.scalar_mul(k, ref.G), k
    with pytest.raises(InvalidInput):  # the hot-path contract: k in [1, n-1] (docs/bad-input.md)
        fb(0)
    inv = kernel.hot_paths["scalar-inv"]()
    for k in [1, 2, N - 1] + [rng.randrange(1, N) for _ in range(20)]:
        assert inv(k) == pow(k, -1, N)
    qs = [ref.G, ref.scalar_mul(rng.randrange(1, N), ref.G)]
    for q in qs:
        dsm = kernel.hot_paths["double-scalar-mul"](q)
        for u1, u2 in [(0, 1), (1, 0), (0, 0), (5, 7), (N - 1, 1), (1, N - 1)] + [
            (rng.randrange(N), rng.randrange(N)) for _ in range(10)
        ]:
            assert dsm(u1, u2) == ref.double_scalar_mul(u1, u2, q), (u1, u2)
    # Q = G: u1 = -u2 gives infinity, u1 = u2 doubles
    dsm = kernel.hot_paths["double-scalar-mul"](ref.G)
    assert dsm(5, N - 5) is None
    assert dsm(5, 5) == ref.scalar_mul(10, ref.G)
    with pytest.raises(InvalidPoint):
        kernel.hot_paths["double-scalar-mul"]((GX, (GY + 1) % P))


def test_disable_switch():
    code = (
        "from cryptobench import registry\n"
        "k = registry.get('ecdsa-p256-sha256', 'native-adx')\n"
        "print(k.available, k.reason)\n"
    )
    env = dict(os.environ, CRYPTOBENCH_NATIVE_DISABLE="adx")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.startswith("False") and "CRYPTOBENCH_NATIVE_DISABLE" in out
    portable = registry.get("ecdsa-p256-sha256", "native-portable")
    if portable.available:
        code2 = code.replace("native-adx", "native-portable")
        out2 = subprocess.run([sys.executable, "-c", code2], env=env, capture_output=True, text=True, check=True).stdout
        assert out2.startswith("True")


def test_c_path_check():
    from cryptobench import native

    ffi, lib = native.load()
    if lib is None or not hasattr(lib, "cb_p256_path_ok"):
        pytest.skip("native extension without csrc/p256")
    assert lib.cb_p256_path_ok(0) == 1
    assert lib.cb_p256_path_ok(7) == 0
    has = {"bmi2", "adx"} <= native.detected_features()
    assert lib.cb_p256_path_ok(1) == int(has)
    out = ffi.new("uint8_t[32]")
    assert lib.cb_p256_scalar_inv(7, out, b"\x01" * 32) == -1


def test_disable_sha_ni_still_rfc6979():
    """CRYPTOBENCH_NATIVE_DISABLE=sha makes the adx path hash with portable C;
    signatures stay identical to openssl's."""
    code = (
        "from cryptobench import registry\n"
        "k = registry.get('ecdsa-p256-sha256', 'native-adx')\n"
        "o = registry.get('ecdsa-p256-sha256', 'openssl').impl\n"
        "if not k.available:\n"
        "    print('SKIP'); raise SystemExit\n"
        "assert 'portable C SHA-256' in k.description, k.description\n"
        "for d in (1, 5, 2**200 + 12345):\n"
        "    for m in (b'', b'abc', bytes(200)):\n"
        "        assert k.impl.private_key(d).sign(m) == o.private_key(d).sign(m)\n"
        "print('OK')\n"
    )
    env = dict(os.environ, CRYPTOBENCH_NATIVE_DISABLE="sha")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    if out.strip() == "SKIP":
        pytest.skip("native-adx unavailable")
    assert out.strip() == "OK"
