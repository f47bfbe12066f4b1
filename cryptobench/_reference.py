"""Slow, obviously-correct reference semantics for the hot paths.

Used by ``verify`` and the tests to check hot paths that the openssl backend
does not expose (GHASH, P-256 field and group arithmetic). Written for
clarity, not speed, and not constant-time: never benchmarked.
"""

from __future__ import annotations

from cryptobench.kernels._ecdsa_common import A, GX, GY, N, P

_R = 0xE1 << 120  # the GCM reduction constant R = 11100001 || 0^120 (SP 800-38D §6.3)


def gf128_mul(x: int, y: int) -> int:
    """X • Y in GF(2^128) with GCM's bit order (SP 800-38D §6.3, Algorithm 1)."""
    z, v = 0, y
    for i in range(127, -1, -1):
        if (x >> i) & 1:
            z ^= v
        v = (v >> 1) ^ _R if v & 1 else v >> 1
    return z


def gf128_inv(x: int) -> int:
    """X^-1 in GF(2^128) (x != 0) as X^(2^128 - 2)."""
    result, base, e = 1 << 127, x, (1 << 128) - 2  # 1 << 127 is the field's 1 in GCM's bit order
    while e:
        if e & 1:
            result = gf128_mul(result, base)
        base = gf128_mul(base, base)
        e >>= 1
    return result


def gcm_iv_for_j0(h: bytes, j0: bytes) -> bytes:
    """A 16-byte IV whose pre-counter block J0 is ``j0`` under hash key ``h``.

    For a 128-bit IV, SP 800-38D §7.1 gives J0 = GHASH_H(IV || 0^64 || [128]_64)
    = ((IV • H) ⊕ L) • H with L the length block, which is solved for IV. Lets a
    check put J0's low 32 bits at the inc32 wrap, which random IVs reach with
    probability about 2^-32 per block."""
    hi = int.from_bytes(h, "big")
    hinv = gf128_inv(hi)
    length = 128  # 0^64 || [len(IV) in bits]_64
    return gf128_mul(gf128_mul(int.from_bytes(j0, "big"), hinv) ^ length, hinv).to_bytes(16, "big")


def ghash(h: bytes, data: bytes) -> bytes:
    """GHASH_H(X) of SP 800-38D §6.4; len(data) must be a multiple of 16."""
    if len(data) % 16:
        raise ValueError("GHASH input must be a multiple of 16 bytes")
    hi = int.from_bytes(h, "big")
    y = 0
    for i in range(0, len(data), 16):
        y = gf128_mul(y ^ int.from_bytes(data[i : i + 16], "big"), hi)
    return y.to_bytes(16, "big")


def field_mul(a: int, b: int, count: int) -> int:
    """a · b^count mod p (the shape of the ``field-mul`` hot path)."""
    return a * pow(b, count, P) % P


def scalar_inv(k: int) -> int:
    return pow(k, -1, N)


Point = tuple[int, int] | None  # None is the point at infinity


def point_add(p1: Point, p2: Point) -> Point:
    """Affine addition on y^2 = x^3 - 3x + b (SEC 1 §2.2.1)."""
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    x1, y1 = p1
    x2, y2 = p2
    if x1 == x2:
        if (y1 + y2) % P == 0:
            return None
        lam = (3 * x1 * x1 + A) * pow(2 * y1, -1, P) % P
    else:
        lam = (y2 - y1) * pow(x2 - x1, -1, P) % P
    x3 = (lam * lam - x1 - x2) % P
    return x3, (lam * (x1 - x3) - y1) % P


def scalar_mul(k: int, pt: Point) -> Point:
    """k · pt by double-and-add (variable time)."""
    result: Point = None
    addend = pt
    k %= N
    while k:
        if k & 1:
            result = point_add(result, addend)
        addend = point_add(addend, addend)
        k >>= 1
    return result


G: Point = (GX, GY)


def double_scalar_mul(u1: int, u2: int, q: Point) -> Point:
    return point_add(scalar_mul(u1, G), scalar_mul(u2, q))


def _gf256_mul(a: int, b: int) -> int:
    """a · b in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1 (FIPS 197 §4.2)."""
    z = 0
    while b:
        if b & 1:
            z ^= a
        a = (a << 1) ^ 0x11B if a & 0x80 else a << 1
        b >>= 1
    return z


def _aes_sbox() -> list[int]:
    """FIPS 197 §5.1.1: the multiplicative inverse (0 -> 0), then the affine map."""
    box = []
    for x in range(256):
        inv = next((y for y in range(1, 256) if _gf256_mul(x, y) == 1), 0) if x else 0
        s = inv
        for i in range(1, 5):
            s ^= ((inv << i) | (inv >> (8 - i))) & 0xFF
        box.append(s ^ 0x63)
    return box


_SBOX: list[int] = []


def aes_key_expansion(key: bytes) -> list[bytes]:
    """The Nr + 1 round keys of FIPS 197 §5.2 (KeyExpansion), each 16 bytes."""
    if not _SBOX:
        _SBOX[:] = _aes_sbox()
    nk = len(key) // 4
    if len(key) not in (16, 24, 32):
        raise ValueError("AES keys are 16, 24 or 32 bytes")
    nr = nk + 6
    w = [bytes(key[4 * i : 4 * i + 4]) for i in range(nk)]
    rcon = 1
    for i in range(nk, 4 * (nr + 1)):
        t = w[i - 1]
        if i % nk == 0:
            t = bytes((_SBOX[t[1]] ^ rcon, _SBOX[t[2]], _SBOX[t[3]], _SBOX[t[0]]))  # SubWord(RotWord(t)) xor Rcon
            rcon = _gf256_mul(rcon, 2)
        elif nk > 6 and i % nk == 4:
            t = bytes(_SBOX[b] for b in t)
        w.append(bytes(a ^ b for a, b in zip(w[i - nk], t)))
    return [b"".join(w[4 * r : 4 * r + 4]) for r in range(nr + 1)]
