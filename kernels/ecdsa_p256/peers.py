"""ECDSA P-256 with SHA-256 through python-ecdsa (the ``ecdsa`` package), for comparison.

python-ecdsa is a pure-Python implementation (FIPS 186-4 ECDSA, RFC 6979
deterministic signing) and the usual yardstick for the python backend. Used
as its documentation shows: ``SigningKey.from_secret_exponent(d,
curve=NIST256p, hashfunc=sha256)``, ``sign_deterministic(..., sigencode=
sigencode_der)`` and ``VerifyingKey.verify(..., sigdecode=sigdecode_der)``,
whose DER decoder is strict (it rejects non-minimal lengths, leading zero
bytes, negative integers and trailing data). Every failure it reports on
verification (bad DER, r or s out of range, wrong signature) becomes
``cryptobench.InvalidSignature``.

It precomputes a table of 2^i * G for the generator on first use; the
kernel's ``prepare`` triggers that, so the harness times it apart. gmpy2 is
not used (it is not installed; python-ecdsa then runs on Python ints).

Verification uses no per-key table (``VerifyingKey.precompute()``), as a
verifier gets it: in 0.19.2 ``precompute()`` raises AssertionError on keys
made by ``from_string``, ``from_pem`` or ``from_der`` (their point has no
order), so only the signer's own ``verifying_key`` could use it.

**Not constant-time** (Python integers; the library says so itself).
"""

from __future__ import annotations

import hashlib

from cryptobench.errors import InvalidInput, InvalidPoint, InvalidSignature
from cryptobench.kernels._aead_common import check_bytes
from cryptobench.kernels._ecdsa_common import (
    N,
    check_int,
    check_q,
    check_private_scalar,
    check_rs,
    check_scalar,
    decode_point,
)
from cryptobench.registry import Kernel

try:
    import ecdsa as _ecdsa
    from ecdsa.der import UnexpectedDER as _UnexpectedDER
    from ecdsa.ellipticcurve import INFINITY as _INFINITY
    from ecdsa.ellipticcurve import Point as _Point
    from ecdsa.ellipticcurve import PointJacobi as _PointJacobi
    from ecdsa.errors import MalformedPointError as _MalformedPointError
    from ecdsa.keys import BadDigestError as _BadDigestError
    from ecdsa.keys import BadSignatureError as _BadSignatureError
    from ecdsa.keys import RSZeroError as _RSZeroError
    from ecdsa.numbertheory import inverse_mod as _inverse_mod
    from ecdsa.util import sigdecode_der as _sigdecode_der
    from ecdsa.util import sigencode_der as _sigencode_der

    _CURVE = _ecdsa.NIST256p
    _FAILURES: tuple[type[BaseException], ...] = (
        _BadSignatureError,
        _BadDigestError,
        _UnexpectedDER,
        _MalformedPointError,
        ValueError,
    )
    # python-ecdsa 0.19 raises TypeError (None % n) when u1*G + u2*Q is the
    # point at infinity; argument types are checked before calling it, so on
    # verification a TypeError from inside the library is a failed signature.
    _VERIFY_FAILURES = _FAILURES + (TypeError,)
    _ERROR = ""
except Exception as exc:  # ImportError, or a broken install: report, never raise
    _ecdsa = None
    _ERROR = (
        "ecdsa is not installed (pip install cryptobench[peers])"
        if isinstance(exc, ImportError)
        else f"ecdsa failed to import: {exc!r}"
    )

_SHA256 = hashlib.sha256


def _sigencode_tuple(r: int, s: int, order: int) -> tuple[int, int]:
    return r, s


def _sigdecode_tuple(sig: tuple[int, int], order: int) -> tuple[int, int]:
    return sig


class PublicKey:
    __slots__ = ("_vk", "encoded")

    def __init__(self, vk, encoded: bytes) -> None:
        self._vk = vk
        self.encoded = encoded

    def verify(self, message, signature) -> None:
        check_bytes(message=message, signature=signature)
        if type(message) is not bytes:  # python-ecdsa's TypeError for a non-contiguous view would read as a failure
            message = bytes(message)
        try:
            self._vk.verify(bytes(signature), message, hashfunc=_SHA256, sigdecode=_sigdecode_der)
        except _VERIFY_FAILURES:
            raise InvalidSignature("signature did not verify") from None

    def verify_raw(self, message, r, s) -> None:
        check_bytes(message=message)
        check_rs(r, s)
        if type(message) is not bytes:
            message = bytes(message)
        try:
            self._vk.verify((r, s), message, hashfunc=_SHA256, sigdecode=_sigdecode_tuple)
        except _VERIFY_FAILURES:
            raise InvalidSignature("signature did not verify") from None


class PrivateKey:
    __slots__ = ("_sk",)

    def __init__(self, sk) -> None:
        self._sk = sk

    def sign(self, message) -> bytes:
        check_bytes(message=message)
        return self._sk.sign_deterministic(message, hashfunc=_SHA256, sigencode=_sigencode_der)

    def sign_raw(self, message, k=None) -> tuple[int, int]:
        check_bytes(message=message)
        if k is None:
            return self._sk.sign_deterministic(message, hashfunc=_SHA256, sigencode=_sigencode_tuple)
        if isinstance(k, bool) or not isinstance(k, int):
            raise TypeError(f"k must be an int, not {type(k).__name__}")
        if not 1 <= k < N:
            raise InvalidInput("k must be in [1, n-1]")
        digest = _SHA256(message).digest()
        try:
            return self._sk.sign_digest(digest, sigencode=_sigencode_tuple, k=k)
        except _RSZeroError:  # ecdsa.keys's; the package's top level has none in 0.19
            raise InvalidInput("this k gives r = 0 or s = 0; choose another k") from None

    def public_key(self) -> PublicKey:
        vk = self._sk.get_verifying_key()
        return PublicKey(vk, vk.to_string("uncompressed"))


class ECDSA:
    supports_given_k = True

    def private_key(self, d) -> PrivateKey:
        d = check_private_scalar(d)
        return PrivateKey(_ecdsa.SigningKey.from_secret_exponent(d, curve=_CURVE, hashfunc=_SHA256))

    def public_key(self, sec1) -> PublicKey:
        decode_point(sec1)  # the same validation and errors as every backend
        try:
            vk = _ecdsa.VerifyingKey.from_string(bytes(sec1), curve=_CURVE, hashfunc=_SHA256)
        except _FAILURES as exc:  # not reached after decode_point; kept so nothing leaks
            raise InvalidPoint(f"python-ecdsa rejected the point: {exc}") from None
        return PublicKey(vk, bytes(sec1))

    def generate(self) -> PrivateKey:
        return PrivateKey(_ecdsa.SigningKey.generate(curve=_CURVE, hashfunc=_SHA256))


# ------------------------------------------------------------------ hot paths
# python-ecdsa's own group arithmetic, called the way its sign and verify call it.


def _affine(pt) -> tuple[int, int] | None:
    if pt == _INFINITY:
        return None
    return pt.x(), pt.y()


def _setup_fixed_base():
    g = _CURVE.generator

    def fixed_base_mul(k: int) -> tuple[int, int] | None:
        return _affine(g * check_scalar("k", k))

    return fixed_base_mul


def _setup_double_scalar(q):
    qx, qy = check_q(q)
    g = _CURVE.generator
    qpt = _PointJacobi.from_affine(_Point(_CURVE.curve, qx, qy, N))

    def double_scalar_mul(u1: int, u2: int) -> tuple[int, int] | None:
        # what VerifyingKey.verify does: generator.mul_add(u1, Q, u2)
        return _affine(g.mul_add(check_int("u1", u1) % N, qpt, check_int("u2", u2) % N))

    return double_scalar_mul


def _setup_scalar_inv():
    def scalar_inv(k: int) -> int:
        return _inverse_mod(check_scalar("k", k), N)

    return scalar_inv


def _prepare() -> dict[str, int]:
    """Build python-ecdsa's generator table (it does so on first use)."""
    _CURVE.generator * 2  # noqa: B018  (multiplying by 2 triggers the precomputation)
    return {"generator_table": 1}


def register(reg) -> None:
    if _ecdsa is None:
        reg.add(
            Kernel(
                algorithm="ecdsa-p256-sha256",
                backend="peer-ecdsa",
                available=False,
                reason=_ERROR,
                constant_time=False,
            )
        )
        return
    reg.add(
        Kernel(
            algorithm="ecdsa-p256-sha256",
            backend="peer-ecdsa",
            available=True,
            constant_time=False,
            path=f"python-ecdsa {_ecdsa.__version__}",
            impl=ECDSA(),
            hot_paths={
                "fixed-base-mul": _setup_fixed_base,
                "double-scalar-mul": _setup_double_scalar,
                "scalar-inv": _setup_scalar_inv,
            },
            lacks={"field-mul": "python-ecdsa has no field type; it multiplies Python ints inline"},
            prepare=_prepare,
            description="python-ecdsa (pure Python), the comparison for the python backend",
        )
    )
