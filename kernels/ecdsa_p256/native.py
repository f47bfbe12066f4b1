"""ECDSA P-256 with SHA-256 in C and x86-64 assembly (csrc/p256/), through cffi.

Two registered paths over the same C group code (csrc/p256/p256_impl.inc,
compiled twice):

- ``native-adx`` (path ``mulx-adx-asm``): field multiplication and squaring
  mod p, and Montgomery multiplication mod n, in hand-written assembly using
  MULX (BMI2) and the ADCX/ADOX carry chains (ADX), csrc/p256/p256_mul_adx.S. Offered
  only when cpuid reports BMI2 and ADX and ``CRYPTOBENCH_NATIVE_DISABLE`` does
  not name ``adx`` or ``bmi2``; the C entry points re-check cpuid and refuse
  otherwise, so the assembly never raises SIGILL.
- ``native-portable`` (path ``portable-c``): the same algorithms in C only:
  products on ``unsigned __int128``, carry chains through the ADC/SBB
  intrinsics of baseline x86-64 (plain ``__int128`` arithmetic elsewhere),
  and a C SHA-256 for RFC 6979.

What the C code does (csrc/p256/p256.c):

- Field arithmetic mod p = 2^256 - 2^224 + 2^192 + 2^96 - 1 (FIPS 186-4
  §D.1.2.3) in 4x64-bit Montgomery form; inversion by Fermat with a fixed
  addition chain for p - 2.
- Scalars mod n in Montgomery form; k^-1 and s^-1 by Fermat (fixed windows
  over the public exponent n - 2).
- Fixed-base k*G: signed 6-bit windows over a table of 43 x 32 affine
  multiples of G (88 KiB, built once by ``Kernel.prepare`` or on first use),
  every lookup scans all 32 entries with masks, mixed Jacobian additions with
  the exceptional cases resolved by selects; no doublings.
- u1*G + u2*Q for verification: the same table (direct indexing) for u1*G and a
  width-5 NAF of u2 with Q, 3Q, ..., 15Q; x(R) = r is checked projectively.
- Signing, SEC 1 §4.1.3 with the RFC 6979 §3.2 nonce computed in C
  (HMAC-SHA256 over a FIPS 180-4 SHA-256 written in C: portable C on the
  portable path; on the adx path the SHA extensions (SHA256RNDS2) when cpuid
  has them and ``CRYPTOBENCH_NATIVE_DISABLE`` does not name ``sha``). A
  caller-given k is accepted for the CAVP SigGen vectors. Verification, SEC 1
  §4.1.4, compares x(R) with r projectively (no inversion).

If r or s comes out zero (probability about 2^-256) C reports it and Python
draws the next RFC 6979 candidates (§3.4) and gives them to C as a given k;
with a caller's k it raises InvalidInput, the cue to choose another k (SEC 1
§4.1.3 step 1).

Python does the argument checks, the message digest (``hashlib.sha256``, i.e.
OpenSSL's SHA-256) and, from ``_ecdsa_common``, strict DER decoding, point
decoding/validation and the r, s range checks; C writes the DER signature.

Threads: cffi releases the GIL during every C call. Keys are read-only after
construction and every sign or verify writes into a buffer of its own; the
hot-path callables write into a buffer per thread (``threading.local``), so
keys and callables can be shared between threads (docs/kernels.md, "Threads").

Constant-time: yes for everything that touches secrets (private key, nonce):
fixed-base multiplication, field and scalar inversion, signing arithmetic and
the RFC 6979 HMAC have no secret-dependent branches or memory addresses (the
RFC 6979 retry loop runs again only when a candidate is >= n, a public event
of probability ~2^-32). Verification and the double-scalar hot path are
variable-time; their inputs are public. Python-side conversion of the private
key to bytes happens once, at key load.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from typing import Any, Callable

from cryptobench import native
from cryptobench.errors import InvalidInput, InvalidSignature
from cryptobench.kernels._ecdsa_common import (
    N,
    P,
    check_count,
    check_int,
    check_q,
    check_private_scalar,
    check_scalar,
    decode_der,
    decode_point,
    encode_point,
    rfc6979_candidates,
)
from cryptobench.registry import Kernel

_ALGORITHM = "ecdsa-p256-sha256"
_BYTES = (bytes, bytearray, memoryview)
_sha256 = hashlib.sha256

#: backend -> (C path id, Kernel.path, cpu features needed)
_PATHS: dict[str, tuple[int, str, tuple[str, ...]]] = {
    "native-adx": (1, "mulx-adx-asm", ("bmi2", "adx")),
    "native-portable": (0, "portable-c", ()),
}

# csrc/p256/p256.h error codes
_ERRORS = {
    -1: "path not usable on this CPU",
    -2: "scalar out of range [1, n-1]",
    -3: "r or s came out zero for this k",
    -4: "result is the point at infinity",
    -5: "point not on the curve",
}


_ERANGE = -2
_EZERO = -3


def _fail(rc: int) -> RuntimeError:
    return RuntimeError(f"native P-256 error {rc}: {_ERRORS.get(rc, 'unknown')}")


def _message_type(message: object) -> None:
    if not isinstance(message, _BYTES):
        raise TypeError(f"message must be bytes-like, not {type(message).__name__}")


class PublicKey:
    """A validated P-256 public point; verification per SEC 1 §4.1.4."""

    __slots__ = ("encoded", "_xy", "_path", "_lib")

    def __init__(self, encoded: bytes, path: int, lib: Any) -> None:
        self.encoded = encoded
        self._xy = encoded[1:]
        self._path = path
        self._lib = lib

    def _check(self, message: object, r: int, s: int) -> None:
        if not (0 < r < N and 0 < s < N):
            raise InvalidSignature("r and s must be in [1, n-1]")
        rc = self._lib.cb_p256_verify(
            self._path, self._xy, _sha256(message).digest(), r.to_bytes(32, "big"), s.to_bytes(32, "big")
        )
        if rc != 1:
            if rc < 0:
                raise _fail(rc)
            raise InvalidSignature("signature did not verify")

    def verify(self, message: bytes, signature: bytes) -> None:
        _message_type(message)
        r, s = decode_der(signature)  # strict DER; TypeError / InvalidSignature
        self._check(message, r, s)

    def verify_raw(self, message: bytes, r: int, s: int) -> None:
        _message_type(message)
        for v in (r, s):
            if isinstance(v, bool) or not isinstance(v, int):
                raise TypeError(f"r and s must be ints, not {type(v).__name__}")
        self._check(message, r, s)


class PrivateKey:
    """A P-256 private scalar d; signs per SEC 1 §4.1.3 with RFC 6979 k."""

    __slots__ = ("_d", "_path", "_lib", "_ffi", "_pub")

    def __init__(self, d: int, path: int, ffi: Any, lib: Any) -> None:
        self._d = d.to_bytes(32, "big")
        self._path = path
        self._ffi = ffi
        self._lib = lib
        out = ffi.new("uint8_t[64]")
        rc = lib.cb_p256_base_mul(path, out, self._d)
        if rc != 0:
            raise _fail(rc)
        self._pub = PublicKey(b"\x04" + ffi.buffer(out)[:], path, lib)

    def _sign(self, message: object, kb: bytes | None, der: int):
        """Sign in C into a new buffer; returns (buffer, length). kb None: the
        RFC 6979 nonce (computed in C; when it gives r or s = 0, an event of
        probability about 2^-256, the following candidates of step h are
        drawn here and given to C, RFC 6979 §3.4)."""
        _message_type(message)
        ffi, lib = self._ffi, self._lib
        digest = _sha256(message).digest()
        out = ffi.new("uint8_t[72]" if der else "uint8_t[64]")
        rc = lib.cb_p256_sign(self._path, out, self._d, digest, ffi.NULL if kb is None else kb, der)
        if rc == _EZERO:
            if kb is not None:
                raise InvalidInput("this k gives r = 0 or s = 0; choose another k")
            # Every candidate goes to C, which checks its range (ERANGE) in
            # constant time; the first in range is the one that just failed.
            for t in rfc6979_candidates(self._d, int.from_bytes(digest, "big"), constant_time=True):
                rc = lib.cb_p256_sign(self._path, out, self._d, digest, t, der)
                if rc not in (_ERANGE, _EZERO):
                    break
        if rc < 0:
            raise _fail(rc)
        return out, rc

    def sign(self, message: bytes) -> bytes:
        out, n = self._sign(message, None, 1)
        return self._ffi.buffer(out, n)[:]

    def sign_raw(self, message: bytes, k: int | None = None) -> tuple[int, int]:
        kb = None
        if k is not None:
            _message_type(message)
            if isinstance(k, bool) or not isinstance(k, int):
                raise TypeError(f"k must be an int, not {type(k).__name__}")
            if not 0 < k < N:
                raise InvalidInput("k must be in [1, n-1]")
            kb = k.to_bytes(32, "big")
        out, _ = self._sign(message, kb, 0)
        raw = self._ffi.buffer(out)[:]
        return int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")

    def public_key(self) -> PublicKey:
        return self._pub


class ECDSA:
    """The signature interface of docs/kernels.md over one native path."""

    supports_given_k = True

    def __init__(self, path: int) -> None:
        self._path = path

    def _native(self) -> tuple[Any, Any]:
        ffi, lib = native.load()
        if lib is None:
            raise RuntimeError(native.unavailable_reason() or "native extension unavailable")
        lib.cb_p256_init()  # builds the fixed-base table once; free afterwards
        return ffi, lib

    def private_key(self, d: int) -> PrivateKey:
        d = check_private_scalar(d)
        ffi, lib = self._native()
        return PrivateKey(d, self._path, ffi, lib)

    def public_key(self, sec1: bytes) -> PublicKey:
        decode_point(sec1)  # TypeError / InvalidPoint, same as every backend
        _, lib = self._native()
        return PublicKey(bytes(sec1), self._path, lib)

    def generate(self) -> PrivateKey:
        return self.private_key(secrets.randbelow(N - 1) + 1)


# ------------------------------------------------------------------ hot paths


def _hot_paths(path: int) -> dict[str, Callable[..., Callable[..., Any]]]:
    def _lib() -> tuple[Any, Any]:
        ffi, lib = native.load()
        lib.cb_p256_init()
        return ffi, lib

    # Each callable writes its result into a buffer of the calling thread
    # (``tls.out``: cdata and its buffer view), made on the thread's first
    # call: cffi releases the GIL during the C call, so one buffer per callable
    # would let threads sharing it read each other's results.
    def _out(ffi: Any, tls: Any, size: int) -> tuple[Any, Any]:
        out = ffi.new(f"uint8_t[{size}]")
        tls.out = (out, ffi.buffer(out))
        return tls.out

    def setup_field_mul() -> Callable[[int, int, int], int]:
        ffi, lib = _lib()
        tls = threading.local()

        def field_mul(a: int, b: int, count: int) -> int:
            """a * b^count mod p; the loop of `count` multiplications runs in C."""
            a = check_int("a", a) % P
            b = check_int("b", b) % P
            count = check_count(count)
            try:
                out, buf = tls.out
            except AttributeError:
                out, buf = _out(ffi, tls, 32)
            rc = lib.cb_p256_field_mul(path, out, a.to_bytes(32, "big"), b.to_bytes(32, "big"), count)
            if rc:
                raise _fail(rc)
            return int.from_bytes(buf, "big")

        return field_mul

    def setup_fixed_base() -> Callable[[int], tuple[int, int]]:
        ffi, lib = _lib()
        tls = threading.local()

        def fixed_base_mul(k: int) -> tuple[int, int]:
            """Affine k*G (constant-time in k); k in [1, n-1]."""
            kb = check_scalar("k", k).to_bytes(32, "big")
            try:
                out, buf = tls.out
            except AttributeError:
                out, buf = _out(ffi, tls, 64)
            rc = lib.cb_p256_base_mul(path, out, kb)
            if rc:
                raise _fail(rc)
            raw = buf[:]
            return int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")

        return fixed_base_mul

    def setup_double_scalar(q: tuple[int, int]) -> Callable[[int, int], tuple[int, int] | None]:
        ffi, lib = _lib()
        qx, qy = check_q(q)
        qb = encode_point(qx, qy)[1:]
        tls = threading.local()

        def double_scalar_mul(u1: int, u2: int) -> tuple[int, int] | None:
            """u1*G + u2*Q (variable-time; public inputs), None at infinity."""
            u1 = check_int("u1", u1) % N
            u2 = check_int("u2", u2) % N
            try:
                out, buf = tls.out
            except AttributeError:
                out, buf = _out(ffi, tls, 64)
            rc = lib.cb_p256_double_mul(path, out, u1.to_bytes(32, "big"), u2.to_bytes(32, "big"), qb)
            if rc == -4:
                return None
            if rc:
                raise _fail(rc)
            raw = buf[:]
            return int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")

        return double_scalar_mul

    def setup_scalar_inv() -> Callable[[int], int]:
        ffi, lib = _lib()
        tls = threading.local()

        def scalar_inv(k: int) -> int:
            """k^-1 mod n (constant-time Fermat inversion); k in [1, n-1]."""
            kb = check_scalar("k", k).to_bytes(32, "big")
            try:
                out, buf = tls.out
            except AttributeError:
                out, buf = _out(ffi, tls, 32)
            rc = lib.cb_p256_scalar_inv(path, out, kb)
            if rc:
                raise _fail(rc)
            return int.from_bytes(buf, "big")

        return scalar_inv

    return {
        "field-mul": setup_field_mul,
        "fixed-base-mul": setup_fixed_base,
        "double-scalar-mul": setup_double_scalar,
        "scalar-inv": setup_scalar_inv,
    }


def _prepare() -> dict[str, Any]:
    """Build the fixed-base table (timed apart by the harness)."""
    _, lib = native.load()
    size = lib.cb_p256_init()
    return {"table_bytes": int(size), "table": "43 windows x 32 affine multiples of G"}


def _unavailable(lib: Any, path: int, needs: tuple[str, ...]) -> str | None:
    if lib is None:
        return native.unavailable_reason() or "native extension unavailable"
    if not hasattr(lib, "cb_p256_sign"):
        return "native extension was built without csrc/p256"
    if needs:
        why = native.missing(*needs)
        if why:
            return why
    if not lib.cb_p256_path_ok(path):
        return "the native module's cpuid check refuses this path"
    return None


def register(reg) -> None:
    _, lib = native.load()
    sha_ni = False
    if lib is not None and hasattr(lib, "cb_p256_sha_ni_used"):
        if native.missing("sha"):
            lib.cb_p256_disable_sha_ni()  # the disable switch reaches the C dispatch too
        sha_ni = bool(lib.cb_p256_sha_ni_used())
    for backend, (path, path_name, needs) in _PATHS.items():
        why = _unavailable(lib, path, needs)
        reg.add(
            Kernel(
                algorithm=_ALGORITHM,
                backend=backend,
                available=why is None,
                reason=why or "",
                constant_time=True,
                path=path_name,
                impl=ECDSA(path) if why is None else None,
                hot_paths=_hot_paths(path) if why is None else {},
                description=(
                    "C + MULX/ADCX/ADOX assembly field and scalar multiplication; RFC 6979 HMAC "
                    + ("with SHA-NI" if sha_ni else "with portable C SHA-256")
                    if path
                    else "portable C (unsigned __int128) field arithmetic; RFC 6979 HMAC in C"
                )
                + "; 6-bit signed fixed-base windows, wNAF-5 verify",
                prepare=_prepare if why is None else None,
            )
        )
