"""ChaCha20-Poly1305 (RFC 8439 §2.8) compiled with Numba, in two tiers.

``numba-portable`` — plain Numba, no CPU-specific instructions requested:
ChaCha20 (RFC 8439 §2.1-2.4) eight blocks per step, written as a loop over
eight lanes whose body is the twenty rounds of one block on sixteen 32-bit
words; LLVM's loop vectorizer turns it into SIMD code for the host (on an AVX2
or AVX-512 machine: ``vpaddd``/``vprold`` on ymm registers). Poly1305 (§2.5)
in radix 2^26 with 64-bit products (five limbs). Keystream words are read back
as bytes through a uint32 view, so the backend needs a little-endian host.

``numba-hw`` — ChaCha20 eight blocks at a time in ``<8 x i32>`` vectors
(AVX2 width) written directly as LLVM vector IR (``chacha20_x8`` in
``kernels/_numba_common.py``: vector adds, XORs, ``llvm.fshl`` rotates and a
shufflevector transpose), so the vector code does not depend on the
auto-vectorizer. Numba compiles for the host CPU, so on a CPU with AVX-512VL
LLVM is free to pick EVEX encodings (``vprold`` rotates) for the same 256-bit
operations. Poly1305 in radix 2^64 with LLVM ``i128`` products (MUL/MULX),
three limbs; encryption interleaves ChaCha20 and Poly1305 per 512-byte chunk.
Registered where the CPU has AVX2.

**Both tiers are constant-time** at the source level: additions, XORs,
rotations and multiplications only, no secret-dependent branches or memory
indices; the final reduction mod 2^130 - 5 selects with masks, and the tag is
compared without early exit: the OR of the byte differences goes through
``value_barrier`` (an empty inline-asm statement) before the one branch, or
LLVM turns the compare into sixteen early-exit branches. ``constant_time=True``
for both.

Decryption computes and checks the tag over the ciphertext first and only then
decrypts, so no plaintext is produced when the tag is wrong. Nonces are 12
bytes, tags 16 bytes, plaintexts at most 2^38 - 64 bytes (the 32-bit block
counter, §2.8). The ``chacha20`` hot path's block counter wraps mod 2^32.

numba is imported and the kernels compiled (``@njit(cache=True, nogil=True)``,
cache in ``__pycache__``) on first use, never at import.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

from cryptobench._locks import ChildSafeLock
from cryptobench.errors import InvalidKey, InvalidLength, InvalidNonce, InvalidTag
from cryptobench.kernels._aead_common import ChaCha20Poly1305Parameters, check_block_counter, check_bytes
from cryptobench.registry import Kernel

_MAX_PLAINTEXT = ((1 << 32) - 1) * 64  # RFC 8439 §2.8: 2^38 - 64 bytes


def _numba_missing() -> str | None:
    return None if importlib.util.find_spec("numba") is not None else "numba is not installed"


# ====================================================================== shared (both tiers)
# Plain Python functions in the Numba subset, turned into njit dispatchers by
# _jit() on first use; ``np``, ``_QI`` and (hw) the intrinsics of _numba_common
# are put into this module's globals there, so importing this module imports
# neither numpy nor numba.
# 32-bit words are carried in int64 and masked; the state array is uint32[16].


def _le32(a, off):
    return np.int64(a[off]) | (np.int64(a[off + 1]) << 8) | (np.int64(a[off + 2]) << 16) | (np.int64(a[off + 3]) << 24)


def _init_state(key, nonce, counter, st):
    """RFC 8439 §2.3: constants, key, block counter, nonce."""
    st[0] = 0x61707865
    st[1] = 0x3320646E
    st[2] = 0x79622D32
    st[3] = 0x6B206574
    for i in range(8):
        st[4 + i] = _le32(key, 4 * i)
    st[12] = counter & 0xFFFFFFFF
    for i in range(3):
        st[13 + i] = _le32(nonce, 4 * i)


def _rotl(v, n):
    return ((v << n) | (v >> (32 - n))) & 0xFFFFFFFF


def _qr(a, b, c, d):
    """The ChaCha quarter round (RFC 8439 §2.1)."""
    a = (a + b) & 0xFFFFFFFF
    d = _rotl(d ^ a, 16)
    c = (c + d) & 0xFFFFFFFF
    b = _rotl(b ^ c, 12)
    a = (a + b) & 0xFFFFFFFF
    d = _rotl(d ^ a, 8)
    c = (c + d) & 0xFFFFFFFF
    b = _rotl(b ^ c, 7)
    return a, b, c, d


def _block_p(st, ks):
    """One ChaCha20 block (RFC 8439 §2.3) into ks[0:64], little-endian words."""
    i0 = np.int64(st[0])
    i1 = np.int64(st[1])
    i2 = np.int64(st[2])
    i3 = np.int64(st[3])
    i4 = np.int64(st[4])
    i5 = np.int64(st[5])
    i6 = np.int64(st[6])
    i7 = np.int64(st[7])
    i8 = np.int64(st[8])
    i9 = np.int64(st[9])
    i10 = np.int64(st[10])
    i11 = np.int64(st[11])
    i12 = np.int64(st[12])
    i13 = np.int64(st[13])
    i14 = np.int64(st[14])
    i15 = np.int64(st[15])
    x0, x1, x2, x3, x4, x5, x6, x7 = i0, i1, i2, i3, i4, i5, i6, i7
    x8, x9, x10, x11, x12, x13, x14, x15 = i8, i9, i10, i11, i12, i13, i14, i15
    for _ in range(10):
        x0, x4, x8, x12 = _qr(x0, x4, x8, x12)
        x1, x5, x9, x13 = _qr(x1, x5, x9, x13)
        x2, x6, x10, x14 = _qr(x2, x6, x10, x14)
        x3, x7, x11, x15 = _qr(x3, x7, x11, x15)
        x0, x5, x10, x15 = _qr(x0, x5, x10, x15)
        x1, x6, x11, x12 = _qr(x1, x6, x11, x12)
        x2, x7, x8, x13 = _qr(x2, x7, x8, x13)
        x3, x4, x9, x14 = _qr(x3, x4, x9, x14)
    w = np.empty(16, np.int64)
    w[0], w[1], w[2], w[3] = x0 + i0, x1 + i1, x2 + i2, x3 + i3
    w[4], w[5], w[6], w[7] = x4 + i4, x5 + i5, x6 + i6, x7 + i7
    w[8], w[9], w[10], w[11] = x8 + i8, x9 + i9, x10 + i10, x11 + i11
    w[12], w[13], w[14], w[15] = x12 + i12, x13 + i13, x14 + i14, x15 + i15
    for i in range(64):
        ks[i] = (w[i >> 2] >> (8 * (i & 3))) & 0xFF


def _chacha20_p(st, src, soff, dst, doff, n):
    """dst = src XOR the ChaCha20 keystream from block st[12] (RFC 8439 §2.4); st[12] advances.

    Eight blocks per step: ``_chacha8_p`` runs one block per iteration of a loop
    over eight lanes with all twenty rounds written out, so the loop body is
    straight-line code that LLVM's loop vectorizer turns into SIMD code for the
    host (no CPU-specific code is requested). The keystream words are read back
    as bytes through a uint32 view, which assumes a little-endian host (the
    backend registers as unavailable elsewhere).
    """
    ks32 = np.empty(128, np.uint32)
    ks = ks32.view(np.uint8)
    pos = 0
    while pos < n:
        ctr = np.int64(st[12])
        _chacha8_p(st, ks32)
        m = min(512, n - pos)
        for i in range(m):
            dst[doff + pos + i] = src[soff + pos + i] ^ ks[i]
        st[12] = (ctr + (m + 63) // 64) & 0xFFFFFFFF
        pos += 512


def _qr32(a, b, c, d):
    """The quarter round (RFC 8439 §2.1) on uint32 values."""
    a = np.uint32(a + b)
    d = np.uint32(d ^ a)
    d = np.uint32((d << np.uint32(16)) | (d >> np.uint32(16)))
    c = np.uint32(c + d)
    b = np.uint32(b ^ c)
    b = np.uint32((b << np.uint32(12)) | (b >> np.uint32(20)))
    a = np.uint32(a + b)
    d = np.uint32(d ^ a)
    d = np.uint32((d << np.uint32(8)) | (d >> np.uint32(24)))
    c = np.uint32(c + d)
    b = np.uint32(b ^ c)
    b = np.uint32((b << np.uint32(7)) | (b >> np.uint32(25)))
    return a, b, c, d


def _chacha8_p(st, ks32):
    """Blocks st[12] + j, j = 0..7, into ks32[16j:16j+16] (RFC 8439 §2.3)."""
    s0, s1, s2, s3 = st[0], st[1], st[2], st[3]
    s4, s5, s6, s7 = st[4], st[5], st[6], st[7]
    s8, s9, s10, s11 = st[8], st[9], st[10], st[11]
    s13, s14, s15 = st[13], st[14], st[15]
    ctr = np.int64(st[12])
    for j in range(8):
        s12 = np.uint32((ctr + j) & 0xFFFFFFFF)
        x0, x1, x2, x3, x4, x5, x6, x7 = s0, s1, s2, s3, s4, s5, s6, s7
        x8, x9, x10, x11, x12, x13, x14, x15 = s8, s9, s10, s11, s12, s13, s14, s15
        # double round 1
        x0, x4, x8, x12 = _qr32(x0, x4, x8, x12)
        x1, x5, x9, x13 = _qr32(x1, x5, x9, x13)
        x2, x6, x10, x14 = _qr32(x2, x6, x10, x14)
        x3, x7, x11, x15 = _qr32(x3, x7, x11, x15)
        x0, x5, x10, x15 = _qr32(x0, x5, x10, x15)
        x1, x6, x11, x12 = _qr32(x1, x6, x11, x12)
        x2, x7, x8, x13 = _qr32(x2, x7, x8, x13)
        x3, x4, x9, x14 = _qr32(x3, x4, x9, x14)
        # double round 2
        x0, x4, x8, x12 = _qr32(x0, x4, x8, x12)
        x1, x5, x9, x13 = _qr32(x1, x5, x9, x13)
        x2, x6, x10, x14 = _qr32(x2, x6, x10, x14)
        x3, x7, x11, x15 = _qr32(x3, x7, x11, x15)
        x0, x5, x10, x15 = _qr32(x0, x5, x10, x15)
        x1, x6, x11, x12 = _qr32(x1, x6, x11, x12)
        x2, x7, x8, x13 = _qr32(x2, x7, x8, x13)
        x3, x4, x9, x14 = _qr32(x3, x4, x9, x14)
        # double round 3
        x0, x4, x8, x12 = _qr32(x0, x4, x8, x12)
        x1, x5, x9, x13 = _qr32(x1, x5, x9, x13)
        x2, x6, x10, x14 = _qr32(x2, x6, x10, x14)
        x3, x7, x11, x15 = _qr32(x3, x7, x11, x15)
        x0, x5, x10, x15 = _qr32(x0, x5, x10, x15)
        x1, x6, x11, x12 = _qr32(x1, x6, x11, x12)
        x2, x7, x8, x13 = _qr32(x2, x7, x8, x13)
        x3, x4, x9, x14 = _qr32(x3, x4, x9, x14)
        # double round 4
        x0, x4, x8, x12 = _qr32(x0, x4, x8, x12)
        x1, x5, x9, x13 = _qr32(x1, x5, x9, x13)
        x2, x6, x10, x14 = _qr32(x2, x6, x10, x14)
        x3, x7, x11, x15 = _qr32(x3, x7, x11, x15)
        x0, x5, x10, x15 = _qr32(x0, x5, x10, x15)
        x1, x6, x11, x12 = _qr32(x1, x6, x11, x12)
        x2, x7, x8, x13 = _qr32(x2, x7, x8, x13)
        x3, x4, x9, x14 = _qr32(x3, x4, x9, x14)
        # double round 5
        x0, x4, x8, x12 = _qr32(x0, x4, x8, x12)
        x1, x5, x9, x13 = _qr32(x1, x5, x9, x13)
        x2, x6, x10, x14 = _qr32(x2, x6, x10, x14)
        x3, x7, x11, x15 = _qr32(x3, x7, x11, x15)
        x0, x5, x10, x15 = _qr32(x0, x5, x10, x15)
        x1, x6, x11, x12 = _qr32(x1, x6, x11, x12)
        x2, x7, x8, x13 = _qr32(x2, x7, x8, x13)
        x3, x4, x9, x14 = _qr32(x3, x4, x9, x14)
        # double round 6
        x0, x4, x8, x12 = _qr32(x0, x4, x8, x12)
        x1, x5, x9, x13 = _qr32(x1, x5, x9, x13)
        x2, x6, x10, x14 = _qr32(x2, x6, x10, x14)
        x3, x7, x11, x15 = _qr32(x3, x7, x11, x15)
        x0, x5, x10, x15 = _qr32(x0, x5, x10, x15)
        x1, x6, x11, x12 = _qr32(x1, x6, x11, x12)
        x2, x7, x8, x13 = _qr32(x2, x7, x8, x13)
        x3, x4, x9, x14 = _qr32(x3, x4, x9, x14)
        # double round 7
        x0, x4, x8, x12 = _qr32(x0, x4, x8, x12)
        x1, x5, x9, x13 = _qr32(x1, x5, x9, x13)
        x2, x6, x10, x14 = _qr32(x2, x6, x10, x14)
        x3, x7, x11, x15 = _qr32(x3, x7, x11, x15)
        x0, x5, x10, x15 = _qr32(x0, x5, x10, x15)
        x1, x6, x11, x12 = _qr32(x1, x6, x11, x12)
        x2, x7, x8, x13 = _qr32(x2, x7, x8, x13)
        x3, x4, x9, x14 = _qr32(x3, x4, x9, x14)
        # double round 8
        x0, x4, x8, x12 = _qr32(x0, x4, x8, x12)
        x1, x5, x9, x13 = _qr32(x1, x5, x9, x13)
        x2, x6, x10, x14 = _qr32(x2, x6, x10, x14)
        x3, x7, x11, x15 = _qr32(x3, x7, x11, x15)
        x0, x5, x10, x15 = _qr32(x0, x5, x10, x15)
        x1, x6, x11, x12 = _qr32(x1, x6, x11, x12)
        x2, x7, x8, x13 = _qr32(x2, x7, x8, x13)
        x3, x4, x9, x14 = _qr32(x3, x4, x9, x14)
        # double round 9
        x0, x4, x8, x12 = _qr32(x0, x4, x8, x12)
        x1, x5, x9, x13 = _qr32(x1, x5, x9, x13)
        x2, x6, x10, x14 = _qr32(x2, x6, x10, x14)
        x3, x7, x11, x15 = _qr32(x3, x7, x11, x15)
        x0, x5, x10, x15 = _qr32(x0, x5, x10, x15)
        x1, x6, x11, x12 = _qr32(x1, x6, x11, x12)
        x2, x7, x8, x13 = _qr32(x2, x7, x8, x13)
        x3, x4, x9, x14 = _qr32(x3, x4, x9, x14)
        # double round 10
        x0, x4, x8, x12 = _qr32(x0, x4, x8, x12)
        x1, x5, x9, x13 = _qr32(x1, x5, x9, x13)
        x2, x6, x10, x14 = _qr32(x2, x6, x10, x14)
        x3, x7, x11, x15 = _qr32(x3, x7, x11, x15)
        x0, x5, x10, x15 = _qr32(x0, x5, x10, x15)
        x1, x6, x11, x12 = _qr32(x1, x6, x11, x12)
        x2, x7, x8, x13 = _qr32(x2, x7, x8, x13)
        x3, x4, x9, x14 = _qr32(x3, x4, x9, x14)
        o = 16 * j
        ks32[o] = x0 + s0
        ks32[o + 1] = x1 + s1
        ks32[o + 2] = x2 + s2
        ks32[o + 3] = x3 + s3
        ks32[o + 4] = x4 + s4
        ks32[o + 5] = x5 + s5
        ks32[o + 6] = x6 + s6
        ks32[o + 7] = x7 + s7
        ks32[o + 8] = x8 + s8
        ks32[o + 9] = x9 + s9
        ks32[o + 10] = x10 + s10
        ks32[o + 11] = x11 + s11
        ks32[o + 12] = x12 + s12
        ks32[o + 13] = x13 + s13
        ks32[o + 14] = x14 + s14
        ks32[o + 15] = x15 + s15


# ---------------------------------------------------------------- Poly1305, radix 2^26 (portable)

_M26 = 0x3FFFFFF


def _le64(a, off):
    v = np.uint64(0)
    for i in range(8):
        v |= np.uint64(a[off + i]) << np.uint64(8 * i)
    return v


def _poly_init_p(key, acc):
    """acc = [h0..h4, r0..r4]: h = 0, r = clamp(key[0:16]) in 26-bit limbs (RFC 8439 §2.5)."""
    lo = _le64(key, 0) & np.uint64(0x0FFFFFFC0FFFFFFF)
    hi = _le64(key, 8) & np.uint64(0x0FFFFFFC0FFFFFFC)
    for i in range(5):
        acc[i] = 0
    acc[5] = np.int64(lo & np.uint64(_M26))
    acc[6] = np.int64((lo >> np.uint64(26)) & np.uint64(_M26))
    acc[7] = np.int64(((lo >> np.uint64(52)) | (hi << np.uint64(12))) & np.uint64(_M26))
    acc[8] = np.int64((hi >> np.uint64(14)) & np.uint64(_M26))
    acc[9] = np.int64((hi >> np.uint64(40)) & np.uint64(_M26))


def _poly_update_p(acc, data, off, length, aead_pad):
    """Absorb data[off:off+length]. A final partial block is zero-padded to 16 bytes
    with the 2^128 bit when ``aead_pad`` (RFC 8439 §2.8 pad16), else it gets the
    0x01 byte and no 2^128 bit (§2.5.1)."""
    h0, h1, h2, h3, h4 = acc[0], acc[1], acc[2], acc[3], acc[4]
    r0, r1, r2, r3, r4 = acc[5], acc[6], acc[7], acc[8], acc[9]
    s1, s2, s3, s4 = 5 * r1, 5 * r2, 5 * r3, 5 * r4
    blk = np.zeros(16, np.uint8)
    pos = 0
    while pos < length:
        m = min(16, length - pos)
        hibit = 1 << 24
        if m == 16:
            lo = _le64(data, off + pos)
            hi = _le64(data, off + pos + 8)
        else:
            for i in range(16):
                blk[i] = data[off + pos + i] if i < m else 0
            if not aead_pad:
                blk[m] = 1
                hibit = 0
            lo = _le64(blk, 0)
            hi = _le64(blk, 8)
        h0 += np.int64(lo & np.uint64(_M26))
        h1 += np.int64((lo >> np.uint64(26)) & np.uint64(_M26))
        h2 += np.int64(((lo >> np.uint64(52)) | (hi << np.uint64(12))) & np.uint64(_M26))
        h3 += np.int64((hi >> np.uint64(14)) & np.uint64(_M26))
        h4 += np.int64(hi >> np.uint64(40)) | hibit
        d0 = h0 * r0 + h1 * s4 + h2 * s3 + h3 * s2 + h4 * s1
        d1 = h0 * r1 + h1 * r0 + h2 * s4 + h3 * s3 + h4 * s2
        d2 = h0 * r2 + h1 * r1 + h2 * r0 + h3 * s4 + h4 * s3
        d3 = h0 * r3 + h1 * r2 + h2 * r1 + h3 * r0 + h4 * s4
        d4 = h0 * r4 + h1 * r3 + h2 * r2 + h3 * r1 + h4 * r0
        c = d0 >> 26
        h0 = d0 & _M26
        d1 += c
        c = d1 >> 26
        h1 = d1 & _M26
        d2 += c
        c = d2 >> 26
        h2 = d2 & _M26
        d3 += c
        c = d3 >> 26
        h3 = d3 & _M26
        d4 += c
        c = d4 >> 26
        h4 = d4 & _M26
        h0 += c * 5
        c = h0 >> 26
        h0 &= _M26
        h1 += c
        pos += 16
    acc[0], acc[1], acc[2], acc[3], acc[4] = h0, h1, h2, h3, h4


def _poly_finish_p(acc, key, tag):
    """tag = (h mod 2^130-5) + s mod 2^128 (RFC 8439 §2.5.1), selection by mask."""
    h0, h1, h2, h3, h4 = acc[0], acc[1], acc[2], acc[3], acc[4]
    c = h1 >> 26
    h1 &= _M26
    h2 += c
    c = h2 >> 26
    h2 &= _M26
    h3 += c
    c = h3 >> 26
    h3 &= _M26
    h4 += c
    c = h4 >> 26
    h4 &= _M26
    h0 += c * 5
    c = h0 >> 26
    h0 &= _M26
    h1 += c
    # g = h + 5 - 2^130; use g when it does not borrow (h >= p)
    g0 = h0 + 5
    c = g0 >> 26
    g0 &= _M26
    g1 = h1 + c
    c = g1 >> 26
    g1 &= _M26
    g2 = h2 + c
    c = g2 >> 26
    g2 &= _M26
    g3 = h3 + c
    c = g3 >> 26
    g3 &= _M26
    g4 = h4 + c - (1 << 26)
    mask = ((g4 >> 63) & 1) - 1  # all ones when g4 >= 0
    h0 = (h0 & ~mask) | (g0 & mask)
    h1 = (h1 & ~mask) | (g1 & mask)
    h2 = (h2 & ~mask) | (g2 & mask)
    h3 = (h3 & ~mask) | (g3 & mask)
    h4 = (h4 & ~mask) | (g4 & mask & _M26)
    lo = np.uint64(h0) | (np.uint64(h1) << np.uint64(26)) | (np.uint64(h2) << np.uint64(52))
    hi = (np.uint64(h2) >> np.uint64(12)) | (np.uint64(h3) << np.uint64(14)) | (np.uint64(h4) << np.uint64(40))
    _add_s_store(lo, hi, key, tag)


def _add_s_store(lo, hi, key, tag):
    s_lo = _le64(key, 16)
    s_hi = _le64(key, 24)
    lo2 = lo + s_lo
    hi2 = hi + s_hi + _carry(lo, s_lo, lo2)
    for i in range(8):
        tag[i] = (lo2 >> np.uint64(8 * i)) & np.uint64(0xFF)
        tag[8 + i] = (hi2 >> np.uint64(8 * i)) & np.uint64(0xFF)


def _carry(a, b, s):
    """The carry out of s = a + b (uint64), computed without a branch."""
    return ((a & b) | ((a | b) & ~s)) >> np.uint64(63)


def _lengths(aad_len, ct_len, blk):
    for i in range(8):
        blk[i] = (aad_len >> (8 * i)) & 0xFF
        blk[8 + i] = (ct_len >> (8 * i)) & 0xFF


def _seal_p(key, nonce, aad, pt, out):
    """AEAD_CHACHA20_POLY1305 encryption (RFC 8439 §2.8): out = C || tag."""
    n = len(pt)
    st = np.empty(16, np.uint32)
    _init_state(key, nonce, 0, st)
    otk = np.empty(64, np.uint8)
    _block_p(st, otk)  # §2.6: the one-time Poly1305 key is block 0
    st[12] = 1
    _chacha20_p(st, pt, 0, out, 0, n)
    _mac_p(otk, aad, out, n, out, n)


def _mac_p(otk, aad, ct, n, tag_dst, tag_off):
    acc = np.empty(10, np.int64)
    _poly_init_p(otk, acc)
    _poly_update_p(acc, aad, 0, len(aad), True)
    _poly_update_p(acc, ct, 0, n, True)
    blk = np.empty(16, np.uint8)
    _lengths(len(aad), n, blk)
    _poly_update_p(acc, blk, 0, 16, True)
    tag = np.empty(16, np.uint8)
    _poly_finish_p(acc, otk, tag)
    for i in range(16):
        tag_dst[tag_off + i] = tag[i]


def _open_p(key, nonce, aad, data, out):
    """AEAD_CHACHA20_POLY1305 decryption: verify the tag first, then decrypt."""
    n = len(data) - 16
    st = np.empty(16, np.uint32)
    _init_state(key, nonce, 0, st)
    otk = np.empty(64, np.uint8)
    _block_p(st, otk)
    tag = np.empty(16, np.uint8)
    _mac_p(otk, aad, data, n, tag, 0)
    diff = 0
    for i in range(16):  # constant-time compare: no early exit (see value_barrier)
        diff |= tag[i] ^ data[n + i]
    if value_barrier(diff) != 0:
        return False
    st[12] = 1
    _chacha20_p(st, data, 0, out, 0, n)
    return True


def _chacha_hot_p(key, nonce, counter, data, out):
    st = np.empty(16, np.uint32)
    _init_state(key, nonce, counter, st)
    _chacha20_p(st, data, 0, out, 0, len(data))


def _poly_hot_p(key, data, tag):
    acc = np.empty(10, np.int64)
    _poly_init_p(key, acc)
    _poly_update_p(acc, data, 0, len(data), False)
    _poly_finish_p(acc, key, tag)


_PORTABLE_NAMES = (
    "_le32", "_init_state", "_rotl", "_qr", "_block_p", "_chacha20_p", "_qr32", "_chacha8_p", "_le64",
    "_poly_init_p", "_poly_update_p", "_poly_finish_p", "_add_s_store", "_carry", "_lengths", "_seal_p",
    "_mac_p", "_open_p", "_chacha_hot_p", "_poly_hot_p",
)  # fmt: skip


# ====================================================================== hw tier


def _chacha20_hw(st, src, soff, dst, doff, n):
    """dst = src XOR keystream, 512 bytes (8 blocks) per vector step; st[12] advances."""
    pos = 0
    while n - pos >= 512:
        chacha20_x8(st, src, soff + pos, dst, doff + pos)
        st[12] = (np.int64(st[12]) + 8) & 0xFFFFFFFF
        pos += 512
    if pos < n:
        zero = np.zeros(512, np.uint8)
        ks = np.empty(512, np.uint8)
        chacha20_x8(st, zero, 0, ks, 0)
        rest = n - pos
        for i in range(rest):
            dst[doff + pos + i] = src[soff + pos + i] ^ ks[i]
        st[12] = (np.int64(st[12]) + (rest + 63) // 64) & 0xFFFFFFFF


def _poly_update_hw(acc, data, off, length, aead_pad):
    """Poly1305 absorb in radix 2^64: acc = [h0, h1, h2, r0, r1, s1] (uint64)."""
    h0, h1, h2 = acc[0], acc[1], acc[2]
    r0, r1, s1 = acc[3], acc[4], acc[5]
    one = np.uint64(1)
    pos = 0
    while length - pos >= 16:
        h0, h1, h2 = _poly_step_hw(h0, h1, h2, r0, r1, s1, load_le64(data, off + pos), load_le64(data, off + pos + 8), one)
        pos += 16
    if pos < length:
        m = length - pos
        blk = np.zeros(16, np.uint8)
        for i in range(m):
            blk[i] = data[off + pos + i]
        hibit = one
        if not aead_pad:
            blk[m] = 1
            hibit = np.uint64(0)
        h0, h1, h2 = _poly_step_hw(h0, h1, h2, r0, r1, s1, load_le64(blk, 0), load_le64(blk, 8), hibit)
    acc[0], acc[1], acc[2] = h0, h1, h2


def _poly_step_hw(h0, h1, h2, r0, r1, s1, lo, hi, hibit):
    """h = (h + block + hibit·2^128)·r, partially reduced (RFC 8439 §2.5.1)."""
    t0 = h0 + lo
    c = _carry(h0, lo, t0)
    t1 = h1 + hi
    c1 = _carry(h1, hi, t1)
    t1b = t1 + c
    c1 += _carry(t1, c, t1b)
    return poly1305_mulmod(t0, t1b, h2 + c1 + hibit, r0, r1, s1)


def _poly_init_hw(key, acc):
    r0 = load_le64(key, 0) & np.uint64(0x0FFFFFFC0FFFFFFF)
    r1 = load_le64(key, 8) & np.uint64(0x0FFFFFFC0FFFFFFC)
    acc[0] = 0
    acc[1] = 0
    acc[2] = 0
    acc[3] = r0
    acc[4] = r1
    acc[5] = r1 + (r1 >> np.uint64(2))


def _poly_finish_hw(acc, key, tag):
    """(h mod 2^130-5) + s mod 2^128; h < 2p here, so one conditional subtraction
    (done as h + 5 and a mask on bit 130) is enough."""
    h0, h1, h2 = acc[0], acc[1], acc[2]
    zero = np.uint64(0)
    five = np.uint64(5)
    g0 = h0 + five
    c = _carry(h0, five, g0)
    g1 = h1 + c
    g2 = h2 + _carry(h1, c, g1)
    mask = zero - (g2 >> np.uint64(2))  # all ones when h + 5 >= 2^130
    lo = (h0 & ~mask) | (g0 & mask)
    hi = (h1 & ~mask) | (g1 & mask)
    _add_s_store(lo, hi, key, tag)


def _mac_hw(otk, aad, ct, n, tag_dst, tag_off):
    acc = np.empty(6, np.uint64)
    _poly_init_hw(otk, acc)
    _poly_update_hw(acc, aad, 0, len(aad), True)
    _poly_update_hw(acc, ct, 0, n, True)
    blk = np.empty(16, np.uint8)
    _lengths(len(aad), n, blk)
    _poly_update_hw(acc, blk, 0, 16, True)
    tag = np.empty(16, np.uint8)
    _poly_finish_hw(acc, otk, tag)
    for i in range(16):
        tag_dst[tag_off + i] = tag[i]


def _otk_hw(st, otk):
    zero = np.zeros(512, np.uint8)
    ks = np.empty(512, np.uint8)
    chacha20_x8(st, zero, 0, ks, 0)
    for i in range(32):
        otk[i] = ks[i]


def _seal_hw(key, nonce, aad, pt, out):
    """AEAD_CHACHA20_POLY1305 encryption (RFC 8439 §2.8), ChaCha20 and Poly1305
    interleaved per 512-byte chunk so the vector and the scalar multiply work overlap."""
    n = len(pt)
    st = np.empty(16, np.uint32)
    _init_state(key, nonce, 0, st)
    otk = np.empty(32, np.uint8)
    _otk_hw(st, otk)
    st[12] = 1
    acc = np.empty(6, np.uint64)
    _poly_init_hw(otk, acc)
    _poly_update_hw(acc, aad, 0, len(aad), True)
    pos = 0
    while n - pos >= 512:
        chacha20_x8(st, pt, pos, out, pos)
        st[12] = (np.int64(st[12]) + 8) & 0xFFFFFFFF
        _poly_update_hw(acc, out, pos, 512, True)
        pos += 512
    if pos < n:
        _chacha20_hw(st, pt, pos, out, pos, n - pos)
        _poly_update_hw(acc, out, pos, n - pos, True)
    blk = np.empty(16, np.uint8)
    _lengths(len(aad), n, blk)
    _poly_update_hw(acc, blk, 0, 16, True)
    tag = np.empty(16, np.uint8)
    _poly_finish_hw(acc, otk, tag)
    for i in range(16):
        out[n + i] = tag[i]


def _open_hw(key, nonce, aad, data, out):
    n = len(data) - 16
    st = np.empty(16, np.uint32)
    _init_state(key, nonce, 0, st)
    otk = np.empty(32, np.uint8)
    _otk_hw(st, otk)
    tag = np.empty(16, np.uint8)
    _mac_hw(otk, aad, data, n, tag, 0)
    diff = 0
    for i in range(16):  # constant-time compare: no early exit (see value_barrier)
        diff |= tag[i] ^ data[n + i]
    if value_barrier(diff) != 0:
        return False
    st[12] = 1
    _chacha20_hw(st, data, 0, out, 0, n)
    return True


def _chacha_hot_hw(key, nonce, counter, data, out):
    st = np.empty(16, np.uint32)
    _init_state(key, nonce, counter, st)
    _chacha20_hw(st, data, 0, out, 0, len(data))


def _poly_hot_hw(key, data, tag):
    acc = np.empty(6, np.uint64)
    _poly_init_hw(key, acc)
    _poly_update_hw(acc, data, 0, len(data), False)
    _poly_finish_hw(acc, key, tag)


_HW_NAMES = (
    "_le32", "_init_state", "_le64", "_add_s_store", "_carry", "_lengths", "_chacha20_hw",
    "_poly_update_hw", "_poly_step_hw", "_poly_init_hw", "_poly_finish_hw", "_mac_hw", "_otk_hw", "_seal_hw",
    "_open_hw", "_chacha_hot_hw", "_poly_hot_hw",
)  # fmt: skip


# ====================================================================== lazy compilation

#: small helpers inlined into their callers (not compiled on their own)
_INLINE = ("_rotl", "_qr", "_carry", "_poly_step_hw")

_lock = ChildSafeLock(reentrant=True)  # unheld in a forked child (cryptobench._locks)
_ready: dict[str, list] = {}
_entry_points: dict[str, tuple] = {}  # tier -> (seal, open) compiled entry points


def _jit(tier: str) -> list:
    with _lock:
        if tier not in _ready:
            g = globals()
            if "np" not in g:
                import numpy

                g["np"] = numpy
                # quarter-round word indices of a double round (RFC 8439 §2.3)
                g["_QI"] = numpy.array(
                    [[0, 4, 8, 12], [1, 5, 9, 13], [2, 6, 10, 14], [3, 7, 11, 15],
                     [0, 5, 10, 15], [1, 6, 11, 12], [2, 7, 8, 13], [3, 4, 9, 14]],
                    dtype=numpy.int64,
                )  # fmt: skip
            from cryptobench.kernels import _numba_common as nc

            if tier == "hw":
                for name in nc.__all__:
                    g[name] = getattr(nc, name)
            g["value_barrier"] = nc.value_barrier  # no instruction: both tiers
            names = _HW_NAMES if tier == "hw" else _PORTABLE_NAMES
            _ready[tier] = nc.jit_module_functions(g, names, _INLINE)
        return _ready[tier]


def _u8(x):
    """x as ``bytes`` (no copy when it already is): Numba takes bytes directly as a
    read-only uint8 buffer, and one argument type means one compiled signature."""
    return x if type(x) is bytes else bytes(x)


def _check_nonce(nonce) -> None:
    if len(nonce) != 12:
        raise InvalidNonce("ChaCha20-Poly1305 takes a 12-byte nonce")


class _Context:
    __slots__ = ("_key", "_seal", "_open")

    def __init__(self, tier: str, key: bytes) -> None:
        from cryptobench.kernels._numba_common import entry_point

        _jit(tier)
        self._key = key
        # the compiled entry points for the one argument signature we ever pass
        # (bytes and an array we own): skips the dispatcher's type resolution
        eps = _entry_points.get(tier)
        if eps is None:
            seal, open_ = (_seal_hw, _open_hw) if tier == "hw" else (_seal_p, _open_p)
            example = (key, b"", b"", b"", np.empty(0, np.uint8))
            eps = _entry_points[tier] = (entry_point(seal, *example), entry_point(open_, *example))
        self._seal, self._open = eps

    def encrypt(self, nonce, plaintext, aad=b""):
        fast = type(nonce) is bytes and type(plaintext) is bytes and type(aad) is bytes
        if not fast:
            check_bytes(nonce=nonce, plaintext=plaintext, aad=aad)
        _check_nonce(nonce)
        n = len(plaintext)
        if n > _MAX_PLAINTEXT:
            raise InvalidLength("ChaCha20-Poly1305 plaintext is limited to 2^38 - 64 bytes")
        if not fast:  # lengths are checked before anything is copied
            nonce, plaintext, aad = bytes(nonce), bytes(plaintext), bytes(aad)
        out = np.empty(n + 16, np.uint8)
        self._seal(self._key, nonce, aad, plaintext, out)
        return out.tobytes()

    def decrypt(self, nonce, data, aad=b""):
        fast = type(nonce) is bytes and type(data) is bytes and type(aad) is bytes
        if not fast:
            check_bytes(nonce=nonce, data=data, aad=aad)
        _check_nonce(nonce)
        if len(data) < 16:
            raise InvalidTag("ciphertext shorter than the tag")
        if len(data) - 16 > _MAX_PLAINTEXT:
            raise InvalidLength("ChaCha20-Poly1305 ciphertext is limited to 2^38 - 64 bytes")
        if not fast:  # lengths are checked before anything is copied
            nonce, data, aad = bytes(nonce), bytes(data), bytes(aad)
        out = np.empty(len(data) - 16, np.uint8)
        if not self._open(self._key, nonce, aad, data, out):
            raise InvalidTag("tag check failed")
        return out.tobytes()


class ChaCha20Poly1305(ChaCha20Poly1305Parameters):
    """The AEAD object of docs/kernels.md for one tier ("portable" or "hw")."""


    def __init__(self, tier: str) -> None:
        self.tier = tier

    def new(self, key, tag_length: int = 16) -> _Context:
        return _Context(self.tier, self.checked(key, tag_length))


def _setup_chacha20(tier: str):
    def setup(key):
        check_bytes(key=key)
        if len(key) != 32:
            raise InvalidKey(f"key must be 32 bytes, got {len(key)}")
        from cryptobench.kernels._numba_common import entry_point

        _jit(tier)
        k = _u8(key)
        fn = entry_point(_chacha_hot_hw if tier == "hw" else _chacha_hot_p, k, b"", 0, b"", np.empty(0, np.uint8))

        def chacha20(nonce, counter, data):
            check_bytes(nonce=nonce, data=data)
            _check_nonce(nonce)
            check_block_counter(counter, len(data))
            out = np.empty(len(data), np.uint8)
            fn(k, _u8(nonce), int(counter), _u8(data), out)
            return out.tobytes()

        return chacha20

    return setup


def _setup_poly1305(tier: str):
    def setup():
        from cryptobench.kernels._numba_common import entry_point

        _jit(tier)
        fn = entry_point(_poly_hot_hw if tier == "hw" else _poly_hot_p, b"", b"", np.empty(0, np.uint8))

        def poly1305(key, data):
            check_bytes(key=key, data=data)
            if len(key) != 32:
                raise InvalidKey(f"the Poly1305 key is 32 bytes, got {len(key)}")
            tag = np.empty(16, np.uint8)
            fn(_u8(key), _u8(data), tag)
            return tag.tobytes()

        return poly1305

    return setup


def _prepare(tier: str):
    def prepare() -> dict[str, Any]:
        from cryptobench.kernels import _numba_common as nc

        dispatchers = _jit(tier)
        before = nc.compile_stats(dispatchers)
        ctx = ChaCha20Poly1305(tier).new(bytes(32))
        ct = ctx.encrypt(bytes(12), b"x" * 600, b"a")
        ctx.decrypt(bytes(12), ct, b"a")
        _setup_chacha20(tier)(bytes(32))(bytes(12), 1, b"y" * 70)
        _setup_poly1305(tier)()(bytes(32), b"z" * 20)
        after = nc.compile_stats(dispatchers)
        return {k: after[k] - before[k] for k in after}

    return prepare


def register(reg) -> None:
    reason = _numba_missing()
    if reason is None and sys.byteorder != "little":
        reason = "the Numba ChaCha20 kernels read keystream words as little-endian bytes"
    reason_hw = reason
    if reason_hw is None:
        from cryptobench import native

        cpu = native.missing("avx2")
        reason_hw = f"{cpu} (numba-hw uses 256-bit vectors)" if cpu else None
    for tier, why in (("portable", reason), ("hw", reason_hw)):
        ok = why is None
        reg.add(
            Kernel(
                algorithm="chacha20-poly1305",
                backend=f"numba-{tier}",
                available=ok,
                reason=why or "",
                constant_time=True,
                path=("vector-ir-x8-radix64" if tier == "hw" else "autovec-x8-radix26") if ok else "",
                impl=ChaCha20Poly1305(tier) if ok else None,
                hot_paths=(
                    {"chacha20": _setup_chacha20(tier), "poly1305": _setup_poly1305(tier)} if ok else {}
                ),
                description=(
                    "Numba + LLVM <8 x i32> vector IR ChaCha20, radix-2^64 i128 Poly1305"
                    if tier == "hw"
                    else "plain Numba, loop-vectorized 8-block ChaCha20, radix-2^26 Poly1305"
                ),
                prepare=_prepare(tier) if ok else None,
            )
        )
