"""Compiled P-256 arithmetic for the Numba ECDSA kernels (private; imports numba).

Imported only by :mod:`cryptobench.kernels.ecdsa_p256.numba` on first use, never
at registry load. Every function is ``@njit(cache=True, nogil=True)`` and
compiles lazily on its first call; nothing compiles at import.

Two tiers share this source. The type of the first argument ``hw`` of every
function picks the tier at compile time (``PORTABLE`` is a uint8, ``HW`` a
uint16, so each tier is its own Numba specialization and cache entry), through
``numba.extending.overload`` on a handful of primitives:

- ``numba-hw``: ``fp_mul``/``fn_mul`` are CIOS Montgomery multiplications on
  4 x 64-bit limbs (unrolled) whose ``mac(a, b, c, d) = a*b + c + d`` and
  carry/borrow chains are LLVM IR on i128 (zext, mul/add/sub, lshr, trunc)
  emitted by ``numba.extending.intrinsic``; on this CPU LLVM turns them into
  MULX and ADC/SBB (checked with ``inspect_asm``; it does not use ADOX/ADCX).
- ``numba-portable``: ``fp_mul``/``fp_sqr``/``fn_mul`` split the limbs into
  8 x 32-bit words and multiply by product scanning in plain uint64/int64
  (every 32x32 product fits 64 bits; column sums of low and high halves stay
  below 2^38), followed by word-by-word Montgomery reduction. For p it needs
  no multiplication at all: -p^-1 = 1 mod 2^32 and
  p = 2^256 - 2^224 + 2^192 + 2^96 - 1, so each round adds or subtracts the
  word m at four positions. Carries use shifts and masks, no wide multiply
  and no CPU-specific instruction (LLVM still compiles for the host CPU).

Both tiers keep the same Montgomery representation (R = 2^256), so they share
the fixed-base table and every function above the multiplication.

Representation: field elements mod p and scalars mod n are 4 little-endian
64-bit limbs in tuples of uint64, in Montgomery form (R = 2^256) where noted;
points are Jacobian (X, Y, Z) with Z = 0 for the point at infinity
(SEC 1 §2.2.1, the a = -3 formulas of the Explicit-Formulas Database:
dbl-2001-b, madd-2007-bl, add-2007-bl).

Constant time: field and scalar arithmetic are branch-free (carries and the
final conditional subtraction use masks); field inversion (Fermat, a fixed
addition chain for p-2) and scalar inversion (Fermat, fixed 4-bit windows over
the public exponent n-2) run the same operations for every input; the
fixed-base multiplication used for signing and key derivation recodes the
scalar without branches, reads every entry of each table row, and selects and
negates with masks. That is a property of the source, with LLVM trusted to
keep it: ``inspect_asm`` of these functions on the development machine shows
conditional jumps only on loop counters, the (public) window index and
Numba's call-status checks, and CMOV or plain logic for the selects; this was
inspected, not proven. Verification (``double_scalar_vt``, ``verify_core``)
works on public data and is variable time.

Specs: FIPS 186-4 §6.4 (ECDSA) and §D.1.2.3 (P-256), SEC 1 §4.1.3 (signing)
and §4.1.4 (verification), RFC 6979 §2.4 (k itself comes from Python, RFC 6979 §3.2).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

# every function below is cached (cache=True): give Numba a writable cache directory first
from cryptobench.kernels import _numba_common  # noqa: F401

#: Tier tags: the type of the first argument selects the primitives.
PORTABLE = np.uint8(0)
HW = np.uint16(0)

_P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_M64 = (1 << 64) - 1

U0 = np.uint64(0)
U1 = np.uint64(1)
ALL1 = np.uint64(_M64)
M32 = np.uint64(0xFFFFFFFF)
S8 = np.uint64(8)
S32 = np.uint64(32)
S63 = np.uint64(63)
NIB = np.uint64(15)


def _limbs(x: int) -> tuple:
    return tuple(np.uint64((x >> (64 * i)) & _M64) for i in range(4))


P0, P1, P2, P3 = _limbs(_P)
N0, N1, N2, N3 = _limbs(_N)
NINV = np.uint64((-pow(_N, -1, 1 << 64)) % (1 << 64))
R2P0, R2P1, R2P2, R2P3 = _limbs(pow(2, 512, _P))
R2N0, R2N1, R2N2, R2N3 = _limbs(pow(2, 512, _N))
ONEP0, ONEP1, ONEP2, ONEP3 = _limbs(pow(2, 256, _P))  # 1 in Montgomery form mod p
ONEN0, ONEN1, ONEN2, ONEN3 = _limbs(pow(2, 256, _N))  # 1 in Montgomery form mod n
I32 = np.int64(0xFFFFFFFF)
I32S = np.int64(32)
NINV32 = np.uint64((-pow(_N, -1, 1 << 32)) % (1 << 32))
NW0, NW1, NW2, NW3, NW4, NW5, NW6, NW7 = (np.uint64((_N >> (32 * i)) & 0xFFFFFFFF) for i in range(8))
#: Fixed-base comb: 43 rows (radix 2^6 Booth digits of a 256-bit scalar), 33 entries each.
ROWS = 43
ENTRIES = 33
#: Squaring runs of the tail of the p - 2 chain in fp_inv (public).
CHAIN_RUNS = np.array([32, 96, 32, 32, 30, 2], dtype=np.int64)
#: n - 2, the Fermat exponent for scalar inversion (public), as 4 limbs.
NM2 = np.array([int(v) for v in _limbs(_N - 2)], dtype=np.uint64)


# --------------------------------------------------------------------------
# The three primitives, per tier.
# --------------------------------------------------------------------------


def _is_hw(tag) -> bool:
    return isinstance(tag, types.Integer) and tag.bitwidth == 16


@intrinsic
def _mac128(typingctx, a, b, c, d):
    """a*b + c + d in i128 (never overflows), split into (lo, hi) uint64."""
    if not all(t == types.uint64 for t in (a, b, c, d)):
        return None
    sig = types.UniTuple(types.uint64, 2)(types.uint64, types.uint64, types.uint64, types.uint64)

    def codegen(context, builder, signature, args):
        i128 = ir.IntType(128)
        i64 = ir.IntType(64)
        x, y, z, w = (builder.zext(v, i128) for v in args)
        r = builder.add(builder.add(builder.mul(x, y), z), w)
        lo = builder.trunc(r, i64)
        hi = builder.trunc(builder.lshr(r, ir.Constant(i128, 64)), i64)
        return context.make_tuple(builder, signature.return_type, [lo, hi])

    return sig, codegen


@intrinsic
def _adc128(typingctx, a, b, c):
    """a + b + c in i128, split into (sum, carry)."""
    if not all(t == types.uint64 for t in (a, b, c)):
        return None
    sig = types.UniTuple(types.uint64, 2)(types.uint64, types.uint64, types.uint64)

    def codegen(context, builder, signature, args):
        i128 = ir.IntType(128)
        i64 = ir.IntType(64)
        x, y, z = (builder.zext(v, i128) for v in args)
        r = builder.add(builder.add(x, y), z)
        lo = builder.trunc(r, i64)
        hi = builder.trunc(builder.lshr(r, ir.Constant(i128, 64)), i64)
        return context.make_tuple(builder, signature.return_type, [lo, hi])

    return sig, codegen


@intrinsic
def _sbb128(typingctx, a, b, c):
    """a - b - c in i128, split into (difference, borrow in {0, 1})."""
    if not all(t == types.uint64 for t in (a, b, c)):
        return None
    sig = types.UniTuple(types.uint64, 2)(types.uint64, types.uint64, types.uint64)

    def codegen(context, builder, signature, args):
        i128 = ir.IntType(128)
        i64 = ir.IntType(64)
        x, y, z = (builder.zext(v, i128) for v in args)
        r = builder.sub(builder.sub(x, y), z)
        lo = builder.trunc(r, i64)
        hi = builder.trunc(builder.lshr(r, ir.Constant(i128, 127)), i64)
        return context.make_tuple(builder, signature.return_type, [lo, hi])

    return sig, codegen


def mac(hw, a, b, c, d):  # pragma: no cover - replaced by the overload in compiled code
    raise NotImplementedError


def adc(hw, a, b, c):  # pragma: no cover
    raise NotImplementedError


def sbb(hw, a, b, c):  # pragma: no cover
    raise NotImplementedError


@overload(mac)
def _ol_mac(hw, a, b, c, d):
    # Only the i128 tier multiplies 64-bit limbs; the portable tier uses
    # 32-bit words (_fp_mul_w32 and friends) and never calls mac.
    if _is_hw(hw):
        return lambda hw, a, b, c, d: _mac128(a, b, c, d)
    return None


@overload(adc)
def _ol_adc(hw, a, b, c):
    if _is_hw(hw):
        return lambda hw, a, b, c: _adc128(a, b, c)

    def portable(hw, a, b, c):
        s = a + b + c
        return s, ((a & b) | ((a | b) & ~s)) >> S63

    return portable


@overload(sbb)
def _ol_sbb(hw, a, b, c):
    if _is_hw(hw):
        return lambda hw, a, b, c: _sbb128(a, b, c)

    def portable(hw, a, b, c):
        d = a - b - c
        return d, ((~a & b) | (~(a ^ b) & d)) >> S63

    return portable


# --------------------------------------------------------------------------
# Montgomery multiplication (CIOS, unrolled) mod p and mod n.
# --------------------------------------------------------------------------

@njit(cache=True, nogil=True)
def _fp_mul_cios(hw, a, b):
    """Montgomery product a*b/2^256 mod p (-p^-1 mod 2^64 = 1, so m = t0). Inputs < p (or one < 2^256 and the other < p); output < p."""
    a0, a1, a2, a3 = a
    b0, b1, b2, b3 = b
    t0 = t1 = t2 = t3 = t4 = U0
    # round 0: t += a * b0; then one Montgomery reduction step
    t0, c = mac(hw, a0, b0, t0, U0)
    t1, c = mac(hw, a1, b0, t1, c)
    t2, c = mac(hw, a2, b0, t2, c)
    t3, c = mac(hw, a3, b0, t3, c)
    t4, t5 = adc(hw, t4, c, U0)
    m = t0
    _, c = mac(hw, m, P0, t0, U0)
    t0, c = mac(hw, m, P1, t1, c)
    t1, c = adc(hw, t2, c, U0)  # P2 == 0
    t2, c = mac(hw, m, P3, t3, c)
    t3, c = adc(hw, t4, c, U0)
    t4 = t5 + c
    # round 1: t += a * b1; then one Montgomery reduction step
    t0, c = mac(hw, a0, b1, t0, U0)
    t1, c = mac(hw, a1, b1, t1, c)
    t2, c = mac(hw, a2, b1, t2, c)
    t3, c = mac(hw, a3, b1, t3, c)
    t4, t5 = adc(hw, t4, c, U0)
    m = t0
    _, c = mac(hw, m, P0, t0, U0)
    t0, c = mac(hw, m, P1, t1, c)
    t1, c = adc(hw, t2, c, U0)  # P2 == 0
    t2, c = mac(hw, m, P3, t3, c)
    t3, c = adc(hw, t4, c, U0)
    t4 = t5 + c
    # round 2: t += a * b2; then one Montgomery reduction step
    t0, c = mac(hw, a0, b2, t0, U0)
    t1, c = mac(hw, a1, b2, t1, c)
    t2, c = mac(hw, a2, b2, t2, c)
    t3, c = mac(hw, a3, b2, t3, c)
    t4, t5 = adc(hw, t4, c, U0)
    m = t0
    _, c = mac(hw, m, P0, t0, U0)
    t0, c = mac(hw, m, P1, t1, c)
    t1, c = adc(hw, t2, c, U0)  # P2 == 0
    t2, c = mac(hw, m, P3, t3, c)
    t3, c = adc(hw, t4, c, U0)
    t4 = t5 + c
    # round 3: t += a * b3; then one Montgomery reduction step
    t0, c = mac(hw, a0, b3, t0, U0)
    t1, c = mac(hw, a1, b3, t1, c)
    t2, c = mac(hw, a2, b3, t2, c)
    t3, c = mac(hw, a3, b3, t3, c)
    t4, t5 = adc(hw, t4, c, U0)
    m = t0
    _, c = mac(hw, m, P0, t0, U0)
    t0, c = mac(hw, m, P1, t1, c)
    t1, c = adc(hw, t2, c, U0)  # P2 == 0
    t2, c = mac(hw, m, P3, t3, c)
    t3, c = adc(hw, t4, c, U0)
    t4 = t5 + c
    # the result is < 2*p: subtract p once, keeping t where that borrows (masked select)
    u0, br = sbb(hw, t0, P0, U0)
    u1, br = sbb(hw, t1, P1, br)
    u2, br = sbb(hw, t2, P2, br)
    u3, br = sbb(hw, t3, P3, br)
    keep = U0 - (br & (t4 ^ U1))
    return ((t0 & keep) | (u0 & ~keep), (t1 & keep) | (u1 & ~keep),
            (t2 & keep) | (u2 & ~keep), (t3 & keep) | (u3 & ~keep))


@njit(cache=True, nogil=True)
def _fn_mul_cios(hw, a, b):
    """Montgomery product a*b/2^256 mod n. Inputs < n (or one < 2^256 and the other < n); output < n."""
    a0, a1, a2, a3 = a
    b0, b1, b2, b3 = b
    t0 = t1 = t2 = t3 = t4 = U0
    # round 0: t += a * b0; then one Montgomery reduction step
    t0, c = mac(hw, a0, b0, t0, U0)
    t1, c = mac(hw, a1, b0, t1, c)
    t2, c = mac(hw, a2, b0, t2, c)
    t3, c = mac(hw, a3, b0, t3, c)
    t4, t5 = adc(hw, t4, c, U0)
    m = t0 * NINV
    _, c = mac(hw, m, N0, t0, U0)
    t0, c = mac(hw, m, N1, t1, c)
    t1, c = mac(hw, m, N2, t2, c)
    t2, c = mac(hw, m, N3, t3, c)
    t3, c = adc(hw, t4, c, U0)
    t4 = t5 + c
    # round 1: t += a * b1; then one Montgomery reduction step
    t0, c = mac(hw, a0, b1, t0, U0)
    t1, c = mac(hw, a1, b1, t1, c)
    t2, c = mac(hw, a2, b1, t2, c)
    t3, c = mac(hw, a3, b1, t3, c)
    t4, t5 = adc(hw, t4, c, U0)
    m = t0 * NINV
    _, c = mac(hw, m, N0, t0, U0)
    t0, c = mac(hw, m, N1, t1, c)
    t1, c = mac(hw, m, N2, t2, c)
    t2, c = mac(hw, m, N3, t3, c)
    t3, c = adc(hw, t4, c, U0)
    t4 = t5 + c
    # round 2: t += a * b2; then one Montgomery reduction step
    t0, c = mac(hw, a0, b2, t0, U0)
    t1, c = mac(hw, a1, b2, t1, c)
    t2, c = mac(hw, a2, b2, t2, c)
    t3, c = mac(hw, a3, b2, t3, c)
    t4, t5 = adc(hw, t4, c, U0)
    m = t0 * NINV
    _, c = mac(hw, m, N0, t0, U0)
    t0, c = mac(hw, m, N1, t1, c)
    t1, c = mac(hw, m, N2, t2, c)
    t2, c = mac(hw, m, N3, t3, c)
    t3, c = adc(hw, t4, c, U0)
    t4 = t5 + c
    # round 3: t += a * b3; then one Montgomery reduction step
    t0, c = mac(hw, a0, b3, t0, U0)
    t1, c = mac(hw, a1, b3, t1, c)
    t2, c = mac(hw, a2, b3, t2, c)
    t3, c = mac(hw, a3, b3, t3, c)
    t4, t5 = adc(hw, t4, c, U0)
    m = t0 * NINV
    _, c = mac(hw, m, N0, t0, U0)
    t0, c = mac(hw, m, N1, t1, c)
    t1, c = mac(hw, m, N2, t2, c)
    t2, c = mac(hw, m, N3, t3, c)
    t3, c = adc(hw, t4, c, U0)
    t4 = t5 + c
    # the result is < 2*n: subtract n once, keeping t where that borrows (masked select)
    u0, br = sbb(hw, t0, N0, U0)
    u1, br = sbb(hw, t1, N1, br)
    u2, br = sbb(hw, t2, N2, br)
    u3, br = sbb(hw, t3, N3, br)
    keep = U0 - (br & (t4 ^ U1))
    return ((t0 & keep) | (u0 & ~keep), (t1 & keep) | (u1 & ~keep),
            (t2 & keep) | (u2 & ~keep), (t3 & keep) | (u3 & ~keep))



# --------------------------------------------------------------------------
# Montgomery multiplication from 32-bit words (the portable tier).
# --------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def _fp_mul_w32(hw, a, b):
    """Montgomery product a*b/2^256 mod p from 32-bit words in uint64/int64 (plain Numba, no wide multiply). Same contract as the i128 version."""
    a0 = a[0] & M32
    a1 = a[0] >> S32
    a2 = a[1] & M32
    a3 = a[1] >> S32
    a4 = a[2] & M32
    a5 = a[2] >> S32
    a6 = a[3] & M32
    a7 = a[3] >> S32
    b0 = b[0] & M32
    b1 = b[0] >> S32
    b2 = b[1] & M32
    b3 = b[1] >> S32
    b4 = b[2] & M32
    b5 = b[2] >> S32
    b6 = b[3] & M32
    b7 = b[3] >> S32
    # product scanning: 32x32->64-bit products, low and high halves summed
    # separately per column (each column < 2^37, in int64)
    p = a0 * b0
    c0 = np.int64(p & M32)
    c1 = np.int64(p >> S32)
    p = a0 * b1
    c1 += np.int64(p & M32)
    c2 = np.int64(p >> S32)
    p = a0 * b2
    c2 += np.int64(p & M32)
    c3 = np.int64(p >> S32)
    p = a0 * b3
    c3 += np.int64(p & M32)
    c4 = np.int64(p >> S32)
    p = a0 * b4
    c4 += np.int64(p & M32)
    c5 = np.int64(p >> S32)
    p = a0 * b5
    c5 += np.int64(p & M32)
    c6 = np.int64(p >> S32)
    p = a0 * b6
    c6 += np.int64(p & M32)
    c7 = np.int64(p >> S32)
    p = a0 * b7
    c7 += np.int64(p & M32)
    c8 = np.int64(p >> S32)
    p = a1 * b0
    c1 += np.int64(p & M32)
    c2 += np.int64(p >> S32)
    p = a1 * b1
    c2 += np.int64(p & M32)
    c3 += np.int64(p >> S32)
    p = a1 * b2
    c3 += np.int64(p & M32)
    c4 += np.int64(p >> S32)
    p = a1 * b3
    c4 += np.int64(p & M32)
    c5 += np.int64(p >> S32)
    p = a1 * b4
    c5 += np.int64(p & M32)
    c6 += np.int64(p >> S32)
    p = a1 * b5
    c6 += np.int64(p & M32)
    c7 += np.int64(p >> S32)
    p = a1 * b6
    c7 += np.int64(p & M32)
    c8 += np.int64(p >> S32)
    p = a1 * b7
    c8 += np.int64(p & M32)
    c9 = np.int64(p >> S32)
    p = a2 * b0
    c2 += np.int64(p & M32)
    c3 += np.int64(p >> S32)
    p = a2 * b1
    c3 += np.int64(p & M32)
    c4 += np.int64(p >> S32)
    p = a2 * b2
    c4 += np.int64(p & M32)
    c5 += np.int64(p >> S32)
    p = a2 * b3
    c5 += np.int64(p & M32)
    c6 += np.int64(p >> S32)
    p = a2 * b4
    c6 += np.int64(p & M32)
    c7 += np.int64(p >> S32)
    p = a2 * b5
    c7 += np.int64(p & M32)
    c8 += np.int64(p >> S32)
    p = a2 * b6
    c8 += np.int64(p & M32)
    c9 += np.int64(p >> S32)
    p = a2 * b7
    c9 += np.int64(p & M32)
    c10 = np.int64(p >> S32)
    p = a3 * b0
    c3 += np.int64(p & M32)
    c4 += np.int64(p >> S32)
    p = a3 * b1
    c4 += np.int64(p & M32)
    c5 += np.int64(p >> S32)
    p = a3 * b2
    c5 += np.int64(p & M32)
    c6 += np.int64(p >> S32)
    p = a3 * b3
    c6 += np.int64(p & M32)
    c7 += np.int64(p >> S32)
    p = a3 * b4
    c7 += np.int64(p & M32)
    c8 += np.int64(p >> S32)
    p = a3 * b5
    c8 += np.int64(p & M32)
    c9 += np.int64(p >> S32)
    p = a3 * b6
    c9 += np.int64(p & M32)
    c10 += np.int64(p >> S32)
    p = a3 * b7
    c10 += np.int64(p & M32)
    c11 = np.int64(p >> S32)
    p = a4 * b0
    c4 += np.int64(p & M32)
    c5 += np.int64(p >> S32)
    p = a4 * b1
    c5 += np.int64(p & M32)
    c6 += np.int64(p >> S32)
    p = a4 * b2
    c6 += np.int64(p & M32)
    c7 += np.int64(p >> S32)
    p = a4 * b3
    c7 += np.int64(p & M32)
    c8 += np.int64(p >> S32)
    p = a4 * b4
    c8 += np.int64(p & M32)
    c9 += np.int64(p >> S32)
    p = a4 * b5
    c9 += np.int64(p & M32)
    c10 += np.int64(p >> S32)
    p = a4 * b6
    c10 += np.int64(p & M32)
    c11 += np.int64(p >> S32)
    p = a4 * b7
    c11 += np.int64(p & M32)
    c12 = np.int64(p >> S32)
    p = a5 * b0
    c5 += np.int64(p & M32)
    c6 += np.int64(p >> S32)
    p = a5 * b1
    c6 += np.int64(p & M32)
    c7 += np.int64(p >> S32)
    p = a5 * b2
    c7 += np.int64(p & M32)
    c8 += np.int64(p >> S32)
    p = a5 * b3
    c8 += np.int64(p & M32)
    c9 += np.int64(p >> S32)
    p = a5 * b4
    c9 += np.int64(p & M32)
    c10 += np.int64(p >> S32)
    p = a5 * b5
    c10 += np.int64(p & M32)
    c11 += np.int64(p >> S32)
    p = a5 * b6
    c11 += np.int64(p & M32)
    c12 += np.int64(p >> S32)
    p = a5 * b7
    c12 += np.int64(p & M32)
    c13 = np.int64(p >> S32)
    p = a6 * b0
    c6 += np.int64(p & M32)
    c7 += np.int64(p >> S32)
    p = a6 * b1
    c7 += np.int64(p & M32)
    c8 += np.int64(p >> S32)
    p = a6 * b2
    c8 += np.int64(p & M32)
    c9 += np.int64(p >> S32)
    p = a6 * b3
    c9 += np.int64(p & M32)
    c10 += np.int64(p >> S32)
    p = a6 * b4
    c10 += np.int64(p & M32)
    c11 += np.int64(p >> S32)
    p = a6 * b5
    c11 += np.int64(p & M32)
    c12 += np.int64(p >> S32)
    p = a6 * b6
    c12 += np.int64(p & M32)
    c13 += np.int64(p >> S32)
    p = a6 * b7
    c13 += np.int64(p & M32)
    c14 = np.int64(p >> S32)
    p = a7 * b0
    c7 += np.int64(p & M32)
    c8 += np.int64(p >> S32)
    p = a7 * b1
    c8 += np.int64(p & M32)
    c9 += np.int64(p >> S32)
    p = a7 * b2
    c9 += np.int64(p & M32)
    c10 += np.int64(p >> S32)
    p = a7 * b3
    c10 += np.int64(p & M32)
    c11 += np.int64(p >> S32)
    p = a7 * b4
    c11 += np.int64(p & M32)
    c12 += np.int64(p >> S32)
    p = a7 * b5
    c12 += np.int64(p & M32)
    c13 += np.int64(p >> S32)
    p = a7 * b6
    c13 += np.int64(p & M32)
    c14 += np.int64(p >> S32)
    p = a7 * b7
    c14 += np.int64(p & M32)
    c15 = np.int64(p >> S32)
    # Montgomery reduction, one 32-bit word per round: -p^-1 = 1 mod 2^32, so
    # m = c_i mod 2^32, and m*p = m*(2^256 - 2^224 + 2^192 + 2^96 - 1) touches
    # words i (cancelled), i+3, i+6, i+7 (minus) and i+8: no multiplication.
    m = c0 & I32
    c1 += c0 >> I32S
    c3 += m
    c6 += m
    c7 -= m
    c8 += m
    m = c1 & I32
    c2 += c1 >> I32S
    c4 += m
    c7 += m
    c8 -= m
    c9 += m
    m = c2 & I32
    c3 += c2 >> I32S
    c5 += m
    c8 += m
    c9 -= m
    c10 += m
    m = c3 & I32
    c4 += c3 >> I32S
    c6 += m
    c9 += m
    c10 -= m
    c11 += m
    m = c4 & I32
    c5 += c4 >> I32S
    c7 += m
    c10 += m
    c11 -= m
    c12 += m
    m = c5 & I32
    c6 += c5 >> I32S
    c8 += m
    c11 += m
    c12 -= m
    c13 += m
    m = c6 & I32
    c7 += c6 >> I32S
    c9 += m
    c12 += m
    c13 -= m
    c14 += m
    m = c7 & I32
    c8 += c7 >> I32S
    c10 += m
    c13 += m
    c14 -= m
    c15 += m
    # normalize words 8..15 (signed carries) and pack into 64-bit limbs
    c9 += c8 >> I32S
    c8 &= I32
    c10 += c9 >> I32S
    c9 &= I32
    c11 += c10 >> I32S
    c10 &= I32
    c12 += c11 >> I32S
    c11 &= I32
    c13 += c12 >> I32S
    c12 &= I32
    c14 += c13 >> I32S
    c13 &= I32
    c15 += c14 >> I32S
    c14 &= I32
    top = np.uint64(c15 >> I32S)
    c15 &= I32
    t0 = np.uint64(c8) | (np.uint64(c9) << S32)
    t1 = np.uint64(c10) | (np.uint64(c11) << S32)
    t2 = np.uint64(c12) | (np.uint64(c13) << S32)
    t3 = np.uint64(c14) | (np.uint64(c15) << S32)
    # the value top:t < 2*p; subtract p once unless that borrows (masked select)
    u0, br = sbb(hw, t0, P0, U0)
    u1, br = sbb(hw, t1, P1, br)
    u2, br = sbb(hw, t2, P2, br)
    u3, br = sbb(hw, t3, P3, br)
    keep = U0 - (br & (top ^ U1))
    return ((t0 & keep) | (u0 & ~keep), (t1 & keep) | (u1 & ~keep),
            (t2 & keep) | (u2 & ~keep), (t3 & keep) | (u3 & ~keep))


@njit(cache=True, nogil=True)
def _fp_sqr_w32(hw, a):
    """Montgomery square a*a/2^256 mod p, 32-bit words (36 products instead of 64)."""
    a0 = a[0] & M32
    a1 = a[0] >> S32
    a2 = a[1] & M32
    a3 = a[1] >> S32
    a4 = a[2] & M32
    a5 = a[2] >> S32
    a6 = a[3] & M32
    a7 = a[3] >> S32
    # cross products a_i*a_j (i < j) once, doubled, then the squares
    p = a0 * a1
    c1 = np.int64(p & M32)
    c2 = np.int64(p >> S32)
    p = a0 * a2
    c2 += np.int64(p & M32)
    c3 = np.int64(p >> S32)
    p = a0 * a3
    c3 += np.int64(p & M32)
    c4 = np.int64(p >> S32)
    p = a0 * a4
    c4 += np.int64(p & M32)
    c5 = np.int64(p >> S32)
    p = a0 * a5
    c5 += np.int64(p & M32)
    c6 = np.int64(p >> S32)
    p = a0 * a6
    c6 += np.int64(p & M32)
    c7 = np.int64(p >> S32)
    p = a0 * a7
    c7 += np.int64(p & M32)
    c8 = np.int64(p >> S32)
    p = a1 * a2
    c3 += np.int64(p & M32)
    c4 += np.int64(p >> S32)
    p = a1 * a3
    c4 += np.int64(p & M32)
    c5 += np.int64(p >> S32)
    p = a1 * a4
    c5 += np.int64(p & M32)
    c6 += np.int64(p >> S32)
    p = a1 * a5
    c6 += np.int64(p & M32)
    c7 += np.int64(p >> S32)
    p = a1 * a6
    c7 += np.int64(p & M32)
    c8 += np.int64(p >> S32)
    p = a1 * a7
    c8 += np.int64(p & M32)
    c9 = np.int64(p >> S32)
    p = a2 * a3
    c5 += np.int64(p & M32)
    c6 += np.int64(p >> S32)
    p = a2 * a4
    c6 += np.int64(p & M32)
    c7 += np.int64(p >> S32)
    p = a2 * a5
    c7 += np.int64(p & M32)
    c8 += np.int64(p >> S32)
    p = a2 * a6
    c8 += np.int64(p & M32)
    c9 += np.int64(p >> S32)
    p = a2 * a7
    c9 += np.int64(p & M32)
    c10 = np.int64(p >> S32)
    p = a3 * a4
    c7 += np.int64(p & M32)
    c8 += np.int64(p >> S32)
    p = a3 * a5
    c8 += np.int64(p & M32)
    c9 += np.int64(p >> S32)
    p = a3 * a6
    c9 += np.int64(p & M32)
    c10 += np.int64(p >> S32)
    p = a3 * a7
    c10 += np.int64(p & M32)
    c11 = np.int64(p >> S32)
    p = a4 * a5
    c9 += np.int64(p & M32)
    c10 += np.int64(p >> S32)
    p = a4 * a6
    c10 += np.int64(p & M32)
    c11 += np.int64(p >> S32)
    p = a4 * a7
    c11 += np.int64(p & M32)
    c12 = np.int64(p >> S32)
    p = a5 * a6
    c11 += np.int64(p & M32)
    c12 += np.int64(p >> S32)
    p = a5 * a7
    c12 += np.int64(p & M32)
    c13 = np.int64(p >> S32)
    p = a6 * a7
    c13 += np.int64(p & M32)
    c14 = np.int64(p >> S32)
    c0 = np.int64(0)
    c15 = np.int64(0)
    c0 += c0
    c1 += c1
    c2 += c2
    c3 += c3
    c4 += c4
    c5 += c5
    c6 += c6
    c7 += c7
    c8 += c8
    c9 += c9
    c10 += c10
    c11 += c11
    c12 += c12
    c13 += c13
    c14 += c14
    c15 += c15
    p = a0 * a0
    c0 += np.int64(p & M32)
    c1 += np.int64(p >> S32)
    p = a1 * a1
    c2 += np.int64(p & M32)
    c3 += np.int64(p >> S32)
    p = a2 * a2
    c4 += np.int64(p & M32)
    c5 += np.int64(p >> S32)
    p = a3 * a3
    c6 += np.int64(p & M32)
    c7 += np.int64(p >> S32)
    p = a4 * a4
    c8 += np.int64(p & M32)
    c9 += np.int64(p >> S32)
    p = a5 * a5
    c10 += np.int64(p & M32)
    c11 += np.int64(p >> S32)
    p = a6 * a6
    c12 += np.int64(p & M32)
    c13 += np.int64(p >> S32)
    p = a7 * a7
    c14 += np.int64(p & M32)
    c15 += np.int64(p >> S32)
    # Montgomery reduction, one 32-bit word per round: -p^-1 = 1 mod 2^32, so
    # m = c_i mod 2^32, and m*p = m*(2^256 - 2^224 + 2^192 + 2^96 - 1) touches
    # words i (cancelled), i+3, i+6, i+7 (minus) and i+8: no multiplication.
    m = c0 & I32
    c1 += c0 >> I32S
    c3 += m
    c6 += m
    c7 -= m
    c8 += m
    m = c1 & I32
    c2 += c1 >> I32S
    c4 += m
    c7 += m
    c8 -= m
    c9 += m
    m = c2 & I32
    c3 += c2 >> I32S
    c5 += m
    c8 += m
    c9 -= m
    c10 += m
    m = c3 & I32
    c4 += c3 >> I32S
    c6 += m
    c9 += m
    c10 -= m
    c11 += m
    m = c4 & I32
    c5 += c4 >> I32S
    c7 += m
    c10 += m
    c11 -= m
    c12 += m
    m = c5 & I32
    c6 += c5 >> I32S
    c8 += m
    c11 += m
    c12 -= m
    c13 += m
    m = c6 & I32
    c7 += c6 >> I32S
    c9 += m
    c12 += m
    c13 -= m
    c14 += m
    m = c7 & I32
    c8 += c7 >> I32S
    c10 += m
    c13 += m
    c14 -= m
    c15 += m
    # normalize words 8..15 (signed carries) and pack into 64-bit limbs
    c9 += c8 >> I32S
    c8 &= I32
    c10 += c9 >> I32S
    c9 &= I32
    c11 += c10 >> I32S
    c10 &= I32
    c12 += c11 >> I32S
    c11 &= I32
    c13 += c12 >> I32S
    c12 &= I32
    c14 += c13 >> I32S
    c13 &= I32
    c15 += c14 >> I32S
    c14 &= I32
    top = np.uint64(c15 >> I32S)
    c15 &= I32
    t0 = np.uint64(c8) | (np.uint64(c9) << S32)
    t1 = np.uint64(c10) | (np.uint64(c11) << S32)
    t2 = np.uint64(c12) | (np.uint64(c13) << S32)
    t3 = np.uint64(c14) | (np.uint64(c15) << S32)
    # the value top:t < 2*p; subtract p once unless that borrows (masked select)
    u0, br = sbb(hw, t0, P0, U0)
    u1, br = sbb(hw, t1, P1, br)
    u2, br = sbb(hw, t2, P2, br)
    u3, br = sbb(hw, t3, P3, br)
    keep = U0 - (br & (top ^ U1))
    return ((t0 & keep) | (u0 & ~keep), (t1 & keep) | (u1 & ~keep),
            (t2 & keep) | (u2 & ~keep), (t3 & keep) | (u3 & ~keep))


@njit(cache=True, nogil=True)
def _fn_mul_w32(hw, a, b):
    """Montgomery product a*b/2^256 mod n from 32-bit words (plain Numba)."""
    a0 = a[0] & M32
    a1 = a[0] >> S32
    a2 = a[1] & M32
    a3 = a[1] >> S32
    a4 = a[2] & M32
    a5 = a[2] >> S32
    a6 = a[3] & M32
    a7 = a[3] >> S32
    b0 = b[0] & M32
    b1 = b[0] >> S32
    b2 = b[1] & M32
    b3 = b[1] >> S32
    b4 = b[2] & M32
    b5 = b[2] >> S32
    b6 = b[3] & M32
    b7 = b[3] >> S32
    # product scanning: 32x32->64-bit products, low and high halves summed
    # separately per column (each column < 2^37, in int64)
    p = a0 * b0
    c0 = np.int64(p & M32)
    c1 = np.int64(p >> S32)
    p = a0 * b1
    c1 += np.int64(p & M32)
    c2 = np.int64(p >> S32)
    p = a0 * b2
    c2 += np.int64(p & M32)
    c3 = np.int64(p >> S32)
    p = a0 * b3
    c3 += np.int64(p & M32)
    c4 = np.int64(p >> S32)
    p = a0 * b4
    c4 += np.int64(p & M32)
    c5 = np.int64(p >> S32)
    p = a0 * b5
    c5 += np.int64(p & M32)
    c6 = np.int64(p >> S32)
    p = a0 * b6
    c6 += np.int64(p & M32)
    c7 = np.int64(p >> S32)
    p = a0 * b7
    c7 += np.int64(p & M32)
    c8 = np.int64(p >> S32)
    p = a1 * b0
    c1 += np.int64(p & M32)
    c2 += np.int64(p >> S32)
    p = a1 * b1
    c2 += np.int64(p & M32)
    c3 += np.int64(p >> S32)
    p = a1 * b2
    c3 += np.int64(p & M32)
    c4 += np.int64(p >> S32)
    p = a1 * b3
    c4 += np.int64(p & M32)
    c5 += np.int64(p >> S32)
    p = a1 * b4
    c5 += np.int64(p & M32)
    c6 += np.int64(p >> S32)
    p = a1 * b5
    c6 += np.int64(p & M32)
    c7 += np.int64(p >> S32)
    p = a1 * b6
    c7 += np.int64(p & M32)
    c8 += np.int64(p >> S32)
    p = a1 * b7
    c8 += np.int64(p & M32)
    c9 = np.int64(p >> S32)
    p = a2 * b0
    c2 += np.int64(p & M32)
    c3 += np.int64(p >> S32)
    p = a2 * b1
    c3 += np.int64(p & M32)
    c4 += np.int64(p >> S32)
    p = a2 * b2
    c4 += np.int64(p & M32)
    c5 += np.int64(p >> S32)
    p = a2 * b3
    c5 += np.int64(p & M32)
    c6 += np.int64(p >> S32)
    p = a2 * b4
    c6 += np.int64(p & M32)
    c7 += np.int64(p >> S32)
    p = a2 * b5
    c7 += np.int64(p & M32)
    c8 += np.int64(p >> S32)
    p = a2 * b6
    c8 += np.int64(p & M32)
    c9 += np.int64(p >> S32)
    p = a2 * b7
    c9 += np.int64(p & M32)
    c10 = np.int64(p >> S32)
    p = a3 * b0
    c3 += np.int64(p & M32)
    c4 += np.int64(p >> S32)
    p = a3 * b1
    c4 += np.int64(p & M32)
    c5 += np.int64(p >> S32)
    p = a3 * b2
    c5 += np.int64(p & M32)
    c6 += np.int64(p >> S32)
    p = a3 * b3
    c6 += np.int64(p & M32)
    c7 += np.int64(p >> S32)
    p = a3 * b4
    c7 += np.int64(p & M32)
    c8 += np.int64(p >> S32)
    p = a3 * b5
    c8 += np.int64(p & M32)
    c9 += np.int64(p >> S32)
    p = a3 * b6
    c9 += np.int64(p & M32)
    c10 += np.int64(p >> S32)
    p = a3 * b7
    c10 += np.int64(p & M32)
    c11 = np.int64(p >> S32)
    p = a4 * b0
    c4 += np.int64(p & M32)
    c5 += np.int64(p >> S32)
    p = a4 * b1
    c5 += np.int64(p & M32)
    c6 += np.int64(p >> S32)
    p = a4 * b2
    c6 += np.int64(p & M32)
    c7 += np.int64(p >> S32)
    p = a4 * b3
    c7 += np.int64(p & M32)
    c8 += np.int64(p >> S32)
    p = a4 * b4
    c8 += np.int64(p & M32)
    c9 += np.int64(p >> S32)
    p = a4 * b5
    c9 += np.int64(p & M32)
    c10 += np.int64(p >> S32)
    p = a4 * b6
    c10 += np.int64(p & M32)
    c11 += np.int64(p >> S32)
    p = a4 * b7
    c11 += np.int64(p & M32)
    c12 = np.int64(p >> S32)
    p = a5 * b0
    c5 += np.int64(p & M32)
    c6 += np.int64(p >> S32)
    p = a5 * b1
    c6 += np.int64(p & M32)
    c7 += np.int64(p >> S32)
    p = a5 * b2
    c7 += np.int64(p & M32)
    c8 += np.int64(p >> S32)
    p = a5 * b3
    c8 += np.int64(p & M32)
    c9 += np.int64(p >> S32)
    p = a5 * b4
    c9 += np.int64(p & M32)
    c10 += np.int64(p >> S32)
    p = a5 * b5
    c10 += np.int64(p & M32)
    c11 += np.int64(p >> S32)
    p = a5 * b6
    c11 += np.int64(p & M32)
    c12 += np.int64(p >> S32)
    p = a5 * b7
    c12 += np.int64(p & M32)
    c13 = np.int64(p >> S32)
    p = a6 * b0
    c6 += np.int64(p & M32)
    c7 += np.int64(p >> S32)
    p = a6 * b1
    c7 += np.int64(p & M32)
    c8 += np.int64(p >> S32)
    p = a6 * b2
    c8 += np.int64(p & M32)
    c9 += np.int64(p >> S32)
    p = a6 * b3
    c9 += np.int64(p & M32)
    c10 += np.int64(p >> S32)
    p = a6 * b4
    c10 += np.int64(p & M32)
    c11 += np.int64(p >> S32)
    p = a6 * b5
    c11 += np.int64(p & M32)
    c12 += np.int64(p >> S32)
    p = a6 * b6
    c12 += np.int64(p & M32)
    c13 += np.int64(p >> S32)
    p = a6 * b7
    c13 += np.int64(p & M32)
    c14 = np.int64(p >> S32)
    p = a7 * b0
    c7 += np.int64(p & M32)
    c8 += np.int64(p >> S32)
    p = a7 * b1
    c8 += np.int64(p & M32)
    c9 += np.int64(p >> S32)
    p = a7 * b2
    c9 += np.int64(p & M32)
    c10 += np.int64(p >> S32)
    p = a7 * b3
    c10 += np.int64(p & M32)
    c11 += np.int64(p >> S32)
    p = a7 * b4
    c11 += np.int64(p & M32)
    c12 += np.int64(p >> S32)
    p = a7 * b5
    c12 += np.int64(p & M32)
    c13 += np.int64(p >> S32)
    p = a7 * b6
    c13 += np.int64(p & M32)
    c14 += np.int64(p >> S32)
    p = a7 * b7
    c14 += np.int64(p & M32)
    c15 = np.int64(p >> S32)
    # Montgomery reduction mod n, one 32-bit word per round: m = c_i * (-n^-1) mod 2^32
    m = ((np.uint64(c0) & M32) * NINV32) & M32
    p = m * NW0
    c0 += np.int64(p & M32)
    c1 += (c0 >> I32S) + np.int64(p >> S32)
    p = m * NW1
    c1 += np.int64(p & M32)
    c2 += np.int64(p >> S32)
    p = m * NW2
    c2 += np.int64(p & M32)
    c3 += np.int64(p >> S32)
    p = m * NW3
    c3 += np.int64(p & M32)
    c4 += np.int64(p >> S32)
    p = m * NW4
    c4 += np.int64(p & M32)
    c5 += np.int64(p >> S32)
    p = m * NW5
    c5 += np.int64(p & M32)
    c6 += np.int64(p >> S32)
    p = m * NW6
    c6 += np.int64(p & M32)
    c7 += np.int64(p >> S32)
    p = m * NW7
    c7 += np.int64(p & M32)
    c8 += np.int64(p >> S32)
    m = ((np.uint64(c1) & M32) * NINV32) & M32
    p = m * NW0
    c1 += np.int64(p & M32)
    c2 += (c1 >> I32S) + np.int64(p >> S32)
    p = m * NW1
    c2 += np.int64(p & M32)
    c3 += np.int64(p >> S32)
    p = m * NW2
    c3 += np.int64(p & M32)
    c4 += np.int64(p >> S32)
    p = m * NW3
    c4 += np.int64(p & M32)
    c5 += np.int64(p >> S32)
    p = m * NW4
    c5 += np.int64(p & M32)
    c6 += np.int64(p >> S32)
    p = m * NW5
    c6 += np.int64(p & M32)
    c7 += np.int64(p >> S32)
    p = m * NW6
    c7 += np.int64(p & M32)
    c8 += np.int64(p >> S32)
    p = m * NW7
    c8 += np.int64(p & M32)
    c9 += np.int64(p >> S32)
    m = ((np.uint64(c2) & M32) * NINV32) & M32
    p = m * NW0
    c2 += np.int64(p & M32)
    c3 += (c2 >> I32S) + np.int64(p >> S32)
    p = m * NW1
    c3 += np.int64(p & M32)
    c4 += np.int64(p >> S32)
    p = m * NW2
    c4 += np.int64(p & M32)
    c5 += np.int64(p >> S32)
    p = m * NW3
    c5 += np.int64(p & M32)
    c6 += np.int64(p >> S32)
    p = m * NW4
    c6 += np.int64(p & M32)
    c7 += np.int64(p >> S32)
    p = m * NW5
    c7 += np.int64(p & M32)
    c8 += np.int64(p >> S32)
    p = m * NW6
    c8 += np.int64(p & M32)
    c9 += np.int64(p >> S32)
    p = m * NW7
    c9 += np.int64(p & M32)
    c10 += np.int64(p >> S32)
    m = ((np.uint64(c3) & M32) * NINV32) & M32
    p = m * NW0
    c3 += np.int64(p & M32)
    c4 += (c3 >> I32S) + np.int64(p >> S32)
    p = m * NW1
    c4 += np.int64(p & M32)
    c5 += np.int64(p >> S32)
    p = m * NW2
    c5 += np.int64(p & M32)
    c6 += np.int64(p >> S32)
    p = m * NW3
    c6 += np.int64(p & M32)
    c7 += np.int64(p >> S32)
    p = m * NW4
    c7 += np.int64(p & M32)
    c8 += np.int64(p >> S32)
    p = m * NW5
    c8 += np.int64(p & M32)
    c9 += np.int64(p >> S32)
    p = m * NW6
    c9 += np.int64(p & M32)
    c10 += np.int64(p >> S32)
    p = m * NW7
    c10 += np.int64(p & M32)
    c11 += np.int64(p >> S32)
    m = ((np.uint64(c4) & M32) * NINV32) & M32
    p = m * NW0
    c4 += np.int64(p & M32)
    c5 += (c4 >> I32S) + np.int64(p >> S32)
    p = m * NW1
    c5 += np.int64(p & M32)
    c6 += np.int64(p >> S32)
    p = m * NW2
    c6 += np.int64(p & M32)
    c7 += np.int64(p >> S32)
    p = m * NW3
    c7 += np.int64(p & M32)
    c8 += np.int64(p >> S32)
    p = m * NW4
    c8 += np.int64(p & M32)
    c9 += np.int64(p >> S32)
    p = m * NW5
    c9 += np.int64(p & M32)
    c10 += np.int64(p >> S32)
    p = m * NW6
    c10 += np.int64(p & M32)
    c11 += np.int64(p >> S32)
    p = m * NW7
    c11 += np.int64(p & M32)
    c12 += np.int64(p >> S32)
    m = ((np.uint64(c5) & M32) * NINV32) & M32
    p = m * NW0
    c5 += np.int64(p & M32)
    c6 += (c5 >> I32S) + np.int64(p >> S32)
    p = m * NW1
    c6 += np.int64(p & M32)
    c7 += np.int64(p >> S32)
    p = m * NW2
    c7 += np.int64(p & M32)
    c8 += np.int64(p >> S32)
    p = m * NW3
    c8 += np.int64(p & M32)
    c9 += np.int64(p >> S32)
    p = m * NW4
    c9 += np.int64(p & M32)
    c10 += np.int64(p >> S32)
    p = m * NW5
    c10 += np.int64(p & M32)
    c11 += np.int64(p >> S32)
    p = m * NW6
    c11 += np.int64(p & M32)
    c12 += np.int64(p >> S32)
    p = m * NW7
    c12 += np.int64(p & M32)
    c13 += np.int64(p >> S32)
    m = ((np.uint64(c6) & M32) * NINV32) & M32
    p = m * NW0
    c6 += np.int64(p & M32)
    c7 += (c6 >> I32S) + np.int64(p >> S32)
    p = m * NW1
    c7 += np.int64(p & M32)
    c8 += np.int64(p >> S32)
    p = m * NW2
    c8 += np.int64(p & M32)
    c9 += np.int64(p >> S32)
    p = m * NW3
    c9 += np.int64(p & M32)
    c10 += np.int64(p >> S32)
    p = m * NW4
    c10 += np.int64(p & M32)
    c11 += np.int64(p >> S32)
    p = m * NW5
    c11 += np.int64(p & M32)
    c12 += np.int64(p >> S32)
    p = m * NW6
    c12 += np.int64(p & M32)
    c13 += np.int64(p >> S32)
    p = m * NW7
    c13 += np.int64(p & M32)
    c14 += np.int64(p >> S32)
    m = ((np.uint64(c7) & M32) * NINV32) & M32
    p = m * NW0
    c7 += np.int64(p & M32)
    c8 += (c7 >> I32S) + np.int64(p >> S32)
    p = m * NW1
    c8 += np.int64(p & M32)
    c9 += np.int64(p >> S32)
    p = m * NW2
    c9 += np.int64(p & M32)
    c10 += np.int64(p >> S32)
    p = m * NW3
    c10 += np.int64(p & M32)
    c11 += np.int64(p >> S32)
    p = m * NW4
    c11 += np.int64(p & M32)
    c12 += np.int64(p >> S32)
    p = m * NW5
    c12 += np.int64(p & M32)
    c13 += np.int64(p >> S32)
    p = m * NW6
    c13 += np.int64(p & M32)
    c14 += np.int64(p >> S32)
    p = m * NW7
    c14 += np.int64(p & M32)
    c15 += np.int64(p >> S32)
    # normalize words 8..15 (signed carries) and pack into 64-bit limbs
    c9 += c8 >> I32S
    c8 &= I32
    c10 += c9 >> I32S
    c9 &= I32
    c11 += c10 >> I32S
    c10 &= I32
    c12 += c11 >> I32S
    c11 &= I32
    c13 += c12 >> I32S
    c12 &= I32
    c14 += c13 >> I32S
    c13 &= I32
    c15 += c14 >> I32S
    c14 &= I32
    top = np.uint64(c15 >> I32S)
    c15 &= I32
    t0 = np.uint64(c8) | (np.uint64(c9) << S32)
    t1 = np.uint64(c10) | (np.uint64(c11) << S32)
    t2 = np.uint64(c12) | (np.uint64(c13) << S32)
    t3 = np.uint64(c14) | (np.uint64(c15) << S32)
    # the value top:t < 2*n; subtract n once unless that borrows (masked select)
    u0, br = sbb(hw, t0, N0, U0)
    u1, br = sbb(hw, t1, N1, br)
    u2, br = sbb(hw, t2, N2, br)
    u3, br = sbb(hw, t3, N3, br)
    keep = U0 - (br & (top ^ U1))
    return ((t0 & keep) | (u0 & ~keep), (t1 & keep) | (u1 & ~keep),
            (t2 & keep) | (u2 & ~keep), (t3 & keep) | (u3 & ~keep))


# --------------------------------------------------------------------------
# Tier dispatch of the field and scalar multiplications.
# --------------------------------------------------------------------------


def fp_mul(hw, a, b):  # pragma: no cover - replaced by the overload in compiled code
    raise NotImplementedError


def fp_sqr(hw, a):  # pragma: no cover
    raise NotImplementedError


def fn_mul(hw, a, b):  # pragma: no cover
    raise NotImplementedError


@overload(fp_mul)
def _ol_fp_mul(hw, a, b):
    if _is_hw(hw):
        return lambda hw, a, b: _fp_mul_cios(hw, a, b)
    return lambda hw, a, b: _fp_mul_w32(hw, a, b)


@overload(fp_sqr)
def _ol_fp_sqr(hw, a):
    if _is_hw(hw):
        return lambda hw, a: _fp_mul_cios(hw, a, a)
    return lambda hw, a: _fp_sqr_w32(hw, a)


@overload(fn_mul)
def _ol_fn_mul(hw, a, b):
    if _is_hw(hw):
        return lambda hw, a, b: _fn_mul_cios(hw, a, b)
    return lambda hw, a, b: _fn_mul_w32(hw, a, b)


# --------------------------------------------------------------------------
# Field and scalar helpers (all branch-free).
# --------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def sel(mask, a, b):
    """mask ? a : b limb-wise, mask all-ones or zero."""
    nm = ~mask
    return ((a[0] & mask) | (b[0] & nm), (a[1] & mask) | (b[1] & nm),
            (a[2] & mask) | (b[2] & nm), (a[3] & mask) | (b[3] & nm))


@njit(cache=True, nogil=True)
def _add_mod(hw, a, b, m0, m1, m2, m3):
    s0, c = adc(hw, a[0], b[0], U0)
    s1, c = adc(hw, a[1], b[1], c)
    s2, c = adc(hw, a[2], b[2], c)
    s3, c = adc(hw, a[3], b[3], c)
    u0, br = sbb(hw, s0, m0, U0)
    u1, br = sbb(hw, s1, m1, br)
    u2, br = sbb(hw, s2, m2, br)
    u3, br = sbb(hw, s3, m3, br)
    keep = U0 - (br & (c ^ U1))
    return sel(keep, (s0, s1, s2, s3), (u0, u1, u2, u3))


@njit(cache=True, nogil=True)
def _sub_mod(hw, a, b, m0, m1, m2, m3):
    d0, br = sbb(hw, a[0], b[0], U0)
    d1, br = sbb(hw, a[1], b[1], br)
    d2, br = sbb(hw, a[2], b[2], br)
    d3, br = sbb(hw, a[3], b[3], br)
    mask = U0 - br
    d0, c = adc(hw, d0, m0 & mask, U0)
    d1, c = adc(hw, d1, m1 & mask, c)
    d2, c = adc(hw, d2, m2 & mask, c)
    d3, c = adc(hw, d3, m3 & mask, c)
    return (d0, d1, d2, d3)


@njit(cache=True, nogil=True)
def fp_add(hw, a, b):
    return _add_mod(hw, a, b, P0, P1, P2, P3)


@njit(cache=True, nogil=True)
def fp_sub(hw, a, b):
    return _sub_mod(hw, a, b, P0, P1, P2, P3)


@njit(cache=True, nogil=True)
def fn_add(hw, a, b):
    return _add_mod(hw, a, b, N0, N1, N2, N3)


@njit(cache=True, nogil=True)
def fp_inv(hw, a):
    """a^(p-2) (Fermat) for a in Montgomery form; 255 squarings and 12
    multiplications in a fixed chain, so constant time. p - 2 in binary is
    1^32 0^31 1 0^96 1^94 0 1; x_k below is a^(2^k - 1). Returns 0 for 0.
    (The squaring runs are loops over a table of run lengths rather than calls
    with constant counts, which Numba would compile once per constant.)"""
    x2 = fp_mul(hw, fp_sqr(hw, a), a)
    x3 = fp_mul(hw, fp_sqr(hw, x2), a)
    t = x3
    for _ in range(3):
        t = fp_sqr(hw, t)
    x6 = fp_mul(hw, t, x3)
    t = x6
    for _ in range(6):
        t = fp_sqr(hw, t)
    x12 = fp_mul(hw, t, x6)
    t = x12
    for _ in range(3):
        t = fp_sqr(hw, t)
    x15 = fp_mul(hw, t, x3)
    t = x15
    for _ in range(15):
        t = fp_sqr(hw, t)
    x30 = fp_mul(hw, t, x15)
    t = fp_sqr(hw, fp_sqr(hw, x30))
    x32 = fp_mul(hw, t, x2)
    # r = x32 * 2^32 + 1, then 96 zeros, then 94 ones (32 + 32 + 30), then 01.
    r = x32
    for step in range(6):
        n = CHAIN_RUNS[step]
        for _ in range(n):
            r = fp_sqr(hw, r)
        if step == 0 or step == 5:
            r = fp_mul(hw, r, a)
        elif step == 2 or step == 3:
            r = fp_mul(hw, r, x32)
        elif step == 4:
            r = fp_mul(hw, r, x30)
    return r


@njit(cache=True, nogil=True)
def fn_inv(hw, a):
    """a^(n-2) mod n (Fermat) for a in Montgomery form mod n: fixed 4-bit
    windows over the public exponent, 256 squarings and 64 multiplications
    for every input (constant time; the table index is the exponent's)."""
    tbl = np.empty((16, 4), dtype=np.uint64)
    tbl[0, 0] = ONEN0
    tbl[0, 1] = ONEN1
    tbl[0, 2] = ONEN2
    tbl[0, 3] = ONEN3
    prev = (ONEN0, ONEN1, ONEN2, ONEN3)
    for j in range(1, 16):
        prev = fn_mul(hw, prev, a)
        tbl[j, 0] = prev[0]
        tbl[j, 1] = prev[1]
        tbl[j, 2] = prev[2]
        tbl[j, 3] = prev[3]
    r = (ONEN0, ONEN1, ONEN2, ONEN3)
    for i in range(63, -1, -1):
        for _ in range(4):
            r = fn_mul(hw, r, r)
        w = (NM2[i >> 4] >> np.uint64(4 * (i & 15))) & NIB
        r = fn_mul(hw, r, (tbl[w, 0], tbl[w, 1], tbl[w, 2], tbl[w, 3]))
    return r


@njit(cache=True, nogil=True)
def is_zero(a):
    return (a[0] | a[1] | a[2] | a[3]) == U0


@njit(cache=True, nogil=True)
def nonzero_mask(a):
    """All-ones if a != 0 else 0, without a branch."""
    x = a[0] | a[1] | a[2] | a[3]
    return U0 - ((x | (U0 - x)) >> S63)


@njit(cache=True, nogil=True)
def lt_mask(hw, a, m0, m1, m2, m3):
    """All-ones if a < m (limb-wise borrow chain), else 0."""
    _, br = sbb(hw, a[0], m0, U0)
    _, br = sbb(hw, a[1], m1, br)
    _, br = sbb(hw, a[2], m2, br)
    _, br = sbb(hw, a[3], m3, br)
    return U0 - br


@njit(cache=True, nogil=True)
def reduce_once_n(hw, a):
    """a mod n for a < 2^256 (< 2n), branch-free."""
    u0, br = sbb(hw, a[0], N0, U0)
    u1, br = sbb(hw, a[1], N1, br)
    u2, br = sbb(hw, a[2], N2, br)
    u3, br = sbb(hw, a[3], N3, br)
    return sel(U0 - br, a, (u0, u1, u2, u3))


@njit(cache=True, nogil=True)
def to_mont_p(hw, a):
    return fp_mul(hw, a, (R2P0, R2P1, R2P2, R2P3))


@njit(cache=True, nogil=True)
def from_mont_p(hw, a):
    return fp_mul(hw, a, (U1, U0, U0, U0))


@njit(cache=True, nogil=True)
def to_mont_n(hw, a):
    return fn_mul(hw, a, (R2N0, R2N1, R2N2, R2N3))


@njit(cache=True, nogil=True)
def from_mont_n(hw, a):
    return fn_mul(hw, a, (U1, U0, U0, U0))


@njit(cache=True, nogil=True)
def _load64(buf, o):
    v = U0
    for j in range(8):
        v = (v << S8) | np.uint64(buf[o + j])
    return v


@njit(cache=True, nogil=True)
def load_be(buf, o):
    """32 big-endian bytes of buf at o as 4 little-endian uint64 limbs."""
    return (_load64(buf, o + 24), _load64(buf, o + 16), _load64(buf, o + 8), _load64(buf, o))


@njit(cache=True, nogil=True)
def store_be(out, o, a):
    for li in range(4):
        v = a[li]
        base = o + 8 * (3 - li)
        for j in range(7, -1, -1):
            out[base + j] = np.uint8(v & np.uint64(0xFF))
            v = v >> S8


# --------------------------------------------------------------------------
# Jacobian point arithmetic, a = -3 (coordinates in Montgomery form).
# --------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def pt_dbl(hw, X, Y, Z):
    """dbl-2001-b: 3M + 5S. Doubling infinity (Z = 0) gives Z3 = 0."""
    delta = fp_sqr(hw, Z)
    gamma = fp_sqr(hw, Y)
    beta = fp_mul(hw, X, gamma)
    t = fp_mul(hw, fp_sub(hw, X, delta), fp_add(hw, X, delta))
    alpha = fp_add(hw, t, fp_add(hw, t, t))
    b2 = fp_add(hw, beta, beta)
    b4 = fp_add(hw, b2, b2)
    X3 = fp_sub(hw, fp_sqr(hw, alpha), fp_add(hw, b4, b4))
    Z3 = fp_sub(hw, fp_sub(hw, fp_sqr(hw, fp_add(hw, Y, Z)), gamma), delta)
    g = fp_sqr(hw, gamma)
    g2 = fp_add(hw, g, g)
    g4 = fp_add(hw, g2, g2)
    Y3 = fp_sub(hw, fp_mul(hw, alpha, fp_sub(hw, b4, X3)), fp_add(hw, g4, g4))
    return X3, Y3, Z3


@njit(cache=True, nogil=True)
def pt_madd(hw, X1, Y1, Z1, x2, y2):
    """madd-2007-bl: (X1:Y1:Z1) + (x2, y2), 7M + 4S. Exceptional cases
    (either input infinity, equal or opposite points) give garbage; callers
    handle them (with masks in constant time, or branches when public).
    Also returns H and r so variable-time callers can detect them."""
    z1z1 = fp_sqr(hw, Z1)
    u2 = fp_mul(hw, x2, z1z1)
    s2 = fp_mul(hw, y2, fp_mul(hw, Z1, z1z1))
    h = fp_sub(hw, u2, X1)
    hh = fp_sqr(hw, h)
    i2 = fp_add(hw, hh, hh)
    i = fp_add(hw, i2, i2)
    j = fp_mul(hw, h, i)
    rr = fp_sub(hw, s2, Y1)
    r = fp_add(hw, rr, rr)
    v = fp_mul(hw, X1, i)
    X3 = fp_sub(hw, fp_sub(hw, fp_sqr(hw, r), j), fp_add(hw, v, v))
    yj = fp_mul(hw, Y1, j)
    Y3 = fp_sub(hw, fp_mul(hw, r, fp_sub(hw, v, X3)), fp_add(hw, yj, yj))
    Z3 = fp_sub(hw, fp_sub(hw, fp_sqr(hw, fp_add(hw, Z1, h)), z1z1), hh)
    return X3, Y3, Z3, h, rr


@njit(cache=True, nogil=True)
def pt_add_vt(hw, X1, Y1, Z1, X2, Y2, Z2):
    """add-2007-bl, 11M + 5S, with the exceptional cases handled by branches
    (variable time: for public points only)."""
    if is_zero(Z1):
        return X2, Y2, Z2
    if is_zero(Z2):
        return X1, Y1, Z1
    z1z1 = fp_sqr(hw, Z1)
    z2z2 = fp_sqr(hw, Z2)
    u1 = fp_mul(hw, X1, z2z2)
    u2 = fp_mul(hw, X2, z1z1)
    s1 = fp_mul(hw, Y1, fp_mul(hw, Z2, z2z2))
    s2 = fp_mul(hw, Y2, fp_mul(hw, Z1, z1z1))
    h = fp_sub(hw, u2, u1)
    rr = fp_sub(hw, s2, s1)
    if is_zero(h):
        if is_zero(rr):
            return pt_dbl(hw, X1, Y1, Z1)
        return (U0, U0, U0, U0), (U0, U0, U0, U0), (U0, U0, U0, U0)
    h2 = fp_add(hw, h, h)
    i = fp_sqr(hw, h2)
    j = fp_mul(hw, h, i)
    r = fp_add(hw, rr, rr)
    v = fp_mul(hw, u1, i)
    X3 = fp_sub(hw, fp_sub(hw, fp_sqr(hw, r), j), fp_add(hw, v, v))
    sj = fp_mul(hw, s1, j)
    Y3 = fp_sub(hw, fp_mul(hw, r, fp_sub(hw, v, X3)), fp_add(hw, sj, sj))
    zz = fp_sub(hw, fp_sub(hw, fp_sqr(hw, fp_add(hw, Z1, Z2)), z1z1), z2z2)
    Z3 = fp_mul(hw, zz, h)
    return X3, Y3, Z3


@njit(cache=True, nogil=True)
def pt_madd_vt(hw, X1, Y1, Z1, x2, y2):
    """(X1:Y1:Z1) + (x2, y2) with every case handled by branches (public data)."""
    one = (ONEP0, ONEP1, ONEP2, ONEP3)
    if is_zero(Z1):
        return x2, y2, one
    X3, Y3, Z3, h, rr = pt_madd(hw, X1, Y1, Z1, x2, y2)
    if is_zero(h):
        if is_zero(rr):
            return pt_dbl(hw, x2, y2, one)
        return (U0, U0, U0, U0), (U0, U0, U0, U0), (U0, U0, U0, U0)
    return X3, Y3, Z3


@njit(cache=True, nogil=True)
def to_affine(hw, X, Y, Z):
    """Affine (x, y) in Montgomery form; constant time (Fermat inversion)."""
    zi = fp_inv(hw, Z)
    zi2 = fp_sqr(hw, zi)
    return fp_mul(hw, X, zi2), fp_mul(hw, Y, fp_mul(hw, zi2, zi))


# --------------------------------------------------------------------------
# Scalar multiplication.
# --------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def lookup_ct(table, i, d):
    """Entry d (0..32) of row i of the fixed-base table, reading all 33
    entries and keeping one with masks (constant time in d). Entry 0 is zero."""
    x0 = x1 = x2 = x3 = y0 = y1 = y2 = y3 = U0
    for j in range(ENTRIES):
        m = U0 - (((d ^ np.uint64(j)) - U1) >> S63)
        x0 |= table[i, j, 0] & m
        x1 |= table[i, j, 1] & m
        x2 |= table[i, j, 2] & m
        x3 |= table[i, j, 3] & m
        y0 |= table[i, j, 4] & m
        y1 |= table[i, j, 5] & m
        y2 |= table[i, j, 6] & m
        y3 |= table[i, j, 7] & m
    return (x0, x1, x2, x3), (y0, y1, y2, y3)


@njit(cache=True, nogil=True)
def booth_digit(k, i):
    """Signed digit i of k in radix 2^6 (Booth recoding): from the 7 bits
    v = k[6i-1 .. 6i+5] (bit -1 = 0), digit = (v >> 1) + (v & 1) - 64*(v >> 6),
    in [-32, 32]. Returns (|digit|, all-ones if digit < 0 else 0), computed
    without branches on k (the branches below depend on i only). Summed over
    the 43 windows, digit_i * 2^(6i) gives k back for k < 2^256."""
    pos = 6 * i - 1
    if pos < 0:
        v = (k[0] << U1) & np.uint64(0x7F)
    else:
        limb = pos >> 6
        off = pos & 63
        v = k[limb] >> np.uint64(off)
        if off > 57 and limb < 3:
            v |= k[limb + 1] << np.uint64(64 - off)
        v &= np.uint64(0x7F)
    u = (v >> U1) + (v & U1)
    neg = U0 - (v >> np.uint64(6))
    mag = ((np.uint64(64) - u) & neg) | (u & ~neg)
    return mag, neg


@njit(cache=True, nogil=True)
def fixed_base_ct(hw, table, k):
    """k*G for 1 <= k < n, Jacobian, constant time.

    table[i, j] holds j * 2^(6i) * G (j = 0..32) in affine Montgomery
    coordinates, so k*G = sum_i sign_i * table[i, |d_i|] over the 43 Booth
    digits d_i of k: 43 mixed additions and no doubling. The partial sum
    before window i is an integer A with |A| < 2^(6i-1) <= |d_i| 2^(6i), and
    for k in [1, n-1] no partial sum is congruent to +-d_i 2^(6i) mod n (the
    top window, where 2^(6i) * 32 exceeds n, needs k >= n for that), so the
    only special cases are a zero digit and an accumulator still at infinity,
    both resolved with masks; negation of y is a masked select too."""
    one = (ONEP0, ONEP1, ONEP2, ONEP3)
    zero = (U0, U0, U0, U0)
    X = zero
    Y = zero
    Z = zero
    inf = ALL1
    for i in range(ROWS):
        d, neg = booth_digit(k, i)
        x2, y2 = lookup_ct(table, i, d)
        y2 = sel(neg, fp_sub(hw, zero, y2), y2)
        X3, Y3, Z3, _, _ = pt_madd(hw, X, Y, Z, x2, y2)
        dz = U0 - ((d - U1) >> S63)  # all-ones iff d == 0
        X3 = sel(inf, x2, X3)
        Y3 = sel(inf, y2, Y3)
        Z3 = sel(inf, one, Z3)
        X = sel(dz, X, X3)
        Y = sel(dz, Y, Y3)
        Z = sel(dz, Z, Z3)
        inf = inf & dz
    return X, Y, Z


@njit(cache=True, nogil=True)
def wnaf5(k):
    """Width-5 NAF digits of k (little-endian, odd digits in [-15, 15])."""
    w = np.zeros(5, dtype=np.uint64)
    w[0] = k[0]
    w[1] = k[1]
    w[2] = k[2]
    w[3] = k[3]
    naf = np.zeros(258, dtype=np.int64)
    i = 0
    while (w[0] | w[1] | w[2] | w[3] | w[4]) != U0:
        if w[0] & U1:
            d = np.int64(w[0] & np.uint64(31))
            if d >= 16:
                d -= 32
            naf[i] = d
            if d > 0:
                c = np.uint64(d)
                for li in range(5):
                    t = w[li]
                    w[li] = t - c
                    c = U1 if t < c else U0
            else:
                c = np.uint64(-d)
                for li in range(5):
                    t = w[li] + c
                    c = U1 if t < c else U0
                    w[li] = t
        for li in range(4):
            w[li] = (w[li] >> U1) | (w[li + 1] << S63)
        w[4] = w[4] >> U1
        i += 1
    return naf, i


@njit(cache=True, nogil=True)
def double_scalar_vt(hw, table, u1, u2, qx, qy):
    """u1*G + u2*Q (Jacobian; Z = 0 at infinity), variable time, for
    verification: u2*Q by width-5 NAF over 8 odd multiples of Q, then the
    43 Booth digits of u1 added from the fixed-base table (no doublings)."""
    one = (ONEP0, ONEP1, ONEP2, ONEP3)
    zero = (U0, U0, U0, U0)
    odd = np.empty((8, 12), dtype=np.uint64)
    DX, DY, DZ = pt_dbl(hw, qx, qy, one)
    X, Y, Z = qx, qy, one
    for j in range(8):
        if j:
            X, Y, Z = pt_add_vt(hw, X, Y, Z, DX, DY, DZ)
        for li in range(4):
            odd[j, li] = X[li]
            odd[j, 4 + li] = Y[li]
            odd[j, 8 + li] = Z[li]
    naf, top = wnaf5(u2)
    X, Y, Z = zero, zero, zero
    for i in range(top - 1, -1, -1):
        if not is_zero(Z):
            X, Y, Z = pt_dbl(hw, X, Y, Z)
        d = naf[i]
        if d != 0:
            e = (d if d > 0 else -d) >> 1
            ex = (odd[e, 0], odd[e, 1], odd[e, 2], odd[e, 3])
            ey = (odd[e, 4], odd[e, 5], odd[e, 6], odd[e, 7])
            ez = (odd[e, 8], odd[e, 9], odd[e, 10], odd[e, 11])
            if d < 0:
                ey = fp_sub(hw, zero, ey)
            X, Y, Z = pt_add_vt(hw, X, Y, Z, ex, ey, ez)
    for i in range(ROWS):
        d, neg = booth_digit(u1, i)
        if d != U0:
            x2 = (table[i, d, 0], table[i, d, 1], table[i, d, 2], table[i, d, 3])
            y2 = (table[i, d, 4], table[i, d, 5], table[i, d, 6], table[i, d, 7])
            if neg:
                y2 = fp_sub(hw, zero, y2)
            X, Y, Z = pt_madd_vt(hw, X, Y, Z, x2, y2)
    return X, Y, Z


# --------------------------------------------------------------------------
# Entry points called from Python (bytes in, uint8 arrays out).
# --------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def field_mul_loop(hw, buf, count):
    """a * b^count mod p by `count` Montgomery multiplications; buf = a || b
    (32-byte big-endian each, both < p). Returns 32 bytes."""
    acc = to_mont_p(hw, load_be(buf, 0))
    b = to_mont_p(hw, load_be(buf, 32))
    for _ in range(count):
        acc = fp_mul(hw, acc, b)
    out = np.empty(32, dtype=np.uint8)
    store_be(out, 0, from_mont_p(hw, acc))
    return out


@njit(cache=True, nogil=True)
def scalar_inv_core(hw, buf):
    """k^-1 mod n for buf = k (32 bytes, 1 <= k < n). Constant time."""
    k = to_mont_n(hw, load_be(buf, 0))
    out = np.empty(32, dtype=np.uint8)
    store_be(out, 0, from_mont_n(hw, fn_inv(hw, k)))
    return out


@njit(cache=True, nogil=True)
def fixed_base_core(hw, table, buf):
    """Affine k*G for buf = k (32 bytes, 1 <= k < n) as x || y (64 bytes).
    Constant time."""
    k = load_be(buf, 0)
    X, Y, Z = fixed_base_ct(hw, table, k)
    x, y = to_affine(hw, X, Y, Z)
    out = np.empty(64, dtype=np.uint8)
    store_be(out, 0, from_mont_p(hw, x))
    store_be(out, 32, from_mont_p(hw, y))
    return out


@njit(cache=True, nogil=True)
def double_scalar_core(hw, table, buf):
    """u1*G + u2*Q for buf = u1 || u2 || qx || qy (32 bytes each, u1 and u2
    reduced mod n, Q on the curve). Returns x || y || flag (65 bytes), flag 1
    at infinity. Variable time."""
    u1 = load_be(buf, 0)
    u2 = load_be(buf, 32)
    qx = to_mont_p(hw, load_be(buf, 64))
    qy = to_mont_p(hw, load_be(buf, 96))
    X, Y, Z = double_scalar_vt(hw, table, u1, u2, qx, qy)
    out = np.zeros(65, dtype=np.uint8)
    if is_zero(Z):
        out[64] = 1
        return out
    x, y = to_affine(hw, X, Y, Z)
    store_be(out, 0, from_mont_p(hw, x))
    store_be(out, 32, from_mont_p(hw, y))
    return out


@njit(cache=True, nogil=True)
def sign_core(hw, table, buf):
    """ECDSA signature (SEC 1 §4.1.3 steps 1-6) for buf = d || k || e
    (32-byte big-endian each; d in [1, n-1], e the SHA-256 digest).

    Returns r || s || status (65 bytes): status 0 ok, 1 when k is not in
    [1, n-1] (the caller draws the next RFC 6979 candidate), 2 when r = 0,
    3 when s = 0. The k range check, k*G, the inversions and the arithmetic
    mod n are constant time; only the status is branched on."""
    d = load_be(buf, 0)
    k = load_be(buf, 32)
    e = load_be(buf, 64)
    out = np.zeros(65, dtype=np.uint8)
    ok = lt_mask(hw, k, N0, N1, N2, N3) & nonzero_mask(k)
    if ok == U0:
        out[64] = 1
        return out
    X, Y, Z = fixed_base_ct(hw, table, k)
    zi = fp_inv(hw, Z)
    x = from_mont_p(hw, fp_mul(hw, X, fp_sqr(hw, zi)))
    r = reduce_once_n(hw, x)
    if is_zero(r):  # r is public
        out[64] = 2
        return out
    kinv = fn_inv(hw, to_mont_n(hw, k))                     # k^-1 * R
    rd = fn_mul(hw, r, to_mont_n(hw, d))                   # r * d
    t = fn_add(hw, reduce_once_n(hw, e), rd)               # e + r*d
    s = fn_mul(hw, kinv, t)                                # k^-1 (e + r*d)
    if is_zero(s):  # s is public
        out[64] = 3
        return out
    store_be(out, 0, r)
    store_be(out, 32, s)
    return out


@njit(cache=True, nogil=True)
def verify_core(hw, table, buf):
    """SEC 1 §4.1.4 steps 4-8 for buf = qx || qy || e || r || s (32-byte
    big-endian each; Q validated, r and s in [1, n-1] checked by the caller).
    True when the signature is valid. Variable time (public data only)."""
    qx = to_mont_p(hw, load_be(buf, 0))
    qy = to_mont_p(hw, load_be(buf, 32))
    e = reduce_once_n(hw, load_be(buf, 64))
    r = load_be(buf, 96)
    s = load_be(buf, 128)
    w = fn_inv(hw, to_mont_n(hw, s))                       # s^-1 * R
    u1 = fn_mul(hw, e, w)                                  # e / s
    u2 = fn_mul(hw, r, w)                                  # r / s
    X, Y, Z = double_scalar_vt(hw, table, u1, u2, qx, qy)
    if is_zero(Z):
        return False
    # x(R) mod n == r  <=>  X == r' * Z^2 for r' in {r, r + n} with r' < p.
    z2 = fp_sqr(hw, Z)
    if fp_mul(hw, to_mont_p(hw, r), z2) == X:
        return True
    r2, c = adc(hw, r[0], N0, U0)
    r3, c = adc(hw, r[1], N1, c)
    r4, c = adc(hw, r[2], N2, c)
    r5, c = adc(hw, r[3], N3, c)
    rn = (r2, r3, r4, r5)
    if c == U0 and lt_mask(hw, rn, P0, P1, P2, P3) != U0:
        return fp_mul(hw, to_mont_p(hw, rn), z2) == X
    return False


# --------------------------------------------------------------------------
# The fixed-base table (built in Python with big integers, once).
# --------------------------------------------------------------------------


def build_table() -> np.ndarray:
    """table[i, j] = j * 2^(6i) * G (affine, Montgomery form: x*2^256 mod p in
    limbs 0-3, y in limbs 4-7) for i < 43, j <= 32; entry j = 0 is all zero.
    Plain Python integers (affine addition with modular inverses), ~10 ms."""
    from cryptobench.kernels._ecdsa_common import GX, GY, P

    def add(p1, p2):
        if p1 is None:
            return p2
        (x1, y1), (x2, y2) = p1, p2
        if x1 == x2:
            if (y1 + y2) % P == 0:
                return None
            lam = (3 * x1 * x1 - 3) * pow(2 * y1, -1, P) % P
        else:
            lam = (y2 - y1) * pow(x2 - x1, -1, P) % P
        x3 = (lam * lam - x1 - x2) % P
        return x3, (lam * (x1 - x3) - y1) % P

    R = 1 << 256
    table = np.zeros((ROWS, ENTRIES, 8), dtype=np.uint64)
    base = (GX, GY)
    for i in range(ROWS):
        acc = None
        for j in range(1, ENTRIES):
            acc = add(acc, base)
            x, y = acc
            xm, ym = x * R % P, y * R % P
            for li in range(4):
                table[i, j, li] = (xm >> (64 * li)) & _M64
                table[i, j, 4 + li] = (ym >> (64 * li)) & _M64
        base = add(acc, acc)  # 64 * 2^(6i) * G = 2 * (32 * 2^(6i) * G)
    table.setflags(write=False)
    return table
