"""Unit tests specific to the pure-Python AES-GCM kernel and the pyaes peer.

The registry-wide tests (test_kernels.py) already run every CAVP vector and the
differential check; these pin the pieces: FIPS 197 key expansion and block
outputs, both AES code paths (few blocks / byte-sliced lanes) around their
threshold, inc32 wrap-around, GHASH against the reference, IV and tag lengths
OpenSSL does not take, and the bad-input contract.
"""

from __future__ import annotations

import random

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM as RefAESGCM

from cryptobench import registry
from cryptobench._reference import ghash as ref_ghash
from cryptobench.errors import InvalidKey, InvalidLength, InvalidNonce, InvalidTag
from cryptobench.kernels.aes_gcm import peers
from cryptobench.kernels.aes_gcm import python as P

RNG = random.Random(4)


def _ecb(key: bytes, block: bytes) -> bytes:
    return Cipher(algorithms.AES(key), modes.ECB()).encryptor().update(block)


def _ctr_inc32(key: bytes, cb: bytes, data: bytes) -> bytes:
    """AES-CTR with SP 800-38D inc32, one ECB call per block (slow, obvious)."""
    out = bytearray()
    for i in range(0, len(data), 16):
        ks = _ecb(key, cb)
        out += bytes(a ^ b for a, b in zip(data[i : i + 16], ks))
        cb = cb[:12] + ((int.from_bytes(cb[12:], "big") + 1) % 2**32).to_bytes(4, "big")
    return bytes(out)


def test_sbox_spot_values():
    # FIPS 197 Figure 7
    assert P._SBOX[0x00] == 0x63
    assert P._SBOX[0x53] == 0xED
    assert P._SBOX[0xFF] == 0x16
    assert sorted(P._SBOX) == list(range(256))


@pytest.mark.parametrize(
    "key, last",
    [
        ("2b7e151628aed2a6abf7158809cf4f3c", "d014f9a8c9ee2589e13f0cc8b6630ca6"),  # FIPS 197 A.1
        (
            "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
            "fe4890d1e6188d0b046df344706c631e",
        ),  # FIPS 197 A.3
    ],
)
def test_key_expansion_fips197_appendix_a(key, last):
    rks = P._expand_round_keys(bytes.fromhex(key))
    assert len(rks) == (11 if len(key) == 32 else 15)
    assert rks[0] == bytes.fromhex(key)[:16]
    assert rks[-1].hex() == last


@pytest.mark.parametrize(
    "key, ct",
    [
        ("000102030405060708090a0b0c0d0e0f", "69c4e0d86a7b0430d8cdb78070b4c55a"),  # C.1
        (
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
            "8ea2b7ca516745bfeafc49904b496089",
        ),  # C.3
    ],
)
def test_block_fips197_appendix_c(key, ct):
    sched = P._Schedule(bytes.fromhex(key))
    assert P._encrypt_block(sched, bytes.fromhex("00112233445566778899aabbccddeeff")).hex() == ct


@pytest.mark.parametrize("key_size", [16, 32])
def test_both_aes_paths_match_openssl_around_threshold(key_size):
    key = RNG.randbytes(key_size)
    sched = P._Schedule(key)
    limit = P._SMALL_MAX_BLOCKS
    for n in (1, 2, limit - 1, limit, limit + 1, limit + 2, 40):
        cb = RNG.randbytes(12) + RNG.randrange(2**32).to_bytes(4, "big")
        want = _ctr_inc32(key, cb, bytes(16 * n))
        assert bytes(P._keystream(sched, cb, n)) == want, n
        assert P._keystream_small(sched, cb, n) == want, n


@pytest.mark.parametrize("low", [0xFFFFFFFF, 0xFFFFFFF0, 0xFFFFFF00])
@pytest.mark.parametrize("length", [1, 17, 100, 255, 600, 5000])
def test_aes_ctr_inc32_wraps(low, length):
    key = RNG.randbytes(16)
    cb = RNG.randbytes(12) + low.to_bytes(4, "big")
    data = RNG.randbytes(length)
    want = _ctr_inc32(key, cb, data)
    assert P._setup_ctr(key)(cb, data) == want
    if peers._pyaes is not None:
        assert peers._setup_ctr(key)(cb, data) == want


def test_aes_ctr_accepts_bytes_like():
    key = RNG.randbytes(32)
    cb = RNG.randbytes(16)
    data = RNG.randbytes(70)
    f = P._setup_ctr(bytearray(key))
    assert f(memoryview(cb), bytearray(data)) == f(cb, data) == _ctr_inc32(key, cb, data)
    assert f(cb, b"") == b""


@pytest.mark.parametrize("n", [0, 16, 32, 48, 160, 4096])
def test_ghash_matches_reference(n):
    h = RNG.randbytes(16)
    data = RNG.randbytes(n)
    f = P._setup_ghash(h)
    assert f(data) == ref_ghash(h, data)
    assert f(memoryview(bytearray(data))) == ref_ghash(h, data)


def test_ghash_rejects_partial_block():
    with pytest.raises(InvalidLength):
        P._setup_ghash(bytes(16))(bytes(15))


def test_mcgrew_viega_test_cases_1_and_2():
    ctx = P.AESGCM(16).new(bytes(16))
    assert ctx.encrypt(bytes(12), b"").hex() == "58e2fccefa7e3061367f1d57a4e7455a"
    assert ctx.encrypt(bytes(12), bytes(16)).hex() == (
        "0388dace60b6a392f328c2b971b2fe78" "ab6e47d42cec13bdf53a67b21257bddf"
    )


@pytest.mark.parametrize("key_size", [16, 32])
@pytest.mark.parametrize("iv_len", [8, 12, 13, 16, 60, 128])
@pytest.mark.parametrize("tag_len", [4, 8, 13, 16])
def test_iv_and_tag_lengths_match_openssl(key_size, iv_len, tag_len):
    key = RNG.randbytes(key_size)
    ctx = P.AESGCM(key_size).new(key, tag_len)
    for length in (0, 1, 16, 33, 300):
        iv, pt, aad = RNG.randbytes(iv_len), RNG.randbytes(length), RNG.randbytes(length % 41)
        enc = Cipher(algorithms.AES(key), modes.GCM(iv)).encryptor()
        enc.authenticate_additional_data(aad)
        want = enc.update(pt) + enc.finalize() + enc.tag[:tag_len]
        assert ctx.encrypt(iv, pt, aad) == want
        assert ctx.decrypt(iv, want, aad) == pt


@pytest.mark.parametrize("iv_len", [1, 2, 7])
def test_short_ivs_round_trip(iv_len):
    # OpenSSL through cryptography refuses IVs under 8 bytes; the CAVP files
    # (run by test_kernels) pin the values, this checks the round trip.
    ctx = P.AESGCM(16).new(bytes(16))
    iv = bytes(range(1, iv_len + 1))
    ct = ctx.encrypt(iv, b"short iv", b"aad")
    assert ctx.decrypt(iv, ct, b"aad") == b"short iv"
    with pytest.raises(InvalidTag):
        ctx.decrypt(iv + b"\x00", ct, b"aad")


def test_large_message_matches_openssl():
    key, iv = RNG.randbytes(16), RNG.randbytes(12)
    pt, aad = RNG.randbytes(16384 + 5), RNG.randbytes(100)
    want = RefAESGCM(key).encrypt(iv, pt, aad)
    ctx = P.AESGCM(16).new(key)
    assert ctx.encrypt(iv, pt, aad) == want
    assert ctx.decrypt(iv, want, aad) == pt


def test_bad_inputs():
    impl = P.AESGCM(16)
    with pytest.raises(TypeError):
        impl.new("0" * 16)
    with pytest.raises(InvalidKey):
        impl.new(bytes(32))
    for bad in (3, 17):
        with pytest.raises(InvalidLength):
            impl.new(bytes(16), bad)
    with pytest.raises(TypeError):
        impl.new(bytes(16), 16.0)
    ctx = impl.new(bytes(16))
    with pytest.raises(InvalidNonce):
        ctx.encrypt(b"", b"x")
    with pytest.raises(InvalidNonce):
        ctx.decrypt(b"", bytes(20))
    with pytest.raises(TypeError):
        ctx.encrypt(bytes(12), "text")
    with pytest.raises(TypeError):
        ctx.decrypt(bytes(12), bytes(20), aad="x")
    with pytest.raises(InvalidTag):
        ctx.decrypt(bytes(12), bytes(15))
    assert impl.supports(1, 4) is None
    assert impl.supports(0, 16) is not None
    assert impl.supports(12, 17) is not None


def test_tampering_is_rejected_and_inputs_untouched():
    ctx = P.AESGCM(32).new(bytes(range(32)), 12)
    nonce, pt, aad = bytearray(12), bytearray(b"p" * 50), bytearray(b"a" * 7)
    ct = ctx.encrypt(nonce, pt, aad)
    assert (nonce, pt, aad) == (bytearray(12), bytearray(b"p" * 50), bytearray(b"a" * 7))
    assert ctx.decrypt(memoryview(nonce), memoryview(ct), memoryview(aad)) == bytes(pt)
    for i in (0, 25, len(ct) - 12, len(ct) - 1):
        bad = bytearray(ct)
        bad[i] ^= 1
        with pytest.raises(InvalidTag):
            ctx.decrypt(nonce, bytes(bad), aad)
    with pytest.raises(InvalidTag):
        ctx.decrypt(nonce, ct, aad + b"!")


def test_key_expansion_hot_path_is_deterministic():
    f = P._setup_key_expansion()
    key = RNG.randbytes(32)
    assert f(key) == f(bytearray(key))
    assert f(key) != f(RNG.randbytes(32))
    assert f(key).round_keys[0] == key[:16]


def test_registration():
    for algorithm in ("aes-128-gcm", "aes-256-gcm"):
        k = registry.get(algorithm, "python")
        assert k.available and not k.constant_time
        assert set(k.hot_paths) == {"key-expansion", "aes-ctr", "ghash"}
        assert k.impl.key_size == registry.KEY_SIZES[algorithm]
        p = registry.get(algorithm, "peer-pyaes")
        assert p.impl is None and set(p.hot_paths) == {"aes-ctr"}
        assert not p.constant_time


def test_peer_unavailable_without_pyaes(monkeypatch):
    monkeypatch.setattr(peers, "_pyaes", None)
    reg = registry.Registry()
    peers.register(reg)
    kernels = reg.all()
    assert [k.name for k in kernels] == ["aes-128-gcm/peer-pyaes", "aes-256-gcm/peer-pyaes"]
    for k in kernels:
        assert not k.available
        assert k.reason == "pyaes is not installed (pip install cryptobench[peers])"
