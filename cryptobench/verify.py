"""Correctness checks for every kernel: published vectors, a seeded differential
check against the openssl backend (against the python backend for a kernel
that is openssl's own implementation, such as ``openssl-noavx512``), and the
hot paths against reference semantics.

Besides random inputs, each adds the edge cases random inputs never reach
(probability about 2^-32 to 2^-128), where implementations are known to go
wrong: AES-GCM IVs solved so the 32-bit counter wraps inside the message, and
an aes-ctr counter block just before the wrap; the RFC 7539 Poly1305 carry and
reduction vectors; constructed ECDSA signatures with x(R) >= n and with the
sum at infinity (``vectors.constructed_signature_vectors``); double-scalar
sums with Q = +-G; fixed-base scalars at window boundaries.

Since ``run`` times one context (one setup, one PrivateKey) for thousands of
calls, the differential check and every hot path also call one context or
setup several times with different inputs (a context that caches its output
or goes wrong after its first call fails). Quick mode keeps the 16 KiB sizes
``run`` times. Tags are tampered at their first and last byte at every tag
length; GCM IVs of 8..128 bytes and tags of 4..16 are compared with the
reference; ChaCha20-Poly1305 gets constructed Poly1305 final-reduction cases;
``generate()`` keys are checked; constructed ECDSA cases cover r, s out of
range, non-canonical DER, bad public-key encodings and the extreme private
scalars; the AES key schedule is compared with FIPS 197's.

Pure library code: functions take keywords and return
:class:`KernelReport` objects; only the CLI prints them.

Counting rules:

- a vector passes only if the kernel gives the expected output (or, for an
  invalid vector, refuses it with :class:`~cryptobench.InvalidTag`,
  :class:`~cryptobench.InvalidSignature` or an :class:`~cryptobench.InvalidInput`);
- a parameter the kernel does not support (an IV or tag length, signing with a
  given k) is *skipped* with the kernel's reason, never counted as passed;
- Wycheproof "acceptable" cases are counted apart and may go either way;
- any other exception is a failure, reported with its message.

A kernel that needs environment variables this process lacks
(:attr:`~cryptobench.registry.Kernel.env`: ``openssl-noavx512`` needs
``OPENSSL_ia32cap``, which OpenSSL reads only when it loads) is checked in a
child process started with them (``cryptobench._verify_child``), and its
report comes back as the same :class:`KernelReport`; the report's ``env``
says what the checking process saw. A child that dies or cannot load the
kernel gives a failed report, never a passed one.
"""

from __future__ import annotations

import json
import os
import random
import struct
import subprocess
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable

from . import _reference as ref
from . import vectors as V
from .bench import FIELD_MUL_COUNT
from .errors import InvalidInput, InvalidKey, InvalidPoint, InvalidSignature, InvalidTag
from .registry import KEY_SIZES, Kernel, Registry, default_registry, env_mismatch, select

#: Lengths the differential check always covers (block and buffer boundaries).
DIFF_LENGTHS = (0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257, 511, 512, 513, 1023, 1024, 1025, 2047, 2048)
#: Past the native kernels' per-thread output buffers (16 KiB + 64 for AES-GCM, 64 KiB + 16
#: for ChaCha20-Poly1305), where a fresh buffer is allocated instead (--quick keeps 16384 + 65).
DIFF_LARGE = (16384 + 65, 65536 + 17, 100_003)

#: Hot-path lengths every mode checks: run times 16384 B by default, and 16385 ends
#: inside a block after the last full one of a 16 KiB buffer.
HOT_LARGE = (16384, 16385)

MAX_FAILURE_DETAILS = 5


@dataclass
class CheckResult:
    """One group of checks on one kernel (a vector file, the differential check, a hot path)."""

    name: str
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    acceptable: int = 0
    failures: list[str] = field(default_factory=list)
    skip_reasons: Counter = field(default_factory=Counter)

    def ok(self) -> None:
        self.passed += 1

    def fail(self, detail: str) -> None:
        self.failed += 1
        if len(self.failures) < MAX_FAILURE_DETAILS:
            self.failures.append(detail)

    def skip(self, reason: str) -> None:
        self.skipped += 1
        self.skip_reasons[reason] += 1

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["skip_reasons"] = dict(self.skip_reasons)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CheckResult:
        return cls(str(d["name"]), int(d["passed"]), int(d["failed"]), int(d["skipped"]), int(d.get("acceptable", 0)),
                   [str(f) for f in d.get("failures", [])], Counter(d.get("skip_reasons", {})))


@dataclass
class KernelReport:
    algorithm: str
    backend: str
    available: bool
    reason: str = ""
    path: str = ""
    checks: list[CheckResult] = field(default_factory=list)
    #: the kernel's environment variables (Kernel.env) as the process that ran
    #: the checks saw them; empty for kernels that need none
    env: dict[str, str | None] = field(default_factory=dict)
    #: the checks ran in a child process started with the kernel's environment
    in_child: bool = False

    @property
    def name(self) -> str:
        return f"{self.algorithm}/{self.backend}"

    @property
    def passed(self) -> int:
        return sum(c.passed for c in self.checks)

    @property
    def failed(self) -> int:
        return sum(c.failed for c in self.checks)

    @property
    def skipped(self) -> int:
        return sum(c.skipped for c in self.checks)

    @property
    def status(self) -> str:
        """"unavailable", "failed", "passed" or "empty" (nothing applicable ran)."""
        if not self.available:
            return "unavailable"
        if self.failed:
            return "failed"
        return "passed" if self.passed else "empty"

    def to_dict(self) -> dict[str, Any]:
        return {
            "algorithm": self.algorithm,
            "backend": self.backend,
            "available": self.available,
            "reason": self.reason,
            "path": self.path,
            "status": self.status,
            "passed": self.passed,
            "failed": self.failed,
            "skipped": self.skipped,
            "checks": [c.to_dict() for c in self.checks],
            "env": dict(self.env),
            "in_child": self.in_child,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> KernelReport:
        """The report :meth:`to_dict` wrote (the derived counts are recomputed)."""
        return cls(str(d["algorithm"]), str(d["backend"]), bool(d["available"]), str(d.get("reason", "")),
                   str(d.get("path", "")), [CheckResult.from_dict(c) for c in d.get("checks", [])],
                   dict(d.get("env", {})), bool(d.get("in_child", False)))


# ---------------------------------------------------------------- helpers


def _rejects(exc: BaseException) -> bool:
    """Is this exception a deliberate refusal (as opposed to a crash)?"""
    return isinstance(exc, (InvalidTag, InvalidSignature, InvalidInput))


def _describe(exc: BaseException) -> str:
    """``Type: message``, the type qualified unless it is a builtin or cryptobench's own
    (a library's ``cryptography.exceptions.InvalidTag`` is not our InvalidTag)."""
    t = type(exc)
    name = t.__name__ if t.__module__ in ("builtins", "cryptobench.errors") else f"{t.__module__}.{t.__qualname__}"
    return f"{name}: {exc}"


def _subset(items: list, quick: bool, keep: int = 48) -> list:
    """The whole list, or an evenly spread sample of about ``keep`` items that
    still includes every negative case among the first few."""
    if not quick or len(items) <= keep:
        return items
    step = max(1, len(items) // keep)
    picked = items[::step]
    negatives = [v for v in items if not getattr(v, "valid", True)][:8]
    return picked + [v for v in negatives if v not in picked]


# ---------------------------------------------------------------- AEAD vectors


#: Valid vectors per tag length (per vector set) whose tag is also tampered at
#: its first and its last byte (a few cover each length; all would cost ~10%).
TAMPER_PER_TAG_LENGTH = 8


def check_aead_vectors(kernel: Kernel, vecs: Iterable[V.AEADVector], result: CheckResult) -> CheckResult:
    """Each vector; besides, the first valid vectors of every tag length in the
    set, with the first or the last tag byte flipped, must be refused."""
    impl = kernel.impl
    tampered: Counter = Counter()
    for v in vecs:
        where = v.source
        reason = impl.supports(len(v.nonce), len(v.tag))
        if reason:
            result.skip(reason)
            continue
        try:
            ctx = impl.new(v.key, tag_length=len(v.tag))
        except Exception as exc:  # noqa: BLE001
            if not v.valid and _rejects(exc):
                result.ok()
            elif v.acceptable:
                result.acceptable += 1
            else:
                result.fail(f"{where}: new() raised {_describe(exc)}")
            continue
        if v.valid or v.acceptable:
            tamper = v.valid and tampered[len(v.tag)] < TAMPER_PER_TAG_LENGTH
            if tamper:
                tampered[len(v.tag)] += 1
            _check_valid_aead(ctx, v, result, tamper=tamper)
        else:
            _check_invalid_aead(ctx, v, result)
    return result


def _check_valid_aead(ctx: Any, v: V.AEADVector, result: CheckResult, *, tamper: bool = False) -> None:
    where = v.source
    expect = v.ciphertext + v.tag
    try:
        if v.direction == "encrypt" and v.plaintext is not None:
            out = ctx.encrypt(v.nonce, v.plaintext, v.aad)
            if bytes(out) != expect:
                if v.acceptable:
                    result.acceptable += 1
                    return
                result.fail(f"{where}: encrypt gave {bytes(out).hex()[:64]}..., expected {expect.hex()[:64]}...")
                return
        pt = ctx.decrypt(v.nonce, expect, v.aad)
        if v.plaintext is not None and bytes(pt) != v.plaintext:
            result.fail(f"{where}: decrypt returned the wrong plaintext")
            return
        if tamper:
            bad = [what for what, data in _tag_ends_tampered(expect, len(v.tag)) if _accepts(ctx, v.nonce, data, v.aad)]
            if bad:
                result.fail(f"{where}: accepted a {len(v.tag)}-byte tag with its {' and '.join(bad)} flipped")
                return
    except Exception as exc:  # noqa: BLE001
        if v.acceptable:
            result.acceptable += 1
        else:
            result.fail(f"{where}: {_describe(exc)}")
        return
    if v.acceptable:
        result.acceptable += 1
    else:
        result.ok()


def _check_invalid_aead(ctx: Any, v: V.AEADVector, result: CheckResult) -> None:
    try:
        ctx.decrypt(v.nonce, v.ciphertext + v.tag, v.aad)
    except Exception as exc:  # noqa: BLE001
        if _rejects(exc):
            result.ok()
        else:
            result.fail(f"{v.source}: invalid vector raised {_describe(exc)} instead of InvalidTag")
        return
    result.fail(f"{v.source}: invalid ciphertext/tag was accepted")


# ---------------------------------------------------------------- signature vectors


def check_signature_vectors(kernel: Kernel, vecs: Iterable[V.SignatureVector], result: CheckResult) -> CheckResult:
    impl = kernel.impl
    for v in vecs:
        try:
            if v.kind == "verify":
                _check_sig_verify(impl, v, result)
            elif v.kind == "sign-k":
                if not getattr(impl, "supports_given_k", False):
                    result.skip("kernel cannot sign with a caller-chosen k")
                    continue
                priv = impl.private_key(v.d)
                got = tuple(priv.sign_raw(v.message, k=v.k))
                if got != (v.r, v.s):
                    result.fail(f"{v.source}: sign with given k gave r={got[0]:x}, expected r={v.r:x}")
                elif bytes(priv.public_key().encoded) != v.public:
                    result.fail(f"{v.source}: public key derived from d does not match Q")
                else:
                    result.ok()
            elif v.kind == "sign-rfc6979":
                priv = impl.private_key(v.d)
                got = bytes(priv.sign(v.message))
                if got != v.signature:
                    result.fail(f"{v.source}: RFC 6979 signature {got.hex()[:40]}... != expected {v.signature.hex()[:40]}...")
                else:
                    result.ok()
            elif v.kind == "keypair":
                got = bytes(impl.private_key(v.d).public_key().encoded)
                if got != v.public:
                    result.fail(f"{v.source}: d*G gave {got.hex()[:40]}..., expected {v.public.hex()[:40]}...")
                else:
                    result.ok()
            elif v.kind == "public-key":
                _check_public_key(impl, v, result)
            elif v.kind == "bad-private-key":
                try:
                    impl.private_key(v.d)
                except InvalidKey:
                    result.ok()
                else:
                    result.fail(f"{v.source}: private_key(d) accepted a scalar outside [1, n-1]")
            else:
                raise ValueError(f"unknown signature vector kind {v.kind!r}")
        except Exception as exc:  # noqa: BLE001
            result.fail(f"{v.source}: {_describe(exc)}")
    return result


def _check_public_key(impl: Any, v: V.SignatureVector, result: CheckResult) -> None:
    """SEC 1 §3.2.2 validation: a valid point loads; an invalid one is refused
    with InvalidPoint (another exception, or acceptance, fails)."""
    try:
        impl.public_key(v.public)
    except InvalidPoint:
        if v.valid:
            result.fail(f"{v.source}: a valid public key was refused")
        else:
            result.ok()
        return
    if v.valid:
        result.ok()
    else:
        result.fail(f"{v.source}: an invalid public key was accepted")


_SETTLED = object()


def _run_case(result: CheckResult, v: Any, call: Callable[[], Any], refusal: type[Exception], what: str) -> Any:
    """``call()`` for vector ``v``, returning its value, or _SETTLED when the call raised and that
    settled the case: a ``refusal`` passes an invalid case, fails a valid one and is counted for an
    acceptable one; any other exception fails the case."""
    try:
        return call()
    except refusal as exc:
        if getattr(v, "acceptable", False):
            result.acceptable += 1
        elif v.valid:
            result.fail(f"{v.source}: {what} refused a valid case: {_describe(exc)}")
        else:
            result.ok()
    except Exception as exc:  # noqa: BLE001
        result.fail(f"{v.source}: {what} raised {_describe(exc)}")
    return _SETTLED


def check_ecdh_vectors(kernel: Kernel, vecs: Iterable[V.ECDHVector], result: CheckResult) -> CheckResult:
    """Wycheproof's ECDH cases on an ECDSA P-256 kernel: ``public_key`` must load each valid point
    and refuse each invalid one with InvalidPoint (off the curve, on the twist, empty); for a
    valid one, the double-scalar-mul hot path's 0*G + d*Q must have the published x. The valid
    points and scalars are Wycheproof's edge cases for field and group arithmetic (doublings,
    addition chains, CVE-2017-8932's carry). A kernel without that hot path skips the d*Q part."""
    from cryptobench.kernels._ecdsa_common import N, decode_point

    impl = kernel.impl
    setup = kernel.hot_paths.get("double-scalar-mul")
    for v in vecs:
        if _run_case(result, v, lambda: impl.public_key(v.public), InvalidPoint, "public_key") is _SETTLED:
            continue
        if v.acceptable:  # a compressed point, loaded: allowed
            result.acceptable += 1
        elif not v.valid:
            result.fail(f"{v.source}: an invalid public point was accepted")
        elif setup is None:
            why = kernel.lacks.get("double-scalar-mul", "none registered")
            result.skip(f"d*Q: no double-scalar-mul hot path ({why}); the point loaded")
        else:
            try:
                got = setup(decode_point(v.public))(0, v.d % N)
                x = None if got is None else int(got[0])
            except Exception as exc:  # noqa: BLE001
                result.fail(f"{v.source}: 0*G + d*Q raised {_describe(exc)}")
                continue
            want = int.from_bytes(v.shared, "big")
            if x == want:
                result.ok()
            else:
                result.fail(f"{v.source}: 0*G + d*Q has x = {'infinity' if x is None else hex(x)[:18]}..., "
                            f"expected {hex(want)[:18]}...")
    return result


def _check_sig_verify(impl: Any, v: V.SignatureVector, result: CheckResult) -> None:
    accepted = False
    try:
        pub = impl.public_key(v.public)
        if v.encoding == "raw":
            pub.verify_raw(v.message, v.r, v.s)
        elif v.encoding == "p1363":
            if len(v.signature) != 64:
                raise InvalidSignature("P1363 signature must be 64 bytes")
            r = int.from_bytes(v.signature[:32], "big")
            s = int.from_bytes(v.signature[32:], "big")
            # r = 0 or s = 0 goes to the kernel as it is: refusing it is the kernel's job
            pub.verify_raw(v.message, r, s)
        else:
            pub.verify(v.message, v.signature)
        accepted = True
    except Exception as exc:  # noqa: BLE001
        if not _rejects(exc):
            result.fail(f"{v.source}: verify raised {_describe(exc)}")
            return
    if v.acceptable:
        result.acceptable += 1
    elif accepted == v.valid:
        result.ok()
    elif accepted:
        result.fail(f"{v.source}: an invalid signature was accepted")
    else:
        result.fail(f"{v.source}: a valid signature was rejected")


# ---------------------------------------------------------------- differential checks


def _reference_kernel(kernel: Kernel, registry: Registry) -> Kernel | None:
    try:
        ref_k = registry.get(kernel.algorithm, "openssl")
    except Exception:  # noqa: BLE001
        return None
    return ref_k if ref_k.available and ref_k is not kernel else None


def _same_implementation(kernel: Kernel, reference: Kernel) -> bool:
    """``openssl-noavx512`` is openssl's own object: in one process (one
    OPENSSL_ia32cap) a differential check would compare it with itself."""
    return kernel.impl is not None and kernel.impl is reference.impl


#: The differential reference for a kernel that *is* openssl's implementation
#: (``openssl-noavx512``, checked in its own process): the pure-Python backend,
#: written from the specs and sharing no code with OpenSSL. Agreeing with it
#: means agreeing with openssl's other code paths, which pass the same check.
INDEPENDENT_BACKEND = "python"


def _independent_kernel(kernel: Kernel, registry: Registry) -> Kernel | None:
    try:
        other = registry.get(kernel.algorithm, INDEPENDENT_BACKEND)
    except Exception:  # noqa: BLE001
        return None
    return other if other.available and other.impl is not None and other.impl is not kernel.impl else None


#: Lengths the quick differential (what ``run`` uses) keeps: run times up to 16384 B by
#: default, and 16385 / 16384 + 65 end past a block and past the native output buffer.
#: The full check adds 8192 and DIFF_LARGE.
QUICK_LENGTHS = (0, 1, 15, 16, 17, 64, 65, 255, 1024, 2048, 16384, 16385, 16384 + 65)
#: The longest plaintext whose context the differential also reuses.
REUSE_MAX = 16384 + 65
#: GCM IV lengths (bytes) compared with the reference besides 12; openssl takes 8..128.
GCM_IV_LENGTHS = (8, 13, 15, 16, 17, 20, 31, 60, 64, 128)
#: GCM tag lengths compared with the reference besides 16 (the CAVP files' lengths).
GCM_TAG_LENGTHS = (4, 8, 12, 13, 14, 15)


#: AAD lengths of the differential's first cases, and message lengths of the signature
#: differential's: past 1 KiB, past 4 KiB and past 64 KiB, where a kernel that reads only a
#: prefix (a fixed buffer, a length in 16 bits) is caught.
LONG_AADS = (1041, 66001)
LONG_MESSAGES = (4097, 66001)


def check_aead_differential(kernel: Kernel, reference: Kernel, *, seed: int, quick: bool) -> CheckResult:
    """Seeded random cases against the reference. Each length also reuses its
    context the way ``run`` does (one context, thousands of calls): a second
    plaintext with the same nonce, AAD and length, one of another length, a
    decrypt between them, and the first plaintext again, each compared with the
    reference; a context that caches output or goes wrong after its first call
    fails here. (Up to ``REUSE_MAX`` bytes: past run's default sizes it would
    only add time.)"""
    against = reference.backend
    result = CheckResult(f"differential vs {against}")
    rng = random.Random(seed)
    key_size = KEY_SIZES[kernel.algorithm]
    lengths = list(DIFF_LENGTHS) + [rng.randrange(0, 2049) for _ in range(8 if quick else 40)]
    if quick:
        lengths = list(QUICK_LENGTHS) + lengths[-8:]
    else:
        lengths += [n for n in QUICK_LENGTHS + (8192,) if n not in DIFF_LENGTHS + DIFF_LARGE] + list(DIFF_LARGE)
    for i, n in enumerate(lengths):
        key = rng.randbytes(key_size)
        nonce = rng.randbytes(12)
        # the first two cases carry a long AAD (quick runs too): a kernel that authenticated only
        # its first 1 KiB passed every check, since no AAD here was longer than 64 bytes
        aad = rng.randbytes(LONG_AADS[i] if i < len(LONG_AADS) else rng.choice((0, 1, 13, 16, 17, 64, 1041)))
        pt = rng.randbytes(n)
        where = f"len={n} aad={len(aad)}"
        try:
            ours = kernel.impl.new(key)
            theirs = reference.impl.new(key)
            buf = bytearray(pt)
            ct = bytes(ours.encrypt(nonce, buf, aad))
            if buf != pt:
                result.fail(f"{where}: encrypt modified its input buffer")
                continue
            want = bytes(theirs.encrypt(nonce, pt, aad))
            if ct != want:
                result.fail(f"{where}: ciphertext||tag differs from {against}")
                continue
            if bytes(ours.decrypt(nonce, want, aad)) != pt:
                result.fail(f"{where}: decrypt of {against}'s output gave the wrong plaintext")
                continue
            problem = _context_reuse(ours, theirs, rng, nonce, aad, pt, want) if n <= REUSE_MAX else None
            if problem:
                result.fail(f"{where}: one context used again: {problem} ({against} disagrees)")
                continue
            tampered = _tamper(rng, want, aad, nonce)
            bad = [what for what, (c, a, nn) in tampered.items() if _accepts(ours, nn, c, a)]
            if bad:
                result.fail(f"{where}: accepted a tampered {', '.join(bad)}")
                continue
        except Exception as exc:  # noqa: BLE001
            result.fail(f"{where}: {_describe(exc)}")
            continue
        result.ok()
    if kernel.family == "aes_gcm":
        _check_gcm_lengths(kernel, reference, rng, result)
        _check_gcm_counter_wrap(kernel, reference, rng, result)
    return result


def _context_reuse(ours: Any, theirs: Any, rng: random.Random, nonce: bytes, aad: bytes, pt: bytes,
                   want: bytes) -> str | None:
    """What went wrong when ``ours`` (which has encrypted ``pt`` to ``want`` and
    decrypted it) is used again, or None."""
    n = len(pt)
    pt2 = rng.randbytes(n)
    want2 = bytes(theirs.encrypt(nonce, pt2, aad))
    if bytes(ours.encrypt(nonce, pt2, aad)) != want2:
        return "another plaintext with the same nonce, AAD and length gave the wrong ciphertext||tag"
    pt3 = rng.randbytes(n + 1 if n < 4096 else n // 3)
    if bytes(ours.encrypt(nonce, pt3, aad)) != bytes(theirs.encrypt(nonce, pt3, aad)):
        return f"a {len(pt3)}-byte plaintext after it gave the wrong ciphertext||tag"
    if bytes(ours.decrypt(nonce, want2, aad)) != pt2:
        return "decrypt of the second ciphertext gave the wrong plaintext"
    if bytes(ours.encrypt(nonce, pt, aad)) != want:
        return "the first plaintext encrypted again gave the wrong ciphertext||tag"
    return None


def _check_gcm_lengths(kernel: Kernel, reference: Kernel, rng: random.Random, result: CheckResult) -> None:
    """IV lengths other than 12 (J0 from GHASH, SP 800-38D §7.1) and tag
    lengths other than 16 (MSB_t of the full tag), against the reference, where
    both support them; a tampered first or last tag byte must be refused."""
    key_size = KEY_SIZES[kernel.algorithm]
    cases = [(iv, 16) for iv in GCM_IV_LENGTHS] + [(12, t) for t in GCM_TAG_LENGTHS]
    for iv_len, tag_len in cases:
        where = f"IV of {iv_len} bytes, tag of {tag_len}"
        reason = kernel.impl.supports(iv_len, tag_len)
        if reason is None:
            reason = reference.impl.supports(iv_len, tag_len)
        if reason is not None:
            result.skip(reason)
            continue
        key, nonce = rng.randbytes(key_size), rng.randbytes(iv_len)
        pt, aad = rng.randbytes(rng.choice((0, 16, 33, 100))), rng.randbytes(rng.choice((0, 13)))
        try:
            want = bytes(reference.impl.new(key, tag_length=tag_len).encrypt(nonce, pt, aad))
            ours = kernel.impl.new(key, tag_length=tag_len)
            if bytes(ours.encrypt(nonce, pt, aad)) != want:
                result.fail(f"{where}: ciphertext||tag differs from {reference.backend}")
            elif bytes(ours.decrypt(nonce, want, aad)) != pt:
                result.fail(f"{where}: decrypt of {reference.backend}'s output gave the wrong plaintext")
            elif bad := [what for what, data in _tag_ends_tampered(want, tag_len) if _accepts(ours, nonce, data, aad)]:
                result.fail(f"{where}: accepted the tag with its {' and '.join(bad)} flipped")
            else:
                result.ok()
        except Exception as exc:  # noqa: BLE001
            result.fail(f"{where}: {_describe(exc)}")


def _check_gcm_counter_wrap(kernel: Kernel, reference: Kernel, rng: random.Random, result: CheckResult) -> None:
    """inc32 (SP 800-38D §6.2) wraps J0's low 32 bits only. A 96-bit nonce starts
    them at 1, so only another IV length (J0 from GHASH) can reach the wrap, with
    probability about 2^-32 per block; here 16-byte IVs are solved for a J0 at
    the wrap (as Wycheproof's CounterWrap cases), and the kernel must match
    the reference (openssl, which increments correctly)."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    if kernel.impl.supports(16, 16) is not None:
        result.skip("kernel does not take 16-byte IVs, the only way to put J0 at the counter wrap")
        return
    key_size = KEY_SIZES[kernel.algorithm]
    for low in (0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFF0):
        key = rng.randbytes(key_size)
        h = Cipher(algorithms.AES(key), modes.ECB()).encryptor().update(bytes(16))
        nonce = ref.gcm_iv_for_j0(h, rng.randbytes(12) + low.to_bytes(4, "big"))
        pt, aad = rng.randbytes(16 * 20 + 7), rng.randbytes(13)
        where = f"16-byte IV, J0 low word {low:#x} (counter wraps after {0xFFFFFFFF - low} blocks)"
        try:
            want = bytes(reference.impl.new(key).encrypt(nonce, pt, aad))
            ours = kernel.impl.new(key)
            if bytes(ours.encrypt(nonce, pt, aad)) != want:
                result.fail(f"{where}: ciphertext||tag differs from {reference.backend}")
            elif bytes(ours.decrypt(nonce, want, aad)) != pt:
                result.fail(f"{where}: decrypt of {reference.backend}'s output gave the wrong plaintext")
            else:
                result.ok()
        except Exception as exc:  # noqa: BLE001
            result.fail(f"{where}: {_describe(exc)}")


def _tag_ends_tampered(data: bytes, tag_len: int) -> list[tuple[str, bytes]]:
    """``data`` (ciphertext || tag) with the tag's first byte's top bit, then its
    last byte's low bit, flipped: a comparison that skips either end fails."""
    first, last = bytearray(data), bytearray(data)
    first[len(data) - tag_len] ^= 0x80
    last[-1] ^= 0x01
    return [("first byte", bytes(first)), ("last byte", bytes(last))]


def _tamper(rng: random.Random, data: bytes, aad: bytes, nonce: bytes) -> dict[str, tuple[bytes, bytes, bytes]]:
    out: dict[str, tuple[bytes, bytes, bytes]] = {}
    b = bytearray(data)
    b[-1 - rng.randrange(16)] ^= 1 << rng.randrange(8)
    out["tag"] = (bytes(b), aad, nonce)
    for what, tampered in _tag_ends_tampered(data, 16):
        out[f"tag ({what})"] = (tampered, aad, nonce)
    if len(data) > 16:
        b = bytearray(data)
        b[rng.randrange(len(data) - 16)] ^= 0x80
        out["ciphertext"] = (bytes(b), aad, nonce)
    out["aad"] = (data, aad + b"\x00", nonce)
    n = bytearray(nonce)
    n[0] ^= 1
    out["nonce"] = (data, aad, bytes(n))
    return out


def _accepts(ctx: Any, nonce: bytes, data: bytes, aad: bytes) -> bool:
    try:
        ctx.decrypt(nonce, data, aad)
    except InvalidTag:
        return False
    return True


def check_signature_differential(kernel: Kernel, reference: Kernel, *, seed: int, quick: bool) -> CheckResult:
    against = reference.backend
    result = CheckResult(f"differential vs {against}")
    rng = random.Random(seed)
    from cryptobench.kernels._ecdsa_common import N

    for i in range(4 if quick else 16):
        d = rng.randrange(1, N)
        # long messages first (quick runs too): a kernel that hashed only a message's first
        # 2 KiB passed every check, since no message here was longer than 1,032 bytes
        msg = rng.randbytes(LONG_MESSAGES[i] if i < len(LONG_MESSAGES) else rng.choice((0, 1, 32, 100, 1000)))
        where = f"case {i}"
        try:
            ours = kernel.impl.private_key(d)
            theirs = reference.impl.private_key(d)
            pub_ours = ours.public_key()
            if bytes(pub_ours.encoded) != bytes(theirs.public_key().encoded):
                result.fail(f"{where}: public key differs from {against}")
                continue
            sig = bytes(ours.sign(msg))
            want = bytes(theirs.sign(msg))
            if sig != want:
                result.fail(f"{where}: RFC 6979 signature differs from {against}")
                continue
            # one PrivateKey signs many messages in `run`: a second message, then the first again
            msg2 = msg + rng.randbytes(rng.choice((1, 32)))
            if bytes(ours.sign(msg2)) != bytes(theirs.sign(msg2)):
                result.fail(f"{where}: a second message signed with the same key differs from {against}")
                continue
            if bytes(ours.sign(msg)) != want:
                result.fail(f"{where}: signing the first message again with the same key gave another signature")
                continue
            theirs.public_key().verify(msg, sig)
            pub = kernel.impl.public_key(pub_ours.encoded)
            pub.verify(msg, want)
            bad_msg = msg + b"\x00"
            if _sig_accepts(pub, bad_msg, want):
                result.fail(f"{where}: accepted a signature over another message")
                continue
            tampered = bytearray(want)
            tampered[-1] ^= 1
            if _sig_accepts(pub, msg, bytes(tampered)):
                result.fail(f"{where}: accepted a tampered signature")
                continue
        except Exception as exc:  # noqa: BLE001
            result.fail(f"{where}: {_describe(exc)}")
            continue
        result.ok()
    _check_generate(kernel, reference, rng, result)
    return result


def _check_generate(kernel: Kernel, reference: Kernel, rng: random.Random, result: CheckResult) -> None:
    """generate() (timed as keygen): two keys differ, the public key is 65
    bytes that both the kernel and the reference load, and a signature made
    with it verifies under the reference (and under the kernel's own loaded key)."""
    where = "generate()"
    try:
        a, b = kernel.impl.generate(), kernel.impl.generate()
        pa, pb = bytes(a.public_key().encoded), bytes(b.public_key().encoded)
        if pa == pb:
            result.fail(f"{where}: two calls gave the same key")
            return
        if len(pa) != 65 or pa[0] != 4:
            result.fail(f"{where}: the public key is not a 65-byte uncompressed SEC 1 point")
            return
        for priv, pub in ((a, pa), (b, pb)):
            msg = rng.randbytes(33)
            sig = bytes(priv.sign(msg))
            theirs = reference.impl.public_key(pub)
            if not _sig_accepts(theirs, msg, sig):
                result.fail(f"{where}: a signature made with a generated key does not verify under {reference.backend}")
                return
            if not _sig_accepts(kernel.impl.public_key(pub), msg, sig):
                result.fail(f"{where}: the kernel refuses its own signature under its generated public key")
                return
            if _sig_accepts(theirs, msg + b"\x00", sig):
                result.fail(f"{where}: its signature also verifies for another message")
                return
    except Exception as exc:  # noqa: BLE001
        result.fail(f"{where}: {_describe(exc)}")
        return
    result.ok()


def _sig_accepts(pub: Any, msg: bytes, sig: bytes) -> bool:
    try:
        pub.verify(msg, sig)
    except InvalidSignature:
        return False
    return True


# ---------------------------------------------------------------- hot paths


def _hot_path_cases(kernel: Kernel, name: str, rng: random.Random, quick: bool):
    """Yield (description, setup_args, call_args, expected) for one hot path."""
    n_cases = 3 if quick else 8
    fam = kernel.family
    if fam == "aes_gcm":
        ks = KEY_SIZES[kernel.algorithm]
        if name == "aes-ctr":
            from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

            for n in (0, 1, 16, 17, 64, 255, 1024)[: n_cases + 2] + HOT_LARGE:
                key = rng.randbytes(ks)
                block = rng.randbytes(12) + (rng.randrange(0, 1 << 24)).to_bytes(4, "big")
                data = rng.randbytes(n)
                want = Cipher(algorithms.AES(key), modes.CTR(block)).encryptor().update(data)
                yield f"len={n}", (key,), (block, data), want
            # GCM's inc32 wraps the low 32 bits (SP 800-38D §6.2); OpenSSL's CTR mode would
            # carry into the nonce, so the keystream comes from ECB on inc32 counter blocks
            key, nonce, data = rng.randbytes(ks), rng.randbytes(12), rng.randbytes(16 * 6 + 5)
            ecb = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
            stream = ecb.update(b"".join(nonce + ((0xFFFFFFFD + i) & 0xFFFFFFFF).to_bytes(4, "big") for i in range(7)))
            start = nonce + (0xFFFFFFFD).to_bytes(4, "big")
            yield "counter wraps at 2^32", (key,), (start, data), bytes(a ^ b for a, b in zip(data, stream))
        elif name == "ghash":
            for n in (0, 16, 32, 48, 128, 256, 272)[: n_cases + 2] + (16384,):
                h = rng.randbytes(16)
                data = rng.randbytes(n)
                yield f"len={n}", (h,), (data,), _ghash(h, data)
        elif name == "key-expansion":
            for _ in range(2):
                key = rng.randbytes(ks)
                yield "FIPS 197 schedule, deterministic", (), (key,), None
    elif fam == "chacha20_poly1305":
        if name == "chacha20":
            for v in V.chacha20_vectors():
                yield v.source, (v.key,), (v.nonce, v.counter, v.plaintext), v.ciphertext
            from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

            cases = [(n, rng.randrange(0, 1 << 20)) for n in (0, 1, 63, 64, 65, 511, 1000)[: n_cases + 2] + HOT_LARGE]
            # the top of the 32-bit block counter, with data that ends at or before 2^32 - 1's block
            cases += [(1000, 1 << 31), (128, (1 << 32) - 2), (64, (1 << 32) - 1), (1, (1 << 32) - 1)]
            for n, ctr in cases:
                key, nonce = rng.randbytes(32), rng.randbytes(12)
                data = rng.randbytes(n)
                alg = algorithms.ChaCha20(key, struct.pack("<I", ctr) + nonce)
                want = Cipher(alg, mode=None).encryptor().update(data)
                yield f"len={n} counter={ctr}", (key,), (nonce, ctr, data), want
        elif name == "poly1305":
            from cryptography.hazmat.primitives import poly1305

            for m in V.poly1305_vectors():
                yield m.source, (), (m.key, m.message), m.tag
            for n in (0, 1, 15, 16, 17, 64, 1000)[: n_cases + 2] + HOT_LARGE:
                key, data = rng.randbytes(32), rng.randbytes(n)
                yield f"len={n}", (), (key, data), poly1305.Poly1305.generate_tag(key, data)
    elif fam == "ecdsa_p256":
        from cryptobench.kernels._ecdsa_common import N, P

        if name == "field-mul":
            # 0 (a itself) and the benchmark's count (bench.FIELD_MUL_COUNT), besides small ones
            for count in (1, 2, 17)[:n_cases] + (0, FIELD_MUL_COUNT):
                a, b = rng.randrange(P), rng.randrange(P)
                yield f"count={count}", (), (a, b, count), ref.field_mul(a, b, count)
            yield "edge p-1", (), (P - 1, P - 1, 1), 1
        elif name == "scalar-inv":
            for _ in range(n_cases):
                k = rng.randrange(1, N)
                yield "random k", (), (k,), ref.scalar_inv(k)
            yield "k=1", (), (1,), 1
        elif name == "fixed-base-mul":
            for k in [1, 2, N - 1] + [rng.randrange(1, N) for _ in range(n_cases)]:
                yield f"k={'random' if k > 3 and k != N - 1 else k}", (), (k,), _scalar_mul(k, ref.G)
            # window and comb boundaries (every backend's table width is among these) and the
            # top of the range, where signed recodings carry out of the last window
            widths = (4, 5, 6, 8, 15, 16, 32, 64, 128, 255) if not quick else (5, 15, 128)
            for i in widths:
                for k in (2**i - 1, 2**i, 2**i + 1):
                    yield f"k=2^{i}{k - 2**i:+d}".replace("+0", ""), (), (k,), _scalar_mul(k, ref.G)
            for k in (N - 2, N - 2**128, (N - 1) // 2):
                yield f"k={hex(k)[:10]}...", (), (k,), _scalar_mul(k, ref.G)
        elif name == "double-scalar-mul":
            for i in range(n_cases):
                q = _scalar_mul(rng.randrange(1, N), ref.G)
                u1, u2 = rng.randrange(1, N), rng.randrange(1, N)
                yield f"case {i}", (q,), (u1, u2), _double_scalar_mul(u1, u2, q)
            q = _scalar_mul(5, ref.G)
            yield "sum at infinity", (q,), (N - 5, 1), None
            # exceptional additions inside a fast double-scalar loop: Q = +-G, so the two
            # halves' partial sums can meet as P + P or P + (-P); zero scalars
            neg_g = (ref.G[0], (-ref.G[1]) % P)
            for qname, q in (("G", ref.G), ("-G", neg_g)):
                for u1, u2 in ((1, 1), (7, 7), (2, N - 1), (N - 1, N - 1), (0, 5), (5, 0)):
                    yield f"Q={qname} u1={u1} u2={u2}", (q,), (u1, u2), _double_scalar_mul(u1, u2, q)


def check_hot_path(kernel: Kernel, name: str, *, seed: int, quick: bool) -> CheckResult:
    """Each case on a fresh setup, then (``_hot_path_reuse_cases``) several calls
    on one setup with different inputs, as ``run`` times one setup for
    thousands of calls."""
    result = CheckResult(f"hot path {name}")
    rng = random.Random(f"{seed}/{name}")
    setup = kernel.hot_paths[name]
    for where, sargs, cargs, want in _hot_path_cases(kernel, name, rng, quick):
        try:
            fn = setup(*sargs)
            got = fn(*cargs)
            if name == "key-expansion":
                again = setup()(*cargs)
                ok = _same(got, again)
                if ok and not _is_fips197_schedule(got, cargs[0]):
                    result.fail(f"{where}: the schedule is not FIPS 197's round keys in any layout this check "
                                "knows (16 or 32 bytes per round key, 32-bit words, .round_keys)")
                    continue
            else:
                ok = _hot_same(got, want)
        except Exception as exc:  # noqa: BLE001
            result.fail(f"{where}: {_describe(exc)}")
            continue
        if ok:
            result.ok()
        else:
            result.fail(f"{where}: wrong result")
    for where, sargs, calls in _hot_path_reuse_cases(kernel, name, rng):
        try:
            fn = setup(*sargs)
            outs = []
            for i, (cargs, want) in enumerate(calls):
                got = fn(*cargs)
                outs.append(got)
                if name == "key-expansion":
                    ok = _is_fips197_schedule(got, cargs[0])
                else:
                    ok = _hot_same(got, want)
                if not ok:
                    result.fail(f"{where}: call {i + 1} of {len(calls)} on one setup gave a wrong result")
                    break
            else:
                if name == "key-expansion":
                    problem = _schedule_problem(outs, [c[0][0] for c in calls])
                    if problem:
                        result.fail(f"{where}: {problem}")
                        continue
                result.ok()
        except Exception as exc:  # noqa: BLE001
            result.fail(f"{where}: {_describe(exc)}")
    return result


def check_chacha20_stream_vectors(kernel: Kernel, name: str, vecs: list, *, quick: bool) -> CheckResult:
    """The chacha20 hot path on a Wycheproof stream-cipher file (chacha20_counter_test.json): each
    valid case's output at the top of the 32-bit block counter, and a refusal (InvalidInput, the
    bad-input contract) of each case whose data runs past block 2^32 - 1, where a wrap would
    reuse keystream."""
    result = CheckResult(f"hot path chacha20 wycheproof {name}")
    setup = kernel.hot_paths["chacha20"]
    for v in _subset(vecs, quick):
        if isinstance(v, V.NotRun):
            result.skip(v.reason)
            continue
        got = _run_case(result, v, lambda: setup(v.key)(v.nonce, v.counter, v.plaintext), InvalidInput, "chacha20")
        if got is _SETTLED:
            continue
        if not v.valid:
            result.fail(f"{v.source}: returned {len(got)} bytes for data past block counter 2^32 - 1 "
                        "(a wrap reuses keystream); it must raise InvalidLength")
        elif bytes(got) == v.ciphertext:
            result.ok()
        else:
            result.fail(f"{v.source}: wrong result")
    return result


def _hot_same(got: Any, want: Any) -> bool:
    if isinstance(want, (bytes, bytearray)):
        return bytes(got) == bytes(want)
    if want is None or got is None:
        return want is None and got is None
    if isinstance(want, tuple):
        return tuple(int(x) for x in got) == want
    return int(got) == want


def _hot_path_reuse_cases(kernel: Kernel, name: str, rng: random.Random):
    """Yield (description, setup_args, [(call_args, expected), ...]): one setup,
    several calls with different inputs (same length, another length, the
    first input again)."""
    fam = kernel.family
    where = "one setup, several calls"
    if fam == "aes_gcm":
        ks = KEY_SIZES[kernel.algorithm]
        if name == "aes-ctr":
            from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

            key = rng.randbytes(ks)
            a, b = (rng.randbytes(12) + rng.randrange(0, 1 << 24).to_bytes(4, "big") for _ in range(2))
            d1, d2, d3 = rng.randbytes(64), rng.randbytes(64), rng.randbytes(17)

            def ctr(block: bytes, data: bytes) -> bytes:
                return Cipher(algorithms.AES(key), modes.CTR(block)).encryptor().update(data)

            yield where, (key,), [((blk, d), ctr(blk, d)) for blk, d in ((a, d1), (a, d2), (b, d3), (a, d1))]
        elif name == "ghash":
            h = rng.randbytes(16)
            d1, d2, d3 = rng.randbytes(64), rng.randbytes(64), rng.randbytes(32)
            yield where, (h,), [((d,), _ghash(h, d)) for d in (d1, d2, d3, d1)]
        elif name == "key-expansion":
            yield where, (), [((rng.randbytes(ks),), None) for _ in range(3)]
    elif fam == "chacha20_poly1305":
        if name == "chacha20":
            from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

            key, nonce = rng.randbytes(32), rng.randbytes(12)
            d1, d2, d3 = rng.randbytes(100), rng.randbytes(100), rng.randbytes(65)

            def chacha(ctr: int, data: bytes) -> bytes:
                alg = algorithms.ChaCha20(key, struct.pack("<I", ctr) + nonce)
                return Cipher(alg, mode=None).encryptor().update(data)

            yield where, (key,), [((nonce, c, d), chacha(c, d)) for c, d in ((1, d1), (1, d2), (7, d3), (1, d1))]
        elif name == "poly1305":
            from cryptography.hazmat.primitives import poly1305

            k1, k2 = rng.randbytes(32), rng.randbytes(32)
            m1, m2, m3 = rng.randbytes(64), rng.randbytes(64), rng.randbytes(17)
            yield where, (), [((k, m), poly1305.Poly1305.generate_tag(k, m))
                              for k, m in ((k1, m1), (k1, m2), (k2, m3), (k1, m1))]
    elif fam == "ecdsa_p256":
        from cryptobench.kernels._ecdsa_common import N, P

        if name == "field-mul":
            a, b, a2, b2 = (rng.randrange(P) for _ in range(4))
            yield where, (), [((x, y, c), ref.field_mul(x, y, c))
                              for x, y, c in ((a, b, 5), (a2, b2, 5), (a, b, FIELD_MUL_COUNT), (a, b, 5))]
        elif name == "scalar-inv":
            k1, k2 = rng.randrange(1, N), rng.randrange(1, N)
            yield where, (), [((k,), ref.scalar_inv(k)) for k in (k1, k2, k1)]
        elif name == "fixed-base-mul":
            k1, k2 = rng.randrange(1, N), rng.randrange(1, N)
            w1, w2 = _scalar_mul(k1, ref.G), _scalar_mul(k2, ref.G)
            yield where, (), [((k1,), w1), ((k2,), w2), ((k1,), w1)]
        elif name == "double-scalar-mul":
            q = _scalar_mul(rng.randrange(1, N), ref.G)
            pairs = [(rng.randrange(1, N), rng.randrange(1, N)) for _ in range(2)]
            calls = [((u1, u2), _double_scalar_mul(u1, u2, q)) for u1, u2 in pairs]
            yield where, (q,), calls + calls[:1]


#: The reference's point arithmetic, cached: every kernel of a family draws the
#: same hot-path cases (the seed is per hot path), and each costs milliseconds.
_scalar_mul = lru_cache(maxsize=512)(ref.scalar_mul)
_double_scalar_mul = lru_cache(maxsize=256)(ref.double_scalar_mul)


@lru_cache(maxsize=64)
def _ghash(h: bytes, data: bytes) -> bytes:
    """ref.ghash, cached: the hot-path cases of every kernel come from the same
    seed, and GHASH by the bit-serial reference costs ~40 ms per 16 KiB."""
    return ref.ghash(h, data)


def _schedule_words(sched: Any) -> tuple[str, Any] | None:
    """A key schedule as ("bytes", b) or ("words", [int, ...]) (an array of
    integers wider than a byte), or None for a layout this check does not know."""
    if hasattr(sched, "round_keys"):  # the python backend's _Schedule
        return "bytes", b"".join(bytes(rk) for rk in sched.round_keys)
    if isinstance(sched, (bytes, bytearray, memoryview)):
        return "bytes", bytes(sched)
    if hasattr(sched, "tobytes"):
        if getattr(getattr(sched, "dtype", None), "itemsize", 1) > 1:
            return "words", [int(x) for x in sched.ravel()]
        return "bytes", sched.tobytes()
    return None


def _is_fips197_schedule(sched: Any, key: bytes) -> bool:
    """Is ``sched`` the FIPS 197 §5.2 key schedule of ``key`` in a layout the
    backends use: the round keys back to back (16 bytes each), each round key
    twice (a 256-bit broadcast, native-vaes), or one 32-bit word per integer
    (big-endian value, numba-portable)?"""
    got = _schedule_words(sched)
    if got is None:
        return False
    rks = ref.aes_key_expansion(bytes(key))
    flat = b"".join(rks)
    if got[0] == "words":
        return got[1] == [int.from_bytes(flat[i : i + 4], "big") for i in range(0, len(flat), 4)]
    return got[1] in (flat, b"".join(rk + rk for rk in rks))


def _schedule_problem(outs: list, keys: list[bytes]) -> str | None:
    """Schedules of different keys must differ and none may be its key repeated."""
    flat = [_schedule_words(o) for o in outs]
    for f, key in zip(flat, keys):
        if f is not None and f[0] == "bytes" and f[1] == key * (len(f[1]) // len(key)):
            return "the schedule is the key repeated"
    if len({repr(f) for f in flat}) != len(set(keys)):
        return "different keys gave the same schedule"
    return None


def _same(a: Any, b: Any) -> bool:
    """Two key schedules are equal (bytes, arrays with tobytes(), or ==)."""
    try:
        if isinstance(a, (bytes, bytearray, memoryview)):
            return bytes(a) == bytes(b)
        if hasattr(a, "tobytes"):
            return a.tobytes() == b.tobytes()
        return bool(a == b)
    except Exception:  # noqa: BLE001
        return False


# ---------------------------------------------------------------- drivers


def vector_sets(kernel: Kernel, wycheproof: Path | str | None = None) -> list[tuple[str, list]]:
    """The (name, vectors) groups that apply to a kernel's whole operations."""
    sets: list[tuple[str, list]] = []
    if kernel.impl is None:
        return sets
    if kernel.kind == "aead":
        by_file: dict[str, list] = {}
        for v in V.aead_vectors(kernel.algorithm):
            by_file.setdefault(v.source.split(":")[0], []).append(v)
        sets += list(by_file.items())
        constructed = V.constructed_aead_vectors(kernel.algorithm)
        if constructed:
            sets.append(("constructed edge cases", constructed))
    else:
        by_file = {}
        for v in V.signature_vectors():
            by_file.setdefault(v.source.split(":")[0], []).append(v)
        sets += list(by_file.items())
        sets.append(("constructed edge cases", list(V.constructed_signature_vectors())))
    if wycheproof is not None:
        for path in V.wycheproof_files(wycheproof):
            vecs = V.load_wycheproof(path)
            if kernel.kind == "aead":
                vecs = [v for v in vecs if isinstance(v, V.AEADVector) and v.algorithm == kernel.algorithm]
            else:
                vecs = [v for v in vecs if isinstance(v, (V.SignatureVector, V.ECDHVector))]
            if vecs:
                sets.append((f"wycheproof {path.name}", vecs))
    return sets


def verify_kernel(
    kernel: Kernel,
    *,
    wycheproof: Path | str | None = None,
    quick: bool = False,
    seed: int = 20261127,
    registry: Registry | None = None,
    on_check: Callable[[str], None] | None = None,
) -> KernelReport:
    """Run every applicable check on one kernel.

    A kernel whose environment (``Kernel.env``) this process lacks is checked
    in a child process started with it; see the module docstring.
    """
    report = KernelReport(kernel.algorithm, kernel.backend, kernel.available, kernel.reason, kernel.path)
    if not kernel.available:
        return report
    reg = registry or default_registry()
    if env_mismatch(kernel) is not None:
        return _verify_in_child(kernel, reg, wycheproof=wycheproof, quick=quick, seed=seed, on_check=on_check)
    try:
        return _verify_here(kernel, report, reg, wycheproof=wycheproof, quick=quick, seed=seed, on_check=on_check)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - e.g. an impl without supports(), or a kernel calling sys.exit(): this kernel FAILS, the run goes on
        res = CheckResult("kernel interface (docs/kernels.md)")
        res.fail(f"the verifier could not drive this kernel: {_describe(exc)}")
        report.checks.append(res)
        return report


def _verify_here(kernel: Kernel, report: KernelReport, reg: Registry, *, wycheproof, quick: bool, seed: int,
                 on_check: Callable[[str], None] | None) -> KernelReport:
    """verify_kernel's checks, in this process."""
    report.env = {var: os.environ.get(var) for var in kernel.env}
    reference = _reference_kernel(kernel, reg)

    def step(label: str) -> None:
        if on_check:
            on_check(f"{kernel.name}: {label}")

    for name, vecs in vector_sets(kernel, wycheproof):
        step(name)
        vecs = _subset(vecs, quick)
        res = CheckResult(f"vectors {name}")
        if kernel.kind == "aead":
            check_aead_vectors(kernel, vecs, res)
        elif vecs and isinstance(vecs[0], V.ECDHVector):
            check_ecdh_vectors(kernel, vecs, res)
        else:
            check_signature_vectors(kernel, vecs, res)
        report.checks.append(res)
    if kernel.impl is not None:
        step("differential")
        if reference is None:
            if kernel.backend != "openssl":
                res = CheckResult("differential vs openssl")
                res.skip("the openssl backend is unavailable")
                report.checks.append(res)
        else:
            check = check_aead_differential if kernel.kind == "aead" else check_signature_differential
            if _same_implementation(kernel, reference):
                reference = _independent_kernel(kernel, reg)
            if reference is None:
                res = CheckResult(f"differential vs {INDEPENDENT_BACKEND}")
                res.skip(f"the openssl backend's own implementation, and the {INDEPENDENT_BACKEND} backend "
                         "to compare it with is unavailable")
                report.checks.append(res)
            else:
                report.checks.append(check(kernel, reference, seed=seed, quick=quick))
    for name in kernel.hot_paths:
        step(f"hot path {name}")
        report.checks.append(check_hot_path(kernel, name, seed=seed, quick=quick))
        if name == "chacha20" and wycheproof is not None:
            for path in V.wycheproof_files(wycheproof):
                if V.WYCHEPROOF_FILES[path.name] == "stream":
                    step(f"hot path {name} wycheproof {path.name}")
                    report.checks.append(check_chacha20_stream_vectors(kernel, path.name, V.load_wycheproof(path),
                                                                       quick=quick))
    return report


CHILD_CHECK = "child process"


def _child_failure(kernel: Kernel, detail: str) -> KernelReport:
    report = KernelReport(kernel.algorithm, kernel.backend, kernel.available, kernel.reason, kernel.path, in_child=True)
    res = CheckResult(f"{CHILD_CHECK} with {' '.join(f'{k}={v}' for k, v in kernel.env.items())}")
    res.fail(detail)
    report.checks.append(res)
    return report


def _verify_in_child(
    kernel: Kernel,
    reg: Registry,
    *,
    wycheproof: Path | str | None,
    quick: bool,
    seed: int,
    on_check: Callable[[str], None] | None,
) -> KernelReport:
    """Verify ``kernel`` in ``python -P -m cryptobench._verify_child`` started
    with the kernel's environment; the child loads it again by its registering
    module (:meth:`Registry.origin`) and sends back its report as JSON."""
    from ._child import child_env, die_with_parent, python_cmd
    from ._signals import popen_held

    module = reg.origin(kernel.name)
    if module is None:
        return _child_failure(kernel, "it needs its own environment, but it was not registered from a module, "
                                      "so a child process cannot load it")
    spec = {"algorithm": kernel.algorithm, "backend": kernel.backend, "module": module, "quick": quick, "seed": seed,
            "wycheproof": None if wycheproof is None else str(Path(wycheproof).resolve())}
    doc = None
    with tempfile.TemporaryFile(mode="w+") as err:
        proc = popen_held(python_cmd("cryptobench._verify_child", json.dumps(spec)), stdout=subprocess.PIPE,
                          stderr=err, text=True, env=child_env(kernel.env), preexec_fn=die_with_parent)
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                if line.startswith("CB-CHECK "):
                    if on_check:
                        on_check(line[9:].rstrip("\n"))
                elif line.startswith("CB-REPORT "):
                    doc = json.loads(line[10:])
            proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        err.seek(0)
        tail = err.read().strip().splitlines()[-1:] or ["(no output)"]
    if proc.returncode != 0 or doc is None:
        return _child_failure(kernel, f"the child process exited with status {proc.returncode} "
                                      f"and {'a' if doc else 'no'} report: {tail[0]}")
    try:
        report = KernelReport.from_dict(doc)
    except (KeyError, TypeError, ValueError) as exc:
        return _child_failure(kernel, f"the child's report is malformed: {_describe(exc)}")
    if report.name != kernel.name:
        return _child_failure(kernel, f"the child reported on {report.name}")
    if not report.available:
        return _child_failure(kernel, f"unavailable in a process started with its environment: {report.reason}")
    report.in_child = True
    return report


def verify(
    *,
    algorithms: str | Iterable[str] | None = None,
    backends: str | Iterable[str] | None = None,
    wycheproof: Path | str | None = None,
    quick: bool = False,
    seed: int = 20261127,
    registry: Registry | None = None,
    on_check: Callable[[str], None] | None = None,
    on_kernel: Callable[[KernelReport], None] | None = None,
) -> list[KernelReport]:
    """Verify every selected kernel; unavailable ones are reported with their reason."""
    if wycheproof is not None:  # refuse a bad directory or file before any work (later, in a kernel's
        for path in V.wycheproof_files(wycheproof):  # checks, it would fail every kernel instead)
            V.load_wycheproof(path)
    reg = registry or default_registry()
    reports = []
    for kernel in select(algorithms, backends, registry=reg):
        rep = verify_kernel(kernel, wycheproof=wycheproof, quick=quick, seed=seed, registry=reg, on_check=on_check)
        reports.append(rep)
        if on_kernel:
            on_kernel(rep)
    return reports

