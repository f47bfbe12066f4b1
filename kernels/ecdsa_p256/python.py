"""ECDSA P-256 with SHA-256 in pure Python (standard library only), built for speed.

Follows FIPS 186-4 §6 (ECDSA) with SEC 1 v2 §4.1.3 (signing) and §4.1.4
(verification) on the curve P-256 (FIPS 186-4 §D.1.2.3, y^2 = x^3 - 3x + b).
Nonces come from RFC 6979 §3.2 (deterministic, HMAC-SHA256) unless the caller
gives k (the CAVP SigGen vectors). The nonce, DER, point parsing, the message
representative and the range checks are the shared ones in
``cryptobench.kernels._ecdsa_common``.

**Not constant-time.** Python integers take time that depends on their
values, and this code branches on, and indexes tables with, digits of the
secret scalars. It exists to be measured, never to protect a key; the
kernel's ``constant_time`` flag is False.

How it is fast (all variable-time):

- Field GF(p): plain Python ints, one ``% p`` per product (two products
  share one reduction where the formula allows). CPython's 30-bit-digit
  multiply and divide make a reduced product cost about 0.25-0.3 us, so
  everything below is about doing fewer of them.
- Points in Jacobian coordinates (X, Y, Z) <-> (X/Z^2, Y/Z^3). Doubling uses
  a = -3 (3M + 5S, "dbl-2001-b" of the Explicit-Formulas Database); adding an
  affine point is a mixed addition (8M + 3S, "madd"). A scalar
  multiplication ends with one ``pow(Z, -1, p)`` (SEC 1 §2.2.1 in Jacobian
  form); verification needs none. Infinity never arises in the fast loops
  except through an exceptional addition (a point added to itself or to its
  negative); that is detected (H = 0, or equal x in an affine pair) and the
  whole multiplication is redone with complete, slow formulas.
- Fixed base k*G (signing, key generation, half of verification): a k above
  n/2 is replaced by n - k and the result negated (one subtraction; signing,
  which needs only x, skips even that), so k < 2^255. Signed fixed windows of
  ``_W`` = 15 bits over a table of affine points
  T[i][j] = j * 2^(15 i) * G, j = 1..16384, i = 0..16
  (1..32768 in the top window, whose digit is unsigned; 294 912 points
  stored as one flat list of coordinates per window: 43 MB of ints, and the
  process grows by 57 MB while building it). No doublings: of
  the (at most 17) window terms, the first two are added affine + affine into
  Jacobian form and the rest accumulated with at most 15 mixed additions
  (signing skips Y in the last one: it needs only x). The table is built once,
  with one batched inversion per window: ``Kernel.prepare`` (1.9-2.2 s), or
  lazily on first use. The folding saves an addition three times in four (18
  windows of signed digits gave 17.75 terms on average for random k): signing
  1,024 distinct messages in a plain loop took 89.0-94.2 us (median of five
  runs 91.4) against 92.7-95.7 us (93.9) without it, and callgrind counts 2.5%
  fewer instructions per signature (2026-11-28). Lookups for different
  messages miss the cache, yet smaller tables are slower still: before the
  folding, the same loop took 98-99 us with 15-bit windows, 102-105 us with
  13- or 14-bit ones (15 MB and 0.5 s to build at 13 bits) and 112 us with
  12-bit ones (2026-11-28). Reading a signature's digits first and fetching
  all its entries in one ``operator.itemgetter`` call, so that the processor
  overlaps the misses, took 1.4% off signing different messages and added 2%
  to signing one (2026-11-28): not kept.
- Signing is then bounded by things this design cannot shrink: two modular
  inversions, Z for x(R) and k^-1 mod n, 11-12 us each (2026-11-28) with
  ``pow(x, -1, m)``, and about 170 reduced products (0.3-0.37 us each in
  these loops) for k*G. One inversion modulo p*n in place of the two costs
  more than both (26-28 us against 22-24 us). Adding the terms in pairs in
  affine coordinates first (one batched inversion) does the same work and
  measured slower here (k*G for random k 66-67 us against 68-69.5, 2026-11-27).
- u1*G + u2*Q (verification): width-5 wNAF of u2 over the odd multiples
  Q, 3Q, ..., 15Q (co-Z additions, Meloni's ZADDU), about 256 doublings and
  43 mixed additions; the u1*G terms are added in pairs in affine
  coordinates (chord rule) and the pair sums into the same accumulator. One
  batched inversion (Montgomery's trick) makes both the odd multiples and
  the pair sums affine, so the pairing costs no inversion of its own. The
  final check compares X with r*Z^2 (and (r+n)*Z^2 when r + n < p), so it
  needs no field inversion, only s^-1 mod n.
  Nothing is cached per public key: every verify pays its whole cost.
  The 256 doublings (about 2.4 us each) are about two thirds of it. The
  half-size-scalar trick (Antipa et al., SAC 2005: check v*R - w*Q =
  (v u1)*G with v, w of 128 bits) was considered and not used: with only
  r known, R needs a square root (about 70 us) and its sign of y is
  unknown, and the two signs need different interleaved sums (v*R - w*Q
  and v*R + w*Q), so a failing check costs two 128-doubling passes.
"""

from __future__ import annotations

import secrets

from cryptobench._locks import ChildSafeLock
from cryptobench.errors import InvalidInput, InvalidSignature
from cryptobench.kernels._aead_common import check_bytes
from cryptobench.kernels._ecdsa_common import (
    GX,
    GY,
    N,
    P,
    check_count,
    check_int,
    check_q,
    check_private_scalar,
    check_rs,
    check_scalar,
    decode_der,
    decode_point,
    encode_der,
    encode_point,
    message_representative,
    rfc6979_candidates,
)
from cryptobench.registry import Kernel

# ----------------------------------------------------------------- parameters

#: Window width of the fixed-base table (signed digits in (-2^(W-1), 2^(W-1)]).
_W = 15
_HALF = 1 << (_W - 1)
_FULL = 1 << _W
_MASK = _FULL - 1
#: Scalars above n/2 are folded: k*G = -((n - k)*G), so the table only ever
#: sees k < n/2 < 2^255, whose 255 bits fill 17 windows of 15.
_NHALF = N >> 1
_NWIN = (255 + _W - 1) // _W
#: Entries of the top window. Its digit is unsigned (no carry out of it): the
#: bits of k above the lower windows plus their carry, at most 2^15 for W = 15.
_TOP = (((1 << 255) - 1) >> (_W * (_NWIN - 1))) + 1

#: wNAF width for the variable point of verification (odd multiples 1..15).
_WNAF = 5

_INF = (1, 1, 0)  # Jacobian point at infinity for the slow generic routines


class _Exceptional(Exception):
    """A fast-path addition met P + P or P + (-P); redo with complete formulas."""


# ------------------------------------------------- slow, complete group law
# Used to build the table and as the fallback for exceptional additions. Any
# Jacobian triple with Z == 0 is the point at infinity.


def _jdouble(X: int, Y: int, Z: int) -> tuple[int, int, int]:
    """2*(X, Y, Z) for a = -3 (dbl-2001-b); P-256 has no point of order 2."""
    if not Z:
        return _INF
    delta = Z * Z % P
    gamma = Y * Y % P
    beta = X * gamma % P
    alpha = 3 * (X - delta) * (X + delta) % P
    X3 = (alpha * alpha - 8 * beta) % P
    Z3 = 2 * Y * Z % P
    Y3 = (alpha * (4 * beta - X3) - 8 * gamma * gamma) % P
    return X3, Y3, Z3


def _jadd(p1: tuple[int, int, int], p2: tuple[int, int, int]) -> tuple[int, int, int]:
    """p1 + p2 in Jacobian coordinates, every case handled (add-2007-bl shape)."""
    X1, Y1, Z1 = p1
    X2, Y2, Z2 = p2
    if not Z1:
        return p2
    if not Z2:
        return p1
    Z1Z1 = Z1 * Z1 % P
    Z2Z2 = Z2 * Z2 % P
    U1 = X1 * Z2Z2 % P
    U2 = X2 * Z1Z1 % P
    S1 = Y1 * Z2 * Z2Z2 % P
    S2 = Y2 * Z1 * Z1Z1 % P
    H = (U2 - U1) % P
    R = (S2 - S1) % P
    if not H:
        return _jdouble(X1, Y1, Z1) if not R else _INF
    HH = H * H % P
    HHH = H * HH % P
    V = U1 * HH % P
    X3 = (R * R - HHH - 2 * V) % P
    Y3 = (R * (V - X3) - S1 * HHH) % P
    Z3 = Z1 * Z2 * H % P
    return X3, Y3, Z3


def _jmul(k: int, pt: tuple[int, int, int]) -> tuple[int, int, int]:
    """k*pt by plain double-and-add with complete formulas (slow fallback)."""
    acc = _INF
    for bit in bin(k % N)[2:]:
        acc = _jdouble(*acc)
        if bit == "1":
            acc = _jadd(acc, pt)
    return acc


def _to_affine(X: int, Y: int, Z: int) -> tuple[int, int] | None:
    if not Z:
        return None
    zi = pow(Z, -1, P)
    zi2 = zi * zi % P
    return X * zi2 % P, Y * zi2 % P * zi % P


def _batch_affine(points: list[tuple[int, int, int]]) -> list[tuple[int, int]]:
    """Affine forms of Jacobian points (none at infinity) with one inversion
    (Montgomery's simultaneous-inversion trick)."""
    prefix = []
    acc = 1
    for _, _, Z in points:
        prefix.append(acc)
        acc = acc * Z % P
    inv = pow(acc, -1, P)
    out: list[tuple[int, int]] = [(0, 0)] * len(points)
    for i in range(len(points) - 1, -1, -1):
        X, Y, Z = points[i]
        zi = inv * prefix[i] % P
        inv = inv * Z % P
        zi2 = zi * zi % P
        out[i] = (X * zi2 % P, Y * zi2 % P * zi % P)
    return out


# ----------------------------------------------------------- fixed-base table

_TABLES: list[list[int]] | None = None
_TABLE_LOCK = ChildSafeLock()  # a fork during another thread's build left the child waiting forever


def _build_tables() -> list[list[int]]:
    """T[i][j] = j * 2^(W i) * G (affine) for j = 1.._HALF (1.._TOP in the
    last window), stored flat to save memory: window i is the list
    [0, 0, x(T[i][1]), y(T[i][1]), x(T[i][2]), ...], so digit d reads
    entries 2d and 2d + 1."""
    p = P
    tables = []
    bx, by = GX, GY
    for i in range(_NWIN):
        m = _HALF if i < _NWIN - 1 else _TOP
        jac = [(bx, by, 1)]
        if m >= 2:
            jac.append(_jdouble(bx, by, 1))
        X, Y, Z = jac[-1]
        for _ in range(3, m + 1):
            # madd (X, Y, Z) + B; (j-1)*B = +-B never happens for 3 <= j <= 2^W < n
            z1z1 = Z * Z % p
            H = bx * z1z1 % p - X
            R = by * (Z * z1z1 % p) % p - Y
            HH = H * H % p
            HHH = H * HH % p
            V = X * HH % p
            X = (R * R - HHH - V - V) % p
            Y = (R * (V - X) - Y * HHH) % p
            Z = Z * H % p
            jac.append((X, Y, Z))
        aff = _batch_affine(jac)
        row = [0, 0]
        for x, y in aff:
            row.append(x)
            row.append(y)
        tables.append(row)
        if i < _NWIN - 1:
            hx, hy = aff[_HALF - 1]  # 2^(W-1) * B; double it for the next base
            bx, by = _batch_affine([_jdouble(hx, hy, 1)])[0]
    return tables


def _tables() -> list[list[int]]:
    global _TABLES
    t = _TABLES
    if t is None:
        with _TABLE_LOCK:
            if _TABLES is None:
                _TABLES = _build_tables()
            t = _TABLES
    return t


def prepare() -> dict[str, int]:
    """Build the fixed-base table once (timed apart by the harness)."""
    tables = _tables()
    return {
        "window_bits": _W,
        "windows": len(tables),
        "table_points": sum(len(t) // 2 - 1 for t in tables),
    }


# ------------------------------------------------------------------ fast paths


def _inv_many(vals: list[int]) -> list[int]:
    """1/v mod p for every v (all nonzero mod p) with one inversion
    (Montgomery's simultaneous-inversion trick, 3 multiplications each)."""
    p = P
    pref = []
    acc = 1
    for v in vals:
        pref.append(acc)
        acc = acc * v % p
    inv = pow(acc, -1, p)
    out = [0] * len(vals)
    for i in range(len(vals) - 1, -1, -1):
        out[i] = inv * pref[i] % p
        inv = inv * vals[i] % p
    return out


def _g_terms(k: int) -> tuple[list[int], list[int], bool]:
    """Affine points whose sum is k'*G, as parallel lists of x and y, and
    whether k*G is its negative: k' = k if k <= n/2, else n - k (0 <= k < n).
    The terms are sign(d_i) * T[i][|d_i|] for the 2^W-ary digits d_i of k',
    signed in (-2^(W-1), 2^(W-1)] except the unsigned top one, zeros skipped."""
    tables = _TABLES or _tables()
    neg = k > _NHALF
    if neg:
        k = N - k
    p = P
    half = _HALF
    full2 = 2 * _FULL
    mask = _MASK
    w = _W
    xs: list[int] = []
    ys: list[int] = []
    for tab in tables[:-1]:
        d = k & mask
        k >>= w
        if d > half:
            k += 1
            j = full2 - d - d
            xs.append(tab[j])
            ys.append(p - tab[j + 1])
        elif d:
            xs.append(tab[d + d])
            ys.append(tab[d + d + 1])
    if k:
        tab = tables[-1]
        xs.append(tab[k + k])
        ys.append(tab[k + k + 1])
    return xs, ys, neg


def _pair_dx(xs: list[int]) -> list[int]:
    """x2 - x1 for the pairs (0, 1), (2, 3), ... of the terms.
    Raises _Exceptional if a pair is P, P or P, -P."""
    dxs = [xs[i + 1] - xs[i] for i in range(0, len(xs) - 1, 2)]
    if 0 in dxs:
        raise _Exceptional
    return dxs


def _pair_sums(xs: list[int], ys: list[int], invs: list[int], at: int) -> list[tuple[int, int]]:
    """Affine sums of the pairs of terms (SEC 1 §2.2.1 chord rule) given the
    inverses of their dx at invs[at:]; an odd last term is passed through."""
    p = P
    out = []
    j = at
    for i in range(0, len(xs) - 1, 2):
        x1 = xs[i]
        y1 = ys[i]
        x2 = xs[i + 1]
        lam = (ys[i + 1] - y1) * invs[j] % p
        j += 1
        x3 = (lam * lam - x1 - x2) % p
        out.append((x3, (lam * (x1 - x3) - y1) % p))
    if len(xs) & 1:
        out.append((xs[-1], ys[-1]))
    return out


def _madd_all(X, Y, Z, pts: list[tuple[int, int]]):
    """(X, Y, Z) + sum(pts) by mixed additions (madd, 8M + 3S); X is None for
    infinity. Raises _Exceptional on P + P or P + (-P)."""
    p = P
    for x2, y2 in pts:
        if X is None:
            X, Y, Z = x2, y2, 1
            continue
        z1z1 = Z * Z % p
        H = x2 * z1z1 % p - X
        R = y2 * (Z * z1z1 % p) % p - Y
        if not H:
            raise _Exceptional
        HH = H * H % p
        HHH = H * HH % p
        V = X * HH % p
        X = (R * R - HHH - V - V) % p
        Y = (R * (V - X) - Y * HHH) % p
        Z = Z * H % p
    return X, Y, Z


def _fixed_base_jac(k: int, want_y: bool = True):
    """k*G (0 <= k < n) as a Jacobian triple, (None, None, None) for k = 0;
    with want_y False the Y returned is None (signing needs only x).

    The first two window terms are added affine + affine into Jacobian form
    (Z = H, 6 multiplications), the rest accumulated with mixed additions
    (madd, 11), the last one skipping Y when it is not wanted. No inversion:
    pairing the terms in affine first (one batched inversion of its own, as
    verification does where that inversion is shared) measured 1% slower for
    a repeated k and 4% for random ones. Raises _Exceptional (the caller
    falls back).
    """
    xs, ys, neg = _g_terms(k)
    t = len(xs)
    if t < 2:
        if not t:
            return None, None, None
        return xs[0], (P - ys[0] if neg else ys[0]), 1
    p = P
    X, Y = xs[0], ys[0]
    # affine + affine -> Jacobian (madd with Z1 = 1)
    H = xs[1] - X
    if not H:
        raise _Exceptional
    R = ys[1] - Y
    HH = H * H % p
    HHH = H * HH % p
    V = X * HH % p
    X = (R * R - HHH - V - V) % p
    Y = (R * (V - X) - Y * HHH) % p
    Z = H % p
    last = t - 1
    for j in range(2, t):
        z1z1 = Z * Z % p
        H = xs[j] * z1z1 % p - X
        R = ys[j] * (Z * z1z1 % p) % p - Y
        if not H:
            raise _Exceptional
        HH = H * H % p
        HHH = H * HH % p
        V = X * HH % p
        X = (R * R - HHH - V - V) % p
        if j < last or want_y:
            Y = (R * (V - X) - Y * HHH) % p
        else:
            Y = None
        Z = Z * H % p
    if neg and Y is not None:
        Y = p - Y  # k*G = -(k'*G)
    return X, Y, Z


def _odd_multiples_jac(qx: int, qy: int) -> list[tuple[int, int, int]]:
    """[3Q, 5Q, ..., 15Q] in Jacobian coordinates, each with its own Z.

    2Q by one doubling, then Q rescaled to 2Q's Z and the chain Q + 2Q,
    3Q + 2Q, ... by co-Z additions (Meloni's ZADDU, 5M + 2S each), which keep
    2Q on the same Z as the running sum. Never exceptional: jQ = +-2Q would
    need j = +-2 mod n.
    """
    p = P
    dX, dY, Z = _jdouble(qx, qy, 1)
    zz = Z * Z % p
    X1, Y1 = qx * zz % p, qy * zz % p * Z % p  # Q with 2Q's Z
    out = []
    for _ in range((1 << (_WNAF - 2)) - 1):
        # ZADDU((dX, dY, Z), (X1, Y1, Z)): the sum -> (X1, Y1, Z), 2Q updated to the new Z
        t = X1 - dX
        A = t * t % p
        B = dX * A % p
        C = X1 * A % p
        u = Y1 - dY
        X3 = (u * u - B - C) % p
        CB = C - B
        Y1 = (u * (B - X3) - dY * CB) % p
        X1 = X3
        Z = Z * t % p
        dX, dY = B, dY * CB % p
        out.append((X1, Y1, Z))
    return out


def _wnaf(k: int) -> list[tuple[int, int]]:
    """Width-5 NAF of k > 0 as (bit position, odd digit in [-15, 15]), low first."""
    out = []
    pos = 0
    while k:
        if k & 1:
            d = k & 31
            if d > 16:
                d -= 32
            k = (k - d) >> 5
            out.append((pos, d))
            pos += 5
        else:
            tz = (k & -k).bit_length() - 1
            k >>= tz
            pos += tz
    return out


def _double_scalar_jac(u1: int, u2: int, qx: int, qy: int):
    """u1*G + u2*Q (u1, u2 in [0, n)) as a Jacobian triple, (None, ...) for
    an empty sum; raises _Exceptional (the caller falls back).

    One batched inversion serves both the odd multiples of Q and the affine
    pair sums of the fixed-base terms of u1.
    """
    if not u2:
        return _fixed_base_jac(u1)
    p = P
    qjac = _odd_multiples_jac(qx, qy)
    gxs, gys, gneg = _g_terms(u1)
    dxs = _pair_dx(gxs)
    nq = len(qjac)
    invs = _inv_many([z for _, _, z in qjac] + dxs)
    qtab = [(0, 0), (qx, qy)] + [(0, 0)] * (2 * nq)
    for i, (X, Y, _) in enumerate(qjac):
        zi = invs[i]
        zi2 = zi * zi % p
        qtab[2 * i + 3] = (X * zi2 % p, Y * zi2 % p * zi % p)
    gpts = _pair_sums(gxs, gys, invs, nq)

    naf = _wnaf(u2)
    pos, d = naf[-1]
    if d > 0:
        X, Y = qtab[d]
    else:
        X, Y = qtab[-d]
        Y = p - Y
    Z = 1
    for i in range(len(naf) - 2, -1, -1):
        npos, d = naf[i]
        for _ in range(pos - npos):
            # dbl-2001-b with a = -3: 3M + 5S
            delta = Z * Z % p
            gamma = Y * Y % p
            beta = X * gamma % p
            alpha = 3 * (X - delta) * (X + delta) % p
            Z = (Y + Y) * Z % p
            X = (alpha * alpha - (beta << 3)) % p
            Y = (alpha * ((beta << 2) - X) - ((gamma * gamma) << 3)) % p
        pos = npos
        if d > 0:
            x2, y2 = qtab[d]
        else:
            x2, y2 = qtab[-d]
            y2 = p - y2
        # madd, 8M + 3S
        z1z1 = Z * Z % p
        H = x2 * z1z1 % p - X
        R = y2 * (Z * z1z1 % p) % p - Y
        if not H:
            raise _Exceptional
        HH = H * H % p
        HHH = H * HH % p
        V = X * HH % p
        X = (R * R - HHH - V - V) % p
        Y = (R * (V - X) - Y * HHH) % p
        Z = Z * H % p
    for _ in range(pos):
        delta = Z * Z % p
        gamma = Y * Y % p
        beta = X * gamma % p
        alpha = 3 * (X - delta) * (X + delta) % p
        Z = (Y + Y) * Z % p
        X = (alpha * alpha - (beta << 3)) % p
        Y = (alpha * ((beta << 2) - X) - ((gamma * gamma) << 3)) % p
    if not gneg:
        return _madd_all(X, Y, Z, gpts)
    # the terms sum to -(u1*G): acc + u1*G = -((-acc) + terms)
    X, Y, Z = _madd_all(X, p - Y, Z, gpts)
    return X, p - Y, Z


def _fixed_base_mul(k: int) -> tuple[int, int, int]:
    """k*G in Jacobian form (Z == 0 at infinity), any int k."""
    k %= N
    try:
        X, Y, Z = _fixed_base_jac(k)
    except _Exceptional:
        return _jmul(k, (GX, GY, 1))
    return _INF if X is None else (X, Y, Z)


def _double_scalar_mul(u1: int, u2: int, qx: int, qy: int) -> tuple[int, int, int]:
    """u1*G + u2*Q in Jacobian form (Z == 0 at infinity), any ints u1, u2."""
    u1 %= N
    u2 %= N
    try:
        X, Y, Z = _double_scalar_jac(u1, u2, qx, qy)
    except _Exceptional:
        return _jadd(_jmul(u1, (GX, GY, 1)), _jmul(u2, (qx, qy, 1)))
    return _INF if X is None else (X, Y, Z)


# ------------------------------------------------------------------ ECDSA

def _sign(d: int, e: int, k: int) -> tuple[int, int] | None:
    """(r, s) for private d, message representative e and nonce k in [1, n-1]
    (SEC 1 §4.1.3 steps 1-6); None when this k gives r = 0 or s = 0."""
    try:
        X, _, Z = _fixed_base_jac(k, False)  # k in [1, n-1]: never infinity
    except _Exceptional:
        X, _, Z = _jmul(k, (GX, GY, 1))
    zi = pow(Z, -1, P)
    r = X * (zi * zi % P) % P % N
    if not r:
        return None
    s = pow(k, -1, N) * (e + r * d) % N
    return (r, s) if s else None


class PublicKey:
    """A validated P-256 point (SEC 1 §3.2.2.1: on the curve, not infinity;
    the cofactor is 1 so that is the whole check)."""

    __slots__ = ("_x", "_y", "encoded")

    def __init__(self, x: int, y: int, encoded: bytes | None = None) -> None:
        self._x = x
        self._y = y
        self.encoded = encoded if encoded is not None else encode_point(x, y)

    def verify(self, message, signature) -> None:
        """Verify a DER signature (strict DER; SEC 1 §4.1.4); raise InvalidSignature."""
        check_bytes(message=message, signature=signature)
        r, s = decode_der(signature)
        self.verify_raw(message, r, s)

    def verify_raw(self, message, r, s) -> None:
        """SEC 1 §4.1.4: r, s in [1, n-1]; R = u1*G + u2*Q; accept iff R != O
        and x(R) mod n == r."""
        check_bytes(message=message)
        check_rs(r, s)
        e = message_representative(message)
        w = pow(s, -1, N)
        X, _, Z = _double_scalar_mul(e * w % N, r * w % N, self._x, self._y)
        if not Z:
            raise InvalidSignature("signature did not verify")
        # x(R) = X / Z^2 and x(R) mod n == r  <=>  X == r Z^2 or X == (r + n) Z^2 (mod p)
        zz = Z * Z % P
        if X == r * zz % P:
            return
        if r + N < P and X == (r + N) * zz % P:
            return
        raise InvalidSignature("signature did not verify")


class PrivateKey:
    """A private scalar d in [1, n-1] and its public point d*G (computed at once)."""

    __slots__ = ("_d", "_x", "_pub")

    def __init__(self, d: int) -> None:
        self._d = d
        self._x = d.to_bytes(32, "big")  # int2octets(d) for RFC 6979
        X, Y, Z = _fixed_base_mul(d)  # d in [1, n-1], so never infinity
        self._pub = PublicKey(*_batch_affine([(X, Y, Z)])[0])

    def sign(self, message) -> bytes:
        """DER signature over SHA-256(message) with the RFC 6979 nonce."""
        r, s = self.sign_raw(message)
        return encode_der(r, s)

    def sign_raw(self, message, k=None) -> tuple[int, int]:
        """(r, s); k is the RFC 6979 nonce unless given (an int in [1, n-1])."""
        check_bytes(message=message)
        if k is not None:
            if isinstance(k, bool) or not isinstance(k, int):
                raise TypeError(f"k must be an int, not {type(k).__name__}")
            if not 1 <= k < N:
                raise InvalidInput("k must be in [1, n-1]")
        e = message_representative(message)
        if k is not None:
            rs = _sign(self._d, e, k)
            if rs is None:
                raise InvalidInput("this k gives r = 0 or s = 0; choose another k")
            return rs
        for t in rfc6979_candidates(self._x, e):  # RFC 6979 §3.4: next candidate on r or s = 0
            k = int.from_bytes(t, "big")
            if 1 <= k < N:
                rs = _sign(self._d, e, k)
                if rs is not None:
                    return rs
        raise AssertionError("unreachable")  # the candidates never end

    def public_key(self) -> PublicKey:
        return self._pub


class ECDSA:
    """ECDSA P-256 / SHA-256, pure Python, variable-time (see the module docstring)."""

    supports_given_k = True

    def private_key(self, d) -> PrivateKey:
        return PrivateKey(check_private_scalar(d))

    def public_key(self, sec1) -> PublicKey:
        x, y = decode_point(sec1)
        return PublicKey(x, y, bytes(sec1))

    def generate(self) -> PrivateKey:
        return PrivateKey(secrets.randbelow(N - 1) + 1)


# ------------------------------------------------------------------ hot paths


def _setup_field_mul():
    def field_mul(a: int, b: int, count: int, *, p: int = P) -> int:  # p: P as a fast local, not a caller's modulus
        """a * b^count mod p by `count` successive multiplications."""
        a = check_int("a", a) % p
        b = check_int("b", b) % p
        for _ in range(check_count(count)):
            a = a * b % p
        return a

    return field_mul


def _setup_fixed_base():
    """k*G from the fixed-base table (built here if prepare has not run)."""
    _tables()

    def fixed_base_mul(k: int) -> tuple[int, int]:
        return _to_affine(*_fixed_base_mul(check_scalar("k", k)))  # type: ignore[return-value]

    return fixed_base_mul


def _setup_double_scalar(q):
    """u1*G + u2*Q exactly as verification computes it: the odd multiples of Q
    are recomputed on every call (nothing per-Q is cached), so the time per
    call is the time verify spends on the group arithmetic."""
    qx, qy = check_q(q)
    _tables()

    def double_scalar_mul(u1: int, u2: int) -> tuple[int, int] | None:
        return _to_affine(*_double_scalar_mul(check_int("u1", u1), check_int("u2", u2), qx, qy))

    return double_scalar_mul


def _setup_scalar_inv():
    def scalar_inv(k: int, *, n: int = N) -> int:
        return pow(check_scalar("k", k), -1, n)

    return scalar_inv


def register(reg) -> None:
    reg.add(
        Kernel(
            algorithm="ecdsa-p256-sha256",
            backend="python",
            available=True,
            constant_time=False,
            path=f"jacobian-fixedwin{_W}-wnaf{_WNAF}",
            impl=ECDSA(),
            hot_paths={
                "field-mul": _setup_field_mul,
                "fixed-base-mul": _setup_fixed_base,
                "double-scalar-mul": _setup_double_scalar,
                "scalar-inv": _setup_scalar_inv,
            },
            prepare=prepare,
            description=(
                f"pure Python big ints: Jacobian a=-3, {_W}-bit signed fixed-base table, "
                f"wNAF-{_WNAF} (variable-time)"
            ),
        )
    )
