"""ECDSA P-256 with SHA-256 in Numba: two tiers, ``numba-portable`` and ``numba-hw``.

The compiled arithmetic lives in :mod:`._numba_p256` (imported, and compiled,
only on first use; importing this module needs neither numba nor a compiler).
Both tiers keep field elements and scalars as 4 x 64-bit limbs in Montgomery
form (R = 2^256) and share everything above the multiplication:

- ``numba-portable`` multiplies from 8 x 32-bit words by product scanning in
  plain uint64/int64 arithmetic (every 32x32 product fits 64 bits), with a
  multiplication-free Montgomery reduction for p's special form; it relies on
  no CPU-specific instruction;
- ``numba-hw`` runs unrolled CIOS Montgomery multiplication whose 64x64->128
  products and carry chains are LLVM i128 (``numba.extending.intrinsic``), so
  LLVM emits MULX/ADC on the host CPU. It is registered as available only
  where the CPU has BMI2 and ADX (``cryptobench.native.missing``, which also
  honours ``CRYPTOBENCH_NATIVE_DISABLE``).

What runs where (FIPS 186-4 §6.4; SEC 1 §4.1.3 signing, §4.1.4 verification):

- Python: argument checks, SHA-256 of the message, strict DER and SEC 1 point
  decoding and range checks (:mod:`.._ecdsa_common`), and the RFC 6979 §3.2
  nonce. The nonce is HMAC-DRBG in Python (``_ecdsa_common.rfc6979_candidates``
  with ``constant_time=True``: ``hmac.digest``, OpenSSL's HMAC) and stays
  bytes: each candidate goes to compiled code as bytes, where the range check
  1 <= k < n is done with masks, so the secret k never becomes a Python int. A candidate out of range, or one giving
  r = 0 or s = 0, makes the signer take the next (RFC 6979 §3.4).
- Compiled: k*G by a fixed-base comb (43 precomputed rows of 32 affine
  multiples j * 2^(6i) * G, one mixed addition per signed radix-2^6 Booth
  digit, no doublings), read with full-row masked lookups and a masked
  negation; Fermat inversions mod p and mod n; the arithmetic mod n for
  s = k^-1 (e + r*d). Verification computes
  u1*G + u2*Q with width-5 NAF for Q plus the fixed-base rows for G
  (variable time: public data only).

Constant time: yes for signing and key derivation, in the sense that no branch
or memory index depends on d or k in this code (masked selects and table
scans; LLVM is trusted not to reintroduce branches). The private scalar d is
converted from the caller's Python int once, when the key is created. The
``fixed-base-mul`` and ``scalar-inv`` hot paths take Python ints, whose
conversion is not constant time; they measure the same compiled code.
Verification and ``double-scalar-mul`` are variable time.
"""

from __future__ import annotations

import hashlib
import importlib.util
import secrets
from typing import Any, Callable, Mapping

from cryptobench._locks import ChildSafeLock
from cryptobench.errors import InvalidInput, InvalidSignature
from cryptobench.kernels._aead_common import check_bytes
from cryptobench.kernels._ecdsa_common import (
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
    rfc6979_candidates,
)
from cryptobench.registry import Kernel

ALGORITHM = "ecdsa-p256-sha256"
_HAVE_NUMBA = importlib.util.find_spec("numba") is not None

_lock = ChildSafeLock()  # unheld in a forked child (cryptobench._locks)
_mod: Any = None
_table: Any = None


def _load() -> tuple[Any, Any]:
    """The compiled module and the shared fixed-base table (built once)."""
    global _mod, _table
    if _table is None:
        with _lock:
            if _table is None:
                from cryptobench.kernels.ecdsa_p256 import _numba_p256 as mod

                _mod = mod
                _table = mod.build_table()
    return _mod, _table


class _Tier:
    """One tier: its tag (uint8 portable, uint16 hw) picks the specialization."""

    def __init__(self, hw: bool) -> None:
        self.hw = hw

    def get(self) -> tuple[Any, Any, Any]:
        mod, table = _load()
        return mod, table, (mod.HW if self.hw else mod.PORTABLE)

    def prepare(self) -> Mapping[str, Any]:
        """Compile (or load from Numba's cache) every entry point of this tier
        and build the table; return the dispatchers' cache statistics."""
        mod, table, tag = self.get()
        g = 7 * 2**200 + 12345
        kb = g.to_bytes(32, "big")
        xy = bytes(mod.fixed_base_core(tag, table, kb))
        mod.field_mul_loop(tag, kb + kb, 2)
        mod.scalar_inv_core(tag, kb)
        mod.double_scalar_core(tag, table, kb + kb + xy)
        sig = bytes(mod.sign_core(tag, table, kb + kb + kb))
        mod.verify_core(tag, table, xy + kb + sig[:64])
        return _cache_stats(mod, tag)


def _cache_stats(mod: Any, tag: Any) -> dict[str, int]:
    """Cache hits and misses of every dispatcher specialized for this tier
    (first argument of the tier's tag type). Helpers that take no tag (table
    lookup, byte loads) are shared by both tiers and not counted."""
    from numba import typeof
    from numba.core.registry import CPUDispatcher

    tagtype = typeof(tag)
    hits = misses = 0
    for obj in vars(mod).values():
        if isinstance(obj, CPUDispatcher):
            st = obj.stats
            hits += sum(v for sig, v in st.cache_hits.items() if sig and sig[0] == tagtype)
            misses += sum(v for sig, v in st.cache_misses.items() if sig and sig[0] == tagtype)
    return {"cache_hits": hits, "cache_misses": misses}


class PublicKey:
    __slots__ = ("_tier", "_xy", "encoded")

    def __init__(self, tier: _Tier, encoded: bytes) -> None:
        self._tier = tier
        self.encoded = encoded
        self._xy = encoded[1:]

    def verify(self, message, signature) -> None:
        check_bytes(message=message, signature=signature)
        r, s = decode_der(signature)
        self.verify_raw(message, r, s)

    def verify_raw(self, message, r, s) -> None:
        check_bytes(message=message)
        check_rs(r, s)
        mod, table, tag = self._tier.get()
        buf = self._xy + hashlib.sha256(message).digest() + r.to_bytes(32, "big") + s.to_bytes(32, "big")
        if not mod.verify_core(tag, table, buf):
            raise InvalidSignature("signature did not verify")


class PrivateKey:
    __slots__ = ("_tier", "_d", "_pub")

    def __init__(self, tier: _Tier, d: int) -> None:
        self._tier = tier
        self._d = d.to_bytes(32, "big")
        self._pub: PublicKey | None = None

    def sign(self, message) -> bytes:
        return encode_der(*self.sign_raw(message))

    def sign_raw(self, message, k=None) -> tuple[int, int]:
        check_bytes(message=message)
        if k is not None:
            if isinstance(k, bool) or not isinstance(k, int):
                raise TypeError(f"k must be an int, not {type(k).__name__}")
            if not 1 <= k < N:
                raise InvalidInput("k must be in [1, n-1]")
        mod, table, tag = self._tier.get()
        digest = hashlib.sha256(message).digest()
        if k is not None:
            out = mod.sign_core(tag, table, self._d + k.to_bytes(32, "big") + digest)
            if out[64]:
                raise InvalidInput("this k gives r = 0 or s = 0; choose another")
        else:
            for cand in rfc6979_candidates(self._d, int.from_bytes(digest, "big"), constant_time=True):
                out = mod.sign_core(tag, table, self._d + cand + digest)
                if not out[64]:
                    break
        b = out.tobytes()
        return int.from_bytes(b[:32], "big"), int.from_bytes(b[32:64], "big")

    def public_key(self) -> PublicKey:
        if self._pub is None:
            mod, table, tag = self._tier.get()
            xy = mod.fixed_base_core(tag, table, self._d).tobytes()
            self._pub = PublicKey(self._tier, b"\x04" + xy)
        return self._pub


class ECDSA:
    supports_given_k = True

    def __init__(self, tier: _Tier) -> None:
        self._tier = tier

    def private_key(self, d) -> PrivateKey:
        return PrivateKey(self._tier, check_private_scalar(d))

    def public_key(self, sec1) -> PublicKey:
        x, y = decode_point(sec1)
        return PublicKey(self._tier, encode_point(x, y))

    def generate(self) -> PrivateKey:
        """A random d in [1, n-1] (``secrets``) and its public point d*G, computed
        now as OpenSSL's key generation does (so the keygen benchmark compares
        like with like)."""
        key = PrivateKey(self._tier, secrets.randbelow(N - 1) + 1)
        key.public_key()
        return key


# ----------------------------------------------------------------------------
# Hot paths (docs/kernels.md). Each setup loads/compiles before returning.
# ----------------------------------------------------------------------------


def _hot_paths(tier: _Tier) -> dict[str, Callable[..., Callable[..., Any]]]:
    def setup_field_mul():
        mod, _, tag = tier.get()
        fn = mod.field_mul_loop

        def field_mul(a, b, count):
            a = check_int("a", a) % P
            b = check_int("b", b) % P
            check_count(count)
            out = fn(tag, a.to_bytes(32, "big") + b.to_bytes(32, "big"), count)
            return int.from_bytes(out.tobytes(), "big")

        field_mul(2, 3, 1)
        return field_mul

    def setup_fixed_base():
        mod, table, tag = tier.get()
        fn = mod.fixed_base_core

        def fixed_base_mul(k):
            k = check_scalar("k", k)
            b = fn(tag, table, k.to_bytes(32, "big")).tobytes()
            return int.from_bytes(b[:32], "big"), int.from_bytes(b[32:], "big")

        fixed_base_mul(1)
        return fixed_base_mul

    def setup_double_scalar(q):
        qx, qy = check_q(q)
        mod, table, tag = tier.get()
        fn = mod.double_scalar_core
        qb = qx.to_bytes(32, "big") + qy.to_bytes(32, "big")

        def double_scalar_mul(u1, u2):
            u1 = check_int("u1", u1) % N
            u2 = check_int("u2", u2) % N
            b = fn(tag, table, u1.to_bytes(32, "big") + u2.to_bytes(32, "big") + qb).tobytes()
            if b[64]:
                return None
            return int.from_bytes(b[:32], "big"), int.from_bytes(b[32:64], "big")

        double_scalar_mul(1, 1)
        return double_scalar_mul

    def setup_scalar_inv():
        mod, _, tag = tier.get()
        fn = mod.scalar_inv_core

        def scalar_inv(k):
            k = check_scalar("k", k)
            return int.from_bytes(fn(tag, k.to_bytes(32, "big")).tobytes(), "big")

        scalar_inv(1)
        return scalar_inv

    return {
        "field-mul": setup_field_mul,
        "fixed-base-mul": setup_fixed_base,
        "double-scalar-mul": setup_double_scalar,
        "scalar-inv": setup_scalar_inv,
    }


def register(reg) -> None:
    from cryptobench import native

    tiers = (
        ("numba-portable", False, "u64x4-mul32", "plain Numba: Montgomery on 8x32-bit words (32x32->64 products), no wide multiply"),
        ("numba-hw", True, "u64x4-i128", "Numba + LLVM i128 intrinsics: 64x64->128 (MULX/ADC), 4x64-bit Montgomery"),
    )
    for backend, hw, path, description in tiers:
        reason = ""
        if not _HAVE_NUMBA:
            reason = "numba is not installed"
        elif hw:
            reason = native.missing("bmi2", "adx") or ""
        tier = _Tier(hw)
        available = not reason
        reg.add(
            Kernel(
                algorithm=ALGORITHM,
                backend=backend,
                available=available,
                reason=reason,
                constant_time=True,
                path=path,
                impl=ECDSA(tier) if available else None,
                hot_paths=_hot_paths(tier) if available else {},
                description=description,
                prepare=tier.prepare if available else None,
            )
        )
