"""The bad-input contract (docs/bad-input.md), checked on every registered kernel.

One parametrized test over the registry: every AEAD and signature kernel of
every backend (python, numba-*, native-*, openssl, peer-*) gets the same list
of bad inputs, and each must raise the contract's exception with a message.

Each kernel's cases run in a forked child process, so a kernel that crashes
(a segfault in C), hangs, or tries to allocate 64 GiB fails *its* test with
the case that did it instead of taking pytest down. The child streams one
line per case through a pipe; the parent enforces a time limit.

Messages over an algorithm's limit are tested without allocating: the input
is a ``memoryview`` of a read-only anonymous ``MAP_NORESERVE`` mapping of
2^36 (GCM) or 2^38 (ChaCha20) bytes that no page of is ever touched, and the
child runs under ``RLIMIT_AS`` so a kernel that copies the buffer gets a
MemoryError (reported as a violation) rather than exhausting the machine. The
contract therefore requires kernels to check ``len()`` before reading data.
"""

from __future__ import annotations

import array
import faulthandler
import hashlib
import json
import mmap
import os
import resource
import select
import signal
import sys
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable

import pytest

from cryptobench import registry
from cryptobench.errors import (
    InvalidInput,
    InvalidKey,
    InvalidLength,
    InvalidNonce,
    InvalidPoint,
    InvalidSignature,
    InvalidTag,
)
from cryptobench._reference import scalar_mul
from cryptobench.kernels._ecdsa_common import GX, GY, N, P, encode_der, encode_point
from conftest import kernel_params

#: Values of the wrong type for a bytes argument.
WRONG_TYPES: tuple[Any, ...] = ("not bytes", 12, None, [1, 2, 3])

#: SP 800-38D §5.2.1.1: len(P) <= 2^39 - 256 bits.
GCM_MAX_TEXT = 2**36 - 32
#: RFC 8439 §2.8: the 32-bit block counter starts at 1 for the plaintext.
CHACHA_MAX_TEXT = (2**32 - 1) * 64

#: Seconds one kernel's cases may take (pure-Python ECDSA is the slowest).
KERNEL_TIME_LIMIT = 120.0
#: Address space the child may add once the huge mappings exist.
EXTRA_ADDRESS_SPACE = 4 << 30


@dataclass
class Case:
    """One bad input: ``call()`` must raise ``expect`` (or, with ``check``, pass it)."""

    label: str
    call: Callable[[], Any]
    expect: type[BaseException] | None = None
    #: for cases whose acceptable outcome is not one exception: returns a
    #: violation message or None, given (result, exception)
    check: Callable[[Any, BaseException | None], str | None] | None = None


def _outcome(case: Case) -> str | None:
    """None when the kernel honoured the contract on this case, else what it did."""
    result, exc = None, None
    try:
        result = case.call()
    except BaseException as e:  # noqa: BLE001 - we classify everything
        exc = e
    if case.check is not None:
        return case.check(result, exc)
    assert case.expect is not None
    want = case.expect.__name__
    if exc is None:
        shown = f"{len(result)} bytes" if isinstance(result, (bytes, bytearray)) else repr(result)[:60]
        return f"expected {want}, returned {shown}"
    if not isinstance(exc, case.expect):
        return f"expected {want}, raised {type(exc).__name__}: {str(exc)[:160]}"
    if len(str(exc).strip()) < 8:
        return f"raised {type(exc).__name__} without a clear message ({str(exc)!r})"
    return None


def _same_or_type_error(expected: bytes, also: tuple[type[BaseException], ...] = ()):
    """Result must equal ``expected`` (the input read as bytes) or be a TypeError (or ``also``)."""
    ok = (TypeError, *also)
    names = " or ".join(e.__name__ for e in ok)

    def check(result, exc):
        if exc is None:
            return None if bytes(result) == expected else "returned a wrong result for this buffer type"
        if isinstance(exc, ok) and str(exc).strip():
            return None
        return f"expected the same result as for bytes() or {names}, raised {type(exc).__name__}: {str(exc)[:160]}"

    return check


def _huge(size: int) -> memoryview:
    """A read-only zero-filled buffer of ``size`` bytes that costs no memory until read."""
    flags = mmap.MAP_PRIVATE | getattr(mmap, "MAP_ANONYMOUS", 0x20) | getattr(mmap, "MAP_NORESERVE", 0)
    return memoryview(mmap.mmap(-1, size, flags=flags, prot=mmap.PROT_READ))


# ---------------------------------------------------------------- AEAD cases


def aead_cases(kernel: registry.Kernel) -> list[Case]:
    impl = kernel.impl
    ks = impl.key_size
    gcm = kernel.family == "aes_gcm"
    ref = registry.get(kernel.algorithm, "openssl").impl
    key = bytes(range(1, ks + 1))
    nonce = bytes(range(100, 112))
    pt, aad = b"attack at dawn, bring snacks!!", b"header"
    ctx = impl.new(key)
    ref_ctx = ref.new(key)
    good = ref_ctx.encrypt(nonce, pt, aad)
    cases: list[Case] = []
    add = cases.append

    # -- key
    for bad in WRONG_TYPES:
        add(Case(f"new(key={bad!r})", lambda bad=bad: impl.new(bad), TypeError))
    for n in sorted({0, 1, ks - 1, ks + 1, 24, 48, 64} - {ks}):
        add(Case(f"new(key of {n} bytes)", lambda n=n: impl.new(bytes(n)), InvalidKey))

    # -- tag length
    for bad in ("16", 16.0, None, True):
        add(Case(f"new(tag_length={bad!r})", lambda bad=bad: impl.new(key, bad), TypeError))
    lo, hi = (4, 16) if gcm else (16, 16)
    for t in (-1, 0, 1, lo - 1, hi + 1, 32, 2**64):
        if lo <= t <= hi:
            continue
        add(Case(f"new(tag_length={t})", lambda t=t: impl.new(key, t), InvalidLength))
    for t in range(lo, hi + 1):
        if impl.supports(12, t) is not None:
            add(Case(f"new(tag_length={t}) unsupported by this backend", lambda t=t: impl.new(key, t), InvalidLength))

    # -- argument types
    for bad in WRONG_TYPES:
        add(Case(f"encrypt(nonce={bad!r})", lambda bad=bad: ctx.encrypt(bad, pt, aad), TypeError))
        add(Case(f"encrypt(plaintext={bad!r})", lambda bad=bad: ctx.encrypt(nonce, bad, aad), TypeError))
        add(Case(f"encrypt(aad={bad!r})", lambda bad=bad: ctx.encrypt(nonce, pt, bad), TypeError))
        add(Case(f"decrypt(nonce={bad!r})", lambda bad=bad: ctx.decrypt(bad, good, aad), TypeError))
        add(Case(f"decrypt(data={bad!r})", lambda bad=bad: ctx.decrypt(nonce, bad, aad), TypeError))
        add(Case(f"decrypt(aad={bad!r})", lambda bad=bad: ctx.decrypt(nonce, good, bad), TypeError))

    # -- nonce lengths: an unsupported one raises InvalidNonce; a supported one works
    add(Case("supports(nonce_len=0) names a reason", lambda: impl.supports(0, 16),
             check=lambda r, e: None if e is None and isinstance(r, str) and r else f"supports(0, 16) gave {r!r} / {e!r}"))
    for n in (0, 1, 7, 8, 11, 13, 16, 64, 128, 129, 256):
        iv = bytes(range(n)) if n <= 256 else bytes(n)
        if impl.supports(n, 16) is not None:
            add(Case(f"encrypt(nonce of {n} bytes) unsupported", lambda iv=iv: ctx.encrypt(iv, pt, aad), InvalidNonce))
            add(Case(f"decrypt(nonce of {n} bytes) unsupported", lambda iv=iv: ctx.decrypt(iv, good, aad), InvalidNonce))
        elif ref.supports(n, 16) is None:
            want = ref_ctx.encrypt(iv, pt, aad)
            add(Case(f"encrypt(nonce of {n} bytes) supported", lambda iv=iv: ctx.encrypt(iv, pt, aad),
                     check=lambda r, e, want=want: None if e is None and r == want else f"wrong result or {e!r}"))

    # -- data shorter than the tag, and tags that do not authenticate
    for n in (0, 1, 8, 15):
        add(Case(f"decrypt(data of {n} bytes < tag)", lambda n=n: ctx.decrypt(nonce, good[:n], aad), InvalidTag))
    for t in (4, 8, 12):
        if lo <= t <= hi and impl.supports(12, t) is None:
            short_ctx = impl.new(key, t)
            add(Case(f"decrypt(data of {t - 1} bytes < tag of {t})",
                     lambda c=short_ctx, t=t: c.decrypt(nonce, good[: t - 1], aad), InvalidTag))
            add(Case(f"decrypt(tag of {t} bytes, last byte flipped)",
                     lambda c=short_ctx, t=t: c.decrypt(nonce, _flip(c.encrypt(nonce, pt, aad), -1), aad), InvalidTag))
    for i in range(16):
        add(Case(f"decrypt(tag byte {i} flipped)", lambda i=i: ctx.decrypt(nonce, _flip(good, len(pt) + i), aad), InvalidTag))
    add(Case("decrypt(ciphertext byte flipped)", lambda: ctx.decrypt(nonce, _flip(good, 3), aad), InvalidTag))
    add(Case("decrypt(wrong aad)", lambda: ctx.decrypt(nonce, good, aad + b"!"), InvalidTag))
    add(Case("decrypt(aad dropped)", lambda: ctx.decrypt(nonce, good, b""), InvalidTag))
    add(Case("decrypt(wrong nonce)", lambda: ctx.decrypt(_flip(nonce, 0), good, aad), InvalidTag))
    add(Case("decrypt(last byte cut)", lambda: ctx.decrypt(nonce, good[:-1], aad), InvalidTag))
    add(Case("decrypt(one byte appended)", lambda: ctx.decrypt(nonce, good + b"\0", aad), InvalidTag))
    add(Case("decrypt(wrong key)", lambda: impl.new(bytes(ks)).decrypt(nonce, good, aad), InvalidTag))
    empty = ref_ctx.encrypt(nonce, b"", b"")
    add(Case("decrypt(empty message, tag flipped)", lambda: ctx.decrypt(nonce, _flip(empty, 0), b""), InvalidTag))

    # -- buffers that are bytes-like but not plain bytes: same answer as bytes(), or TypeError
    words = memoryview(array.array("I", range(8)))  # len() counts 8 items of 4 bytes
    add(Case("encrypt(memoryview of uint32 items)", lambda: ctx.encrypt(nonce, words, aad),
             check=_same_or_type_error(ref_ctx.encrypt(nonce, words.tobytes(), aad))))
    strided = memoryview(bytes(range(64)))[::2]
    add(Case("encrypt(non-contiguous memoryview)", lambda: ctx.encrypt(nonce, strided, aad),
             check=_same_or_type_error(ref_ctx.encrypt(nonce, strided.tobytes(), aad), (BufferError,))))
    # a C-contiguous 2-D memoryview: len() counts rows; numba wrote the whole message into a
    # buffer sized by the row count and crashed the process (SIGSEGV), python ChaCha20 gave wrong tags
    def rows(data: bytes) -> memoryview:
        return memoryview(bytes(data)).cast("B", shape=[2, len(data) // 2])

    big = bytes(range(256)) * 8
    add(Case("encrypt(2-D memoryview plaintext)", lambda: ctx.encrypt(nonce, rows(big), aad),
             check=_same_or_type_error(ref_ctx.encrypt(nonce, big, aad))))
    add(Case("encrypt(2-D memoryview aad)", lambda: ctx.encrypt(nonce, pt, rows(big)),
             check=_same_or_type_error(ref_ctx.encrypt(nonce, pt, big))))
    good_big = ref_ctx.encrypt(nonce, big, aad)
    add(Case("decrypt(2-D memoryview data)", lambda: ctx.decrypt(nonce, rows(good_big), aad),
             check=_same_or_type_error(big)))
    add(Case("decrypt(bytearray data)", lambda: ctx.decrypt(nonce, bytearray(good), aad),
             check=lambda r, e: None if e is None and bytes(r) == pt else f"bytearray data: {e!r}"))

    # -- messages over the algorithm's limit, checked by length before any read
    # (mapped now, before the child's RLIMIT_AS is set, so no allocation can use their room)
    limit = GCM_MAX_TEXT if gcm else CHACHA_MAX_TEXT
    huge_pt, huge_ct = _huge(limit + 1), _huge(limit + 1 + 16)
    add(Case(f"encrypt(plaintext of limit+1 = {limit + 1} bytes)", lambda: ctx.encrypt(nonce, huge_pt, aad), InvalidLength))
    add(Case("decrypt(data of limit+1 bytes + tag)", lambda: ctx.decrypt(nonce, huge_ct, aad), InvalidLength))
    return cases


def _flip(data: bytes, i: int) -> bytes:
    b = bytearray(data)
    b[i] ^= 0x01
    return bytes(b)


# ---------------------------------------------------------------- signature cases


def _der_seq(*parts: bytes) -> bytes:
    body = b"".join(parts)
    return b"\x30" + bytes([len(body)]) + body


def _der_int_raw(body: bytes) -> bytes:
    return b"\x02" + bytes([len(body)]) + body


def _minimal(v: int) -> bytes:
    return v.to_bytes((v.bit_length() + 8) // 8, "big")


def malformed_der(r: int, s: int) -> list[tuple[str, bytes]]:
    """Encodings a strict DER decoder must refuse, most derived from a valid (r, s)."""
    good = encode_der(r, s)
    R, S = _der_int_raw(_minimal(r)), _der_int_raw(_minimal(s))
    body = R + S
    return [
        ("empty", b""),
        ("SEQUENCE tag only", b"\x30"),
        ("empty SEQUENCE", b"\x30\x00"),
        ("SET instead of SEQUENCE", b"\x31" + good[1:]),
        ("last byte cut", good[:-1]),
        ("trailing byte after SEQUENCE", good + b"\x00"),
        ("SEQUENCE length one too long", b"\x30" + bytes([len(body) + 1]) + body),
        ("SEQUENCE length one too short", b"\x30" + bytes([len(body) - 1]) + body),
        ("long-form SEQUENCE length below 128", b"\x30\x81" + bytes([len(body)]) + body),
        ("two-byte SEQUENCE length", b"\x30\x82\x00" + bytes([len(body)]) + body),
        ("indefinite length (BER)", b"\x30\x80" + body + b"\x00\x00"),
        ("BIT STRING instead of INTEGER r", _der_seq(b"\x03" + R[1:], S)),
        ("r with a needless leading zero", _der_seq(_der_int_raw(b"\x00" + _minimal(r)), S)),
        ("s with a needless leading zero", _der_seq(R, _der_int_raw(b"\x00" + _minimal(s)))),
        ("long-form INTEGER length below 128", _der_seq(b"\x02\x81" + bytes([len(R) - 2]) + R[2:], S)),
        ("zero-length INTEGER r", _der_seq(b"\x02\x00", S)),
        ("negative r", _der_seq(_der_int_raw(b"\xff" + r.to_bytes(32, "big")[1:]), S)),
        ("r = 0", _der_seq(_der_int_raw(b"\x00"), S)),
        ("s = 0", _der_seq(R, _der_int_raw(b"\x00"))),
        ("r = n", _der_seq(_der_int_raw(_minimal(N)), S)),
        ("s = n", _der_seq(R, _der_int_raw(_minimal(N)))),
        ("r + n (a 257-bit r)", _der_seq(_der_int_raw(_minimal(r + N)), S)),
        ("s + n (a 257-bit s)", _der_seq(R, _der_int_raw(_minimal(s + N)))),
        ("r = 2^256 - 1", _der_seq(_der_int_raw(_minimal(2**256 - 1)), S)),
        ("missing s", _der_seq(R)),
        ("third INTEGER", _der_seq(R, S, _der_int_raw(b"\x01"))),
        ("r and s swapped", _der_seq(S, R)),
        ("raw r || s (P1363) instead of DER", r.to_bytes(32, "big") + s.to_bytes(32, "big")),
    ]


def signature_cases(kernel: registry.Kernel) -> list[Case]:
    impl = kernel.impl
    cases: list[Case] = []
    add = cases.append
    d = 0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721  # RFC 6979 A.2.5
    msg = b"sample"

    # -- private scalars
    for bad in ("1", 1.0, None, b"\x01", [1], True):
        add(Case(f"private_key({bad!r})", lambda bad=bad: impl.private_key(bad), TypeError))
    for v, label in ((0, "0"), (N, "n"), (N + 1, "n+1"), (-1, "-1"), (2**256, "2^256")):
        add(Case(f"private_key(d = {label})", lambda v=v: impl.private_key(v), InvalidKey))

    # -- public points
    for bad in WRONG_TYPES:
        add(Case(f"public_key({bad!r})", lambda bad=bad: impl.public_key(bad), TypeError))
    G = encode_point(GX, GY)
    points = [
        ("empty", b""),
        ("point at infinity (00)", b"\x00"),
        ("compressed 02||X", b"\x02" + GX.to_bytes(32, "big")),
        ("64 bytes X||Y without prefix", G[1:]),
        ("66 bytes", G + b"\x00"),
        ("prefix 05", b"\x05" + G[1:]),
        ("hybrid prefix 06", b"\x06" + G[1:]),
        ("all-zero coordinates (infinity as 04||0||0)", b"\x04" + bytes(64)),
        ("off the curve (y + 1)", encode_point(GX, GY + 1)),
        ("off the curve (x + 1)", encode_point(GX + 1, GY)),
        ("x = p", encode_point(P, GY)),
        ("y = 2^256 - 1 (>= p)", encode_point(GX, 2**256 - 1)),
    ]
    for label, enc in points:
        add(Case(f"public_key({label})", lambda enc=enc: impl.public_key(enc), InvalidPoint))

    priv = impl.private_key(d)
    pub = priv.public_key()
    sig = priv.sign(msg)
    from cryptobench.kernels._ecdsa_common import decode_der

    r, s = decode_der(sig)

    # -- message and signature types
    for bad in WRONG_TYPES:
        add(Case(f"sign(message={bad!r})", lambda bad=bad: priv.sign(bad), TypeError))
        add(Case(f"verify(message={bad!r})", lambda bad=bad: pub.verify(bad, sig), TypeError))
        add(Case(f"verify(signature={bad!r})", lambda bad=bad: pub.verify(msg, bad), TypeError))
    for bad in ("1", 1.0, None, b"\x01"):
        add(Case(f"verify_raw(r={bad!r})", lambda bad=bad: pub.verify_raw(msg, bad, s), TypeError))
        add(Case(f"verify_raw(s={bad!r})", lambda bad=bad: pub.verify_raw(msg, r, bad), TypeError))

    # -- encodings and values that must not verify
    add(Case("verify(a valid signature) passes", lambda: pub.verify(msg, sig),
             check=lambda res, e: None if e is None else f"a valid signature was refused: {e!r}"))
    for label, der in malformed_der(r, s):
        add(Case(f"verify(DER: {label})", lambda der=der: pub.verify(msg, der), InvalidSignature))
    for label, rr, ss in (("r = 0", 0, s), ("s = 0", r, 0), ("r = n", N, s), ("s = n", r, N), ("r + n", r + N, s),
                          ("s + n", r, s + N), ("r = -r", -r, s), ("s = -s", r, -s), ("r = 2^256", 2**256, s)):
        add(Case(f"verify_raw({label})", lambda rr=rr, ss=ss: pub.verify_raw(msg, rr, ss), InvalidSignature))
    add(Case("verify(other message)", lambda: pub.verify(msg + b"!", sig), InvalidSignature))
    other = impl.private_key(d ^ 1).public_key()
    add(Case("verify(other key)", lambda: other.verify(msg, sig), InvalidSignature))

    # -- a caller-chosen k outside [1, n-1]
    if getattr(impl, "supports_given_k", False):
        for v, label in ((0, "0"), (N, "n"), (-1, "-1")):
            add(Case(f"sign_raw(k = {label})", lambda v=v: priv.sign_raw(msg, k=v), InvalidInput))
        add(Case("sign_raw(k='1')", lambda: priv.sign_raw(msg, k="1"), TypeError))
        # a key for which k = 7 gives s = 0: the peer let an AttributeError out (ecdsa.RSZeroError is not
        # at the package's top level)
        e = int.from_bytes(hashlib.sha256(msg).digest(), "big")
        r7 = scalar_mul(7, (GX, GY))[0] % N
        zero_s = impl.private_key(-e * pow(r7, -1, N) % N)
        add(Case("sign_raw(k giving s = 0)", lambda: zero_s.sign_raw(msg, k=7), InvalidInput))
    # a valid signature over a non-contiguous message: the same answer, TypeError or BufferError; the peer
    # said InvalidSignature (it took python-ecdsa's TypeError for a failed check)
    strided = memoryview(b"sxaxmxpxlxex")[::2]
    add(Case("verify(non-contiguous message, valid signature)", lambda: pub.verify(strided, sig),
             check=lambda res, e: None if e is None or isinstance(e, (TypeError, BufferError))
             else f"gave {e!r}"))
    return cases


# ---------------------------------------------------------------- isolation


def _run_cases_in_child(build: Callable[[], list[Case]], write_fd: int) -> None:
    """Child side: build the cases, run each, write one JSON line per event."""

    def emit(**obj):
        os.write(write_fd, (json.dumps(obj) + "\n").encode())

    # pytest's faulthandler writes to the terminal's stderr; a crash traceback
    # belongs in this test's captured output (fd 2), shown with its failure
    faulthandler.enable(file=sys.__stderr__)
    try:
        cases = build()
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        with open("/proc/self/statm") as f:
            vm = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        # the huge mappings exist already: a kernel that copies one cannot get the memory
        cap = vm + EXTRA_ADDRESS_SPACE
        if hard == resource.RLIM_INFINITY or cap < hard:
            resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
        emit(event="count", n=len(cases))
        for case in cases:
            emit(event="start", label=case.label)
            try:
                problem = _outcome(case)
            except BaseException as exc:  # noqa: BLE001 - a broken check is still a failure
                problem = f"the check itself failed: {exc!r}"
            emit(event="done", label=case.label, problem=problem)
        emit(event="end")
    except BaseException:  # noqa: BLE001
        emit(event="error", text=traceback.format_exc()[-2000:])
    finally:
        os._exit(0)


# ---------------------------------------------------------------- hot-path cases

#: Values of the wrong type for an int argument.
NOT_INTS: tuple[Any, ...] = ("1", 1.0, None, b"\x01")


def _works(result, exc):
    """A valid call must still work, so a hot path cannot pass by refusing everything."""
    return None if exc is None else f"a valid call raised {type(exc).__name__}: {str(exc)[:160]}"


def hot_path_cases(kernel: registry.Kernel) -> list[Case]:
    """docs/bad-input.md, "Hot paths": the same mistakes refused the same way by every backend."""
    hp = kernel.hot_paths
    cases: list[Case] = []

    def add(label, call, expect=None, check=None):
        cases.append(Case(label, call, expect, check))

    def bytes_arg(name, call_with, good, sizes, exc):
        """Wrong types -> TypeError; wrong lengths -> ``exc``; the good value works."""
        for bad in WRONG_TYPES:
            add(f"{name}={bad!r}", lambda bad=bad: call_with(bad), TypeError)
        for n in sizes:
            add(f"{name} of {n} bytes", lambda n=n: call_with(bytes(n)), exc)
        add(f"{name} of {len(good)} bytes (valid)", lambda: call_with(good), check=_works)
        if len(good) >= 2 and len(good) % 2 == 0:  # len() of a 2-D view counts rows: same answer or TypeError
            two_d = memoryview(bytes(good)).cast("B", shape=[2, len(good) // 2])
            add(f"{name} as a 2-D memoryview", lambda: call_with(two_d), check=_same_or_type_error(call_with(good)))

    def int_arg(name, call_with, bad_values, exc, good):
        for bad in NOT_INTS:
            add(f"{name}={bad!r}", lambda bad=bad: call_with(bad), TypeError)
        for v in bad_values:
            add(f"{name}={v}", lambda v=v: call_with(v), exc)
        add(f"{name}={good} (valid)", lambda: call_with(good), check=_works)

    if "key-expansion" in hp:
        kx = hp["key-expansion"]()
        bytes_arg("key-expansion key", kx, bytes(16), (0, 15, 17, 24, 33), InvalidKey)
    if "aes-ctr" in hp:
        key = bytes(32 if kernel.algorithm == "aes-256-gcm" else 16)
        bytes_arg("aes-ctr setup key", hp["aes-ctr"], key, (0, 15, 24 if len(key) == 32 else 17, 33), InvalidKey)
        ctr = hp["aes-ctr"](key)
        bytes_arg("aes-ctr counter block", lambda c: ctr(c, b"data"), bytes(16), (0, 12, 15, 17), InvalidInput)
        bytes_arg("aes-ctr data", lambda d: ctr(bytes(16), d), bytes(range(256)) * 64, (), InvalidInput)
    if "ghash" in hp:
        bytes_arg("ghash setup H", hp["ghash"], bytes(range(16)), (0, 15, 17, 32), InvalidInput)
        gh = hp["ghash"](bytes(range(16)))
        bytes_arg("ghash data", gh, bytes(32), (1, 15, 17, 33), InvalidLength)
    if "chacha20" in hp:
        bytes_arg("chacha20 setup key", hp["chacha20"], bytes(32), (0, 16, 31, 33), InvalidKey)
        c20 = hp["chacha20"](bytes(32))
        bytes_arg("chacha20 nonce", lambda n: c20(n, 1, b"data"), bytes(12), (0, 8, 11, 13, 16), InvalidNonce)
        int_arg("chacha20 counter", lambda c: c20(bytes(12), c, b"data"), (-1, 2**32, 2**64), InvalidInput, 2**32 - 1)
        bytes_arg("chacha20 data", lambda d: c20(bytes(12), 1, d), bytes(range(256)) * 64, (), InvalidInput)
        # a 2-D view of 128 bytes as one row: python's counter-limit check counted 1 "byte"
        add("chacha20 2-D memoryview past the counter limit",
            lambda: c20(bytes(12), 2**32 - 1, memoryview(bytes(128)).cast("B", shape=[1, 128])),
            check=lambda r, e: None if isinstance(e, (TypeError, InvalidLength)) else f"gave {r!r:.40} / {e!r}")
        # the 32-bit block counter cannot wrap (RFC 8439 §2.4); numba and the peer used to run on
        for counter, n in ((2**32 - 1, 65), (2**32 - 2, 129), (2**32 - 1, 1000)):
            add(f"chacha20 {n} bytes from counter {counter}", lambda c=counter, n=n: c20(bytes(12), c, bytes(n)),
                InvalidLength)
        add("chacha20 64 bytes from counter 2^32-1 (valid)", lambda: c20(bytes(12), 2**32 - 1, bytes(64)), check=_works)
    if "poly1305" in hp:
        p1305 = hp["poly1305"]()
        bytes_arg("poly1305 key", lambda k: p1305(k, b"data"), bytes(range(32)), (0, 16, 31, 33), InvalidKey)
        bytes_arg("poly1305 data", lambda d: p1305(bytes(range(32)), d), bytes(range(256)) * 4, (), InvalidInput)
    if "field-mul" in hp:
        fm = hp["field-mul"]()
        int_arg("field-mul a", lambda a: fm(a, 3, 2), (), InvalidInput, -5)
        int_arg("field-mul b", lambda b: fm(2, b, 2), (), InvalidInput, 1 << 300)
        int_arg("field-mul count", lambda c: fm(2, 3, c), (-1, -(1 << 70), 2**32, 2**63, 2**64), InvalidInput, 0)
        # python's took a fourth positional argument, a modulus of the caller's: fm(2, 3, 1, 5) was 1 (mod 5)
        add("field-mul with a fourth argument", lambda: fm(2, 3, 1, 5), TypeError)
    if "fixed-base-mul" in hp:
        fb = hp["fixed-base-mul"]()
        int_arg("fixed-base-mul k", fb, (0, -1, N, N + 1, 1 << 300), InvalidInput, N - 1)
    if "double-scalar-mul" in hp:
        ds_setup = hp["double-scalar-mul"]
        add("double-scalar-mul Q off the curve", lambda: ds_setup((GX, GY + 1)), InvalidPoint)
        add("double-scalar-mul Q=(0, 0)", lambda: ds_setup((0, 0)), InvalidPoint)
        # these gave ValueError: too many values to unpack
        add("double-scalar-mul Q=(x, y, 1)", lambda: ds_setup((GX, GY, 1)), TypeError)
        add("double-scalar-mul Q=SEC 1 bytes", lambda: ds_setup(encode_point(GX, GY)), TypeError)
        ds = ds_setup((GX, GY))
        int_arg("double-scalar-mul u1", lambda u: ds(u, 2), (), InvalidInput, N + 5)
        int_arg("double-scalar-mul u2", lambda u: ds(2, u), (), InvalidInput, -3)
    if "scalar-inv" in hp:
        si = hp["scalar-inv"]()
        int_arg("scalar-inv k", si, (0, -1, N, 1 << 300), InvalidInput, N - 1)
        add("scalar-inv with a second argument", lambda: si(3, 7), TypeError)  # python's: 5, the inverse mod 7
    return cases


def run_isolated(build: Callable[[], list[Case]], time_limit: float = KERNEL_TIME_LIMIT) -> tuple[int, list[str]]:
    """Run the cases in a forked child; (number of cases, violations)."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.close(rfd)
        _run_cases_in_child(build, wfd)
    os.close(wfd)
    problems: list[str] = []
    buf, current, count, ended = b"", None, 0, False
    deadline = time.monotonic() + time_limit
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                os.kill(pid, signal.SIGKILL)
                problems.append(f"hung: no answer within {time_limit:.0f} s (during {current!r})")
                break
            ready, _, _ = select.select([rfd], [], [], left)
            if not ready:
                continue
            chunk = os.read(rfd, 65536)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                ev = json.loads(line)
                if ev["event"] == "count":
                    count = ev["n"]
                elif ev["event"] == "start":
                    current = ev["label"]
                elif ev["event"] == "done":
                    current = None
                    if ev["problem"]:
                        problems.append(f"{ev['label']}: {ev['problem']}")
                elif ev["event"] == "error":
                    problems.append("building the cases failed:\n" + ev["text"])
                elif ev["event"] == "end":
                    ended = True
    finally:
        os.close(rfd)
        _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status) and not ended and not any(p.startswith("hung") for p in problems):
        sig = os.WTERMSIG(status)
        problems.append(f"crashed the process with signal {sig} ({signal.Signals(sig).name}) during {current!r}")
    elif not ended and not problems:
        problems.append(f"the child stopped early during {current!r}")
    return count, problems


def _warm(kernel: registry.Kernel) -> None:
    """Compile/build tables in the parent, so each forked child starts warm."""
    if kernel.prepare is not None:
        kernel.prepare()
    if kernel.impl is None:  # a peer that offers hot paths only (pyaes)
        return
    if kernel.kind == "aead":
        key = bytes(kernel.impl.key_size)
        ctx = kernel.impl.new(key)
        ctx.decrypt(bytes(12), ctx.encrypt(bytes(12), b"warm", b"a"), b"a")
    else:
        priv = kernel.impl.private_key(1)
        priv.public_key().verify(b"warm", priv.sign(b"warm"))


@pytest.mark.parametrize("kernel", kernel_params(lambda k: k.impl is not None))
def test_bad_input_contract(kernel):
    """Every case of docs/bad-input.md: the right exception, a message, no crash, no plaintext."""
    _warm(kernel)
    build = (lambda: aead_cases(kernel)) if kernel.kind == "aead" else (lambda: signature_cases(kernel))
    count, problems = run_isolated(build)
    assert not problems, f"{kernel.name} ({kernel.path}) broke the bad-input contract in {len(problems)} case(s):\n  " + "\n  ".join(problems)
    assert count > 40, f"only {count} cases ran"


@pytest.mark.parametrize("kernel", kernel_params(lambda k: bool(k.hot_paths)))
def test_hot_path_bad_input_contract(kernel):
    """docs/bad-input.md, "Hot paths": every backend's hot paths refuse the same mistakes the same way."""
    _warm(kernel)
    count, problems = run_isolated(lambda: hot_path_cases(kernel))
    assert not problems, f"{kernel.name} ({kernel.path}) broke the hot-path contract in {len(problems)} case(s):\n  " + "\n  ".join(problems)
    assert count >= 10, f"only {count} cases ran"


def test_every_kernel_with_an_impl_is_covered():
    """The parametrization above is the registry: nothing is listed by hand."""
    names = {p.id for p in kernel_params(lambda k: k.impl is not None)}
    assert names == {k.name for k in registry.kernels() if k.impl is not None}
    assert {k.kind for k in registry.kernels() if k.impl is not None} == {"aead", "signature"}


def test_isolation_reports_a_crash_and_a_hang():
    """The harness itself: a segfaulting or hanging kernel fails its test, pytest survives."""
    import ctypes

    crash = [Case("segfault", lambda: ctypes.string_at(0), TypeError)]
    _, problems = run_isolated(lambda: crash, time_limit=30)
    assert problems and "crashed the process with signal" in problems[0] and "segfault" in problems[0]
    hang = [Case("sleep", lambda: time.sleep(30), TypeError)]
    _, problems = run_isolated(lambda: hang, time_limit=1)
    assert problems and problems[0].startswith("hung") and "sleep" in problems[0]


def test_huge_buffers_cost_nothing():
    """The over-the-limit inputs are real buffers of the claimed length, never read."""
    mv = _huge(CHACHA_MAX_TEXT + 1 + 16)
    assert len(mv) == CHACHA_MAX_TEXT + 17 and mv.readonly and mv.contiguous and mv.format == "B"
    assert mv[-1] == 0  # one page touched, not 256 GiB
