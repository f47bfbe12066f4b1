"""What to time for a kernel, and how: benchmark specs and their timed loops.

Shared by the planner (in the ``cryptobench run`` process, to count and name
benchmarks) and the pyperf worker (``cryptobench._worker``, to build inputs and
time them). Keys, nonces, buffers, contexts and tables are prepared *outside*
the timed loop; their one-time cost is measured apart and recorded as
metadata (``setup_s``) — never mixed into per-operation times.

Benchmark names are ``algorithm/backend/operation[/size]``; each benchmark
also carries ``algorithm``, ``backend``, ``operation`` and ``size`` as pyperf
metadata, so scripts select benchmarks without parsing names.
"""

from __future__ import annotations

import itertools
import math
import random
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from .errors import InvalidSignature, InvalidTag, UsageError
from .registry import KEY_SIZES, Kernel, name_matches

#: The sizes of `openssl speed` (bytes).
DEFAULT_SIZES: tuple[int, ...] = (16, 64, 256, 1024, 8192, 16384)
#: A TLS 1.2 record's additional data is 13 bytes (RFC 5246 §6.2.3.3).
TLS_AAD = 13
MAX_SIZE = 1 << 24
#: Field multiplications per call of the field-mul hot path (amortizes the call).
FIELD_MUL_COUNT = 1000
#: ECDSA benchmarks (sign, verify, and the fixed-base-mul, double-scalar-mul
#: and scalar-inv hot paths) cycle through this many distinct inputs: 64-byte
#: messages, or scalars. With one message every call would sign with the same
#: RFC 6979 nonce: one scalar's cost instead of the average, and for a kernel
#: with a large table (the pure-Python one's is 43 MB) the same few entries hot
#: in cache every call, which made its signing look 10% faster than signing
#: different messages (87 against 97 us per signature, medians of three runs
#: each, 2026-11-28; its verify, python-ecdsa, openssl, native-adx and
#: numba-hw moved by 1% or less).
DISTINCT_INPUTS = 1024

#: Operations measured per message size (others are per operation).
SIZED = {"encrypt", "decrypt", "aes-ctr", "ghash", "chacha20", "poly1305"}


@dataclass(frozen=True)
class Spec:
    """One benchmark: a kernel, an operation (whole or hot path), a size."""

    algorithm: str
    backend: str
    operation: str
    size: int | None = None
    aad: int | None = None  # AEAD only
    hot_path: bool = False

    @property
    def name(self) -> str:
        op = self.operation
        if self.aad == 0:
            op += "-noaad"
        parts = [self.algorithm, self.backend, op]
        if self.size is not None:
            parts.append(str(self.size))
        return "/".join(parts)

    @property
    def kernel_name(self) -> str:
        return f"{self.algorithm}/{self.backend}"

    def metadata(self) -> dict[str, Any]:
        md: dict[str, Any] = {
            "algorithm": self.algorithm,
            "backend": self.backend,
            "operation": self.operation,
            "kind": "hot-path" if self.hot_path else "operation",
        }
        if self.size is not None:
            md["size"] = self.size
        if self.aad is not None:
            md["aad"] = self.aad
        return md


def parse_sizes(text: str | None) -> tuple[int, ...]:
    """``"16,64,16384"`` (also ``16k``, ``1KiB``) -> sizes; UsageError otherwise.

    None (the option not given) means the defaults; an empty or blank string
    (``--sizes ''``, often an unset shell variable) is refused rather than
    quietly taken for them.
    """
    if text is None:
        return DEFAULT_SIZES
    if not text.strip():
        raise UsageError(
            f"--sizes is empty; give byte counts (e.g. --sizes {','.join(map(str, DEFAULT_SIZES))}), "
            "or leave the option out for the command's default"
        )
    out = []
    for item in text.split(","):
        raw = item.strip().lower()
        mult = 1
        for suffix, m in (("kib", 1024), ("k", 1024), ("mib", 1 << 20), ("m", 1 << 20)):
            if raw.endswith(suffix):
                raw, mult = raw[: -len(suffix)], m
                break
        try:
            n = int(raw) * mult
        except ValueError:
            n = -1
        if not 1 <= n <= MAX_SIZE:
            raise UsageError(
                f"invalid size {item.strip()!r}; sizes are byte counts from 1 to {MAX_SIZE} "
                f"(e.g. --sizes {','.join(map(str, DEFAULT_SIZES))})"
            )
        out.append(n)
    return tuple(sorted(set(out)))


def specs_for(
    kernel: Kernel,
    *,
    sizes: tuple[int, ...] = DEFAULT_SIZES,
    aads: tuple[int, ...] = (TLS_AAD,),
    hot_paths: bool = True,
    pattern: str | None = None,
) -> list[Spec]:
    """Every benchmark of a kernel, optionally filtered by a glob on the name."""
    a, b = kernel.algorithm, kernel.backend
    out: list[Spec] = []
    if kernel.impl is not None:
        if kernel.kind == "aead":
            for op in ("encrypt", "decrypt"):
                for aad in aads:
                    out += [Spec(a, b, op, n, aad) for n in sizes]
        else:
            out += [Spec(a, b, op) for op in ("sign", "verify", "keygen")]
    if hot_paths:
        for hp in kernel.hot_paths:
            if hp in SIZED:
                hp_sizes = [n for n in sizes if hp != "ghash" or n % 16 == 0]
                out += [Spec(a, b, hp, n, hot_path=True) for n in hp_sizes]
            elif hp == "key-expansion":
                out.append(Spec(a, b, hp, KEY_SIZES[a], hot_path=True))
            else:
                out.append(Spec(a, b, hp, hot_path=True))
    if pattern:
        out = [s for s in out if name_matches(s.name, pattern)]
    return out


# ---------------------------------------------------------------- building timed calls


@dataclass
class Prepared:
    """A zero-argument-per-iteration call, plus what it cost to set up.

    ``check``, when there is one, calls the kernel once more on the benchmark's
    own context or setup and returns None if the answer is right (against
    ``cryptography`` or the reference arithmetic), else what is wrong. run's
    workers call it after the values are taken: a kernel that passed its vectors
    in the parent but answers wrongly in a worker, or after thousands of calls on
    one context, is an ERROR, not a figure.
    """

    call: Callable[[], Any]
    setup_s: float
    per_call_units: int = 1  # e.g. FIELD_MUL_COUNT multiplications per call
    check: Callable[[], str | None] | None = None


def prepare_details(value: Any) -> dict[str, Any]:
    """What a kernel's ``prepare()`` returned, as results-file metadata: text keys, finite
    numbers and printable text (escaped and cut), anything else said as its repr. A NaN,
    a control character or a non-mapping made run write a file its own reader refused,
    or stopped it with a traceback."""
    from ._text import printable

    if not isinstance(value, Mapping):
        return {} if value is None else {"returned": printable(repr(value), 200)}
    out: dict[str, Any] = {}
    for k, v in value.items():
        key = printable(str(k), 100)
        if isinstance(v, bool) or not isinstance(v, (int, float, str)) or (isinstance(v, float) and not math.isfinite(v)):
            out[key] = printable(repr(v), 200)
        elif isinstance(v, str):
            out[key] = printable(v)
        else:
            out[key] = v
    return out


def _rng(spec: Spec) -> random.Random:
    return random.Random(f"cryptobench/{spec.name}")


def prepare(kernel: Kernel, spec: Spec) -> Prepared:
    """Build the inputs for one benchmark; the setup cost is measured, not timed per op."""
    rng = _rng(spec)
    t0 = time.perf_counter()
    if spec.hot_path:
        prepared = _prepare_hot_path(kernel, spec, rng)
    elif kernel.kind == "aead":
        prepared = _prepare_aead(kernel, spec, rng)
    else:
        prepared = _prepare_signature(kernel, spec, rng)
    prepared.setup_s = time.perf_counter() - t0
    return prepared


def _prepare_aead(kernel: Kernel, spec: Spec, rng: random.Random) -> Prepared:
    key = rng.randbytes(KEY_SIZES[spec.algorithm])
    nonce = rng.randbytes(12)
    aad = rng.randbytes(spec.aad or 0)
    pt = rng.randbytes(spec.size or 0)
    ctx = kernel.impl.new(key)

    def reference() -> bytes:  # only when checked: gate --count sets benchmarks up under callgrind
        return _reference_aead(spec.algorithm, key).encrypt(nonce, pt, aad)

    if spec.operation == "encrypt":
        enc = ctx.encrypt

        def check_enc() -> str | None:
            ok = bytes(enc(nonce, pt, aad)) == reference()
            return None if ok else "encrypt no longer gives openssl's ciphertext and tag"

        return Prepared(lambda: enc(nonce, pt, aad), 0.0, check=check_enc)
    ct = ctx.encrypt(nonce, pt, aad)
    dec = ctx.decrypt

    def check_dec() -> str | None:
        want = reference()
        if bytes(dec(nonce, want, aad)) != pt:
            return "decrypt no longer gives the plaintext back"
        bad = want[:-1] + bytes([want[-1] ^ 1])
        try:
            dec(nonce, bad, aad)
        except InvalidTag:
            return None
        return "decrypt accepts a forged tag"

    return Prepared(lambda: dec(nonce, ct, aad), 0.0, check=check_dec)


def _reference_aead(algorithm: str, key: bytes):
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

    return ChaCha20Poly1305(key) if algorithm == "chacha20-poly1305" else AESGCM(key)


def _prepare_signature(kernel: Kernel, spec: Spec, rng: random.Random) -> Prepared:
    from cryptobench.kernels._ecdsa_common import N

    impl = kernel.impl
    if spec.operation == "keygen":
        gen = impl.generate
        return Prepared(gen, 0.0)
    d = rng.randrange(1, N)
    blob = rng.randbytes(64 * DISTINCT_INPUTS)
    msgs = [blob[i:i + 64] for i in range(0, len(blob), 64)]
    if spec.operation == "sign":
        sign = impl.private_key(d).sign
        next_msg = itertools.cycle(msgs).__next__

        def check_sign() -> str | None:
            from cryptography.exceptions import InvalidSignature as _Bad
            from cryptography.hazmat.primitives import hashes
            from cryptography.hazmat.primitives.asymmetric import ec

            pub = ec.derive_private_key(d, ec.SECP256R1()).public_key()
            try:
                pub.verify(bytes(sign(msgs[0])), msgs[0], ec.ECDSA(hashes.SHA256()))
            except (_Bad, ValueError):
                return "sign no longer gives a signature openssl accepts"
            return None

        return Prepared(lambda: sign(next_msg()), 0.0, check=check_sign)
    # The signatures come from OpenSSL (RFC 6979, as every kernel signs, so
    # the same ones), not from the kernel: 22 ms of set-up per worker, where
    # python-ecdsa would take 0.4 s, and many times that under valgrind
    # (gate --count). An OpenSSL older than 3.2 has no RFC 6979 (the openssl
    # kernel is then unavailable): the kernel signs its own.
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.derive_private_key(d, ec.SECP256R1())
    sec1 = key.public_key().public_bytes(serialization.Encoding.X962,
                                         serialization.PublicFormat.UncompressedPoint)
    try:
        alg = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
        pairs = [(m, key.sign(m, alg)) for m in msgs]
    except UnsupportedAlgorithm:
        own = impl.private_key(d).sign
        pairs = [(m, own(m)) for m in msgs]
    verify = impl.public_key(sec1).verify
    next_pair = itertools.cycle(pairs).__next__

    def call() -> None:
        m, sig = next_pair()
        verify(m, sig)

    def check_verify() -> str | None:
        m, sig = pairs[0]
        try:
            verify(m, sig)
        except InvalidSignature:
            return "verify no longer accepts a valid signature"
        try:
            verify(m[:-1] + bytes([m[-1] ^ 1]), sig)
        except InvalidSignature:
            return None
        return "verify accepts a signature of another message"

    return Prepared(call, 0.0, check=check_verify)


def _prepare_hot_path(kernel: Kernel, spec: Spec, rng: random.Random) -> Prepared:
    from cryptobench import _reference as ref
    from cryptobench.kernels._ecdsa_common import N, P

    setup = kernel.hot_paths[spec.operation]
    op, n = spec.operation, spec.size or 0
    if op == "key-expansion":
        f = setup()
        key = rng.randbytes(KEY_SIZES[spec.algorithm])
        return Prepared(lambda: f(key), 0.0)
    if op == "aes-ctr":
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        key = rng.randbytes(KEY_SIZES[spec.algorithm])
        f = setup(key)
        block, data = rng.randbytes(12) + b"\x00\x00\x00\x02", rng.randbytes(n)
        return Prepared(lambda: f(block, data), 0.0, check=_same_as(  # counter 2: no wrap
            lambda: f(block, data), op, lambda: Cipher(algorithms.AES(key), modes.CTR(block)).encryptor().update(data)))
    if op == "ghash":
        f = setup(rng.randbytes(16))
        data = rng.randbytes(n)
        return Prepared(lambda: f(data), 0.0)
    if op == "chacha20":
        import struct

        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

        key = rng.randbytes(32)
        f = setup(key)
        nonce, data = rng.randbytes(12), rng.randbytes(n)
        return Prepared(lambda: f(nonce, 1, data), 0.0, check=_same_as(lambda: f(nonce, 1, data), op, lambda: Cipher(
            algorithms.ChaCha20(key, struct.pack("<I", 1) + nonce), mode=None).encryptor().update(data)))
    if op == "poly1305":
        from cryptography.hazmat.primitives import poly1305

        f = setup()
        key, data = rng.randbytes(32), rng.randbytes(n)
        return Prepared(lambda: f(key, data), 0.0,
                        check=_same_as(lambda: f(key, data), op, lambda: poly1305.Poly1305.generate_tag(key, data)))
    if op == "field-mul":
        f = setup()
        a, b = rng.randrange(P), rng.randrange(P)
        return Prepared(lambda: f(a, b, FIELD_MUL_COUNT), 0.0, per_call_units=FIELD_MUL_COUNT,
                        check=_same_as(lambda: f(a, b, FIELD_MUL_COUNT), op, lambda: ref.field_mul(a, b, FIELD_MUL_COUNT)))
    if op in ("fixed-base-mul", "scalar-inv"):
        f = setup()
        ks = [rng.randrange(1, N) for _ in range(DISTINCT_INPUTS)]
        next_k = itertools.cycle(ks).__next__
        answer = (lambda k: ref.scalar_mul(k, ref.G)) if op == "fixed-base-mul" else ref.scalar_inv
        return Prepared(lambda: f(next_k()), 0.0, check=_same_as(lambda: f(ks[0]), op, lambda: answer(ks[0])))
    if op == "double-scalar-mul":
        q = ref.scalar_mul(rng.randrange(1, N), ref.G)
        f = setup(q)
        us = [(rng.randrange(1, N), rng.randrange(1, N)) for _ in range(DISTINCT_INPUTS)]
        next_u = itertools.cycle(us).__next__

        def call() -> Any:
            u1, u2 = next_u()
            return f(u1, u2)

        return Prepared(call, 0.0, check=_same_as(lambda: f(*us[0]), op,
                                                  lambda: ref.double_scalar_mul(us[0][0], us[0][1], q)))
    raise ValueError(f"no benchmark recipe for hot path {op!r}")


def _same_as(call: Callable[[], Any], op: str, answer: Callable[[], Any]) -> Callable[[], str | None]:
    """A Prepared.check: ``call()`` must give ``answer()``, computed only when checked
    (gate --count sets benchmarks up under callgrind, where the pure-Python point
    arithmetic would cost seconds). ghash and key-expansion have none: their reference
    is pure-Python GF(2^128) (slow at 16 KiB) or a schedule with no single expected value."""
    def check() -> str | None:
        from .verify import _hot_same

        return None if _hot_same(call(), answer()) else f"{op} no longer gives the reference answer"

    return check


def calibrate(call: Callable[[], Any], min_time: float, max_calls: int = 1 << 22) -> int:
    """Calls per timed value so that one value lasts at least ``min_time`` seconds."""
    call()  # first call outside: caches, lazy tables
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            call()
        dt = time.perf_counter() - t0
        if dt >= min_time / 4 or n >= max_calls:
            break
        n *= 4
    per_call = dt / n
    return max(1, min(max_calls, math.ceil(min_time / max(per_call, 1e-9))))


def noop(nonce: bytes, data: bytes, aad: bytes) -> bytes:
    """The do-nothing kernel: measures the harness's own cost per call."""
    return data
