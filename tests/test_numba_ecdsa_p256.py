"""The Numba ECDSA P-256 tiers (numba-portable, numba-hw): full P-256/SHA-256
vector sections, byte-identical DER against openssl (both RFC 6979), the hot
paths against cryptobench._reference, bad input, and the RFC 6979 generator
against _ecdsa_common."""

from __future__ import annotations

import hashlib
import random

import pytest

from cryptobench import _reference as ref
from cryptobench import registry, vectors
from cryptobench.errors import InvalidInput, InvalidKey, InvalidPoint, InvalidSignature
from cryptobench.kernels._ecdsa_common import GX, GY, N, P, encode_der

TIERS = ("numba-portable", "numba-hw")


def _kernel(backend: str):
    k = registry.get("ecdsa-p256-sha256", backend)
    if not k.available:
        pytest.skip(f"{k.name} unavailable: {k.reason}")
    return k


@pytest.fixture(scope="module", params=TIERS)
def kernel(request):
    k = _kernel(request.param)
    meta = k.prepare()
    assert set(meta) == {"cache_hits", "cache_misses"}
    return k


@pytest.fixture(scope="module")
def openssl():
    return registry.get("ecdsa-p256-sha256", "openssl").impl


_BASE = ("asymmetric", "ECDSA")


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


def test_siggen_given_k(kernel):
    vecs = vectors.load_ecdsa_siggen(vectors.vector_path(*_BASE, "FIPS_186-3", "SigGen.txt"))
    assert len(vecs) == 15
    for v in vecs:
        priv = kernel.impl.private_key(v.d)
        assert priv.sign_raw(v.message, k=v.k) == (v.r, v.s), v.source
        assert priv.public_key().encoded == v.public
        kernel.impl.public_key(v.public).verify_raw(v.message, v.r, v.s)


def test_rfc6979(kernel):
    vecs = vectors.load_ecdsa_rfc6979(vectors.vector_path(*_BASE, "RFC6979", "evppkey_ecdsa_rfc6979.txt"))
    assert vecs
    for v in vecs:
        if v.kind == "sign-rfc6979":
            priv = kernel.impl.private_key(v.d)
            assert priv.sign(v.message) == v.signature, v.source
        pub = kernel.impl.public_key(v.public)
        if v.valid:
            pub.verify(v.message, v.signature)
        else:
            with pytest.raises(InvalidSignature):
                pub.verify(v.message, v.signature)


def test_sign_takes_the_next_nonce_candidate(kernel, openssl, monkeypatch):
    """RFC 6979 §3.4: a candidate out of [1, n-1] (checked in compiled code)
    is skipped and the next one taken. Two bad candidates (n, then 0) put in
    front of the real ones must not change the signature."""
    from cryptobench.kernels.ecdsa_p256 import numba as mod

    real = mod.rfc6979_candidates

    asked = []

    def with_bad_first(x, e, **kw):
        asked.append(kw)
        yield N.to_bytes(32, "big")
        yield bytes(32)
        yield from real(x, e, **kw)

    msg = b"next candidate"
    want = openssl.private_key(0xC0FFEE).sign(msg)
    monkeypatch.setattr(mod, "rfc6979_candidates", with_bad_first)
    assert kernel.impl.private_key(0xC0FFEE).sign(msg) == want
    assert asked == [{"constant_time": True}]  # OpenSSL's HMAC, not table lookups on the key


def test_differential_vs_openssl(kernel, openssl):
    rng = random.Random(1234)
    for i in range(40):
        d = rng.randrange(1, N) if i else N - 1
        msg = rng.randbytes(rng.choice([0, 1, 15, 16, 17, 63, 64, 65, rng.randrange(2048)]))
        mine, theirs = kernel.impl.private_key(d), openssl.private_key(d)
        sig = mine.sign(msg)
        assert sig == theirs.sign(msg)
        pub = mine.public_key()
        assert pub.encoded == theirs.public_key().encoded
        pub.verify(msg, sig)
        openssl.public_key(pub.encoded).verify(msg, sig)
        bad = bytearray(sig)
        bad[rng.randrange(4, len(bad))] ^= 1 << rng.randrange(8)
        with pytest.raises(InvalidSignature):
            pub.verify(msg, bytes(bad))
        with pytest.raises(InvalidSignature):
            pub.verify(msg + b"x", sig)


def test_generate_round_trip(kernel):
    priv = kernel.impl.generate()
    sig = priv.sign(b"hello")
    priv.public_key().verify(b"hello", sig)


def test_bad_input(kernel):
    impl = kernel.impl
    for d in (0, N, -1):
        with pytest.raises(InvalidKey):
            impl.private_key(d)
    with pytest.raises(TypeError):
        impl.private_key(1.0)
    good = impl.private_key(7).public_key().encoded
    with pytest.raises(InvalidPoint):
        impl.public_key(good[:-1])
    with pytest.raises(InvalidPoint):
        impl.public_key(good[:-1] + bytes([good[-1] ^ 1]))
    with pytest.raises(InvalidPoint):
        impl.public_key(b"\x04" + (P + 0).to_bytes(32, "big") + good[33:])
    with pytest.raises(TypeError):
        impl.public_key("04")
    pub = impl.public_key(good)
    priv = impl.private_key(7)
    r, s = priv.sign_raw(b"m")
    for rr, ss in ((0, s), (r, 0), (N, s), (r, N), (r + N, s)):
        with pytest.raises(InvalidSignature):
            pub.verify_raw(b"m", rr, ss)
    pub.verify_raw(b"m", r, N - s)  # (r, n - s) is also valid: ECDSA is malleable, no low-s rule
    with pytest.raises(InvalidSignature):
        pub.verify_raw(b"n", r, s)
    # non-canonical DER: a long-form length and a padded INTEGER
    der = encode_der(r, s)
    with pytest.raises(InvalidSignature):
        pub.verify(b"m", b"\x30\x81" + der[1:2] + der[2:])
    with pytest.raises(InvalidSignature):
        pub.verify(b"m", der + b"\x00")
    with pytest.raises(TypeError):
        pub.verify("m", der)
    with pytest.raises(TypeError):
        priv.sign("m")
    with pytest.raises(InvalidInput):
        priv.sign_raw(b"m", k=0)
    with pytest.raises(InvalidInput):
        priv.sign_raw(b"m", k=N)


def test_hot_paths_vs_reference(kernel):
    rng = random.Random(99)
    hp = kernel.hot_paths
    fm = hp["field-mul"]()
    for a, b, c in ((0, 5, 3), (P - 1, P - 1, 7), (1, 2, 0), (rng.randrange(P), rng.randrange(P), 1000)):
        assert fm(a, b, c) == ref.field_mul(a, b, c)
    inv = hp["scalar-inv"]()
    for k in (1, 2, N - 1, rng.randrange(1, N)):
        assert inv(k) == ref.scalar_inv(k)
    fb = hp["fixed-base-mul"]()
    for k in (1, 2, 15, 16, 17, N - 1, N - 16, 2**255, rng.randrange(1, N)):
        assert fb(k) == ref.scalar_mul(k, ref.G)
    assert fb(1) == (GX, GY)
    # Booth windows: runs of ones across window and limb boundaries, the top window
    # every window digit at its extremes (the hot path takes k in [1, n-1], so 255 ones, not 256)
    patterned = [sum(1 << (6 * i + 5) for i in range(42)), (1 << 255) - 1, 2**255 - 2**251, N - 2**200, 2**63, 2**64 - 1, 2**127 + 2**128]
    for k in patterned + [rng.randrange(1, N) for _ in range(30)]:
        assert fb(k) == ref.scalar_mul(k, ref.G), hex(k)
    q = ref.scalar_mul(rng.randrange(1, N), ref.G)
    ds = hp["double-scalar-mul"](q)
    cases = [(0, 1), (1, 0), (0, 0), (3, 5), (N - 1, 1), (rng.randrange(N), rng.randrange(N))]
    # u1*G == -u2*Q (infinity) and u1*G == u2*Q (doubling inside the sum)
    t = rng.randrange(1, N)
    qg = ref.scalar_mul(t, ref.G)
    ds2 = hp["double-scalar-mul"](qg)
    for u1, u2 in cases:
        assert ds(u1, u2) == ref.double_scalar_mul(u1, u2, q)
    u2 = rng.randrange(1, N)
    assert ds2((-u2 * t) % N, u2) is None
    assert ds2(u2 * t % N, u2) == ref.scalar_mul(2 * u2 * t, ref.G)
    with pytest.raises(InvalidPoint):
        hp["double-scalar-mul"]((GX, GY + 1))


def test_registration():
    names = {k.backend: k for k in registry.kernels() if k.algorithm == "ecdsa-p256-sha256"}
    for t in TIERS:
        assert t in names
        k = names[t]
        assert k.constant_time is True
        if k.available:
            assert k.impl.supports_given_k
            assert set(k.hot_paths) == {"field-mul", "fixed-base-mul", "double-scalar-mul", "scalar-inv"}


def test_sign_raw_given_k_vs_python(kernel):
    rng = random.Random(7)
    for _ in range(30):
        d, k = rng.randrange(1, N), rng.choice([rng.randrange(1, N), rng.randrange(1, 2**64), N - rng.randrange(1, 2**64)])
        msg = rng.randbytes(20)
        e = int.from_bytes(hashlib.sha256(msg).digest(), "big")
        r = ref.scalar_mul(k, ref.G)[0] % N
        s = pow(k, -1, N) * (e + r * d) % N
        assert kernel.impl.private_key(d).sign_raw(msg, k=k) == (r, s)
