"""Constant-time evidence: a dudect-style timing test for every kernel.

Method (Reparaz, Balasch and Verbauwhede, "Dude, is my code constant time?",
DATE 2017, and their dudect tool):

1. Two classes of secret input: class 0 a *fixed* value (all-zero plaintext
   or key; a forged tag right in all but its last byte, for decryption; the
   scalar 2^255 + 1 for ECDSA, all windows but two zero), class 1 fresh
   random values. Every input
   is prepared before measuring; the class of each measurement is a coin flip,
   so both classes are interleaved in random order and drift hits both alike.
2. Each call is timed alone. Native kernels are timed inside C with the
   time-stamp counter (``lfence; rdtsc`` ... ``rdtscp; lfence``, see
   csrc/leakcheck/), so Python's own noise is not in the numbers; other
   kernels are timed from Python with ``time.perf_counter_ns``.
3. Welch's t-test of class 0 against class 1 on the raw times, on 100
   cropped copies (only times below the 1 - 0.5^(10 (i+1)/100) percentile of
   a discarded first batch, as dudect crops the long tail of interrupts and
   cache misses), and a second-order test (squared distance from the class
   mean) fed from the first batch after the fixed class has more than 10^4
   measurements (about 2·10^4 in all). The figure reported is the largest
   |t| over tests with enough measurements in each class.
4. |t| >= 4.5 (TVLA's threshold; dudect's own tool fails a test at 10) means
   the times of the two classes differ: evidence of a leak, in the kernel or
   in what the harness does with the inputs (docs/leakcheck.md). |t| below it
   over 10^6 measurements is evidence of no leak large enough to see at that
   sample size, not proof; under 10^4 measurements (dudect's "enough")
   nothing is judged unless a leak is already seen.

A deliberately leaky T-table AES-128 (csrc/leakcheck/leakcheck.c) runs
through the same test as a control; a run that fails to flag it proves
nothing about the others and is reported as inconclusive.

Library code: :func:`leakcheck` takes keywords and returns
:class:`LeakResult` objects; ``cryptobench leakcheck`` prints them.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable

import numpy as np

from . import native
from .errors import InvalidTag
from .registry import Kernel, select

#: |t| at or above this is a leak: TVLA's threshold. (dudect's tool is more lenient: it fails
#: a test at |t| 10, "moderate", and calls 500 certain.)
THRESHOLD = 4.5
#: dudect's DUDECT_NUMBER_PERCENTILES.
PERCENTILES = 100
#: dudect's DUDECT_ENOUGH_MEASUREMENTS: a test counts once each class has this many.
ENOUGH = 10_000
#: Fewer measurements than this cannot clear a kernel ("too few measurements"): dudect's
#: "not enough measurements" below 10^4. (It was 10^3: "no leak found" on 50 per class.)
MIN_MEASUREMENTS = 10_000
#: |t| for a perfect separation: neither class has any spread and their means differ (a
#: division by zero, once reported as |t| 0, "no leak found"). Finite, for the JSON report.
T_SEPARATED = 1e9
#: Index of the uncropped test and of the second-order test in the battery.
T_ALL, T_SECOND = 0, PERCENTILES + 1

#: P-256 group order (FIPS 186-4 §D.1.2.3).
_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_AEAD_MSG = 64
_AAD = bytes(range(13))
_NONCE = bytes(range(12))


# ---------------------------------------------------------------- statistics


class TTests:
    """dudect's battery of Welch t-tests, fed in batches (numpy, O(n log n) per batch).

    Test 0 takes every measurement, test i (1..100) those below the i-th crop
    threshold, test 101 the centred squares (second order). Sums are kept
    about a shift (the first batch's median) so they stay exact enough.
    """

    def __init__(self) -> None:
        k = PERCENTILES + 2
        self.n = np.zeros((k, 2))
        self.s1 = np.zeros((k, 2))
        self.s2 = np.zeros((k, 2))
        self.thresholds: np.ndarray | None = None
        self.shift = 0.0

    def calibrate(self, times: np.ndarray) -> None:
        """Crop thresholds from a first batch, which is then discarded (as dudect does)."""
        x = np.asarray(times, dtype=np.float64)
        q = 1.0 - 0.5 ** (10.0 * (np.arange(PERCENTILES) + 1) / PERCENTILES)
        self.thresholds = np.quantile(x, q)
        self.shift = float(np.median(x))

    def add(self, times: np.ndarray, classes: np.ndarray) -> None:
        assert self.thresholds is not None, "calibrate() first"
        x = np.asarray(times, dtype=np.float64) - self.shift
        thr = self.thresholds - self.shift
        second = self.n[T_ALL, 0] > ENOUGH
        means = self.s1[T_ALL] / np.maximum(self.n[T_ALL], 1) if second else None
        for c in (0, 1):
            xc = np.sort(x[classes == c])
            if not len(xc):
                continue
            cs1 = np.concatenate(([0.0], np.cumsum(xc)))
            cs2 = np.concatenate(([0.0], np.cumsum(xc * xc)))
            idx = np.concatenate(([len(xc)], np.searchsorted(xc, thr, side="left")))
            self.n[: PERCENTILES + 1, c] += idx
            self.s1[: PERCENTILES + 1, c] += cs1[idx]
            self.s2[: PERCENTILES + 1, c] += cs2[idx]
            if second:
                y = (xc - means[c]) ** 2
                self.n[T_SECOND, c] += len(y)
                self.s1[T_SECOND, c] += y.sum()
                self.s2[T_SECOND, c] += (y * y).sum()

    def t_values(self) -> np.ndarray:
        n = self.n
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = self.s1 / n
            var = (self.s2 - self.s1 * self.s1 / n) / (n - 1)
            var = np.maximum(var, 0.0)
            t = (mean[:, 0] - mean[:, 1]) / np.sqrt(var[:, 0] / n[:, 0] + var[:, 1] / n[:, 1])
        return np.nan_to_num(t, nan=0.0, posinf=T_SEPARATED, neginf=-T_SEPARATED)

    def max_t(self, enough: int = ENOUGH) -> tuple[float, int]:
        """(largest |t|, test index) over tests with ``enough`` measurements in each class."""
        t = np.abs(self.t_values())
        ok = (self.n[:, 0] >= enough) & (self.n[:, 1] >= enough)
        if not ok.any():
            return 0.0, -1
        t = np.where(ok, t, -1.0)
        i = int(np.argmax(t))
        return float(t[i]), i

    def class_means(self) -> tuple[float, float]:
        m = self.s1[T_ALL] / np.maximum(self.n[T_ALL], 1) + self.shift
        return float(m[0]), float(m[1])

    def measurements(self) -> int:
        return int(self.n[T_ALL].sum())


def describe_test(index: int) -> str:
    if index == T_ALL:
        return "all"
    if index == T_SECOND:
        return "2nd order"
    if index < 0:
        return "-"
    q = 1.0 - 0.5 ** (10.0 * index / PERCENTILES)
    return f"crop p{q * 100:.1f}"


# ---------------------------------------------------------------- targets


@dataclass
class Target:
    """One secret input of one kernel, ready to time."""

    kernel: str
    path: str
    test: str  # which secret varies: plaintext, key, tag, sign-k, sign-d, block
    constant_time: bool
    timer: str  # "TSC in C" or "ns in Python"
    input_len: int  # bytes per call: the secret, then any public part (random in both classes)
    fixed: bytes  # the fixed class's secret (a prefix of the input)
    random: Callable[[np.random.Generator, int], np.ndarray]  # (rng, m) -> (m, input_len) uint8
    measure: Callable[[np.ndarray, np.ndarray], int]  # (inputs (m, L), times out (m,)) -> rc
    control: bool = False
    keepalive: list = field(default_factory=list, repr=False)


def _random_bytes(length: int):
    def gen(rng: np.random.Generator, m: int) -> np.ndarray:
        return rng.integers(0, 256, size=(m, length), dtype=np.uint8)

    return gen


def _random_scalars(rng: np.random.Generator, m: int) -> np.ndarray:
    """Random scalars in [2^255, 2^255 + 2^254), odd: inside [1, n-1] for P-256 and 256 bits
    long, like the fixed one (CPython's ``to_bytes`` takes longer for a longer top digit:
    with random scalars one bit shorter, numba-hw's sign-d "leaked" at |t| 25 through its
    ``d.to_bytes`` alone); each followed by a random 32-byte message (public, random in
    both classes, so the signatures of the fixed class vary too and nothing downstream
    sees a constant output)."""
    x = rng.integers(0, 256, size=(m, 64), dtype=np.uint8)
    x[:, 0] = (x[:, 0] & 0x3F) | 0x80
    x[:, 31] |= 1
    return x


def _forgery(tag: bytes) -> bytes:
    """The fixed class of the ``tag`` test: the right tag with its last byte wrong, so an
    early-exit comparison runs to the end for it and stops at once for a random tag."""
    return tag[:-1] + bytes([tag[-1] ^ 1])


#: cb_leak_measure's code for a forged tag the decrypt accepted (CB_LEAK_FORGERY_ACCEPTED in
#: csrc/leakcheck/leakcheck.h; a test holds the two equal).
_FORGERY_ACCEPTED = -1004


#: The fixed scalar: 2^255 + 1 has every window but two zero (a corner case for
#: fixed-window and comb methods) yet the same bit length as the random ones, so
#: Python-level int handling (digits, to_bytes) cannot tell the classes apart.
_SCALAR_FIXED = (2**255 + 1).to_bytes(32, "big")


def _native_measure(lib, ffi, target_struct, flags: int):
    def measure(inputs: np.ndarray, times: np.ndarray) -> int:
        m, length = inputs.shape
        return lib.cb_leak_measure(target_struct, ffi.from_buffer("uint8_t[]", inputs), length, m,
                                   ffi.from_buffer("uint64_t[]", times), flags)

    return measure


#: Native backends and the C entry points they run (csrc/*/ headers).
_NATIVE_AES = {"native-vaes": ("vaes", 3), "native-aesni": ("aesni", 2), "native-portable": ("portable", 1)}
_NATIVE_CHACHA = {"native-avx2": 2, "native-ssse3": 1, "native-portable": 0}
_NATIVE_P256 = {"native-adx": 1, "native-portable": 0}

_SIGS = {
    "aead": "int(*)({ctx} *, uint8_t *, size_t, uint8_t *, size_t, uint8_t *, size_t, uint8_t *, size_t)",
    "aes_init": "int(*)(cb_aesgcm_ctx *, uint8_t *, size_t)",
    "chacha_init": "int(*)(cb_chacha_ctx *, int, uint8_t *, size_t)",
    "p256_sign": "int(*)(int, uint8_t *, uint8_t *, uint8_t *, uint8_t *, int)",
}


class Unsupported(Exception):
    """A kernel this module cannot time (the reason is the message)."""


def _entry(ffi, lib, name: str, signature: str):
    """A C entry point as a generic function pointer, after checking its signature."""
    if not hasattr(lib, name):
        raise Unsupported(f"the native extension has no {name} (built without that folder?)")
    ptr = ffi.addressof(lib, name)
    got = ffi.getctype(ffi.typeof(ptr))
    if got != signature:
        raise Unsupported(f"{name} is now {got}, leakcheck expects {signature}: update cryptobench/leakcheck.py")
    return ffi.cast("cb_leak_fn", ptr)


def native_targets(kernel: Kernel, flags: int = 0) -> list[Target]:
    """Targets timed in C for a native-* kernel; Unsupported when leakcheck cannot drive it."""
    ffi, lib = native.load()
    if lib is None or not hasattr(lib, "cb_leak_measure"):
        raise Unsupported("the native extension was built without csrc/leakcheck")
    fam, be = kernel.family, kernel.backend
    targets: list[Target] = []

    def target(test: str, input_len: int, fixed_input: bytes, gen, **fields) -> Target:
        t = ffi.new("cb_leak_target *")
        keep = []
        for k, v in fields.items():
            if isinstance(v, bytes):
                buf = ffi.new("uint8_t[]", v)
                keep.append(buf)
                v = buf
            setattr(t, k, v)
        return Target(kernel.name, kernel.path, test, kernel.constant_time, "TSC in C", input_len, fixed_input, gen,
                      _native_measure(lib, ffi, t, flags), keepalive=[t, keep, fields])

    if fam == "aes_gcm" and be in _NATIVE_AES:
        name, path = _NATIVE_AES[be]
        ks = kernel.impl.key_size if kernel.impl is not None else 16
        enc = _entry(ffi, lib, f"cb_aesgcm_{name}_encrypt", _SIGS["aead"].format(ctx="cb_aesgcm_ctx"))
        init = _entry(ffi, lib, f"cb_aesgcm_{name}_init", _SIGS["aes_init"])
        ctx = ffi.new("cb_aesgcm_ctx *")
        if getattr(lib, f"cb_aesgcm_{name}_init")(ctx, bytes(ks), ks) != 0:
            raise Unsupported(f"cb_aesgcm_{name}_init failed on this CPU")
        out = ffi.new("uint8_t[]", _AEAD_MSG + 16)
        common = dict(abi=0, fn=enc, ctx=ctx, nonce=_NONCE, nonce_len=12, aad=_AAD, aad_len=len(_AAD),
                      msg_len=_AEAD_MSG, out_arg=16, out=out)
        targets.append(target("plaintext", _AEAD_MSG, bytes(_AEAD_MSG), _random_bytes(_AEAD_MSG),
                              kind=lib.CB_LEAK_AEAD_ENCRYPT, **common))
        kctx = ffi.new("cb_aesgcm_ctx *")
        targets.append(target("key", ks, bytes(ks), _random_bytes(ks), kind=lib.CB_LEAK_AEAD_KEY, init=init,
                              msg=bytes(range(_AEAD_MSG)), **dict(common, ctx=kctx)))
        dec = _entry(ffi, lib, f"cb_aesgcm_{name}_decrypt", _SIGS["aead"].format(ctx="cb_aesgcm_ctx"))
        sealed = ffi.new("uint8_t[]", _AEAD_MSG + 16)
        getattr(lib, f"cb_aesgcm_{name}_encrypt")(ctx, _NONCE, 12, _AAD, len(_AAD), bytes(range(_AEAD_MSG)),
                                                  _AEAD_MSG, sealed, 16)
        sealed = ffi.buffer(sealed)[:]
        targets.append(target("tag", 16, _forgery(sealed[-16:]), _random_bytes(16), kind=lib.CB_LEAK_AEAD_FORGERY,
                              data=sealed, expect_rc=lib.CB_AESGCM_ETAG, **dict(common, fn=dec)))
        for t in targets:
            t.keepalive.append(ctx)
    elif fam == "chacha20_poly1305" and be in _NATIVE_CHACHA:
        path = _NATIVE_CHACHA[be]
        enc = _entry(ffi, lib, "cb_chacha_aead_encrypt", _SIGS["aead"].format(ctx="cb_chacha_ctx"))
        init = _entry(ffi, lib, "cb_chacha_ctx_init", _SIGS["chacha_init"])
        ctx = ffi.new("cb_chacha_ctx *")
        if lib.cb_chacha_ctx_init(ctx, path, bytes(32), 32) != 0:
            raise Unsupported("cb_chacha_ctx_init failed for this path on this CPU")
        out = ffi.new("uint8_t[]", _AEAD_MSG + 16)
        common = dict(abi=1, path=path, fn=enc, ctx=ctx, nonce=_NONCE, nonce_len=12, aad=_AAD, aad_len=len(_AAD),
                      msg_len=_AEAD_MSG, out_arg=_AEAD_MSG + 16, out=out)
        targets.append(target("plaintext", _AEAD_MSG, bytes(_AEAD_MSG), _random_bytes(_AEAD_MSG),
                              kind=lib.CB_LEAK_AEAD_ENCRYPT, **common))
        kctx = ffi.new("cb_chacha_ctx *")
        targets.append(target("key", 32, bytes(32), _random_bytes(32), kind=lib.CB_LEAK_AEAD_KEY, init=init,
                              msg=bytes(range(_AEAD_MSG)), **dict(common, ctx=kctx)))
        dec = _entry(ffi, lib, "cb_chacha_aead_decrypt", _SIGS["aead"].format(ctx="cb_chacha_ctx"))
        sealed = ffi.new("uint8_t[]", _AEAD_MSG + 16)
        lib.cb_chacha_aead_encrypt(ctx, _NONCE, 12, _AAD, len(_AAD), bytes(range(_AEAD_MSG)), _AEAD_MSG, sealed,
                                   _AEAD_MSG + 16)
        sealed = ffi.buffer(sealed)[:]
        targets.append(target("tag", 16, _forgery(sealed[-16:]), _random_bytes(16), kind=lib.CB_LEAK_AEAD_FORGERY,
                              data=sealed, expect_rc=lib.CB_CHACHA_ERR_TAG,
                              **dict(common, fn=dec, out_arg=_AEAD_MSG)))
    elif fam == "ecdsa_p256" and be in _NATIVE_P256:
        path = _NATIVE_P256[be]
        sign = _entry(ffi, lib, "cb_p256_sign", _SIGS["p256_sign"])
        lib.cb_p256_init()
        out = ffi.new("uint8_t[]", 80)
        d = (0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721).to_bytes(32, "big")
        targets.append(target("sign-k", 64, _SCALAR_FIXED, _random_scalars, kind=lib.CB_LEAK_P256_SIGN_K, path=path,
                              fn=sign, fixed=d, out=out))
        targets.append(target("sign-d", 64, _SCALAR_FIXED, _random_scalars, kind=lib.CB_LEAK_P256_SIGN_D, path=path,
                              fn=sign, out=out))
    else:
        raise Unsupported(f"no C measurement loop for {kernel.name}")
    return targets


def control_target(flags: int = 0) -> Target:
    """The deliberately leaky T-table AES-128 (fixed vs random plaintext block)."""
    ffi, lib = native.load()
    if lib is None or not hasattr(lib, "cb_leak_ttable_init"):
        raise Unsupported("the native extension was built without csrc/leakcheck")
    ctx = ffi.new("cb_leak_ttable_ctx *")
    lib.cb_leak_ttable_init(ctx, bytes(range(16)), 16)
    t = ffi.new("cb_leak_target *")
    out = ffi.new("uint8_t[16]")
    t.kind, t.ctx, t.out = lib.CB_LEAK_TTABLE_BLOCK, ctx, out
    return Target("aes-128/leaky-ttable (control)", "ttable", "block", False, "TSC in C", 16, bytes(16),
                  _random_bytes(16), _native_measure(lib, ffi, t, flags), control=True, keepalive=[t, ctx, out])


def python_targets(kernel: Kernel) -> list[Target]:
    """Targets timed from Python (any kernel with an AEAD or signature impl)."""
    impl = kernel.impl
    if impl is None:
        raise Unsupported("hot-path-only kernel: no whole operation to time")
    timer = "ns in Python"
    out: list[Target] = []

    def py_measure(fn: Callable[[Any], Any], convert: Callable[[bytes], Any] = bytes):
        def measure(inputs: np.ndarray, times: np.ndarray) -> int:
            items = [convert(row.tobytes()) for row in inputs]  # outside the timed region
            clock = time.perf_counter_ns
            for i, x in enumerate(items):
                t0 = clock()
                fn(x)
                times[i] = clock() - t0
            return 0

        return measure

    if kernel.kind == "aead":
        ks = impl.key_size
        ctx = impl.new(bytes(ks))
        msg = bytes(range(_AEAD_MSG))
        out.append(Target(kernel.name, kernel.path, "plaintext", kernel.constant_time, timer, _AEAD_MSG,
                          bytes(_AEAD_MSG), _random_bytes(_AEAD_MSG),
                          py_measure(lambda x: ctx.encrypt(_NONCE, x, _AAD))))
        out.append(Target(kernel.name, kernel.path, "key", kernel.constant_time, timer, ks, bytes(ks),
                          _random_bytes(ks), py_measure(lambda x: impl.new(x).encrypt(_NONCE, msg, _AAD))))
        sealed = ctx.encrypt(_NONCE, msg, _AAD)
        body = sealed[:-16]

        def forge(data: bytes) -> None:
            try:
                ctx.decrypt(_NONCE, data, _AAD)
            except InvalidTag:
                return
            raise RuntimeError("the kernel accepted a forged tag")

        out.append(Target(kernel.name, kernel.path, "tag", kernel.constant_time, timer, 16, _forgery(sealed[-16:]),
                          _random_bytes(16), py_measure(forge, lambda t: body + t)))
    else:
        d = 0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721
        priv = impl.private_key(d)
        split = lambda b: (int.from_bytes(b[:32], "big"), b[32:])  # noqa: E731
        if getattr(impl, "supports_given_k", False):
            out.append(Target(kernel.name, kernel.path, "sign-k", kernel.constant_time, timer, 64, _SCALAR_FIXED,
                              _random_scalars, py_measure(lambda km: priv.sign_raw(km[1], k=km[0]), split)))
        out.append(Target(kernel.name, kernel.path, "sign-d", kernel.constant_time, timer, 64, _SCALAR_FIXED,
                          _random_scalars, py_measure(lambda dm: impl.private_key(dm[0]).sign_raw(dm[1]), split)))
    return out


# ---------------------------------------------------------------- running


@dataclass
class LeakResult:
    kernel: str
    path: str
    test: str
    constant_time: bool
    timer: str
    measurements: int
    max_t: float
    at: str  # which test of the battery gave max |t|
    t_all: float  # |t| on uncropped data
    mean_fixed: float
    mean_random: float
    seconds: float
    control: bool = False
    error: str = ""
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average before and after
    vectors_failed: bool = False  # the kernel failed its quick verification here: never timed
    raised: bool = False  # the error came from the kernel while it was being timed, not from leakcheck's reach

    @property
    def leaks(self) -> bool:
        return self.max_t >= THRESHOLD

    @property
    def too_few(self) -> bool:
        return self.measurements < MIN_MEASUREMENTS

    @property
    def verdict(self) -> str:
        if self.vectors_failed:
            return "FAILED its vectors"
        if self.error:
            return "error"
        if self.too_few and not self.leaks:
            return "too few measurements"
        if self.control:
            return "flagged (control)" if self.leaks else "NOT FLAGGED: test insensitive"
        if self.leaks:
            return "LEAK (claims constant-time)" if self.constant_time else "leaks (not claimed constant-time)"
        return "no leak found"

    @property
    def failed(self) -> bool:
        """A constant-time claim contradicted, a control the test could not see, a
        kernel that gives wrong answers (timing evidence about it means nothing), or
        one that raised (or accepted a forged tag) while being timed. A kernel that
        leakcheck cannot drive here (no C loop, another environment) is not a failure."""
        if self.vectors_failed:
            return True
        if self.error:
            return self.control or self.raised
        return (self.control and not self.leaks) or (self.constant_time and self.leaks and not self.control)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["verdict"] = self.verdict
        return d


def measure_target(
    target: Target,
    *,
    measurements: int = 1_000_000,
    budget_s: float | None = 10.0,
    seed: int = 20261127,
    batch: int | None = None,
) -> LeakResult:
    """Run the fixed-vs-random test on one target until ``measurements`` or ``budget_s``."""
    rng = np.random.default_rng(seed)
    tt = TTests()
    load0 = os.getloadavg()[0]
    start = time.perf_counter()
    fixed = np.frombuffer(target.fixed, dtype=np.uint8)

    def one_batch(m: int) -> tuple[np.ndarray, np.ndarray]:
        classes = rng.integers(0, 2, size=m, dtype=np.uint8)
        inputs = target.random(rng, m)
        inputs[classes == 0, : len(fixed)] = fixed
        times = np.zeros(m, dtype=np.uint64)
        rc = target.measure(np.ascontiguousarray(inputs), times)
        if rc == _FORGERY_ACCEPTED:
            raise RuntimeError("the kernel accepted a forged tag")
        if rc <= -1000:  # cb_leak_measure's own codes (csrc/leakcheck/leakcheck.c)
            raise RuntimeError(f"leakcheck's C loop refused the target (code {rc}): a bug in cryptobench/leakcheck.py")
        if rc:
            raise RuntimeError(f"the measured function returned error {rc}")
        return times, classes

    error = ""
    try:
        # a probe for the cost of one call, then the first batch: warm-up and
        # crop thresholds, discarded (dudect); both within a fifth of the budget
        t0 = time.perf_counter()
        one_batch(10)
        per_call = max((time.perf_counter() - t0) / 10, 1e-8)
        first = min(max(measurements // 20, 100), 10_000)
        if budget_s:
            first = max(20, min(first, int(0.2 * budget_s / per_call)))
        t0 = time.perf_counter()
        times, _ = one_batch(first)
        per_call = max((time.perf_counter() - t0) / first, 1e-8)
        tt.calibrate(times)
        if batch is None:
            # about half a second per batch, or a quarter of a smaller budget: the budget is
            # checked between batches, so a test overruns it by at most one batch
            batch_s = min(0.5, 0.25 * budget_s) if budget_s else 0.5
            batch = int(min(100_000, max(20, batch_s / per_call)))
        done = 0
        while done < measurements:
            if budget_s and time.perf_counter() - start > budget_s:
                break
            m = min(batch, measurements - done)
            times, classes = one_batch(m)
            tt.add(times, classes)
            done += m
    except Exception as exc:  # noqa: BLE001 - reported per target, never fatal to the run
        error = f"{type(exc).__name__}: {exc}"
    n = tt.measurements()
    enough = min(ENOUGH, max(50, n // 20))
    mt, at = tt.max_t(enough)
    t_all = abs(float(tt.t_values()[T_ALL])) if n else 0.0
    m0, m1 = tt.class_means() if n else (0.0, 0.0)
    return LeakResult(target.kernel, target.path, target.test, target.constant_time, target.timer, n, mt,
                      describe_test(at), t_all, m0, m1, time.perf_counter() - start, target.control, error,
                      (load0, os.getloadavg()[0]), raised=bool(error))


def targets_for(kernel: Kernel, flags: int = 0) -> list[Target]:
    """C-timed targets for native kernels, Python-timed ones for the rest.

    Raises :class:`Unsupported` for a kernel whose environment (``Kernel.env``)
    this process lacks: timed here it would be another kernel's code.
    """
    from .registry import env_mismatch

    why = env_mismatch(kernel)
    if why is not None:
        raise Unsupported(f"{why}; start leakcheck with it to test this kernel")
    if kernel.base_backend == "native":
        return native_targets(kernel, flags)
    if kernel.prepare is not None and kernel.impl is not None:
        kernel.prepare()  # JIT compilation or tables, before anything is timed
    return python_targets(kernel)


#: The secrets each kind of kernel has varied (``--test``); sign-k needs ``supports_given_k``.
TESTS: dict[str, tuple[str, ...]] = {"aead": ("plaintext", "key", "tag"), "signature": ("sign-k", "sign-d")}


def tests_of(kernel: Kernel) -> tuple[str, ...]:
    """The ``--test`` names ``targets_for`` gives this kernel: sign-k only where a nonce can be
    given (the native C entry point, or an impl with ``supports_given_k``; not openssl)."""
    given_k = kernel.base_backend == "native" or getattr(kernel.impl, "supports_given_k", False)
    return tuple(t for t in TESTS[kernel.kind] if t != "sign-k" or given_k)


def leakcheck(
    *,
    algorithms: str | Iterable[str] | None = None,
    backends: str | Iterable[str] | None = None,
    tests: str | Iterable[str] | None = None,
    measurements: int = 1_000_000,
    budget_s: float | None = 10.0,
    evict: bool = False,
    control: bool = True,
    seed: int = 20261127,
    on_start: Callable[[str, str], None] | None = None,
    on_result: Callable[[LeakResult], None] | None = None,
    verify: bool = True,
) -> list[LeakResult]:
    """dudect-style test of every selected available kernel (and the leaky control first).

    Each kernel first passes the quick vector subset ``run`` uses (``verify``):
    one that fails is reported as such and never timed, as in ``run``."""
    from .registry import split_list

    wanted = set(split_list(tests))
    flags = 1 if evict else 0
    results: list[LeakResult] = []

    def run_one(t: Target) -> None:
        if wanted and t.test not in wanted and not t.control:
            return
        if on_start:
            on_start(t.kernel, t.test)
        r = measure_target(t, measurements=measurements, budget_s=budget_s, seed=seed)
        results.append(r)
        if on_result:
            on_result(r)

    if control:
        try:
            run_one(control_target(flags))
        except Unsupported as exc:
            r = LeakResult("aes-128/leaky-ttable (control)", "ttable", "block", False, "-", 0, 0.0, "-", 0.0,
                           0.0, 0.0, 0.0, control=True, error=str(exc))
            results.append(r)
            if on_result:
                on_result(r)
    def untimed(k: Kernel, error: str, **flags: bool) -> None:
        """A row for a kernel that is not timed, and why."""
        r = LeakResult(k.name, k.path, "-", k.constant_time, "-", 0, 0.0, "-", 0.0, 0.0, 0.0, 0.0, error=error, **flags)
        results.append(r)
        if on_result:
            on_result(r)

    for k in select(algorithms, backends, available_only=True):
        if wanted and k.impl is not None and not wanted & set(tests_of(k)):
            continue  # none of the --test secrets applies (--test tag and an ECDSA kernel)
        try:
            targets = targets_for(k, flags)
        except Unsupported as exc:
            if k.impl is None:
                continue  # hot-path-only peers have nothing whole to time
            untimed(k, str(exc))
            continue
        except Exception as exc:  # noqa: BLE001 - its prepare() or a call making its inputs raised: a traceback before
            untimed(k, f"preparing its inputs raised {exc!r}, not timed", raised=True)
            continue
        if verify and k.impl is not None:
            from .verify import verify_kernel

            rep = verify_kernel(k, quick=True, seed=seed)
            if rep.failed:
                first = next((f for c in rep.checks for f in c.failures), "")
                untimed(k, f"{rep.failed} vector check(s) failed, not timed: {first}", vectors_failed=True)
                continue
        for t in targets:
            run_one(t)
    return results
