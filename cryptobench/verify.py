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

Pure library code (rule 9): functions take keywords and return
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
from pathlib import Path
from typing import Any, Callable, Iterable

from . import _reference as ref
from . import vectors as V
from .errors import InvalidInput, InvalidPoint, InvalidSignature, InvalidTag
from .registry import KEY_SIZES, Kernel, Registry, default_registry, env_mismatch, select

#: Lengths the differential check always covers (block and buffer boundaries).
DIFF_LENGTHS = (0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257, 511, 512, 513, 1023, 1024, 1025, 2047, 2048)
#: Past the native kernels' per-thread output buffers (16 KiB + 64 for AES-GCM, 64 KiB + 16
#: for ChaCha20-Poly1305), where a fresh buffer is allocated instead (not in --quick).
DIFF_LARGE = (16384 + 65, 65536 + 17, 100_003)

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


def check_aead_vectors(kernel: Kernel, vecs: Iterable[V.AEADVector], result: CheckResult) -> CheckResult:
    impl = kernel.impl
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
            _check_valid_aead(ctx, v, result)
        else:
            _check_invalid_aead(ctx, v, result)
    return result


def _check_valid_aead(ctx: Any, v: V.AEADVector, result: CheckResult) -> None:
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
            if not (0 < r and 0 < s):
                raise InvalidSignature("r or s is zero")
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


def check_aead_differential(kernel: Kernel, reference: Kernel, *, seed: int, quick: bool) -> CheckResult:
    against = reference.backend
    result = CheckResult(f"differential vs {against}")
    rng = random.Random(seed)
    key_size = KEY_SIZES[kernel.algorithm]
    lengths = list(DIFF_LENGTHS) + [rng.randrange(0, 2049) for _ in range(8 if quick else 40)]
    if quick:
        lengths = [0, 1, 15, 16, 17, 64, 65, 255, 1024, 2048] + lengths[-8:]
    else:
        lengths += DIFF_LARGE
    for n in lengths:
        key = rng.randbytes(key_size)
        nonce = rng.randbytes(12)
        aad = rng.randbytes(rng.choice((0, 1, 13, 16, 17, 64)))
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
        _check_gcm_counter_wrap(kernel, reference, rng, result)
    return result


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



def _tamper(rng: random.Random, data: bytes, aad: bytes, nonce: bytes) -> dict[str, tuple[bytes, bytes, bytes]]:
    out: dict[str, tuple[bytes, bytes, bytes]] = {}
    b = bytearray(data)
    b[-1 - rng.randrange(16)] ^= 1 << rng.randrange(8)
    out["tag"] = (bytes(b), aad, nonce)
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
        msg = rng.randbytes(rng.choice((0, 1, 32, 100, 1000)))
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
    return result


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

            for n in (0, 1, 16, 17, 64, 255, 1024)[: n_cases + 2]:
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
            for n in (0, 16, 32, 48, 128, 256, 272)[: n_cases + 2]:
                h = rng.randbytes(16)
                data = rng.randbytes(n)
                yield f"len={n}", (h,), (data,), ref.ghash(h, data)
        elif name == "key-expansion":
            for _ in range(2):
                key = rng.randbytes(ks)
                yield "schedule is deterministic", (), (key,), None
    elif fam == "chacha20_poly1305":
        if name == "chacha20":
            for v in V.chacha20_vectors():
                yield v.source, (v.key,), (v.nonce, v.counter, v.plaintext), v.ciphertext
            from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

            for n in (0, 1, 63, 64, 65, 511, 1000)[: n_cases + 2]:
                key, nonce, ctr = rng.randbytes(32), rng.randbytes(12), rng.randrange(0, 1 << 20)
                data = rng.randbytes(n)
                alg = algorithms.ChaCha20(key, struct.pack("<I", ctr) + nonce)
                want = Cipher(alg, mode=None).encryptor().update(data)
                yield f"len={n} counter={ctr}", (key,), (nonce, ctr, data), want
        elif name == "poly1305":
            from cryptography.hazmat.primitives import poly1305

            for m in V.poly1305_vectors():
                yield m.source, (), (m.key, m.message), m.tag
            for n in (0, 1, 15, 16, 17, 64, 1000)[: n_cases + 2]:
                key, data = rng.randbytes(32), rng.randbytes(n)
                yield f"len={n}", (), (key, data), poly1305.Poly1305.generate_tag(key, data)
    elif fam == "ecdsa_p256":
        from cryptobench.kernels._ecdsa_common import N, P

        if name == "field-mul":
            for count in (1, 2, 17)[:n_cases]:
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
                yield f"k={'random' if k > 3 and k != N - 1 else k}", (), (k,), ref.scalar_mul(k, ref.G)
            # window and comb boundaries (every backend's table width is among these) and the
            # top of the range, where signed recodings carry out of the last window
            widths = (4, 5, 6, 8, 15, 16, 32, 64, 128, 255) if not quick else (5, 15, 128)
            for i in widths:
                for k in (2**i - 1, 2**i, 2**i + 1):
                    yield f"k=2^{i}{k - 2**i:+d}".replace("+0", ""), (), (k,), ref.scalar_mul(k, ref.G)
            for k in (N - 2, N - 2**128, (N - 1) // 2):
                yield f"k={hex(k)[:10]}...", (), (k,), ref.scalar_mul(k, ref.G)
        elif name == "double-scalar-mul":
            for i in range(n_cases):
                q = ref.scalar_mul(rng.randrange(1, N), ref.G)
                u1, u2 = rng.randrange(1, N), rng.randrange(1, N)
                yield f"case {i}", (q,), (u1, u2), ref.double_scalar_mul(u1, u2, q)
            q = ref.scalar_mul(5, ref.G)
            yield "sum at infinity", (q,), (N - 5, 1), None
            # exceptional additions inside a fast double-scalar loop: Q = +-G, so the two
            # halves' partial sums can meet as P + P or P + (-P); zero scalars
            neg_g = (ref.G[0], (-ref.G[1]) % P)
            for qname, q in (("G", ref.G), ("-G", neg_g)):
                for u1, u2 in ((1, 1), (7, 7), (2, N - 1), (N - 1, N - 1), (0, 5), (5, 0)):
                    yield f"Q={qname} u1={u1} u2={u2}", (q,), (u1, u2), ref.double_scalar_mul(u1, u2, q)


def check_hot_path(kernel: Kernel, name: str, *, seed: int, quick: bool) -> CheckResult:
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
            elif isinstance(want, (bytes, bytearray)):
                ok = bytes(got) == bytes(want)
            elif want is None or got is None:
                ok = want is None and got is None
            elif isinstance(want, tuple):
                ok = tuple(int(x) for x in got) == want
            else:
                ok = int(got) == want
        except Exception as exc:  # noqa: BLE001
            result.fail(f"{where}: {_describe(exc)}")
            continue
        if ok:
            result.ok()
        else:
            result.fail(f"{where}: wrong result")
    return result


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
                vecs = [v for v in vecs if isinstance(v, V.SignatureVector)]
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
    except Exception as exc:  # noqa: BLE001 - e.g. an impl without supports(): this kernel FAILS, the run goes on
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

    module = reg.origin(kernel.name)
    if module is None:
        return _child_failure(kernel, "it needs its own environment, but it was not registered from a module, "
                                      "so a child process cannot load it")
    spec = {"algorithm": kernel.algorithm, "backend": kernel.backend, "module": module, "quick": quick, "seed": seed,
            "wycheproof": None if wycheproof is None else str(Path(wycheproof).resolve())}
    doc = None
    with tempfile.TemporaryFile(mode="w+") as err:
        proc = subprocess.Popen(python_cmd("cryptobench._verify_child", json.dumps(spec)), stdout=subprocess.PIPE,
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
    if wycheproof is not None:
        V.wycheproof_files(wycheproof)  # refuse a bad directory before any work
    reg = registry or default_registry()
    reports = []
    for kernel in select(algorithms, backends, registry=reg):
        rep = verify_kernel(kernel, wycheproof=wycheproof, quick=quick, seed=seed, registry=reg, on_check=on_check)
        reports.append(rep)
        if on_kernel:
            on_kernel(rep)
    return reports

