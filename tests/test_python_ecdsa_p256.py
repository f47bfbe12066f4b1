"""Edge cases of the pure-Python ECDSA P-256 backend and the python-ecdsa peer.

The registry-wide tests (tests/test_kernels.py) already run the CAVP and
RFC 6979 vectors, the differential check against openssl and the hot paths on
every kernel; these add the cases those do not reach: x(R) >= n (the r + n
branch of verification), a sum at infinity, exceptional additions in the fast
paths (Q = +-G, u1 = +-u2), bad inputs, and agreement between python, the peer
and openssl on random keys.
"""

from __future__ import annotations

import hashlib
import random

import pytest

from cryptobench import InvalidSignature, _reference as ref, registry
from cryptobench.errors import InvalidInput, InvalidKey, InvalidPoint
from cryptobench.kernels._ecdsa_common import N, P, encode_der, encode_point

ALGO = "ecdsa-p256-sha256"
BACKENDS = ["python", "peer-ecdsa", "openssl"]


def _kernel(backend: str):
    try:
        k = registry.get(ALGO, backend)
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"{ALGO}/{backend}: {exc}")
    if not k.available:
        pytest.skip(f"{k.name}: {k.reason}")
    return k


def _e(msg: bytes) -> int:
    return int.from_bytes(hashlib.sha256(msg).digest(), "big")


def _neg(pt):
    return None if pt is None else (pt[0], (-pt[1]) % P)


def _large_x_case():
    """A valid (Q, msg, r, s) whose R has x(R) in [n, p), so r = x(R) - n (the
    construction verify uses: cryptobench.vectors.constructed_signature_vectors)."""
    from cryptobench.vectors import constructed_signature_vectors

    v = next(v for v in constructed_signature_vectors() if v.source == "constructed:x(R)>=n")
    x = v.r + N
    assert N <= x < P and v.valid
    return v.public, v.message, v.r, v.s, x


@pytest.mark.parametrize("backend", BACKENDS)
def test_x_of_r_at_least_n(backend):
    impl = _kernel(backend).impl
    sec1, msg, r, s, x = _large_x_case()
    pub = impl.public_key(sec1)
    pub.verify(msg, encode_der(r, s))
    pub.verify_raw(msg, r, s)
    with pytest.raises(InvalidSignature):  # x(R) itself is not a valid r (>= n)
        pub.verify(msg, encode_der(x, s))
    with pytest.raises(InvalidSignature):
        pub.verify(msg + b"!", encode_der(r, s))


@pytest.mark.parametrize("backend", BACKENDS)
def test_sum_at_infinity_is_rejected(backend):
    impl = _kernel(backend).impl
    from cryptobench.vectors import constructed_signature_vectors

    v = next(v for v in constructed_signature_vectors() if v.source == "constructed:sum at infinity")
    msg, r, s = v.message, v.r, v.s
    d = (-_e(msg) * pow(r, -1, N)) % N  # e + r d = 0, so u1 G + u2 Q = O
    assert v.public == encode_point(*ref.scalar_mul(d, ref.G))
    pub = impl.public_key(v.public)
    with pytest.raises(InvalidSignature):
        pub.verify_raw(msg, r, s)
    with pytest.raises(InvalidSignature):
        pub.verify(msg, encode_der(r, s))


def test_exceptional_double_scalar_cases():
    setup = _kernel("python").hot_paths["double-scalar-mul"]
    g, neg_g = ref.G, _neg(ref.G)
    cases = []
    for q in (g, neg_g, ref.scalar_mul(2, g), ref.scalar_mul(N - 3, g)):
        for u1, u2 in [(1, 1), (1, N - 1), (2, N - 1), (N - 1, N - 1), (0, 5), (5, 0), (0, 0), (7, 7)]:
            cases.append((q, u1, u2))
    for q, u1, u2 in cases:
        assert setup(q)(u1, u2) == ref.double_scalar_mul(u1, u2, q), (q, u1, u2)


def test_fixed_base_edges():
    f = _kernel("python").hot_paths["fixed-base-mul"]()
    rng = random.Random(3)
    ks = [1, 2, 3, 2047, 2048, 2049, 4095, 4096, N - 1, N - 2, N - 2048, 1 << 255, (1 << 255) - 1]
    ks += [rng.randrange(1, N) for _ in range(10)]
    for k in ks:
        assert f(k) == ref.scalar_mul(k, ref.G), k
    # the hot path takes k in [1, n-1] (docs/bad-input.md); the table code below it reduces any k
    for k in (0, N, (1 << 256) - 1):
        with pytest.raises(InvalidInput):
            f(k)
    from cryptobench.kernels.ecdsa_p256 import python as mod

    for k in ((1 << 256) - 1, N, N + 1, 0):
        assert mod._to_affine(*mod._fixed_base_mul(k)) == ref.scalar_mul(k % N, ref.G), k


def test_field_mul_and_scalar_inv():
    k = _kernel("python")
    fm, inv = k.hot_paths["field-mul"](), k.hot_paths["scalar-inv"]()
    rng = random.Random(4)
    for count in (0, 1, 2, 5, 100):
        a, b = rng.randrange(P), rng.randrange(P)
        assert fm(a, b, count) == ref.field_mul(a, b, count)
    for _ in range(10):
        x = rng.randrange(1, N)
        assert inv(x) == ref.scalar_inv(x)


def test_prepare_reports_the_table():
    meta = _kernel("python").prepare()
    assert meta["table_points"] > 0 and meta["window_bits"] >= 4


@pytest.mark.parametrize("backend", ["python", "peer-ecdsa"])
def test_agrees_with_openssl_on_random_keys(backend):
    ours, ossl = _kernel(backend).impl, _kernel("openssl").impl
    rng = random.Random(5)
    for i in range(12):
        d = rng.randrange(1, N) if i else 1
        msg = rng.randbytes(rng.choice([0, 1, 31, 32, 33, 200]))
        a, b = ours.private_key(d), ossl.private_key(d)
        assert a.public_key().encoded == b.public_key().encoded
        sig = a.sign(msg)
        assert sig == b.sign(msg)  # both RFC 6979
        ossl.public_key(a.public_key().encoded).verify(msg, sig)
        pub = ours.public_key(b.public_key().encoded)
        pub.verify(msg, sig)
        r, s = a.sign_raw(msg)
        pub.verify_raw(msg, r, s)
        for bad in ((r ^ 1, s), (r, s ^ 1)):  # (r, n - s) is valid too: ECDSA is malleable
            if 1 <= bad[0] < N and 1 <= bad[1] < N:
                with pytest.raises(InvalidSignature):
                    pub.verify_raw(msg, *bad)
        with pytest.raises(InvalidSignature):
            pub.verify(msg + b"x", sig)


def test_given_k_matches_between_python_and_peer():
    py, peer = _kernel("python").impl, _kernel("peer-ecdsa").impl
    rng = random.Random(6)
    for _ in range(5):
        d, k, msg = rng.randrange(1, N), rng.randrange(1, N), rng.randbytes(20)
        assert py.private_key(d).sign_raw(msg, k=k) == peer.private_key(d).sign_raw(msg, k=k)


@pytest.mark.parametrize("backend", ["python", "peer-ecdsa"])
def test_bad_inputs(backend):
    impl = _kernel(backend).impl
    for d in (0, N, -1):
        with pytest.raises(InvalidKey):
            impl.private_key(d)
    with pytest.raises(TypeError):
        impl.private_key(1.0)
    priv = impl.private_key(7)
    pub = priv.public_key()
    with pytest.raises(TypeError):
        priv.sign("text")
    for k in (0, N):
        with pytest.raises(InvalidInput):
            priv.sign_raw(b"m", k=k)
    with pytest.raises(TypeError):
        priv.sign_raw(b"m", k=1.5)
    enc = bytearray(pub.encoded)
    enc[-1] ^= 1
    with pytest.raises(InvalidPoint):
        impl.public_key(bytes(enc))
    with pytest.raises(InvalidPoint):
        impl.public_key(pub.encoded[:-1])
    with pytest.raises(TypeError):
        impl.public_key("04")
    sig = priv.sign(b"m")
    pub = impl.public_key(pub.encoded)
    pub.verify(memoryview(b"m"), bytearray(sig))
    with pytest.raises(TypeError):
        pub.verify("m", sig)
    with pytest.raises(TypeError):
        pub.verify_raw(b"m", 1.0, 2)
    for r, s in ((0, 1), (1, 0), (N, 1), (1, N)):
        with pytest.raises(InvalidSignature):
            pub.verify_raw(b"m", r, s)
    body = sig[2:]
    malformed = [
        b"",
        b"\x30",
        sig + b"\x00",
        b"\x30\x81" + bytes([len(body)]) + body,  # non-minimal length
        sig[:-1],
        b"\x31" + sig[1:],
        b"\x30\x06\x02\x01\x00\x02\x01\x01",  # r = 0
        b"\x30\x07\x02\x02\x00\x01\x02\x01\x01",  # leading zero
        b"\x30\x06\x02\x01\x81\x02\x01\x01",  # negative
    ]
    for bad in malformed:
        with pytest.raises(InvalidSignature):
            pub.verify(b"m", bad)


def test_generate_gives_working_keys():
    impl = _kernel("python").impl
    ossl = _kernel("openssl").impl
    priv = impl.generate()
    sig = priv.sign(b"hello")
    ossl.public_key(priv.public_key().encoded).verify(b"hello", sig)


def test_exceptional_fallbacks_give_the_same_answers(monkeypatch):
    """Force every fast path to report an exceptional addition: the complete
    slow formulas must then give the same points and signatures."""
    from cryptobench.kernels.ecdsa_p256 import python as mod

    impl = _kernel("python").impl
    priv = impl.private_key(0xC0FFEE)
    msg = b"fallback"
    sig, pub = priv.sign(msg), priv.public_key()
    fb = mod._setup_fixed_base()
    q = ref.scalar_mul(11, ref.G)
    dsm = mod._setup_double_scalar(q)
    want_fb = fb(12345)
    want_dsm = dsm(777, 888)

    def boom(*args):
        raise mod._Exceptional

    monkeypatch.setattr(mod, "_fixed_base_jac", boom)
    monkeypatch.setattr(mod, "_double_scalar_jac", boom)
    assert fb(12345) == want_fb == ref.scalar_mul(12345, ref.G)
    assert dsm(777, 888) == want_dsm == ref.double_scalar_mul(777, 888, q)
    assert impl.private_key(0xC0FFEE).sign(msg) == sig
    impl.public_key(pub.encoded).verify(msg, sig)
    with pytest.raises(InvalidSignature):
        impl.public_key(pub.encoded).verify(msg + b"?", sig)


def _rfc6979_reference_candidates(d: int, e: int):
    """RFC 6979 §3.2 straight from the text, on the hmac module: every
    candidate of step h as an integer, in order (step h.3 between them)."""
    import hashlib
    import hmac

    from cryptobench.kernels import _ecdsa_common as common

    x, h = d.to_bytes(32, "big"), (e % common.N).to_bytes(32, "big")
    v, k = b"\x01" * 32, b"\x00" * 32
    k = hmac.new(k, v + b"\x00" + x + h, hashlib.sha256).digest()
    v = hmac.new(k, v, hashlib.sha256).digest()
    k = hmac.new(k, v + b"\x01" + x + h, hashlib.sha256).digest()
    v = hmac.new(k, v, hashlib.sha256).digest()
    while True:
        v = hmac.new(k, v, hashlib.sha256).digest()
        yield int.from_bytes(v, "big")
        k = hmac.new(k, v + b"\x00", hashlib.sha256).digest()
        v = hmac.new(k, v, hashlib.sha256).digest()


def _rfc6979_reference(d: int, e: int) -> int:
    from cryptobench.kernels import _ecdsa_common as common

    return next(c for c in _rfc6979_reference_candidates(d, e) if 1 <= c < common.N)


def test_sign_takes_the_next_nonce_when_r_or_s_is_zero(monkeypatch):
    """RFC 6979 §3.4 / SEC 1 §4.1.3 step 1: a nonce that gives r = 0 or s = 0
    (probability about 2^-256, so simulated here) is replaced by the next
    candidate of step h; a given k that does so is refused."""
    from cryptobench.kernels import _ecdsa_common as common
    from cryptobench.kernels.ecdsa_p256 import python as mod

    d, msg = 0xC0FFEE, b"r or s is zero"
    e = common.message_representative(msg)
    cands = _rfc6979_reference_candidates(d, e)
    first, second, third = next(cands), next(cands), next(cands)
    real = mod._sign
    refused = []

    def zero_for(bad):
        def fake(d_, e_, k):
            if k in bad:
                refused.append(k)
                return None
            return real(d_, e_, k)
        return fake

    key = mod.ECDSA().private_key(d)
    monkeypatch.setattr(mod, "_sign", zero_for({first}))
    assert key.sign_raw(msg) == real(d, e, second) and refused == [first]
    refused.clear()
    monkeypatch.setattr(mod, "_sign", zero_for({first, second}))
    assert key.sign_raw(msg) == real(d, e, third) and refused == [first, second]
    with pytest.raises(InvalidInput, match="r = 0 or s = 0"):
        key.sign_raw(msg, k=first)


def test_rfc6979_on_hashlib_states_matches_hmac(monkeypatch):
    """The shared RFC 6979 nonce (HMAC written out on hashlib states) gives the
    k of a plain hmac-module implementation, including the step-h retry
    (forced by shrinking n)."""
    from cryptobench.kernels import _ecdsa_common as common

    rng = random.Random(6979)
    for _ in range(200):
        d, e = rng.randrange(1, N), rng.getrandbits(256)
        assert common.rfc6979_nonce(d, e.to_bytes(32, "big")) == _rfc6979_reference(d, e)
    for bound in (1 << 255, 1 << 254, 1 << 253):  # candidates >= bound force retries
        monkeypatch.setattr(common, "N", bound)
        for _ in range(20):
            d, e = rng.randrange(1, N), rng.randrange(bound)
            assert common.rfc6979_k(d.to_bytes(32, "big"), e) == _rfc6979_reference(d, e)
    monkeypatch.undo()
    for _ in range(20):  # the constant-time flavour (hmac.digest) yields the same candidates
        d, e = rng.randrange(1, N), rng.getrandbits(256)
        x = d.to_bytes(32, "big")
        fast, ct = common.rfc6979_candidates(x, e), common.rfc6979_candidates(x, e, constant_time=True)
        ref_c = _rfc6979_reference_candidates(d, e)
        for _ in range(3):
            assert next(fast) == next(ct) == next(ref_c).to_bytes(32, "big")


def test_fixed_base_window_boundaries():
    """Scalars whose signed digits sit on the window edges (0, +-1, 2^(W-1),
    2^(W-1) + 1 -> negative with carry, 2^W - 1) in every window, and signing
    with such k (x-only last addition) against the reference."""
    from cryptobench.kernels.ecdsa_p256 import python as mod

    f = _kernel("python").hot_paths["fixed-base-mul"]()
    w, nwin = mod._W, mod._NWIN
    ks = set()
    for digit in (1, (1 << (w - 1)) - 1, 1 << (w - 1), (1 << (w - 1)) + 1, (1 << w) - 1):
        k = sum(digit << (w * i) for i in range(nwin)) % N
        ks.update({k, N - k, (k >> w) or 1, k ^ 1})
    for i in range(nwin):
        ks.update({(1 << (w * i)) % N, ((1 << (w * i + w - 1)) + 1) % N})
    # k above n/2 is folded to n - k: both sides of the fold, and folded
    # scalars whose unsigned top digit is its largest (2^(255 - W (nwin-1))).
    top = (1 << 255) - 1
    ks.update({N >> 1, (N >> 1) + 1, top, N - top, N - (1 << (w * (nwin - 1)))})
    ks.discard(0)
    priv = _kernel("python").impl.private_key(0xC0FFEE)
    for k in sorted(ks):
        assert f(k) == ref.scalar_mul(k, ref.G), k
        r, s = priv.sign_raw(b"edge", k=k)
        x = ref.scalar_mul(k, ref.G)[0]
        assert r == x % N and s == pow(k, -1, N) * (_e(b"edge") + r * 0xC0FFEE) % N, k
