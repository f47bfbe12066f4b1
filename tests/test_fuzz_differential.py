"""Differential fuzzing: every available backend against openssl on random inputs.

Hypothesis draws keys, nonces, messages, AAD, tag lengths and tamperings;
each backend must give openssl's bytes and refuse what openssl refuses.
Seeded (``derandomize=True``) and bounded (``FUZZ_EXAMPLES``, 50 by default)
so the default test run is short and repeatable; for a long run:

    CRYPTOBENCH_FUZZ_EXAMPLES=5000 pytest tests/test_fuzz_differential.py

and ``fuzz/atheris_aead.py`` for coverage-guided fuzzing.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cryptobench import registry
from cryptobench.errors import InvalidInput, InvalidSignature, InvalidTag
from cryptobench.kernels._ecdsa_common import N, decode_der
from conftest import kernel_params

FUZZ_EXAMPLES = int(os.environ.get("CRYPTOBENCH_FUZZ_EXAMPLES", "50"))

FUZZ = settings(
    max_examples=FUZZ_EXAMPLES,
    derandomize=True,  # the same examples every run
    deadline=None,  # first calls may compile (Numba) or build tables
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Block and buffer boundaries get drawn more often than uniform sizes would.
_EDGES = [0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257, 511, 512, 1023, 1024, 2047, 2048]
message_lengths = st.one_of(st.sampled_from(_EDGES), st.integers(0, 2048))


def _ref(kernel: registry.Kernel) -> registry.Kernel:
    return registry.get(kernel.algorithm, "openssl")


def _differs(kernel: registry.Kernel) -> bool:
    return kernel.backend != "openssl"


@pytest.mark.parametrize("kernel", kernel_params(lambda k: k.kind == "aead" and k.impl is not None and _differs(k)))
@FUZZ
@given(data=st.data())
def test_aead_matches_openssl(kernel, data):
    impl, ref = kernel.impl, _ref(kernel).impl
    gcm = kernel.family == "aes_gcm"
    key = data.draw(st.binary(min_size=impl.key_size, max_size=impl.key_size), label="key")
    nonce_len = data.draw(st.sampled_from([12, 12, 12, 8, 16, 13, 60, 128]) if gcm else st.just(12), label="nonce_len")
    tag_len = data.draw(st.sampled_from([16, 16, 16, 4, 8, 12, 13, 15]) if gcm else st.just(16), label="tag_len")
    if impl.supports(nonce_len, tag_len) or ref.supports(nonce_len, tag_len):
        nonce_len, tag_len = 12, 16
    nonce = data.draw(st.binary(min_size=nonce_len, max_size=nonce_len), label="nonce")
    n = data.draw(message_lengths, label="n")
    pt = data.draw(st.binary(min_size=n, max_size=n), label="plaintext")
    aad = data.draw(st.binary(max_size=64), label="aad")

    ctx, rctx = impl.new(key, tag_len), ref.new(key, tag_len)
    ct = ctx.encrypt(nonce, pt, aad)
    assert ct == rctx.encrypt(nonce, pt, aad)
    assert ctx.decrypt(nonce, ct, aad) == pt

    # a random tampering: both refuse it, and neither returns plaintext
    where = data.draw(st.sampled_from(["ct", "aad", "nonce", "cut", "extend"]), label="tamper")
    c2, a2, n2 = bytearray(ct), bytearray(aad), bytearray(nonce)
    if where == "ct":
        i = data.draw(st.integers(0, len(ct) - 1), label="byte")
        c2[i] ^= 1 << data.draw(st.integers(0, 7), label="bit")
    elif where == "aad":
        a2 += b"\x00" if not a2 else b""
        a2[-1] ^= 0x80
    elif where == "nonce":
        n2[0] ^= 0x01
    elif where == "cut":
        del c2[data.draw(st.integers(0, len(c2) - 1), label="cut_at"):]
    else:
        c2 += data.draw(st.binary(min_size=1, max_size=17), label="extra")
    for c in (ctx, rctx):
        with pytest.raises(InvalidTag):
            c.decrypt(bytes(n2), bytes(c2), bytes(a2))


_scalars = st.one_of(st.integers(1, N - 1), st.sampled_from([1, 2, 3, N - 1, N - 2, 2**128, 2**255]))


@pytest.mark.parametrize("kernel", kernel_params(lambda k: k.kind == "signature" and k.impl is not None and _differs(k)))
@FUZZ
@given(d=_scalars, message=st.binary(max_size=300), mutation=st.integers(0, 10**6))
def test_ecdsa_matches_openssl(kernel, d, message, mutation):
    impl, ref = kernel.impl, _ref(kernel).impl
    priv, rpriv = impl.private_key(d), ref.private_key(d)
    pub, rpub = priv.public_key(), rpriv.public_key()
    assert pub.encoded == rpub.encoded
    sig = priv.sign(message)
    assert sig == rpriv.sign(message), "RFC 6979 signatures differ"
    rpub.verify(message, sig)
    pub.verify(message, sig)
    r, s = decode_der(sig)
    pub.verify_raw(message, r, s)
    # a public key parsed from bytes behaves as the derived one
    impl.public_key(rpub.encoded).verify(message, sig)

    # one mutated signature or message: both backends agree on refusing it
    bad = bytearray(sig)
    i = mutation % len(bad)
    bad[i] ^= 1 << (mutation // len(bad)) % 8
    for p in (pub, rpub):
        with pytest.raises(InvalidSignature):
            p.verify(message, bytes(bad))
        with pytest.raises(InvalidSignature):
            p.verify(message + b"\x00", sig)
    for rr, ss in ((r, N - s), (s, r)):  # high-s is valid ECDSA; swapped is not
        outcomes = []
        for p in (pub, rpub):
            try:
                p.verify_raw(message, rr, ss)
                outcomes.append(True)
            except InvalidSignature:
                outcomes.append(False)
        assert outcomes[0] == outcomes[1], f"backend {outcomes[0]} vs openssl {outcomes[1]} on (r, s) = ({rr:#x}, {ss:#x})"


@pytest.mark.parametrize("kernel", kernel_params(lambda k: k.kind == "signature" and k.impl is not None
                                                 and getattr(k.impl, "supports_given_k", False)))
@FUZZ
@given(d=_scalars, k=_scalars, message=st.binary(max_size=64))
def test_ecdsa_given_k_verifies_under_openssl(kernel, d, k, message):
    """Signatures with a caller-chosen k (the SigGen path) verify under openssl."""
    priv = kernel.impl.private_key(d)
    try:
        r, s = priv.sign_raw(message, k=k)
    except InvalidInput:  # r or s came out 0: vanishingly rare, and allowed
        return
    _ref(kernel).impl.private_key(d).public_key().verify_raw(message, r, s)
