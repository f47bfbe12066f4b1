"""ChaCha20-Poly1305 (RFC 8439) in pure Python, standard library only.

Follows RFC 8439: the quarter round (§2.1), the ChaCha20 block function
(§2.3), ChaCha20 encryption (§2.4), Poly1305 (§2.5), the Poly1305 one-time key
from block 0 (§2.6) and the AEAD construction (§2.8): 256-bit key, 96-bit
nonce, 32-bit block counter starting at 1 for the message, 16-byte tag.

**Not constant-time.** CPython integers are variable-length and their
arithmetic takes time that depends on the values (carries, normalisation of
leading zero digits, small-int caching); Poly1305's reductions are data
dependent too. The kernel registers ``constant_time=False``. Only the tag
comparison is constant-time (``hmac.compare_digest``).

How it is fast without C (SIMD within a register):

* ChaCha20: the 16 state words of *n* blocks are held in 16 Python integers,
  one per word, each with *n* lanes of 40 bits (lane *j* = block *j*; 32 data
  bits and 8 guard bits). One Python operation then advances every block at
  once. Additions are left unmasked: a lane gains at most one carry bit per
  addition and the 40 additions each "a"/"c" word sees in 20 rounds stay below
  2^38, inside the lane. Rotations mask out the guard bits before shifting,
  ``rotl(x, c) = ((x & low(32-c)) << c) | ((x >> (32-c)) & low(c))`` lane-wise,
  so garbage in the guard bits never reaches the data bits. The first column
  round of the three columns that do not involve the block counter is the same
  for every block and is computed once on plain 32-bit integers. The lanes are
  serialised with ``int.to_bytes`` and interleaved into keystream order by
  strided byte-slice assignment; the message is XORed as one big integer.
  Up to 20 blocks (short messages, where Python's per-operation cost rather
  than integer size dominates) a row layout is used instead: four integers,
  one per row of the 4x4 state, so a whole column or diagonal round is one
  lane-wise quarter round, with lane rotations between them as in SIMD code.
* Poly1305: the message blocks (each with its 2^128 bit, §2.5.1) are spread into
  lanes of 280 bits, 32 blocks to a chunk; chunk after chunk, every lane is
  multiplied by r^32 and partially reduced mod 2^130 - 5 (the bits above 2^130
  folded back times 5; a second fold every 7th chunk keeps the lanes bounded),
  so 32 Horner steps cost one big multiplication. The lanes are combined at
  the end by a Horner pass over them (lane t gets r^(32-t)). Short messages
  use plain Horner.
"""

from __future__ import annotations

import hmac
import struct

from cryptobench.errors import InvalidKey, InvalidLength, InvalidNonce, InvalidTag
from cryptobench.kernels._aead_common import ChaCha20Poly1305Parameters, check_block_counter, check_bytes
from cryptobench.registry import Kernel

_M32 = 0xFFFFFFFF
_SIGMA = (0x61707865, 0x3320646E, 0x79622D32, 0x6B206574)  # "expand 32-byte k" (§2.3)

#: Blocks computed per SWAR batch: large enough that Python's per-operation
#: overhead is amortised, small enough that the 16 lane integers stay in cache.
_BATCH = 1024
#: Up to this many blocks, the row layout (:func:`_blocks_rows`) is faster.
_ROWS_MAX = 20
#: ChaCha20 lane width in bytes (40 bits: 32 data + 8 guard).
_LB = 5

_lane_cache: dict[int, tuple[int, ...]] = {}


def _lanes(n: int) -> tuple[int, ...]:
    """Lane constants for an n-block batch: the replicator (1 in every lane),
    the block index of every lane, and the per-lane masks of the rotations."""
    c = _lane_cache.get(n)
    if c is None:
        rep = int.from_bytes(b"\x01\x00\x00\x00\x00" * n, "little")
        iota = int.from_bytes(b"".join(j.to_bytes(_LB, "little") for j in range(n)), "little")
        c = (rep, iota, _M32 * rep, 0xFFFF * rep, 0xFFFFF * rep, 0xFFF * rep,
             0xFFFFFF * rep, 0xFF * rep, 0x1FFFFFF * rep, 0x7F * rep)
        if len(_lane_cache) >= 64:
            _lane_cache.clear()
        _lane_cache[n] = c
    return c


def _qr(a: int, b: int, c: int, d: int) -> tuple[int, int, int, int]:
    """The ChaCha quarter round on plain 32-bit words (RFC 8439 §2.1)."""
    a = (a + b) & _M32
    d ^= a
    d = ((d << 16) | (d >> 16)) & _M32
    c = (c + d) & _M32
    b ^= c
    b = ((b << 12) | (b >> 20)) & _M32
    a = (a + b) & _M32
    d ^= a
    d = ((d << 8) | (d >> 24)) & _M32
    c = (c + d) & _M32
    b ^= c
    b = ((b << 7) | (b >> 25)) & _M32
    return a, b, c, d


def _blocks(kw: tuple[int, ...], counter: int, nw: tuple[int, ...], n: int) -> bytearray:
    """n consecutive ChaCha20 blocks (RFC 8439 §2.3) from ``counter``, 64*n bytes.

    ``kw`` is the key as 8 little-endian words, ``nw`` the nonce as 3 words;
    ``counter + n - 1`` must not exceed 2^32 - 1 (checked by the callers).
    """
    rep, iota, m32, l16, l20, l12, l24, l8, l25, l7 = _lanes(n)
    k0, k1, k2, k3, k4, k5, k6, k7 = kw
    n0, n1, n2 = nw
    ctr = counter * rep + iota  # lane j holds counter + j (< 2^32, no carry)

    # First column round. Columns 1-3 do not involve the counter: identical in
    # every block, so computed once on plain words and broadcast.
    y1, y5, y9, y13 = _qr(_SIGMA[1], k1, k5, n0)
    y2, y6, y10, y14 = _qr(_SIGMA[2], k2, k6, n1)
    y3, y7, y11, y15 = _qr(_SIGMA[3], k3, k7, n2)
    x1, x5, x9, x13 = y1 * rep, y5 * rep, y9 * rep, y13 * rep
    x2, x6, x10, x14 = y2 * rep, y6 * rep, y10 * rep, y14 * rep
    x3, x7, x11, x15 = y3 * rep, y7 * rep, y11 * rep, y15 * rep
    # Column 0 per lane (its first addition is still the same in every lane).
    x0 = ((_SIGMA[0] + k0) & _M32) * rep
    x12 = ctr ^ x0
    x12 = ((x12 & l16) << 16) | ((x12 >> 16) & l16)
    x8 = k4 * rep + x12
    x4 = (k0 * rep) ^ x8
    x4 = ((x4 & l20) << 12) | ((x4 >> 20) & l12)
    x0 += x4; x12 ^= x0; x12 = ((x12 & l24) << 8) | ((x12 >> 24) & l8)
    x8 += x12; x4 ^= x8; x4 = ((x4 & l25) << 7) | ((x4 >> 25) & l7)
    # First diagonal round.
    x0 += x5; x15 ^= x0; x15 = ((x15 & l16) << 16) | ((x15 >> 16) & l16)
    x10 += x15; x5 ^= x10; x5 = ((x5 & l20) << 12) | ((x5 >> 20) & l12)
    x0 += x5; x15 ^= x0; x15 = ((x15 & l24) << 8) | ((x15 >> 24) & l8)
    x10 += x15; x5 ^= x10; x5 = ((x5 & l25) << 7) | ((x5 >> 25) & l7)
    x1 += x6; x12 ^= x1; x12 = ((x12 & l16) << 16) | ((x12 >> 16) & l16)
    x11 += x12; x6 ^= x11; x6 = ((x6 & l20) << 12) | ((x6 >> 20) & l12)
    x1 += x6; x12 ^= x1; x12 = ((x12 & l24) << 8) | ((x12 >> 24) & l8)
    x11 += x12; x6 ^= x11; x6 = ((x6 & l25) << 7) | ((x6 >> 25) & l7)
    x2 += x7; x13 ^= x2; x13 = ((x13 & l16) << 16) | ((x13 >> 16) & l16)
    x8 += x13; x7 ^= x8; x7 = ((x7 & l20) << 12) | ((x7 >> 20) & l12)
    x2 += x7; x13 ^= x2; x13 = ((x13 & l24) << 8) | ((x13 >> 24) & l8)
    x8 += x13; x7 ^= x8; x7 = ((x7 & l25) << 7) | ((x7 >> 25) & l7)
    x3 += x4; x14 ^= x3; x14 = ((x14 & l16) << 16) | ((x14 >> 16) & l16)
    x9 += x14; x4 ^= x9; x4 = ((x4 & l20) << 12) | ((x4 >> 20) & l12)
    x3 += x4; x14 ^= x3; x14 = ((x14 & l24) << 8) | ((x14 >> 24) & l8)
    x9 += x14; x4 ^= x9; x4 = ((x4 & l25) << 7) | ((x4 >> 25) & l7)

    # The other nine double rounds (§2.3: column round, then diagonal round).
    for _ in range(9):
        x0 += x4; x12 ^= x0; x12 = ((x12 & l16) << 16) | ((x12 >> 16) & l16)
        x8 += x12; x4 ^= x8; x4 = ((x4 & l20) << 12) | ((x4 >> 20) & l12)
        x0 += x4; x12 ^= x0; x12 = ((x12 & l24) << 8) | ((x12 >> 24) & l8)
        x8 += x12; x4 ^= x8; x4 = ((x4 & l25) << 7) | ((x4 >> 25) & l7)
        x1 += x5; x13 ^= x1; x13 = ((x13 & l16) << 16) | ((x13 >> 16) & l16)
        x9 += x13; x5 ^= x9; x5 = ((x5 & l20) << 12) | ((x5 >> 20) & l12)
        x1 += x5; x13 ^= x1; x13 = ((x13 & l24) << 8) | ((x13 >> 24) & l8)
        x9 += x13; x5 ^= x9; x5 = ((x5 & l25) << 7) | ((x5 >> 25) & l7)
        x2 += x6; x14 ^= x2; x14 = ((x14 & l16) << 16) | ((x14 >> 16) & l16)
        x10 += x14; x6 ^= x10; x6 = ((x6 & l20) << 12) | ((x6 >> 20) & l12)
        x2 += x6; x14 ^= x2; x14 = ((x14 & l24) << 8) | ((x14 >> 24) & l8)
        x10 += x14; x6 ^= x10; x6 = ((x6 & l25) << 7) | ((x6 >> 25) & l7)
        x3 += x7; x15 ^= x3; x15 = ((x15 & l16) << 16) | ((x15 >> 16) & l16)
        x11 += x15; x7 ^= x11; x7 = ((x7 & l20) << 12) | ((x7 >> 20) & l12)
        x3 += x7; x15 ^= x3; x15 = ((x15 & l24) << 8) | ((x15 >> 24) & l8)
        x11 += x15; x7 ^= x11; x7 = ((x7 & l25) << 7) | ((x7 >> 25) & l7)
        x0 += x5; x15 ^= x0; x15 = ((x15 & l16) << 16) | ((x15 >> 16) & l16)
        x10 += x15; x5 ^= x10; x5 = ((x5 & l20) << 12) | ((x5 >> 20) & l12)
        x0 += x5; x15 ^= x0; x15 = ((x15 & l24) << 8) | ((x15 >> 24) & l8)
        x10 += x15; x5 ^= x10; x5 = ((x5 & l25) << 7) | ((x5 >> 25) & l7)
        x1 += x6; x12 ^= x1; x12 = ((x12 & l16) << 16) | ((x12 >> 16) & l16)
        x11 += x12; x6 ^= x11; x6 = ((x6 & l20) << 12) | ((x6 >> 20) & l12)
        x1 += x6; x12 ^= x1; x12 = ((x12 & l24) << 8) | ((x12 >> 24) & l8)
        x11 += x12; x6 ^= x11; x6 = ((x6 & l25) << 7) | ((x6 >> 25) & l7)
        x2 += x7; x13 ^= x2; x13 = ((x13 & l16) << 16) | ((x13 >> 16) & l16)
        x8 += x13; x7 ^= x8; x7 = ((x7 & l20) << 12) | ((x7 >> 20) & l12)
        x2 += x7; x13 ^= x2; x13 = ((x13 & l24) << 8) | ((x13 >> 24) & l8)
        x8 += x13; x7 ^= x8; x7 = ((x7 & l25) << 7) | ((x7 >> 25) & l7)
        x3 += x4; x14 ^= x3; x14 = ((x14 & l16) << 16) | ((x14 >> 16) & l16)
        x9 += x14; x4 ^= x9; x4 = ((x4 & l20) << 12) | ((x4 >> 20) & l12)
        x3 += x4; x14 ^= x3; x14 = ((x14 & l24) << 8) | ((x14 >> 24) & l8)
        x9 += x14; x4 ^= x9; x4 = ((x4 & l25) << 7) | ((x4 >> 25) & l7)

    # Add the input state (§2.3) and serialise: the low 4 bytes of every 5-byte
    # lane of word k go to bytes 4k..4k+3 of each 64-byte block. Sums stay
    # below 2^40, so the lanes need no mask before to_bytes.
    nb = _LB * n
    out = bytearray(64 * n)
    words = (
        x0 + _SIGMA[0] * rep, x1 + _SIGMA[1] * rep, x2 + _SIGMA[2] * rep, x3 + _SIGMA[3] * rep,
        x4 + k0 * rep, x5 + k1 * rep, x6 + k2 * rep, x7 + k3 * rep,
        x8 + k4 * rep, x9 + k5 * rep, x10 + k6 * rep, x11 + k7 * rep,
        x12 + ctr, x13 + n0 * rep, x14 + n1 * rep, x15 + n2 * rep,
    )
    for k, w in enumerate(words):
        b = w.to_bytes(nb, "little")
        o = 4 * k
        out[o::64] = b[0::5]
        out[o + 1::64] = b[1::5]
        out[o + 2::64] = b[2::5]
        out[o + 3::64] = b[3::5]
    return out


_row_cache: dict[int, tuple] = {}


def _row_lanes(n: int) -> tuple:
    """Constants of the row layout for n blocks (see :func:`_blocks_rows`)."""
    c = _row_cache.get(n)
    if c is None:
        rep = int.from_bytes(b"\x01\x00\x00\x00\x00" * (4 * n), "little")
        grep = int.from_bytes((b"\x01" + bytes(19)) * n, "little")  # 1 in lane 0 of each group
        iota = int.from_bytes(b"".join(j.to_bytes(20, "little") for j in range(n)), "little")
        sigma = (_SIGMA[0] | _SIGMA[1] << 40 | _SIGMA[2] << 80 | _SIGMA[3] << 120) * grep
        c = (grep, iota, sigma, 0xFFFF * rep, 0xFFFFF * rep, 0xFFF * rep, 0xFFFFFF * rep,
             0xFF * rep, 0x1FFFFFF * rep, 0x7F * rep, ((1 << 40) - 1) * grep,
             ((1 << 80) - 1) * grep, ((1 << 120) - 1) * grep,
             struct.Struct("<" + "IB" * (4 * n)), struct.Struct(f"<{16 * n}I"))
        if len(_row_cache) >= 64:
            _row_cache.clear()
        _row_cache[n] = c
    return c


def _blocks_rows(kw: tuple[int, ...], counter: int, nw: tuple[int, ...], n: int) -> bytes:
    """Like :func:`_blocks`, laid out for few blocks: four integers, one per
    state row (words 0-3, 4-7, 8-11, 12-15), lane 4j+i holding word i of the
    row in block j, 40-bit lanes as in :func:`_blocks`. A column round is then
    one lane-wise quarter round; the diagonal round (RFC 8439 §2.3) rotates
    rows b, c, d by 1, 2, 3 lanes within each block first and back after,
    the way SIMD implementations shuffle. Fewer, larger operations than the
    word layout: faster while Python's per-operation cost dominates.
    """
    (grep, iota, a0, l16, l20, l12, l24, l8, l25, l7, g0, g01, g012,
     unpack_lanes, pack_words) = _row_lanes(n)
    k0, k1, k2, k3, k4, k5, k6, k7 = kw
    n0, n1, n2 = nw
    b0 = (k0 | k1 << 40 | k2 << 80 | k3 << 120) * grep
    c0 = (k4 | k5 << 40 | k6 << 80 | k7 << 120) * grep
    d0 = (counter | n0 << 40 | n1 << 80 | n2 << 120) * grep + iota
    a, b, c, d = a0, b0, c0, d0
    for _ in range(10):
        a += b; d ^= a; d = ((d & l16) << 16) | ((d >> 16) & l16)
        c += d; b ^= c; b = ((b & l20) << 12) | ((b >> 20) & l12)
        a += b; d ^= a; d = ((d & l24) << 8) | ((d >> 24) & l8)
        c += d; b ^= c; b = ((b & l25) << 7) | ((b >> 25) & l7)
        b = ((b >> 40) & g012) | ((b & g0) << 120)  # lane i <- lane i+1
        c = ((c >> 80) & g01) | ((c & g01) << 80)  # lane i <- lane i+2
        d = ((d & g012) << 40) | ((d >> 120) & g0)  # lane i <- lane i+3
        a += b; d ^= a; d = ((d & l16) << 16) | ((d >> 16) & l16)
        c += d; b ^= c; b = ((b & l20) << 12) | ((b >> 20) & l12)
        a += b; d ^= a; d = ((d & l24) << 8) | ((d >> 24) & l8)
        c += d; b ^= c; b = ((b & l25) << 7) | ((b >> 25) & l7)
        b = ((b & g012) << 40) | ((b >> 120) & g0)
        c = ((c >> 80) & g01) | ((c & g01) << 80)
        d = ((d >> 40) & g012) | ((d & g0) << 120)
    # Add the input state; unpack each 5-byte lane as a word and a guard byte,
    # then interleave the rows into block order.
    nb = 20 * n
    words = [0] * (16 * n)
    for r, (x, x0) in enumerate(((a, a0), (b, b0), (c, c0), (d, d0))):
        w = unpack_lanes.unpack((x + x0).to_bytes(nb, "little"))
        o = 4 * r
        words[o::16] = w[0::8]
        words[o + 1::16] = w[2::8]
        words[o + 2::16] = w[4::8]
        words[o + 3::16] = w[6::8]
    return pack_words.pack(*words)


def _key_words(key: bytes) -> tuple[int, ...]:
    return struct.unpack("<8I", key)


def _keystream(
    kw: tuple[int, ...], nw: tuple[int, ...], counter: int, nbytes: int
) -> bytes | bytearray:
    """At least ``nbytes`` of keystream from block ``counter`` (whole blocks)."""
    nblocks = (nbytes + 63) >> 6
    if nblocks <= _ROWS_MAX:
        return _blocks_rows(kw, counter, nw, nblocks)
    if nblocks <= _BATCH:
        return _blocks(kw, counter, nw, nblocks)
    # Equal batches: a short last batch would cost nearly a full one.
    nbatch = -(-nblocks // _BATCH)
    size = -(-nblocks // nbatch)
    parts = []
    while nblocks > 0:
        n = min(nblocks, size)
        parts.append(_blocks(kw, counter, nw, n))
        counter += n
        nblocks -= n
    return b"".join(parts)


def _xor(data, ks, offset: int) -> bytes:
    """data XOR ks[offset : offset + len(data)], as one big-integer XOR."""
    n = len(data)
    if n == 0:
        return b""
    k = int.from_bytes(memoryview(ks)[offset:offset + n], "little")
    return (int.from_bytes(data, "little") ^ k).to_bytes(n, "little")


# ------------------------------------------------------------------ Poly1305

_P = (1 << 130) - 5
_CLAMP = 0x0FFFFFFC0FFFFFFC0FFFFFFC0FFFFFFF  # §2.5.1 clamp(r)
_M130 = (1 << 130) - 1
_HI = 1 << 128
#: Poly1305 lanes: 35 bytes (280 bits) each, 32 lanes per chunk.
_PLB = 35
_PK = 32
_PREP = int.from_bytes((b"\x01" + bytes(_PLB - 1)) * _PK, "little")
_PLO = _M130 * _PREP  # the low 130 bits of every lane
_PHI = ((1 << (8 * _PLB - 130)) - 1) * _PREP  # what ">> 130" leaves of each lane
#: Single folds between double folds (lane bound below).
_PFOLDS = 7
#: Below this many full blocks, plain Horner beats the lane set-up.
_PSWAR_MIN = 64


def _poly_blocks(r: int, data, nblocks: int) -> int:
    """Horner value sum c_i r^(n-i+1) mod p over ``nblocks`` full 16-byte
    blocks of ``data``, c_i = block_i + 2^128 (RFC 8439 §2.5.1)."""
    if nblocks < _PSWAR_MIN:
        acc = 0
        fb = int.from_bytes
        mv = memoryview(data)
        for i in range(0, 16 * nblocks, 16):
            acc = (acc + fb(mv[i:i + 16], "little") + _HI) * r % _P
        return acc
    # Spread the blocks into lanes: bytes 0-15 the block, byte 16 the 2^128
    # bit, the rest zero. Zero lanes in front (to fill the first chunk)
    # contribute nothing to the sum.
    k = _PK
    lb = _PLB
    if type(data) is not bytes:
        data = bytes(data)  # strided slices of bytes are fast, of memoryviews not
    pad = -nblocks % k
    buf = bytearray(lb * (nblocks + pad))
    base = lb * pad
    end = 16 * nblocks
    for t in range(16):
        buf[base + t::lb] = data[t:end:16]
    buf[base + 16::lb] = b"\x01" * nblocks
    # Lane t of chunk j holds c_(32j+t+1); every chunk step multiplies all
    # lanes by r^32, so lane t ends as sum_j c_(32j+t+1) r^(32(m-1-j)).
    # Lane bounds: a lane is < 2^131 after a double fold; a step (multiply by
    # r^32 < 2^130, fold once, add a block < 2^129) grows the bound by less
    # than 2.53 bits, so after 6 steps lanes are < 2^146.2 and the 7th product
    # < 2^276.2 still fits the 280-bit lane; its second fold brings the lane
    # back below 2^130 + 2^21, and adding the block below 2^131.
    rk = pow(r, k, _P)
    step = lb * k
    fb = int.from_bytes
    plo, phi = _PLO, _PHI
    bv = memoryview(buf)
    acc = fb(bv[:step], "little")
    j = 0
    for off in range(step, len(buf), step):
        acc *= rk
        acc = (acc & plo) + ((acc >> 130) & phi) * 5
        j += 1
        if j == _PFOLDS:
            acc = (acc & plo) + ((acc >> 130) & phi) * 5
            j = 0
        acc += fb(bv[off:off + step], "little")
    # Lane t (0-based) needs r^(32 - t): Horner over the lanes.
    raw = acc.to_bytes(step, "little")
    total = 0
    for off in range(0, step, lb):
        total = (total + fb(raw[off:off + lb], "little")) * r % _P
    return total


def _poly1305(key, data) -> bytes:
    """Poly1305 tag of ``data`` under the 32-byte one-time ``key`` (RFC 8439 §2.5)."""
    r = int.from_bytes(key[:16], "little") & _CLAMP
    s = int.from_bytes(key[16:32], "little")
    n = len(data)
    full = n >> 4
    acc = _poly_blocks(r, data, full) if full else 0
    if n & 15:
        last = bytes(data[16 * full:]) + b"\x01"
        acc = (acc + int.from_bytes(last, "little")) * r % _P
    return ((acc + s) & ((1 << 128) - 1)).to_bytes(16, "little")


# ----------------------------------------------------------------------- AEAD


def _check_nonce(nonce) -> None:
    if len(nonce) != 12:
        raise InvalidNonce("ChaCha20-Poly1305 takes a 12-byte nonce")


_ZEROS = bytes(16)


def _tag(otk, aad, ct) -> bytes:
    """The §2.8 tag: Poly1305 over aad | pad16 | ct | pad16 | le64 lengths."""
    la, lc = len(aad), len(ct)
    mac = b"".join((aad, _ZEROS[: -la % 16], ct, _ZEROS[: -lc % 16], struct.pack("<QQ", la, lc)))
    r = int.from_bytes(otk[:16], "little") & _CLAMP
    s = int.from_bytes(otk[16:32], "little")
    acc = _poly_blocks(r, mac, len(mac) >> 4)
    return ((acc + s) & ((1 << 128) - 1)).to_bytes(16, "little")


#: RFC 8439 §2.8: at most 2^32 - 1 blocks after the key block (~256 GiB).
_MAX_PT = ((1 << 32) - 1) * 64


class _Context:
    __slots__ = ("_kw",)

    def __init__(self, key: bytes) -> None:
        self._kw = _key_words(key)

    def encrypt(self, nonce, plaintext, aad=b"") -> bytes:
        check_bytes(nonce=nonce, plaintext=plaintext, aad=aad)
        _check_nonce(nonce)
        n = len(plaintext)
        if n > _MAX_PT:
            raise InvalidLength("plaintext longer than ChaCha20-Poly1305 allows")
        ks = _keystream(self._kw, struct.unpack("<3I", nonce), 0, 64 + n)
        ct = _xor(plaintext, ks, 64)
        return ct + _tag(memoryview(ks)[:32], aad, ct)

    def decrypt(self, nonce, data, aad=b"") -> bytes:
        check_bytes(nonce=nonce, data=data, aad=aad)
        _check_nonce(nonce)
        if len(data) < 16:
            raise InvalidTag("ciphertext shorter than the tag")
        n = len(data) - 16
        if n > _MAX_PT:
            raise InvalidLength("ciphertext longer than ChaCha20-Poly1305 allows")
        data = memoryview(data)
        ct = data[:n]
        ks = _keystream(self._kw, struct.unpack("<3I", nonce), 0, 64 + n)
        if not hmac.compare_digest(_tag(memoryview(ks)[:32], aad, ct), data[n:]):
            raise InvalidTag("tag check failed")
        return _xor(ct, ks, 64)


class ChaCha20Poly1305(ChaCha20Poly1305Parameters):
    """The AEAD object of docs/kernels.md: RFC 8439 §2.8, 12-byte nonce, 16-byte tag."""


    def new(self, key, tag_length: int = 16) -> _Context:
        return _Context(self.checked(key, tag_length))


# ------------------------------------------------------------------ hot paths


def _setup_chacha20(key):
    """``f(nonce12, counter, data)``: data XOR the ChaCha20 keystream from block
    ``counter`` (RFC 8439 §2.4). The 32-bit counter must not wrap."""
    check_bytes(key=key)
    if len(key) != 32:
        raise InvalidKey(f"key must be 32 bytes, got {len(key)}")
    kw = _key_words(bytes(key))

    def chacha20(nonce, counter, data):
        check_bytes(nonce=nonce, data=data)
        _check_nonce(nonce)
        n = len(data)
        check_block_counter(counter, n)
        if n == 0:
            return b""
        return _xor(data, _keystream(kw, struct.unpack("<3I", nonce), counter, n), 0)

    return chacha20


def _setup_poly1305():
    """``f(key32, data) -> tag16`` (RFC 8439 §2.5)."""

    def poly1305(key, data):
        check_bytes(key=key, data=data)
        if len(key) != 32:
            raise InvalidKey(f"Poly1305 key must be 32 bytes, got {len(key)}")
        return _poly1305(key, data)

    return poly1305


def register(reg) -> None:
    reg.add(
        Kernel(
            algorithm="chacha20-poly1305",
            backend="python",
            available=True,
            constant_time=False,
            path="swar",
            impl=ChaCha20Poly1305(),
            hot_paths={"chacha20": _setup_chacha20, "poly1305": _setup_poly1305},
            description="pure Python; many blocks per big-int operation (SIMD within a register); "
            "not constant-time",
        )
    )
