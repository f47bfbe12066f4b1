"""AES-128/256-GCM compiled with Numba, in two tiers.

``numba-portable`` — plain Numba (no CPU-specific instructions requested):

* AES (FIPS 197 §5.1, §5.2) with the classic four 256-entry "T-tables"
  (SubBytes+ShiftRows+MixColumns merged into table lookups) and an S-box for
  the last round and the key schedule;
* GHASH (SP 800-38D §6.3-6.4) with per-key tables of b·x^(8k)·H for every
  byte value b and byte position k (16 × 256 entries, 64 KiB), so X·H is the
  XOR of sixteen independent lookups.

  **Not constant-time**: every table lookup is indexed by secret data (key,
  state, hash state), so cache timing can leak. ``constant_time=False``.

``numba-hw`` — the same algorithms on AES-NI and PCLMULQDQ reached through
LLVM intrinsics (``kernels/_numba_common.py``), in one of two code paths
chosen once at registration and recorded as the row's ``path``:

* ``vaes-vpclmulqdq-ymm-x16`` where the CPU has VAES, VPCLMULQDQ and AVX2
  (256-bit vectors, two blocks per instruction): CTR with sixteen blocks in
  flight, GHASH sixteen blocks per reduction with H^16..H^1, and encryption
  fusing CTR and GHASH per 256-byte chunk;
* ``aesni-pclmulqdq-x8`` otherwise (or with ``CRYPTOBENCH_NATIVE_DISABLE=vaes``):
  128-bit AESENC/AESENCLAST with eight counter blocks in flight, GHASH eight
  blocks per reduction with H^8..H^1.

Both paths: key expansion with AESKEYGENASSIST (FIPS 197 §5.2); CTR as
SP 800-38D §6.5 with inc32 (§6.2); GHASH (§6.4) with PCLMULQDQ on the
bit-reflected representation and a Montgomery-style reduction (see
``_numba_common``). No AVX-512 code is written; LLVM compiles for the host and
may use EVEX encodings of the same 128/256-bit operations.

  **Constant-time** as far as the source goes: no secret-dependent branches
  or memory indices (AES-NI and PCLMULQDQ run in data-independent time).
  ``constant_time=True``. Registered only where the CPU has AES-NI and
  PCLMULQDQ (``cryptobench.native.missing``, which honours
  ``CRYPTOBENCH_NATIVE_DISABLE``); elsewhere the row is unavailable with the reason.

Both tiers: any IV length >= 1 byte (SP 800-38D §7.1: 96-bit IVs give
J0 = IV || 0^31 || 1, others J0 = GHASH(IV padded || [len(IV)]64)), tags of
4..16 bytes (§5.2.1.2), plaintext at most 2^36 - 32 bytes. Decryption checks
the tag (constant-time compare) *before* decrypting and writes no plaintext
when it fails (§7.2).

numba is imported and the kernels compiled (``@njit(cache=True, nogil=True)``,
cache in ``__pycache__``) on first use, never at import; ``Kernel.prepare``
forces compilation and reports Numba's cache hits and misses. Contexts call the
compiled entry point of their one argument signature directly (inputs are
passed as ``bytes``), which skips the dispatcher's per-call type resolution.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from cryptobench._locks import ChildSafeLock
from cryptobench.errors import InvalidKey, InvalidLength, InvalidNonce, InvalidTag
from cryptobench.kernels._aead_common import GCMParameters, check_bytes
from cryptobench.registry import Kernel

_MAX_PLAINTEXT = (1 << 36) - 32  # SP 800-38D §5.2.1.1: len(P) <= 2^39 - 256 bits
_MAX_AAD_IV = (1 << 61) - 1  # len(A), len(IV) <= 2^64 - 1 bits


def _numba_missing() -> str | None:
    return None if importlib.util.find_spec("numba") is not None else "numba is not installed"


# ====================================================================== portable tier
# Plain Python functions written in the Numba subset; they become njit
# dispatchers (by name, in this module's globals) the first time they are needed.
# ``np``, ``np_int``, the tables (_SBOX, _TE0.._TE3, _R8) and, for the hw paths,
# the intrinsics of _numba_common are put into this module's globals by _jit()
# just before that, so importing this module imports neither numpy nor numba.
# 32-bit AES words and ChaCha-style arithmetic are carried in int64; GHASH halves
# in uint64.


def _kx_p(key, w):
    """FIPS 197 §5.2 KeyExpansion into 4·(Nr+1) big-endian words; returns Nr."""
    nk = len(key) // 4
    nr = nk + 6
    for i in range(nk):
        w[i] = (
            (np_int(key[4 * i]) << 24)
            | (np_int(key[4 * i + 1]) << 16)
            | (np_int(key[4 * i + 2]) << 8)
            | np_int(key[4 * i + 3])
        )
    rcon = 1
    for i in range(nk, 4 * (nr + 1)):
        t = w[i - 1]
        if i % nk == 0:
            t = ((t << 8) | (t >> 24)) & 0xFFFFFFFF  # RotWord
            t = (
                (np_int(_SBOX[(t >> 24) & 0xFF]) << 24)
                | (np_int(_SBOX[(t >> 16) & 0xFF]) << 16)
                | (np_int(_SBOX[(t >> 8) & 0xFF]) << 8)
                | np_int(_SBOX[t & 0xFF])
            ) ^ (rcon << 24)
            rcon = rcon << 1
            if rcon & 0x100:
                rcon ^= 0x11B
        elif nk > 6 and i % nk == 4:
            t = (
                (np_int(_SBOX[(t >> 24) & 0xFF]) << 24)
                | (np_int(_SBOX[(t >> 16) & 0xFF]) << 16)
                | (np_int(_SBOX[(t >> 8) & 0xFF]) << 8)
                | np_int(_SBOX[t & 0xFF])
            )
        w[i] = w[i - nk] ^ t
    return nr


def _enc_p(w, nr, s0, s1, s2, s3):
    """One AES block (FIPS 197 §5.1) on four big-endian column words."""
    s0 ^= w[0]
    s1 ^= w[1]
    s2 ^= w[2]
    s3 ^= w[3]
    for r in range(1, nr):
        k = 4 * r
        t0 = _TE0[(s0 >> 24) & 0xFF] ^ _TE1[(s1 >> 16) & 0xFF] ^ _TE2[(s2 >> 8) & 0xFF] ^ _TE3[s3 & 0xFF] ^ w[k]
        t1 = _TE0[(s1 >> 24) & 0xFF] ^ _TE1[(s2 >> 16) & 0xFF] ^ _TE2[(s3 >> 8) & 0xFF] ^ _TE3[s0 & 0xFF] ^ w[k + 1]
        t2 = _TE0[(s2 >> 24) & 0xFF] ^ _TE1[(s3 >> 16) & 0xFF] ^ _TE2[(s0 >> 8) & 0xFF] ^ _TE3[s1 & 0xFF] ^ w[k + 2]
        t3 = _TE0[(s3 >> 24) & 0xFF] ^ _TE1[(s0 >> 16) & 0xFF] ^ _TE2[(s1 >> 8) & 0xFF] ^ _TE3[s2 & 0xFF] ^ w[k + 3]
        s0, s1, s2, s3 = t0, t1, t2, t3
    k = 4 * nr
    o0 = _last_p(s0, s1, s2, s3) ^ w[k]
    o1 = _last_p(s1, s2, s3, s0) ^ w[k + 1]
    o2 = _last_p(s2, s3, s0, s1) ^ w[k + 2]
    o3 = _last_p(s3, s0, s1, s2) ^ w[k + 3]
    return o0, o1, o2, o3


def _last_p(a, b, c, d):
    return (
        (np_int(_SBOX[(a >> 24) & 0xFF]) << 24)
        | (np_int(_SBOX[(b >> 16) & 0xFF]) << 16)
        | (np_int(_SBOX[(c >> 8) & 0xFF]) << 8)
        | np_int(_SBOX[d & 0xFF])
    )


def _words_be(a, nbytes):
    """a[0:nbytes] (nbytes <= 16) as four big-endian 32-bit words, zero-filled."""
    w = np.zeros(4, np.int64)
    for i in range(nbytes):
        w[i >> 2] = (w[i >> 2] << 8) | np_int(a[i])
    return w[0], w[1], w[2], w[3]


def _put_words_be(a, w0, w1, w2, w3):
    """a[0:16] = the four words big-endian."""
    w = np.empty(4, np.int64)
    w[0], w[1], w[2], w[3] = w0, w1, w2, w3
    for i in range(16):
        a[i] = (w[i >> 2] >> (24 - 8 * (i & 3))) & 0xFF


def _rnd_p(w, k, s0, s1, s2, s3):
    """One middle AES round (SubBytes, ShiftRows, MixColumns, AddRoundKey) by T-tables."""
    t0 = _TE0[(s0 >> 24) & 0xFF] ^ _TE1[(s1 >> 16) & 0xFF] ^ _TE2[(s2 >> 8) & 0xFF] ^ _TE3[s3 & 0xFF] ^ w[k]
    t1 = _TE0[(s1 >> 24) & 0xFF] ^ _TE1[(s2 >> 16) & 0xFF] ^ _TE2[(s3 >> 8) & 0xFF] ^ _TE3[s0 & 0xFF] ^ w[k + 1]
    t2 = _TE0[(s2 >> 24) & 0xFF] ^ _TE1[(s3 >> 16) & 0xFF] ^ _TE2[(s0 >> 8) & 0xFF] ^ _TE3[s1 & 0xFF] ^ w[k + 2]
    t3 = _TE0[(s3 >> 24) & 0xFF] ^ _TE1[(s0 >> 16) & 0xFF] ^ _TE2[(s1 >> 8) & 0xFF] ^ _TE3[s2 & 0xFF] ^ w[k + 3]
    return t0, t1, t2, t3


def _fin_p(w, k, s0, s1, s2, s3, ks, o):
    """The last round (no MixColumns) of one block, written big-endian to ks[o:o+16]."""
    v0 = _last_p(s0, s1, s2, s3) ^ w[k]
    v1 = _last_p(s1, s2, s3, s0) ^ w[k + 1]
    v2 = _last_p(s2, s3, s0, s1) ^ w[k + 2]
    v3 = _last_p(s3, s0, s1, s2) ^ w[k + 3]
    for i in range(4):
        sh = 24 - 8 * i
        ks[o + i] = (v0 >> sh) & 0xFF
        ks[o + 4 + i] = (v1 >> sh) & 0xFF
        ks[o + 8 + i] = (v2 >> sh) & 0xFF
        ks[o + 12 + i] = (v3 >> sh) & 0xFF


def _ctr_p(w, nr, c0, c1, c2, c3, src, soff, dst, doff, n):
    """dst[doff:doff+n] = src[soff:soff+n] XOR AES-CTR keystream (SP 800-38D §6.5),
    counter block (c0, c1, c2, c3) with inc32 on c3 (§6.2). Two blocks are
    encrypted side by side (independent table-lookup chains overlap; more would
    spill registers), 64 bytes of keystream per step."""
    ks = np.empty(64, np.uint8)
    x0 = c0 ^ w[0]
    x1 = c1 ^ w[1]
    x2 = c2 ^ w[2]
    kl = 4 * nr
    pos = 0
    while pos < n:
        a0, a1, a2, a3 = x0, x1, x2, c3 ^ w[3]
        b0, b1, b2, b3 = x0, x1, x2, ((c3 + 1) & 0xFFFFFFFF) ^ w[3]
        for r in range(1, nr):
            k = 4 * r
            a0, a1, a2, a3 = _rnd_p(w, k, a0, a1, a2, a3)
            b0, b1, b2, b3 = _rnd_p(w, k, b0, b1, b2, b3)
        _fin_p(w, kl, a0, a1, a2, a3, ks, 0)
        _fin_p(w, kl, b0, b1, b2, b3, ks, 16)
        a0, a1, a2, a3 = x0, x1, x2, ((c3 + 2) & 0xFFFFFFFF) ^ w[3]
        b0, b1, b2, b3 = x0, x1, x2, ((c3 + 3) & 0xFFFFFFFF) ^ w[3]
        c3 = (c3 + 4) & 0xFFFFFFFF
        for r in range(1, nr):
            k = 4 * r
            a0, a1, a2, a3 = _rnd_p(w, k, a0, a1, a2, a3)
            b0, b1, b2, b3 = _rnd_p(w, k, b0, b1, b2, b3)
        _fin_p(w, kl, a0, a1, a2, a3, ks, 32)
        _fin_p(w, kl, b0, b1, b2, b3, ks, 48)
        m = min(64, n - pos)
        p = soff + pos
        q = doff + pos
        for i in range(m):
            dst[q + i] = src[p + i] ^ ks[i]
        pos += 64


def _ghash_table_p(hh, hl, tab):
    """tab[2(256k + b) : +2] = b·x^(8k)·H for byte position k = 0..15 and byte b.

    A block's byte k holds the coefficients of x^(8k) .. x^(8k+7) (its MSB is
    x^(8k)), so X·H is the XOR of sixteen independent lookups, one per byte of X
    (64 KiB per key). Elements are (hi, lo) halves of the block read big-endian.
    """
    ph = np.empty(8, np.uint64)
    pl = np.empty(8, np.uint64)
    vh = hh
    vl = hl
    for j in range(8):  # H·x^j
        ph[j] = vh
        pl[j] = vl
        carry = vl & np.uint64(1)
        vl = (vl >> np.uint64(1)) | (vh << np.uint64(63))
        vh = (vh >> np.uint64(1)) ^ (np.uint64(0xE100000000000000) * carry)
    for b in range(256):
        zh = np.uint64(0)
        zl = np.uint64(0)
        for j in range(8):
            if (b >> (7 - j)) & 1:
                zh ^= ph[j]
                zl ^= pl[j]
        tab[2 * b] = zh
        tab[2 * b + 1] = zl
    for k in range(1, 16):  # times x^8 per byte position
        for b in range(256):
            zh = tab[2 * (256 * (k - 1) + b)]
            zl = tab[2 * (256 * (k - 1) + b) + 1]
            rem = np.intp(zl & np.uint64(0xFF))
            tab[2 * (256 * k + b) + 1] = (zl >> np.uint64(8)) | (zh << np.uint64(56))
            tab[2 * (256 * k + b)] = (zh >> np.uint64(8)) ^ _R8[rem]


def _be64(a, off):
    v = np.uint64(0)
    for i in range(8):
        v = (v << np.uint64(8)) | np.uint64(a[off + i])
    return v


def _ghash_p(tab, yh, yl, data, off, length):
    """Y updated with GHASH_H over data[off:off+length], zero-padding the last block."""
    blk = np.zeros(16, np.uint8)
    pos = 0
    while pos < length:
        m = min(16, length - pos)
        if m == 16:
            xh = yh ^ _be64(data, off + pos)
            xl = yl ^ _be64(data, off + pos + 8)
        else:
            for i in range(16):
                blk[i] = data[off + pos + i] if i < m else 0
            xh = yh ^ _be64(blk, 0)
            xl = yl ^ _be64(blk, 8)
        yh, yl = _gmul_p(tab, xh, xl)
        pos += 16
    return yh, yl


def _gmul_p(tab, xh, xl):
    """X·H as the XOR of one table entry per byte of X (see _ghash_table_p)."""
    zh = np.uint64(0)
    zl = np.uint64(0)
    for k in range(8):
        b = np.intp((xh >> np.uint64(56 - 8 * k)) & np.uint64(0xFF))
        i = 2 * (256 * k + b)
        zh ^= tab[i]
        zl ^= tab[i + 1]
    for k in range(8):
        b = np.intp((xl >> np.uint64(56 - 8 * k)) & np.uint64(0xFF))
        i = 2 * (256 * (k + 8) + b)
        zh ^= tab[i]
        zl ^= tab[i + 1]
    return zh, zl


def _lenblock_p(tab, yh, yl, alen, clen):
    return _gmul_p(tab, yh ^ np.uint64(alen * 8), yl ^ np.uint64(clen * 8))


def _j0_p(tab, iv):
    """J0 as four big-endian words (SP 800-38D §7.1 step 2)."""
    if len(iv) == 12:
        j0, j1, j2, _ = _words_be(iv, 12)
        return j0, j1, j2, np_int(1)
    yh, yl = _ghash_p(tab, np.uint64(0), np.uint64(0), iv, 0, len(iv))
    yh, yl = _gmul_p(tab, yh, yl ^ np.uint64(len(iv) * 8))
    return (
        np_int(yh >> np.uint64(32)),
        np_int(yh & np.uint64(0xFFFFFFFF)),
        np_int(yl >> np.uint64(32)),
        np_int(yl & np.uint64(0xFFFFFFFF)),
    )


def _init_p(key, w, tab):
    """Key schedule and GHASH table for a key; returns Nr."""
    nr = _kx_p(key, w)
    h0, h1, h2, h3 = _enc_p(w, nr, 0, 0, 0, 0)
    _ghash_table_p(np.uint64((h0 << 32) | h1), np.uint64((h2 << 32) | h3), tab)
    return nr


def _tag_p(w, nr, tab, j0, j1, j2, j3, aad, ct, coff, n, tag):
    """The full 16-byte tag E(K, J0) XOR S (SP 800-38D §7.1 steps 5-6) into ``tag``."""
    yh, yl = _ghash_p(tab, np.uint64(0), np.uint64(0), aad, 0, len(aad))
    yh, yl = _ghash_p(tab, yh, yl, ct, coff, n)
    yh, yl = _lenblock_p(tab, yh, yl, len(aad), n)
    e0, e1, e2, e3 = _enc_p(w, nr, j0, j1, j2, j3)
    _put_words_be(
        tag,
        np_int(yh >> np.uint64(32)) ^ e0,
        np_int(yh & np.uint64(0xFFFFFFFF)) ^ e1,
        np_int(yl >> np.uint64(32)) ^ e2,
        np_int(yl & np.uint64(0xFFFFFFFF)) ^ e3,
    )


def _seal_p(w, nr, tab, iv, aad, pt, out, taglen):
    """GCM-AE (SP 800-38D §7.1): out = C || T[:taglen]."""
    n = len(pt)
    j0, j1, j2, j3 = _j0_p(tab, iv)
    _ctr_p(w, nr, j0, j1, j2, (j3 + 1) & 0xFFFFFFFF, pt, 0, out, 0, n)
    tag = np.empty(16, np.uint8)
    _tag_p(w, nr, tab, j0, j1, j2, j3, aad, out, 0, n, tag)
    for i in range(taglen):
        out[n + i] = tag[i]


def _open_p(w, nr, tab, iv, aad, data, out, taglen):
    """GCM-AD (SP 800-38D §7.2): check the tag first; decrypt only if it matches."""
    n = len(data) - taglen
    j0, j1, j2, j3 = _j0_p(tab, iv)
    tag = np.empty(16, np.uint8)
    _tag_p(w, nr, tab, j0, j1, j2, j3, aad, data, 0, n, tag)
    diff = 0
    for i in range(taglen):  # constant-time compare: no early exit
        diff |= tag[i] ^ data[n + i]
    if diff != 0:
        return False
    _ctr_p(w, nr, j0, j1, j2, (j3 + 1) & 0xFFFFFFFF, data, 0, out, 0, n)
    return True


def _ctr_hot_p(w, nr, cb, data, out):
    c0, c1, c2, c3 = _words_be(cb, 16)
    _ctr_p(w, nr, c0, c1, c2, c3, data, 0, out, 0, len(data))


def _ghash_hot_p(tab, data, out):
    yh, yl = _ghash_p(tab, np.uint64(0), np.uint64(0), data, 0, len(data))
    for i in range(8):
        out[i] = (yh >> np.uint64(56 - 8 * i)) & np.uint64(0xFF)
        out[8 + i] = (yl >> np.uint64(56 - 8 * i)) & np.uint64(0xFF)


def _ghash_setup_p(h, tab):
    _ghash_table_p(_be64(h, 0), _be64(h, 8), tab)


_PORTABLE_NAMES = (
    "_kx_p", "_enc_p", "_last_p", "_words_be", "_put_words_be", "_rnd_p", "_fin_p", "_ctr_p", "_ghash_table_p", "_be64",
    "_ghash_p", "_gmul_p", "_lenblock_p", "_j0_p", "_init_p", "_tag_p", "_seal_p", "_open_p",
    "_ctr_hot_p", "_ghash_hot_p", "_ghash_setup_p",
)  # fmt: skip


# ====================================================================== hw tier


_GHASH_POLY_HI = 0xC200000000000000


def _bswap32_u(c):
    c = np.uint64(c)
    return (
        ((c & np.uint64(0xFF)) << np.uint64(24))
        | ((c & np.uint64(0xFF00)) << np.uint64(8))
        | ((c >> np.uint64(8)) & np.uint64(0xFF00))
        | ((c >> np.uint64(24)) & np.uint64(0xFF))
    )


def _ctr_hw(rk, nr, jlo, jhi, ctr, src, soff, dst, doff, n):
    """dst = src XOR AES-CTR keystream, eight blocks in flight (SP 800-38D §6.5).

    The counter block is (jlo: bytes 0-7, jhi: bytes 8-11, ctr: 32-bit big-endian
    counter in bytes 12-15, incremented mod 2^32 as inc32 of §6.2)."""
    pos = 0
    ctr = np.uint64(ctr)
    m32 = np.uint64(0xFFFFFFFF)
    s32 = np.uint64(32)
    k0 = m128_load(rk, 0)
    kl = m128_load(rk, 16 * nr)
    while n - pos >= 128:
        b0 = m128_xor(m128_make(jlo, jhi | (_bswap32_u(ctr & m32) << s32)), k0)
        b1 = m128_xor(m128_make(jlo, jhi | (_bswap32_u((ctr + np.uint64(1)) & m32) << s32)), k0)
        b2 = m128_xor(m128_make(jlo, jhi | (_bswap32_u((ctr + np.uint64(2)) & m32) << s32)), k0)
        b3 = m128_xor(m128_make(jlo, jhi | (_bswap32_u((ctr + np.uint64(3)) & m32) << s32)), k0)
        b4 = m128_xor(m128_make(jlo, jhi | (_bswap32_u((ctr + np.uint64(4)) & m32) << s32)), k0)
        b5 = m128_xor(m128_make(jlo, jhi | (_bswap32_u((ctr + np.uint64(5)) & m32) << s32)), k0)
        b6 = m128_xor(m128_make(jlo, jhi | (_bswap32_u((ctr + np.uint64(6)) & m32) << s32)), k0)
        b7 = m128_xor(m128_make(jlo, jhi | (_bswap32_u((ctr + np.uint64(7)) & m32) << s32)), k0)
        ctr += np.uint64(8)
        for r in range(1, nr):
            k = m128_load(rk, 16 * r)
            b0 = aesenc(b0, k)
            b1 = aesenc(b1, k)
            b2 = aesenc(b2, k)
            b3 = aesenc(b3, k)
            b4 = aesenc(b4, k)
            b5 = aesenc(b5, k)
            b6 = aesenc(b6, k)
            b7 = aesenc(b7, k)
        p = soff + pos
        q = doff + pos
        m128_store(dst, q, m128_xor(aesenclast(b0, kl), m128_load(src, p)))
        m128_store(dst, q + 16, m128_xor(aesenclast(b1, kl), m128_load(src, p + 16)))
        m128_store(dst, q + 32, m128_xor(aesenclast(b2, kl), m128_load(src, p + 32)))
        m128_store(dst, q + 48, m128_xor(aesenclast(b3, kl), m128_load(src, p + 48)))
        m128_store(dst, q + 64, m128_xor(aesenclast(b4, kl), m128_load(src, p + 64)))
        m128_store(dst, q + 80, m128_xor(aesenclast(b5, kl), m128_load(src, p + 80)))
        m128_store(dst, q + 96, m128_xor(aesenclast(b6, kl), m128_load(src, p + 96)))
        m128_store(dst, q + 112, m128_xor(aesenclast(b7, kl), m128_load(src, p + 112)))
        pos += 128
    ks = np.empty(16, np.uint8)
    while pos < n:
        b = m128_xor(m128_make(jlo, jhi | (_bswap32_u(ctr & m32) << s32)), k0)
        ctr += np.uint64(1)
        for r in range(1, nr):
            b = aesenc(b, m128_load(rk, 16 * r))
        b = aesenclast(b, kl)
        if n - pos >= 16:
            m128_store(dst, doff + pos, m128_xor(b, m128_load(src, soff + pos)))
        else:
            m128_store(ks, 0, b)
            for i in range(n - pos):
                dst[doff + pos + i] = src[soff + pos + i] ^ ks[i]
        pos += 16


def _ghash_hw(htab, y, data, off, length):
    """Y updated with GHASH over data[off:off+length] (zero-padded last block):
    eight blocks per reduction, X_i multiplied by H'^(8-i) (SP 800-38D §6.4)."""
    pos = 0
    while length - pos >= 128:
        p = off + pos
        x = m128_xor(m128_load_be(data, p), y)
        h = m128_load(htab, 112)
        lo = clmul_ll(x, h)
        hi = clmul_hh(x, h)
        mid = m128_xor(clmul_hl(x, h), clmul_lh(x, h))
        for j in range(1, 8):
            x = m128_load_be(data, p + 16 * j)
            h = m128_load(htab, 112 - 16 * j)
            lo = m128_xor(lo, clmul_ll(x, h))
            hi = m128_xor(hi, clmul_hh(x, h))
            mid = m128_xor(mid, m128_xor(clmul_hl(x, h), clmul_lh(x, h)))
        y = gf_reduce(lo, hi, mid)
        pos += 128
    h1 = m128_load(htab, 0)
    while length - pos >= 16:
        y = gf_mul(m128_xor(m128_load_be(data, off + pos), y), h1)
        pos += 16
    if pos < length:
        blk = np.zeros(16, np.uint8)
        for i in range(length - pos):
            blk[i] = data[off + pos + i]
        y = gf_mul(m128_xor(m128_load_be(blk, 0), y), h1)
    return y


def _htab_hw(h, htab):
    """htab[16(k-1):16k] = H'^k = (H^k in reflected form)·y mod g, k = 1..8."""
    lo = m128_lo(h)
    hi = m128_hi(h)
    mask = np.uint64(0) - (hi >> np.uint64(63))  # all ones when the shifted-out bit is set
    nhi = ((hi << np.uint64(1)) | (lo >> np.uint64(63))) ^ (np.uint64(_GHASH_POLY_HI) & mask)
    nlo = (lo << np.uint64(1)) ^ (np.uint64(1) & mask)
    h1 = m128_make(nlo, nhi)
    m128_store(htab, 0, h1)
    hk = h1
    for k in range(1, 8):
        hk = gf_mul(hk, h1)
        m128_store(htab, 16 * k, hk)


def _init_hw(key, rk, htab):
    """Round keys (AESKEYGENASSIST) and H'^1..8 for a key; returns Nr."""
    aes_expand_key_ni(key, rk)
    nr = 10 if len(key) == 16 else 14
    b = m128_load(rk, 0)
    for r in range(1, nr):
        b = aesenc(b, m128_load(rk, 16 * r))
    b = aesenclast(b, m128_load(rk, 16 * nr))  # H = E(K, 0^128)
    _htab_hw(m128_bswap(b), htab)
    return nr


def _j0_hw(htab, iv):
    """(jlo, jhi, counter) of J0 (SP 800-38D §7.1 step 2)."""
    if len(iv) == 12:
        jlo = np.uint64(0)
        for i in range(8):
            jlo |= np.uint64(iv[i]) << np.uint64(8 * i)
        jhi = np.uint64(0)
        for i in range(4):
            jhi |= np.uint64(iv[8 + i]) << np.uint64(8 * i)
        return jlo, jhi, np.uint64(1)
    y = _ghash_hw(htab, m128_make(0, 0), iv, 0, len(iv))
    y = gf_mul(m128_xor(y, m128_make(np.uint64(len(iv)) * np.uint64(8), 0)), m128_load(htab, 0))
    j = m128_bswap(y)  # back to block byte order
    jhi_full = m128_hi(j)
    return m128_lo(j), jhi_full & np.uint64(0xFFFFFFFF), _bswap32_u(jhi_full >> np.uint64(32))


def _tag_hw(rk, nr, htab, jlo, jhi, ctr, aad, ct, n, tag):
    y = _ghash_hw(htab, m128_make(0, 0), aad, 0, len(aad))
    y = _ghash_hw(htab, y, ct, 0, n)
    lens = m128_make(np.uint64(n) * np.uint64(8), np.uint64(len(aad)) * np.uint64(8))
    y = gf_mul(m128_xor(y, lens), m128_load(htab, 0))
    e = m128_xor(m128_make(jlo, jhi | (_bswap32_u(ctr) << np.uint64(32))), m128_load(rk, 0))
    for r in range(1, nr):
        e = aesenc(e, m128_load(rk, 16 * r))
    e = aesenclast(e, m128_load(rk, 16 * nr))
    m128_store(tag, 0, m128_xor(m128_bswap(y), e))


def _seal_hw(rk, nr, htab, iv, aad, pt, out, taglen):
    """GCM-AE (SP 800-38D §7.1): out = C || T[:taglen]."""
    n = len(pt)
    jlo, jhi, ctr = _j0_hw(htab, iv)
    _ctr_hw(rk, nr, jlo, jhi, (ctr + np.uint64(1)) & np.uint64(0xFFFFFFFF), pt, 0, out, 0, n)
    tag = np.empty(16, np.uint8)
    _tag_hw(rk, nr, htab, jlo, jhi, ctr, aad, out, n, tag)
    for i in range(taglen):
        out[n + i] = tag[i]


def _open_hw(rk, nr, htab, iv, aad, data, out, taglen):
    """GCM-AD (SP 800-38D §7.2): check the tag first; decrypt only if it matches."""
    n = len(data) - taglen
    jlo, jhi, ctr = _j0_hw(htab, iv)
    tag = np.empty(16, np.uint8)
    _tag_hw(rk, nr, htab, jlo, jhi, ctr, aad, data, n, tag)
    diff = 0
    for i in range(taglen):  # constant-time compare: no early exit (see value_barrier)
        diff |= tag[i] ^ data[n + i]
    if value_barrier(diff) != 0:
        return False
    _ctr_hw(rk, nr, jlo, jhi, (ctr + np.uint64(1)) & np.uint64(0xFFFFFFFF), data, 0, out, 0, n)
    return True


def _kx_hw(key, rk):
    aes_expand_key_ni(key, rk)


def _ctr_hot_hw(rk, nr, cb, data, out):
    jlo = np.uint64(0)
    for i in range(8):
        jlo |= np.uint64(cb[i]) << np.uint64(8 * i)
    jhi = np.uint64(0)
    for i in range(4):
        jhi |= np.uint64(cb[8 + i]) << np.uint64(8 * i)
    ctr = np.uint64(0)
    for i in range(4):
        ctr = (ctr << np.uint64(8)) | np.uint64(cb[12 + i])
    _ctr_hw(rk, nr, jlo, jhi, ctr, data, 0, out, 0, len(data))


def _ghash_setup_hw(h, htab):
    _htab_hw(m128_load_be(h, 0), htab)


def _ghash_hot_hw(htab, data, out):
    m128_store_be(out, 0, _ghash_hw(htab, m128_make(0, 0), data, 0, len(data)))


# ---------------------------------------------------------------- hw tier, VAES + VPCLMULQDQ (256-bit)
#
# The same algorithms with two blocks per instruction (ymm registers): sixteen
# counter blocks in flight, GHASH sixteen blocks per reduction. htab holds
# H'^16, H'^15, ..., H'^1 at byte offsets 0, 16, ..., 240, so 32 bytes at 32k
# pair the powers for blocks 2k and 2k+1 of a sixteen-block chunk, and the
# m remaining blocks of a shorter run start at offset 16(16 - m).


def _ctrblk(jlo, jhi, c):
    return m128_make(jlo, jhi | (_bswap32_u(c & np.uint64(0xFFFFFFFF)) << np.uint64(32)))


def _ctr2(jlo, jhi, c, k0):
    return m256_xor(m256_make(_ctrblk(jlo, jhi, c), _ctrblk(jlo, jhi, c + np.uint64(1))), k0)


def _twist(h):
    """H' = h·y mod g for the reflected-form H (see _numba_common)."""
    lo = m128_lo(h)
    hi = m128_hi(h)
    mask = np.uint64(0) - (hi >> np.uint64(63))
    nhi = ((hi << np.uint64(1)) | (lo >> np.uint64(63))) ^ (np.uint64(_GHASH_POLY_HI) & mask)
    nlo = (lo << np.uint64(1)) ^ (np.uint64(1) & mask)
    return m128_make(nlo, nhi)


def _htab_v(h, htab):
    h1 = _twist(h)
    hk = h1
    m128_store(htab, 240, h1)
    for k in range(2, 17):
        hk = gf_mul(hk, h1)
        m128_store(htab, 16 * (16 - k), hk)
    for i in range(16):  # Karatsuba: (H.lo ^ H.hi) in both halves, at 256 + the power's offset
        p = m128_load(htab, 16 * i)
        t = m128_lo(p) ^ m128_hi(p)
        m128_store(htab, 256 + 16 * i, m128_make(t, t))


def _ghash_v(htab, y, data, off, length):
    """Y updated with GHASH over data[off:off+length], zero-padding the last block."""
    pos = 0
    zero = m128_make(0, 0)
    while length - pos >= 256:
        p = off + pos
        x = m256_xor(m256_load_be(data, p), m256_make(y, zero))
        h = m256_load(htab, 0)
        lo = clmul256_ll(x, h)
        hi = clmul256_hh(x, h)
        mid = clmul256_ll(m256_xor(x, m256_swap64(x)), m256_load(htab, 256))
        for j in range(1, 8):
            x = m256_load_be(data, p + 32 * j)
            lo, hi, mid = _acc2(lo, hi, mid, x, m256_load(htab, 32 * j), m256_load(htab, 256 + 32 * j))
        y = _fold_reduce(lo, hi, mid)
        pos += 256
    m = (length - pos) // 16
    if m > 0:  # the remaining whole blocks, aggregated with H'^m .. H'^1
        p = off + pos
        t = 16 * (16 - m)
        x = m128_xor(m128_load_be(data, p), y)
        h = m128_load(htab, t)
        lo = clmul_ll(x, h)
        hi = clmul_hh(x, h)
        mid = m128_xor(clmul_hl(x, h), clmul_lh(x, h))
        for j in range(1, m):
            x = m128_load_be(data, p + 16 * j)
            h = m128_load(htab, t + 16 * j)
            lo = m128_xor(lo, clmul_ll(x, h))
            hi = m128_xor(hi, clmul_hh(x, h))
            mid = m128_xor(mid, m128_xor(clmul_hl(x, h), clmul_lh(x, h)))
        y = gf_reduce(lo, hi, mid)
        pos += 16 * m
    if pos < length:
        y = gf_mul(m128_xor(_partial_be(data, off + pos, length - pos), y), m128_load(htab, 240))
    return y


def _partial_be(data, off, r):
    """data[off:off+r] (r < 16) zero-padded to a block, as a big-endian integer."""
    lo = np.uint64(0)
    hi = np.uint64(0)
    for i in range(r):
        b = np.uint64(data[off + i])
        if i < 8:
            lo |= b << np.uint64(8 * i)
        else:
            hi |= b << np.uint64(8 * (i - 8))
    return m128_bswap(m128_make(lo, hi))


def _store_tag(out, off, tag, taglen):
    """out[off:off+taglen] = the first taglen bytes of the 16-byte tag value."""
    if taglen == 16:
        m128_store(out, off, tag)
    else:
        lo = m128_lo(tag)
        hi = m128_hi(tag)
        for i in range(taglen):
            v = lo if i < 8 else hi
            out[off + i] = (v >> np.uint64(8 * (i & 7))) & np.uint64(0xFF)


def _ctr_v(rk, nr, jlo, jhi, ctr, src, soff, dst, doff, n):
    """dst = src XOR AES-CTR keystream, sixteen blocks in flight (SP 800-38D §6.5)."""
    pos = 0
    c = np.uint64(ctr)
    k0 = m256_bcast(m128_load(rk, 0))
    kl = m256_bcast(m128_load(rk, 16 * nr))
    while n - pos >= 256:
        b0 = _ctr2(jlo, jhi, c, k0)
        b1 = _ctr2(jlo, jhi, c + np.uint64(2), k0)
        b2 = _ctr2(jlo, jhi, c + np.uint64(4), k0)
        b3 = _ctr2(jlo, jhi, c + np.uint64(6), k0)
        b4 = _ctr2(jlo, jhi, c + np.uint64(8), k0)
        b5 = _ctr2(jlo, jhi, c + np.uint64(10), k0)
        b6 = _ctr2(jlo, jhi, c + np.uint64(12), k0)
        b7 = _ctr2(jlo, jhi, c + np.uint64(14), k0)
        c += np.uint64(16)
        for r in range(1, nr):
            k = m256_bcast(m128_load(rk, 16 * r))
            b0 = aesenc256(b0, k)
            b1 = aesenc256(b1, k)
            b2 = aesenc256(b2, k)
            b3 = aesenc256(b3, k)
            b4 = aesenc256(b4, k)
            b5 = aesenc256(b5, k)
            b6 = aesenc256(b6, k)
            b7 = aesenc256(b7, k)
        p = soff + pos
        q = doff + pos
        m256_store(dst, q, m256_xor(aesenclast256(b0, kl), m256_load(src, p)))
        m256_store(dst, q + 32, m256_xor(aesenclast256(b1, kl), m256_load(src, p + 32)))
        m256_store(dst, q + 64, m256_xor(aesenclast256(b2, kl), m256_load(src, p + 64)))
        m256_store(dst, q + 96, m256_xor(aesenclast256(b3, kl), m256_load(src, p + 96)))
        m256_store(dst, q + 128, m256_xor(aesenclast256(b4, kl), m256_load(src, p + 128)))
        m256_store(dst, q + 160, m256_xor(aesenclast256(b5, kl), m256_load(src, p + 160)))
        m256_store(dst, q + 192, m256_xor(aesenclast256(b6, kl), m256_load(src, p + 192)))
        m256_store(dst, q + 224, m256_xor(aesenclast256(b7, kl), m256_load(src, p + 224)))
        pos += 256
    if pos < n:
        _ctr_hw(rk, nr, jlo, jhi, c & np.uint64(0xFFFFFFFF), src, soff + pos, dst, doff + pos, n - pos)


def _seal_v(rk, nr, htab, iv, aad, pt, out, taglen):
    """GCM-AE (SP 800-38D §7.1) with CTR and GHASH fused per 256-byte chunk."""
    n = len(pt)
    jlo, jhi, ctr = _j0_v(htab, iv)
    y = _ghash_v(htab, m128_make(0, 0), aad, 0, len(aad))
    zero = m128_make(0, 0)
    c = (ctr + np.uint64(1)) & np.uint64(0xFFFFFFFF)
    k0 = m256_bcast(m128_load(rk, 0))
    kl = m256_bcast(m128_load(rk, 16 * nr))
    pos = 0
    while n - pos >= 256:
        b0 = _ctr2(jlo, jhi, c, k0)
        b1 = _ctr2(jlo, jhi, c + np.uint64(2), k0)
        b2 = _ctr2(jlo, jhi, c + np.uint64(4), k0)
        b3 = _ctr2(jlo, jhi, c + np.uint64(6), k0)
        b4 = _ctr2(jlo, jhi, c + np.uint64(8), k0)
        b5 = _ctr2(jlo, jhi, c + np.uint64(10), k0)
        b6 = _ctr2(jlo, jhi, c + np.uint64(12), k0)
        b7 = _ctr2(jlo, jhi, c + np.uint64(14), k0)
        c += np.uint64(16)
        for r in range(1, nr):
            k = m256_bcast(m128_load(rk, 16 * r))
            b0 = aesenc256(b0, k)
            b1 = aesenc256(b1, k)
            b2 = aesenc256(b2, k)
            b3 = aesenc256(b3, k)
            b4 = aesenc256(b4, k)
            b5 = aesenc256(b5, k)
            b6 = aesenc256(b6, k)
            b7 = aesenc256(b7, k)
        b0 = m256_xor(aesenclast256(b0, kl), m256_load(pt, pos))
        b1 = m256_xor(aesenclast256(b1, kl), m256_load(pt, pos + 32))
        b2 = m256_xor(aesenclast256(b2, kl), m256_load(pt, pos + 64))
        b3 = m256_xor(aesenclast256(b3, kl), m256_load(pt, pos + 96))
        b4 = m256_xor(aesenclast256(b4, kl), m256_load(pt, pos + 128))
        b5 = m256_xor(aesenclast256(b5, kl), m256_load(pt, pos + 160))
        b6 = m256_xor(aesenclast256(b6, kl), m256_load(pt, pos + 192))
        b7 = m256_xor(aesenclast256(b7, kl), m256_load(pt, pos + 224))
        m256_store(out, pos, b0)
        m256_store(out, pos + 32, b1)
        m256_store(out, pos + 64, b2)
        m256_store(out, pos + 96, b3)
        m256_store(out, pos + 128, b4)
        m256_store(out, pos + 160, b5)
        m256_store(out, pos + 192, b6)
        m256_store(out, pos + 224, b7)
        # GHASH the sixteen ciphertext blocks just made
        x = m256_xor(m256_bswap(b0), m256_make(y, zero))
        h = m256_load(htab, 0)
        lo = clmul256_ll(x, h)
        hi = clmul256_hh(x, h)
        mid = clmul256_ll(m256_xor(x, m256_swap64(x)), m256_load(htab, 256))
        lo, hi, mid = _acc2(lo, hi, mid, m256_bswap(b1), m256_load(htab, 32), m256_load(htab, 288))
        lo, hi, mid = _acc2(lo, hi, mid, m256_bswap(b2), m256_load(htab, 64), m256_load(htab, 320))
        lo, hi, mid = _acc2(lo, hi, mid, m256_bswap(b3), m256_load(htab, 96), m256_load(htab, 352))
        lo, hi, mid = _acc2(lo, hi, mid, m256_bswap(b4), m256_load(htab, 128), m256_load(htab, 384))
        lo, hi, mid = _acc2(lo, hi, mid, m256_bswap(b5), m256_load(htab, 160), m256_load(htab, 416))
        lo, hi, mid = _acc2(lo, hi, mid, m256_bswap(b6), m256_load(htab, 192), m256_load(htab, 448))
        lo, hi, mid = _acc2(lo, hi, mid, m256_bswap(b7), m256_load(htab, 224), m256_load(htab, 480))
        y = _fold_reduce(lo, hi, mid)
        pos += 256
    if pos < n:
        _ctr_hw(rk, nr, jlo, jhi, c, pt, pos, out, pos, n - pos)
        y = _ghash_v(htab, y, out, pos, n - pos)
    _store_tag(out, n, _finish_v(rk, nr, htab, jlo, jhi, ctr, y, len(aad), n), taglen)


def _acc2(lo, hi, mid, x, h, hk):
    """Accumulate the unreduced products of two blocks x with two powers h
    (Karatsuba: the middle term is (x.lo ^ x.hi)(h.lo ^ h.hi) with hk = h.lo ^ h.hi,
    turned into the cross terms in _fold_reduce)."""
    return (
        m256_xor(lo, clmul256_ll(x, h)),
        m256_xor(hi, clmul256_hh(x, h)),
        m256_xor(mid, clmul256_ll(m256_xor(x, m256_swap64(x)), hk)),
    )


def _fold_reduce(lo, hi, mid):
    """Add the two lanes, turn the Karatsuba middle sum into the cross terms, reduce."""
    l = m128_xor(m256_lane0(lo), m256_lane1(lo))
    h = m128_xor(m256_lane0(hi), m256_lane1(hi))
    m = m128_xor(m128_xor(m256_lane0(mid), m256_lane1(mid)), m128_xor(l, h))
    return gf_reduce(l, h, m)


def _finish_v(rk, nr, htab, jlo, jhi, ctr, y, alen, clen):
    """The full tag E(K, J0) XOR GHASH(... || len(A) || len(C)) (SP 800-38D §7.1 steps 5-6),
    as a 16-byte value in block byte order."""
    lens = m128_make(np.uint64(clen) * np.uint64(8), np.uint64(alen) * np.uint64(8))
    y = gf_mul(m128_xor(y, lens), m128_load(htab, 240))
    e = m128_xor(_ctrblk(jlo, jhi, ctr), m128_load(rk, 0))
    for r in range(1, nr):
        e = aesenc(e, m128_load(rk, 16 * r))
    e = aesenclast(e, m128_load(rk, 16 * nr))
    return m128_xor(m128_bswap(y), e)


def _j0_v(htab, iv):
    if len(iv) == 12:
        jlo = load_le64(iv, 0)
        jhi = np.uint64(load_le32(iv, 8))
        return jlo, jhi, np.uint64(1)
    y = _ghash_v(htab, m128_make(0, 0), iv, 0, len(iv))
    y = gf_mul(m128_xor(y, m128_make(np.uint64(len(iv)) * np.uint64(8), 0)), m128_load(htab, 240))
    j = m128_bswap(y)
    jhi_full = m128_hi(j)
    return m128_lo(j), jhi_full & np.uint64(0xFFFFFFFF), _bswap32_u(jhi_full >> np.uint64(32))


def _open_v(rk, nr, htab, iv, aad, data, out, taglen):
    """GCM-AD (SP 800-38D §7.2): GHASH and check the tag, then decrypt."""
    n = len(data) - taglen
    jlo, jhi, ctr = _j0_v(htab, iv)
    y = _ghash_v(htab, m128_make(0, 0), aad, 0, len(aad))
    y = _ghash_v(htab, y, data, 0, n)
    tag = _finish_v(rk, nr, htab, jlo, jhi, ctr, y, len(aad), n)
    lo = m128_lo(tag)
    hi = m128_hi(tag)
    diff = np.uint64(0)
    for i in range(taglen):  # constant-time compare: no early exit (see value_barrier)
        v = lo if i < 8 else hi
        diff |= ((v >> np.uint64(8 * (i & 7))) & np.uint64(0xFF)) ^ np.uint64(data[n + i])
    if value_barrier(diff) != np.uint64(0):
        return False
    _ctr_v(rk, nr, jlo, jhi, (ctr + np.uint64(1)) & np.uint64(0xFFFFFFFF), data, 0, out, 0, n)
    return True


def _init_v(key, rk, htab):
    aes_expand_key_ni(key, rk)
    nr = 10 if len(key) == 16 else 14
    b = m128_load(rk, 0)
    for r in range(1, nr):
        b = aesenc(b, m128_load(rk, 16 * r))
    b = aesenclast(b, m128_load(rk, 16 * nr))
    _htab_v(m128_bswap(b), htab)
    return nr


def _ctr_hot_v(rk, nr, cb, data, out):
    jlo = load_le64(cb, 0)
    jhi = np.uint64(load_le32(cb, 8))
    ctr = _bswap32_u(load_le32(cb, 12))
    _ctr_v(rk, nr, jlo, jhi, ctr, data, 0, out, 0, len(data))


def _ghash_setup_v(h, htab):
    _htab_v(m128_load_be(h, 0), htab)


def _ghash_hot_v(htab, data, out):
    m128_store_be(out, 0, _ghash_v(htab, m128_make(0, 0), data, 0, len(data)))


_V_NAMES = (
    "_bswap32_u", "_ctrblk", "_ctr2", "_twist", "_htab_v", "_ghash_v", "_ctr_hw", "_ctr_v",
    "_seal_v", "_acc2", "_fold_reduce", "_finish_v", "_partial_be", "_store_tag", "_j0_v", "_open_v", "_init_v", "_ctr_hot_v",
    "_ghash_setup_v", "_ghash_hot_v", "_kx_hw",
)  # fmt: skip


_HW_NAMES = (
    "_bswap32_u", "_ctr_hw", "_ghash_hw", "_htab_hw", "_init_hw", "_j0_hw", "_tag_hw",
    "_seal_hw", "_open_hw", "_kx_hw", "_ctr_hot_hw", "_ghash_setup_hw", "_ghash_hot_hw",
)  # fmt: skip


# ====================================================================== lazy compilation

_lock = ChildSafeLock(reentrant=True)  # unheld in a forked child (cryptobench._locks)
_ready: dict[str, list] = {}  # code path -> dispatchers
_entry_points: dict[str, tuple] = {}  # code path -> (seal, open) compiled entry points

#: small helpers inlined into their callers (not compiled on their own)
_INLINE = ("_last_p", "_bswap32_u", "_ctrblk", "_ctr2", "_twist", "_acc2", "_fold_reduce")


def _make_tables() -> dict[str, Any]:
    """S-box (FIPS 197 §5.1.1), T-tables and the GHASH x^8 reduction table."""
    import numpy as np

    def xt(a: int) -> int:
        a <<= 1
        return a ^ 0x11B if a & 0x100 else a

    def gmul(a: int, b: int) -> int:
        r = 0
        while b:
            if b & 1:
                r ^= a
            a = xt(a)
            b >>= 1
        return r

    inv = [0] * 256
    for a in range(1, 256):
        for b in range(1, 256):
            if gmul(a, b) == 1:
                inv[a] = b
                break
    sbox = []
    for a in range(256):
        x = inv[a]
        s = x
        for k in range(1, 5):
            s ^= ((x << k) | (x >> (8 - k))) & 0xFF
        sbox.append(s ^ 0x63)
    te0 = [(xt(s) << 24) | (s << 16) | (s << 8) | (xt(s) ^ s) for s in sbox]

    def rotr(v: int, n: int) -> int:
        return ((v >> n) | (v << (32 - n))) & 0xFFFFFFFF

    r8 = []
    for v in range(256):
        z = v
        for _ in range(8):
            z = (z >> 1) ^ (0xE1 << 120) if z & 1 else z >> 1
        r8.append(z >> 64)
    return {
        "np": np,
        "np_int": np.int64,
        "_SBOX": np.array(sbox, dtype=np.int64),
        "_TE0": np.array(te0, dtype=np.int64),
        "_TE1": np.array([rotr(t, 8) for t in te0], dtype=np.int64),
        "_TE2": np.array([rotr(t, 16) for t in te0], dtype=np.int64),
        "_TE3": np.array([rotr(t, 24) for t in te0], dtype=np.int64),
        "_R8": np.array(r8, dtype=np.uint64),
    }


#: per code path: the functions to jit and the ones the AEAD and hot paths call
#: (names, resolved in this module's globals after jitting), and the sizes of
#: the per-key schedule and GHASH table arrays.
_PATHS: dict[str, dict[str, Any]] = {
    "portable": dict(
        names=_PORTABLE_NAMES, init="_init_p", seal="_seal_p", open="_open_p", kx="_kx_p",
        ctr="_ctr_hot_p", gsetup="_ghash_setup_p", ghash="_ghash_hot_p",
        rk=(60, "int64"), tab=(8192, "uint64"), kx_words=True,
    ),
    "hw": dict(
        names=_HW_NAMES, init="_init_hw", seal="_seal_hw", open="_open_hw", kx="_kx_hw",
        ctr="_ctr_hot_hw", gsetup="_ghash_setup_hw", ghash="_ghash_hot_hw",
        rk=(240, "uint8"), tab=(128, "uint8"), kx_words=False,
    ),
    "vaes": dict(
        names=_V_NAMES, init="_init_v", seal="_seal_v", open="_open_v", kx="_kx_hw",
        ctr="_ctr_hot_v", gsetup="_ghash_setup_v", ghash="_ghash_hot_v",
        rk=(240, "uint8"), tab=(512, "uint8"), kx_words=False,
    ),
}  # fmt: skip

#: what `cryptobench list` shows as the path of each code path
_PATH_LABEL = {"portable": "ttable", "hw": "aesni-pclmulqdq-x8", "vaes": "vaes-vpclmulqdq-ymm-x16"}


def _jit(path: str) -> list:
    """The path's dispatchers, creating them (not compiling) on first call."""
    with _lock:
        if path not in _ready:
            g = globals()
            if "np" not in g:
                g.update(_make_tables())
            from cryptobench.kernels import _numba_common as nc

            if path != "portable":
                for name in nc.__all__:
                    g[name] = getattr(nc, name)
            _ready[path] = nc.jit_module_functions(g, _PATHS[path]["names"], _INLINE)
        return _ready[path]


def _fn(path: str, role: str):
    return globals()[_PATHS[path][role]]


def _alloc(path: str, what: str):
    size, dtype = _PATHS[path][what]
    return np.empty(size, dtype)


def _u8(x):
    """x as ``bytes`` (no copy when it already is): Numba takes bytes directly as a
    read-only uint8 buffer, and one argument type means one compiled signature."""
    return x if type(x) is bytes else bytes(x)


# ====================================================================== AEAD objects


class _Context:
    __slots__ = ("_tag_length", "_rk", "_nr", "_tab", "_seal", "_open")

    def __init__(self, path: str, key: bytes, tag_length: int) -> None:
        from cryptobench.kernels._numba_common import entry_point

        _jit(path)
        self._tag_length = tag_length
        self._rk = _alloc(path, "rk")
        self._tab = _alloc(path, "tab")
        self._nr = _fn(path, "init")(key, self._rk, self._tab)
        # the compiled entry points for the one argument signature we ever pass
        # (arrays we own, bytes, ints): skips the dispatcher's type resolution
        eps = _entry_points.get(path)
        if eps is None:
            example = (self._rk, self._nr, self._tab, b"", b"", b"", np.empty(0, np.uint8), tag_length)
            eps = _entry_points[path] = (
                entry_point(_fn(path, "seal"), *example),
                entry_point(_fn(path, "open"), *example),
            )
        self._seal, self._open = eps

    def encrypt(self, nonce, plaintext, aad=b""):
        fast = type(nonce) is bytes and type(plaintext) is bytes and type(aad) is bytes
        if not fast:
            check_bytes(nonce=nonce, plaintext=plaintext, aad=aad)
        if not len(nonce):
            raise InvalidNonce("GCM needs an IV of at least 1 byte")
        if len(nonce) > _MAX_AAD_IV or len(aad) > _MAX_AAD_IV:
            raise InvalidLength("GCM IV and AAD are limited to 2^61 - 1 bytes")
        n = len(plaintext)
        if n > _MAX_PLAINTEXT:
            raise InvalidLength("GCM plaintext is limited to 2^36 - 32 bytes")
        if not fast:  # lengths are checked before anything is copied
            nonce, plaintext, aad = bytes(nonce), bytes(plaintext), bytes(aad)
        out = np.empty(n + self._tag_length, np.uint8)
        self._seal(self._rk, self._nr, self._tab, nonce, aad, plaintext, out, self._tag_length)
        return out.tobytes()

    def decrypt(self, nonce, data, aad=b""):
        fast = type(nonce) is bytes and type(data) is bytes and type(aad) is bytes
        if not fast:
            check_bytes(nonce=nonce, data=data, aad=aad)
        if not len(nonce):
            raise InvalidNonce("GCM needs an IV of at least 1 byte")
        if len(nonce) > _MAX_AAD_IV or len(aad) > _MAX_AAD_IV:
            raise InvalidLength("GCM IV and AAD are limited to 2^61 - 1 bytes")
        t = self._tag_length
        if len(data) < t:
            raise InvalidTag("ciphertext shorter than the tag")
        if len(data) - t > _MAX_PLAINTEXT:
            raise InvalidLength("GCM ciphertext is limited to 2^36 - 32 bytes")
        if not fast:  # lengths are checked before anything is copied
            nonce, data, aad = bytes(nonce), bytes(data), bytes(aad)
        out = np.empty(len(data) - t, np.uint8)
        if not self._open(self._rk, self._nr, self._tab, nonce, aad, data, out, t):
            raise InvalidTag("tag check failed")
        return out.tobytes()


class AESGCM(GCMParameters):
    """The AEAD object of docs/kernels.md for one code path ("portable", "hw", "vaes")."""

    def __init__(self, key_size: int, path: str) -> None:
        super().__init__(key_size)
        self.path = path

    def new(self, key, tag_length: int = 16) -> _Context:
        key, tag_length = self.checked(key, tag_length)
        return _Context(self.path, key, tag_length)


# ====================================================================== hot paths


def _check_key(key) -> None:
    check_bytes(key=key)
    if len(key) not in (16, 32):
        raise InvalidKey(f"AES key must be 16 or 32 bytes, got {len(key)}")


def _setup_kx(path: str):
    def setup():
        _jit(path)
        kx = _fn(path, "kx")
        words = _PATHS[path]["kx_words"]

        def key_expansion(key):
            _check_key(key)
            rounds_plus_1 = len(key) // 4 + 7
            sched = np.empty(4 * rounds_plus_1, np.int64) if words else np.empty(16 * rounds_plus_1, np.uint8)
            kx(_u8(key), sched)
            return sched

        return key_expansion

    return setup


def _setup_ctr(path: str):
    def setup(key):
        _check_key(key)
        _jit(path)
        from cryptobench.kernels._numba_common import entry_point

        rk = _alloc(path, "rk")
        _fn(path, "kx")(_u8(key), rk)
        nr = len(key) // 4 + 6
        fn = entry_point(_fn(path, "ctr"), rk, nr, b"", b"", np.empty(0, np.uint8))

        def aes_ctr(counter_block, data):
            check_bytes(counter_block=counter_block, data=data)
            if len(counter_block) != 16:
                raise InvalidNonce("the counter block is 16 bytes")
            out = np.empty(len(data), np.uint8)
            fn(rk, nr, _u8(counter_block), _u8(data), out)
            return out.tobytes()

        return aes_ctr

    return setup


def _setup_ghash(path: str):
    def setup(h):
        check_bytes(h=h)
        if len(h) != 16:
            raise InvalidKey("the GHASH key H is 16 bytes")
        _jit(path)
        from cryptobench.kernels._numba_common import entry_point

        tab = _alloc(path, "tab")
        _fn(path, "gsetup")(_u8(h), tab)
        fn = entry_point(_fn(path, "ghash"), tab, b"", np.empty(0, np.uint8))

        def ghash(data):
            check_bytes(data=data)
            if len(data) % 16:
                raise InvalidLength("GHASH input must be a multiple of 16 bytes")
            out = np.empty(16, np.uint8)
            fn(tab, _u8(data), out)
            return out.tobytes()

        return ghash

    return setup


def _prepare(path: str):
    """Compile (or load from the cache) every function the path uses."""

    def prepare() -> dict[str, Any]:
        from cryptobench.kernels import _numba_common as nc

        dispatchers = _jit(path)
        before = nc.compile_stats(dispatchers)
        for size in (16, 32):
            key = bytes(range(size))
            aead = AESGCM(size, path)
            for iv in (b"\x01" * 12, b"\x02" * 7):
                ctx = aead.new(key, 16)
                ct = ctx.encrypt(iv, b"x" * 300, b"a")
                ctx.decrypt(iv, ct, b"a")
            _setup_kx(path)()(key)
            _setup_ctr(path)(key)(bytes(16), b"y" * 300)
        _setup_ghash(path)(bytes(16))(bytes(288))
        after = nc.compile_stats(dispatchers)
        return {k: after[k] - before[k] for k in after}

    return prepare


def hw_path() -> tuple[str | None, str]:
    """(code path, reason): "vaes" where VAES, VPCLMULQDQ and AVX2 are usable,
    else "hw" (AES-NI + PCLMULQDQ), else None with the reason."""
    from cryptobench import native

    cpu = native.missing("aesni", "pclmulqdq")
    if cpu:
        return None, f"{cpu} (numba-hw needs AES-NI and PCLMULQDQ)"
    if native.missing("vaes", "vpclmulqdq", "avx2") is None:
        return "vaes", ""
    return "hw", ""


def register(reg) -> None:
    missing = _numba_missing()
    for algorithm, size in (("aes-128-gcm", 16), ("aes-256-gcm", 32)):
        for tier in ("portable", "hw"):
            path, reason = ("portable", "") if tier == "portable" else (None, "")
            if missing:
                path, reason = None, missing
            elif tier == "hw":
                path, reason = hw_path()
            ok = path is not None
            reg.add(
                Kernel(
                    algorithm=algorithm,
                    backend=f"numba-{tier}",
                    available=ok,
                    reason=reason,
                    constant_time=(tier == "hw"),
                    path=_PATH_LABEL[path] if ok else "",
                    impl=AESGCM(size, path) if ok else None,
                    hot_paths=(
                        {
                            "key-expansion": _setup_kx(path),
                            "aes-ctr": _setup_ctr(path),
                            "ghash": _setup_ghash(path),
                        }
                        if ok
                        else {}
                    ),
                    description=(
                        "Numba + LLVM AES-NI/PCLMULQDQ intrinsics"
                        + (" (VAES/VPCLMULQDQ on 256-bit vectors)" if path == "vaes" else "")
                        if tier == "hw"
                        else "plain Numba, T-table AES + byte-table GHASH (not constant-time)"
                    ),
                    prepare=_prepare(path) if ok else None,
                )
            )
