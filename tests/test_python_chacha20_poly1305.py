"""The pure-Python ChaCha20-Poly1305 kernel (and the chacha20poly1305 peer):
RFC 8439 vectors from cryptography_vectors read by a parser of this file's
own, the lane and batch boundaries of the SIMD-within-a-register code, and a
differential check of the AEAD and both hot paths against openssl."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from cryptobench import registry
from cryptobench.errors import InvalidInput, InvalidKey, InvalidLength, InvalidNonce, InvalidTag
from cryptobench.kernels.chacha20_poly1305 import python as py

cryptography_vectors = pytest.importorskip("cryptography_vectors")
VEC = Path(cryptography_vectors.__file__).parent

OPENSSL = registry.get("chacha20-poly1305", "openssl")
PEER = registry.get("chacha20-poly1305", "peer-chacha20poly1305")
PYTHON = registry.get("chacha20-poly1305", "python")

KERNELS = [
    pytest.param(PYTHON, id="python"),
    pytest.param(
        PEER, id="peer", marks=[] if PEER.available else [pytest.mark.skip(reason=PEER.reason)]
    ),
]


def _value(v: str) -> bytes:
    v = v.strip()
    if v.startswith('"') and v.endswith('"'):
        return v[1:-1].encode()
    return bytes.fromhex(v)


def _records(path: Path) -> list[dict[str, str]]:
    """``KEY = VALUE`` records separated by COUNT lines; keys upper-cased."""
    out: list[dict[str, str]] = []
    cur: dict[str, str] | None = None
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        k, v = (s.strip() for s in line.split("=", 1))
        k = k.upper()
        if k == "COUNT":
            cur = {}
            out.append(cur)
        elif cur is not None:
            cur[k] = v
    return out


def _aead_cases():
    for name in ("openssl.txt", "boringssl.txt"):
        for i, r in enumerate(_records(VEC / "ciphers" / "ChaCha20Poly1305" / name)):
            key = _value(r["KEY"])
            nonce = _value(r.get("IV", r.get("NONCE", "")))
            aad = _value(r.get("AAD", r.get("AD", "")))
            pt = _value(r.get("PLAINTEXT", r.get("IN", "")))
            ct = _value(r.get("CIPHERTEXT", r.get("CT", "")))
            tag = _value(r["TAG"])
            fail = r.get("RESULT", "") == "CIPHERFINAL_ERROR"
            yield pytest.param(key, nonce, aad, pt, ct, tag, fail, id=f"{name}-{i}")


AEAD_CASES = list(_aead_cases())


def test_vector_files_were_read():
    assert len(AEAD_CASES) >= 60
    assert any(p.values[-1] for p in AEAD_CASES)  # the CIPHERFINAL_ERROR entry


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("key,nonce,aad,pt,ct,tag,fail", AEAD_CASES)
def test_aead_vectors(kernel, key, nonce, aad, pt, ct, tag, fail):
    ctx = kernel.impl.new(key)
    if kernel.impl.supports(len(nonce), len(tag)) is not None:
        with pytest.raises(InvalidNonce):
            ctx.encrypt(nonce, pt, aad)
        return
    if fail:
        with pytest.raises(InvalidTag):
            ctx.decrypt(nonce, ct + tag, aad)
        return
    assert ctx.encrypt(nonce, pt, aad) == ct + tag
    assert ctx.decrypt(nonce, ct + tag, aad) == pt


@pytest.mark.parametrize("kernel", KERNELS)
def test_chacha20_rfc_vectors(kernel):
    recs = _records(VEC / "ciphers" / "ChaCha20" / "rfc7539.txt")
    assert recs
    for r in recs:
        f = kernel.hot_paths["chacha20"](_value(r["KEY"]))
        pt, ct = _value(r["PLAINTEXT"]), _value(r["CIPHERTEXT"])
        assert f(_value(r["NONCE"]), int(r["INITIAL_BLOCK_COUNTER"]), pt) == ct


@pytest.mark.parametrize("kernel", KERNELS)
def test_poly1305_rfc_vectors(kernel):
    recs = _records(VEC / "poly1305" / "rfc7539.txt")
    assert recs
    f = kernel.hot_paths["poly1305"]()
    for r in recs:
        assert f(_value(r["KEY"]), _value(r["MSG"])) == _value(r["TAG"])


# --------------------------------------------------------- lanes and batches


def test_poly1305_across_lane_paths_and_extremes():
    """Plain Horner and the lane code at every boundary, with the largest
    clamped r and all-ones blocks (the worst case of the lane bounds)."""
    ours = py._setup_poly1305()
    ref = OPENSSL.hot_paths["poly1305"]()
    rng = random.Random(7)
    keys = [b"\xff" * 32, bytes(16) + b"\xff" * 16, os.urandom(32)]
    t = py._PSWAR_MIN
    k = py._PK
    blocks = sorted({0, 1, t - 1, t, t + 1, k - 1, k, k + 1, 2 * k, 7 * k, 8 * k - 1, 8 * k,
                     8 * k + 1, 15 * k + 3, 300})
    for key in keys:
        for nb in blocks:
            for extra in (0, 1, 15):
                n = 16 * nb + extra
                for data in (b"\xff" * n, rng.randbytes(n)):
                    assert ours(key, data) == ref(key, data), (key.hex(), n)
                    assert ours(key, memoryview(data)) == ref(key, data)


_R, _B = py._ROWS_MAX, py._BATCH


@pytest.mark.parametrize(
    "nblocks", [1, 2, 3, _R - 1, _R, _R + 1, 255, _B - 1, _B, _B + 1, 2 * _B + 1]
)
def test_chacha20_batch_boundaries(nblocks):
    key, nonce = os.urandom(32), os.urandom(12)
    ours = py._setup_chacha20(key)
    ref = OPENSSL.hot_paths["chacha20"](key)
    for n in (64 * nblocks - 1, 64 * nblocks):
        data = os.urandom(n)
        for ctr in (0, 1, 12345, (1 << 32) - nblocks):
            assert ours(nonce, ctr, data) == ref(nonce, ctr, data), (n, ctr)


def test_chacha20_counter_limits():
    f = py._setup_chacha20(bytes(32))
    ref = OPENSSL.hot_paths["chacha20"](bytes(32))
    top = (1 << 32) - 1
    assert f(bytes(12), top, bytes(64)) == ref(bytes(12), top, bytes(64))
    assert f(bytes(12), top, b"") == b""
    with pytest.raises(InvalidLength):
        f(bytes(12), top, bytes(65))
    with pytest.raises(InvalidInput):
        f(bytes(12), 1 << 32, b"x")
    with pytest.raises(InvalidInput):
        f(bytes(12), -1, b"x")
    with pytest.raises(TypeError):
        f(bytes(12), 1.0, b"x")
    with pytest.raises(InvalidNonce):
        f(bytes(8), 0, b"x")


# --------------------------------------------------------------- differential

LENGTHS = [0, 1, 15, 16, 17, 63, 64, 65, 127, 128, 129, 767, 768, 769, 1024, 2048, 16384, 16385]


@pytest.mark.parametrize("kernel", KERNELS)
def test_differential_against_openssl(kernel):
    rng = random.Random(20261127)
    lengths = LENGTHS + [rng.randrange(0, 2049) for _ in range(40)]
    if kernel is PEER:
        lengths = [n for n in lengths if n <= 2048]  # the peer is slow
    for n in lengths:
        key, nonce = rng.randbytes(32), rng.randbytes(12)
        pt = rng.randbytes(n)
        aad = rng.randbytes(rng.choice([0, 1, 12, 16, 17, 64, 300]))
        ours, ref = kernel.impl.new(key), OPENSSL.impl.new(key)
        sealed = ref.encrypt(nonce, pt, aad)
        assert ours.encrypt(nonce, pt, aad) == sealed, n
        # bytes-like inputs, not modified
        bpt, baad = bytearray(pt), bytearray(aad)
        assert ours.encrypt(memoryview(nonce), bpt, memoryview(baad)) == sealed
        assert bpt == pt and baad == aad
        assert ours.decrypt(nonce, bytearray(sealed), aad) == pt
        assert ours.decrypt(nonce, memoryview(sealed), memoryview(aad)) == pt
        # tampering anywhere in ciphertext or tag, AAD, nonce
        bad = bytearray(sealed)
        bad[rng.randrange(len(bad))] ^= 1 << rng.randrange(8)
        with pytest.raises(InvalidTag):
            ours.decrypt(nonce, bytes(bad), aad)
        with pytest.raises(InvalidTag):
            ours.decrypt(nonce, sealed, aad + b"\x00")
        with pytest.raises(InvalidTag):
            ours.decrypt(bytes([nonce[0] ^ 1]) + nonce[1:], sealed, aad)
        with pytest.raises(InvalidTag):
            ours.decrypt(nonce, sealed[: rng.randrange(16)], aad)


@pytest.mark.parametrize("kernel", KERNELS)
def test_hot_paths_against_openssl(kernel):
    rng = random.Random(5)
    lengths = LENGTHS if kernel is PYTHON else [n for n in LENGTHS if n <= 1024]
    for n in lengths:
        key, nonce, data = rng.randbytes(32), rng.randbytes(12), rng.randbytes(n)
        ctr = rng.randrange(1 << 31)
        want = OPENSSL.hot_paths["chacha20"](key)(nonce, ctr, data)
        assert kernel.hot_paths["chacha20"](key)(nonce, ctr, data) == want, n
        want = OPENSSL.hot_paths["poly1305"]()(key, data)
        assert kernel.hot_paths["poly1305"]()(key, data) == want, n


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize("kernel", KERNELS)
def test_bad_input(kernel):
    aead = kernel.impl
    assert aead.key_size == 32
    assert aead.supports(12, 16) is None
    assert aead.supports(8, 16) and aead.supports(12, 12)
    with pytest.raises(InvalidKey):
        aead.new(bytes(16))
    with pytest.raises(TypeError):
        aead.new("k" * 32)
    with pytest.raises(InvalidLength):
        aead.new(bytes(32), tag_length=12)
    ctx = aead.new(bytes(32))
    with pytest.raises(InvalidNonce):
        ctx.encrypt(bytes(8), b"x")
    with pytest.raises(InvalidNonce):
        ctx.decrypt(bytes(16), bytes(32))
    with pytest.raises(TypeError):
        ctx.encrypt(bytes(12), "text")
    with pytest.raises(TypeError):
        ctx.encrypt(bytes(12), b"x", aad=5)
    with pytest.raises(InvalidTag):
        ctx.decrypt(bytes(12), bytes(15))


def test_registration():
    assert PYTHON.available and not PYTHON.constant_time
    assert set(PYTHON.hot_paths) == {"chacha20", "poly1305"}
    assert not PEER.constant_time
    if not PEER.available:
        assert PEER.reason == "chacha20poly1305 is not installed (pip install cryptobench[peers])"
