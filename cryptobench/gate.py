"""The nightly regression gate: noise-robust on shared machines, or exact.

Two modes, both pure functions over plain data that return a
:class:`GateReport` (the CLI in ``gate_cli.py`` prints it).

**Normalized wall time** (:func:`wall_gate`). Shared CI runners change speed
from night to night, so absolute times are not compared. In every run, each
benchmark's time is divided by the time of the *reference* backend (openssl)
for the same algorithm, measured in the same run; that ratio moves much less
than either time. Concretely, in log space (so ratios become differences)::

    x = log(t) - log(r)        # t: the kernel's time, r: the reference's, same run

where each time is taken robustly (:func:`_log_stats`): noise on a shared
machine only ever adds time, so each worker process contributes its fastest
value and a run's location is the mean of those per-process minima (of logs).
The gate compares ``x`` in the baseline run(s) with the current run by Welch's
t-test. The standard error has one term per sample that enters (kernel and
reference, baseline and current) — the spread of the per-process minima, never
below a 0.5% floor — with Welch-Satterthwaite degrees of freedom; with several
baseline runs the spread *between* those runs is added, so night-to-night
noise seen in the baseline widens the test.
A benchmark is a regression only when both hold:

- the change of the normalized ratio is significant (two-sided p < ``alpha``,
  default 0.01), and
- the slowdown is larger than ``threshold`` percent (default 5%).

The reference of a benchmark is openssl's benchmark with the same operation,
size and AAD; for a hot path openssl lacks (GHASH, field-mul, ...) it is
openssl's whole operation (encrypt, or sign) of the same algorithm at the same
size, else the nearest size. The reference's own benchmarks are not gated
(their ratio is 1 by construction).

**Instruction counts** (:func:`count_instructions`, :func:`instruction_gate`).
For runners where wall time is hopeless: each benchmark's call runs ``calls``
times under ``valgrind --tool=callgrind`` and the instructions executed are
counted (``Ir``). Counts repeat exactly for the same binary, inputs and code
path (random keys in keygen and pure-Python ECDSA move them by 0.1-0.3%), so
the gate needs no statistics: a change above ``threshold`` percent (default
2%) fails. Counting a Python process would include interpreter
start-up and imports (~200 M instructions, which vary by ~0.3% run to run), so
the child process runs the measured loop *inside a ctypes callback*, and
callgrind collects only inside libffi's ``ffi_call`` (``--collect-atstart=no
--toggle-collect=ffi_call``). The child makes two such calls, one empty and one
with ``calls`` iterations, and callgrind dumps a profile part after each
(``--dump-after=ffi_call``); the per-call count is ``(loop - empty) / calls``,
so the callback machinery cancels out. What remains is the kernel plus the
harness's Python loop (a few hundred instructions per call), identical on both
sides of a comparison. Valgrind reports a CPU of its own to ``cpuid``, so a
native kernel may take a lower path under valgrind than natively; the path is
recorded, and a benchmark whose path differs from the baseline's is reported,
not compared. Numba kernels are not counted by default (their JIT would run
under valgrind, and llvmlite calls through ctypes too).
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from .errors import ResultsFileError, UsageError
from .results import MAX_MACHINE_TEXT, MAX_SECONDS, MIN_SECONDS, is_byte_count, is_call_time
from .registry import CPU_LACKS

#: Schema tag of an instruction-count file written by :func:`save_counts`.
ICOUNT_SCHEMA = "cryptobench-icount/1"
DEFAULT_WALL_THRESHOLD = 5.0
DEFAULT_ICOUNT_THRESHOLD = 2.0
#: No call of a benchmark runs this many instructions (about a day of CPU): a count above it is garbage.
MAX_INSTRUCTIONS = 1e15
DEFAULT_ALPHA = 0.01
REFERENCE = "openssl"
#: pytest-benchmark rounds are split into this many consecutive blocks (see below).
PYTEST_BLOCKS = 5

# ------------------------------------------------------------------ samples


@dataclass(frozen=True)
class Sample:
    """One benchmark's values (seconds per call) in one run."""

    name: str
    algorithm: str
    backend: str
    operation: str
    size: int | None
    aad: int | None
    kind: str
    values: tuple[float, ...]
    code_path: str = ""
    #: the values grouped by worker process (pyperf runs), when known
    runs: tuple[tuple[float, ...], ...] = ()


@dataclass
class RunSamples:
    """Every benchmark of one run (a results file or a pytest-benchmark JSON file)."""

    label: str
    samples: dict[str, Sample]
    machine: dict[str, Any] = field(default_factory=dict)
    created: str = ""
    source: str = "cryptobench"  # or "pytest-benchmark"
    settings: dict[str, Any] = field(default_factory=dict)  # the results file's profile, --parallel, ...
    complete: bool = True  # False: an interrupted run (Ctrl-C), which lacks what it did not reach
    #: each kernel's outcome in the run ({"status": ..., "reason": ...}), when the file records it
    kernels: dict[str, dict[str, Any]] = field(default_factory=dict)


def samples_from_results(res) -> RunSamples:
    """From a loaded :class:`cryptobench.results.Results`."""
    try:
        by_process = {b.get_name(): tuple(tuple(float(v) for v in r.values) for r in b.get_runs() if r.values)
                      for b in res.pyperf_suite().get_benchmarks()}
    except Exception:  # noqa: BLE001 - the flattened values still serve
        by_process = {}
    out = {}
    for m in res.measurements:
        aad = m.metadata.get("aad")
        out[m.name] = Sample(m.name, m.algorithm, m.backend, m.operation, m.size, aad, m.kind,
                             tuple(float(v) for v in m.values), m.code_path, by_process.get(m.name, ()))
    return RunSamples(str(res.path), out, dict(res.machine), str(res.info.get("created", "")),
                      settings=dict(res.info.get("settings") or {}), complete=res.info.get("complete", True),
                      kernels={n: dict(o) for n, o in res.kernels.items() if isinstance(o, dict)})


#: Benchmark kinds: an operation, a hot path, the harness's own overhead row.
_KINDS = ("operation", "hot-path", "overhead")


def samples_from_pytest_benchmark(doc: Mapping[str, Any], label: str) -> RunSamples:
    """From pytest-benchmark's JSON (``--benchmark-json``, with ``--benchmark-save-data``
    for the individual values; without it only the mean is known and nothing is significant).

    The suite in ``tests/benchmarks`` stores each benchmark's cryptobench metadata
    in ``extra_info``; benchmarks without it are ignored.
    """
    out = {}
    identity: dict[tuple, str] = {}
    benchmarks = doc.get("benchmarks", [])
    if not isinstance(benchmarks, list) or not all(isinstance(b, dict) for b in benchmarks):
        raise ValueError("benchmarks must be a list of objects")
    for i, b in enumerate(benchmarks):
        info = b.get("extra_info") or {}
        stats = b.get("stats") or {}
        if not isinstance(info, dict) or not isinstance(stats, dict):
            raise ValueError(f"benchmarks[{i}]: extra_info and stats must be objects")
        if "algorithm" not in info or "backend" not in info:
            continue
        values = stats.get("data") or ([stats["mean"]] if "mean" in stats else [])
        if not values:
            continue
        name = info.get("name") or b.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError(f"benchmarks[{i}]: name must be a non-empty string, got {name!r:.40}")
        for key in ("algorithm", "backend", "operation", "kind", "code_path"):
            if key in info and not isinstance(info[key], str):
                raise ValueError(f"{name}: extra_info.{key} must be a string, got {info[key]!r:.40}")
        for key, least in (("size", 1), ("aad", 0)):
            v = info.get(key)
            if v is not None and not is_byte_count(v, least):
                raise ValueError(f"{name}: extra_info.{key} must be a whole number of bytes from {least}, "
                                 f"got {v!r:.40}")
        if not isinstance(values, list) or not all(map(is_call_time, values)):
            raise ValueError(f"{name}: stats must hold positive numbers of seconds (from {MIN_SECONDS:g} to "
                             f"{MAX_SECONDS:g})")
        if info.get("kind", "operation") not in _KINDS:
            raise ValueError(f"{name}: extra_info.kind must be one of {', '.join(_KINDS)}, got {info['kind']!r:.40}")
        if name in out:  # the second would replace the first unsaid
            raise ValueError(f"two benchmarks named {name}")
        same = (info["algorithm"], info["backend"], info.get("operation", ""), info.get("size"), info.get("aad"))
        if same in identity:  # as in a results file: which of the two would the gate compare?
            raise ValueError(f"{identity[same]} and {name} measure the same algorithm, backend, operation, size and AAD")
        identity[same] = name
        vals = tuple(float(v) for v in values)
        # one process, rounds in time order: consecutive blocks stand in for pyperf's
        # worker processes (each contributes its fastest round), so slow drift
        # during the session widens the error
        k = PYTEST_BLOCKS if len(vals) >= 2 * PYTEST_BLOCKS else 1
        blocks = tuple(vals[i * len(vals) // k:(i + 1) * len(vals) // k] for i in range(k)) if k > 1 else ()
        out[name] = Sample(name, info["algorithm"], info["backend"], info.get("operation", ""), info.get("size"),
                           info.get("aad"), info.get("kind", "operation"), vals, info.get("code_path", ""), blocks)
    mi = doc.get("machine_info") or {}
    ci = doc.get("commit_info") or {}
    if not isinstance(mi, dict) or not isinstance(mi.get("cpu") or {}, dict) or not isinstance(ci, dict):
        raise ValueError("machine_info, machine_info.cpu and commit_info must be objects")
    machine = {"cpu_model": (mi.get("cpu") or {}).get("brand_raw"), "python": mi.get("python_version")}
    commit = ci.get("id")
    if commit:
        machine["git_commit"] = commit
    bad = next((k for k, v in machine.items()
                if not (v is None or (isinstance(v, str) and len(v) <= MAX_MACHINE_TEXT))), None)
    if bad is not None:  # printed, compared and put in sets by the gate and history
        where = {"cpu_model": "machine_info.cpu.brand_raw", "python": "machine_info.python_version",
                 "git_commit": "commit_info.id"}[bad]
        raise ValueError(f"{where} must be a string of at most {MAX_MACHINE_TEXT:,} characters, "
                         f"got {machine[bad]!r:.40}")
    return RunSamples(label, out, machine, str(doc.get("datetime", "")), "pytest-benchmark")


def _positive_number(v: Any, top: float = math.inf) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < top


def _read_doc(p: Path) -> Any:
    """A file's JSON document, read and parsed once. NaN and Infinity are allowed only in
    pytest-benchmark JSON (a results or instruction-count file holding them is refused)."""
    from . import results

    try:
        return results.read_json(p, "results file", allow_nan=False)
    except results.NonFiniteJSON:
        doc = results.read_json(p, "results file")
        if _is_pytest_benchmark(doc) and "cryptobench" not in doc:
            return doc
        raise


def _is_pytest_benchmark(doc: Any) -> bool:
    return isinstance(doc, dict) and "benchmarks" in doc and "machine_info" in doc


def load_run(path: str | Path) -> RunSamples:
    """A cryptobench results file or a pytest-benchmark JSON file (detected)."""
    p = Path(path)
    return _run_from_doc(p, _read_doc(p))


def load_run_or_counts(path: str | Path) -> RunSamples | None:
    """Like :func:`load_run`, reading the file once, but None for an instruction-count file."""
    p = Path(path)
    doc = _read_doc(p)
    if isinstance(doc, dict) and doc.get("schema") == ICOUNT_SCHEMA:
        return None
    return _run_from_doc(p, doc)


def _run_from_doc(p: Path, doc: Any) -> RunSamples:
    from . import results

    if isinstance(doc, dict) and "cryptobench" in doc:
        return samples_from_results(results.load(p, doc))
    if _is_pytest_benchmark(doc):
        try:
            return samples_from_pytest_benchmark(doc, str(p))
        except ValueError as exc:
            raise ResultsFileError(f"{p}: malformed pytest-benchmark JSON: {exc}") from None
    raise ResultsFileError(f"{p}: neither a cryptobench results file nor pytest-benchmark JSON")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False


def load_runs(path: str | Path, *, kind: str | None = None, current: str | Path | None = None,
              notes: list[str] | None = None) -> list[RunSamples]:
    """A file, or every results file in a directory (pooled as one baseline).

    ``kind`` ("cryptobench" or "pytest-benchmark"): a baseline file of another
    kind is an error; in a directory, files of another kind and instruction-count
    files are passed over. ``current``, when it lies in the directory, is left
    out of the pool: pooled with itself, a run makes the spread between the
    baseline and itself the noise, and nothing is significant. Files left out
    (that one, and unreadable ones) are said in ``notes``.
    """
    p = Path(path)
    notes = notes if notes is not None else []
    if not p.is_dir():
        if current is not None and _same_file(p, Path(current)):
            raise UsageError(f"{p} is both the baseline and the current run")
        run = load_run(p)
        if kind is not None and run.source != kind:
            raise UsageError(f"the baseline {p} is {run.source} JSON and the current run is {kind} JSON; "
                             "compare files of one kind")
        return [run]
    runs = []
    unreadable = 0
    from .results import results_files

    for f in results_files(p):
        if current is not None and _same_file(f, Path(current)):
            notes.append(f"note: left {f} out of the baseline: it is the current run")
            continue
        try:
            r = load_run_or_counts(f)
        except ResultsFileError as exc:
            unreadable += 1
            notes.append(f"note: left out of the baseline: {exc}")
            continue
        if r is not None and (kind is None or r.source == kind):
            runs.append(r)
    if not runs:
        raise ResultsFileError(f"{p}/: no results files" + (f" of kind {kind}" if kind else "")
                               + (f" ({unreadable} unreadable: see the notes)" if unreadable else ""))
    return runs


def _is_icount_file(p: Path) -> bool:
    from . import results

    try:
        doc = results.read_json(p)
    except ResultsFileError:
        return False
    return isinstance(doc, dict) and doc.get("schema") == ICOUNT_SCHEMA


# ------------------------------------------------------------------ statistics


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the regularized incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        for num in (m * (b - m) * x / ((a + m2 - 1) * (a + m2)), -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1))):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-14:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """I_x(a, b), the regularized incomplete beta function."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    lbeta = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(lbeta) * _betacf(a, b, x) / a
    return 1.0 - math.exp(lbeta) * _betacf(b, a, 1.0 - x) / b


def t_two_sided_p(t: float, df: float) -> float:
    """Two-sided p-value of Student's t with ``df`` degrees of freedom."""
    if math.isnan(t):
        return 1.0
    if math.isinf(t):
        return 0.0
    if df <= 0:
        return 1.0
    return _betainc(df / 2.0, 0.5, df / (df + t * t))


#: No run's location is trusted to better than this (relative): two worker
#: processes that happen to agree closely must not make a change "significant".
NOISE_FLOOR = 0.005
#: Values of one process, or of one block when processes are unknown.
BLOCK = 3


def _groups(values: Sequence[float], runs: Sequence[Sequence[float]]) -> list[list[float]]:
    """Values grouped by worker process; without that structure, consecutive
    blocks of BLOCK values (fewer than 2*BLOCK values: one group per value)."""
    rs = [list(r) for r in runs if r]
    if len(rs) >= 2:
        return rs
    vals = list(values)
    if len(vals) < 2 * BLOCK:
        return [[v] for v in vals]
    k = len(vals) // BLOCK
    return [vals[i * len(vals) // k:(i + 1) * len(vals) // k] for i in range(k)]


def _log_stats(values: Sequence[float], runs: Sequence[Sequence[float]] = ()) -> tuple[float, float, int]:
    """(location of log time, its squared standard error, the count behind it).

    Noise on a shared machine is one-sided: preemption, a busy neighbour or a
    cold cache only ever add time, so the minimum is the most robust estimate
    of a benchmark's time (Chen & Revels, "Robust benchmarking in noisy
    environments", 2016). Values of one worker process are not independent
    either (a process that ran while the machine was busy is slow throughout).
    So each process contributes its fastest value, and the location is the
    mean of those per-process minima in log space, with the standard error of
    that mean (at least NOISE_FLOOR). Compare runs made with the same profile:
    the minimum of more values is a little lower.
    """
    mins = [math.log(min(g)) for g in _groups(values, runs) if min(g) > 0]
    k = len(mins)
    if k == 0:
        return float("nan"), 0.0, 0
    mean = statistics.fmean(mins)
    se2 = statistics.variance(mins) / k if k > 1 else 0.0
    return mean, max(se2, NOISE_FLOOR * NOISE_FLOOR / k), k


@dataclass(frozen=True)
class _Normalized:
    """log(kernel / reference) in one run, with its error terms (a_i = s_i^2/n_i, n_i)."""

    mean: float
    terms: tuple[tuple[float, int], ...]


def _normalize(kernel: Sample, ref: Sample) -> _Normalized:
    mk, ak, nk = _log_stats(kernel.values, kernel.runs)
    mr, ar, nr = _log_stats(ref.values, ref.runs)
    return _Normalized(mk - mr, ((ak, nk), (ar, nr)))


def _pool(runs: list[_Normalized]) -> _Normalized:
    """Several baseline runs: the mean of their means; error terms averaged, plus
    the spread between runs (night-to-night noise the within-run terms miss)."""
    if len(runs) == 1:
        return runs[0]
    k = len(runs)
    means = [r.mean for r in runs]
    terms = tuple((a / (k * k), n) for r in runs for a, n in r.terms)
    between = statistics.variance(means) / k
    return _Normalized(statistics.fmean(means), terms + ((between, k),))


def compare_normalized(old: _Normalized, new: _Normalized) -> tuple[float, float]:
    """(change as new/old ratio of normalized times, two-sided p-value)."""
    diff = new.mean - old.mean
    terms = old.terms + new.terms
    se2 = sum(a for a, _ in terms)
    change = math.exp(diff)
    if any(n < 2 for _, n in terms):
        return change, 1.0  # a single value: no test possible, never significant
    if se2 <= 0.0:
        return change, 0.0 if diff != 0.0 else 1.0
    df = se2 * se2 / sum(a * a / (n - 1) for a, n in terms if a > 0)
    return change, t_two_sided_p(diff / math.sqrt(se2), df)


# ------------------------------------------------------------------ reports


@dataclass
class Verdict:
    """One benchmark's outcome. ``change`` is new/old (normalized time or
    instructions): above 1 is slower."""

    name: str
    status: str  # slower | faster | same | new | gone | unavailable | no-reference | path-changed
    change: float | None = None
    p_value: float | None = None
    old: float | None = None  # normalized ratio (wall) or instructions per call
    new: float | None = None
    reference: str = ""
    note: str = ""

    @property
    def percent(self) -> float | None:
        return None if self.change is None else (self.change - 1.0) * 100.0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__, percent=self.percent)


@dataclass
class GateReport:
    mode: str  # "wall" | "instructions"
    threshold: float
    alpha: float | None
    verdicts: list[Verdict]
    warnings: list[str] = field(default_factory=list)
    baseline: list[str] = field(default_factory=list)
    current: str = ""
    source: str = "cryptobench"  # of the files gated: "cryptobench" | "pytest-benchmark" | "counts"

    @property
    def regressions(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.status == "slower"]

    @property
    def gone(self) -> list[Verdict]:
        """Benchmarks of the baseline the current run lacks: a kernel unavailable, failing or
        not reached now. They fail the gate: a nightly that lost a kernel must not stay green."""
        return [v for v in self.verdicts if v.status == "gone"]

    @property
    def improvements(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.status == "faster"]

    @property
    def compared(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.change is not None and v.status in ("slower", "faster", "same")]

    @property
    def passed(self) -> bool:
        return not self.regressions and not self.gone

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "cryptobench-gate/1", "mode": self.mode, "threshold_percent": self.threshold, "alpha": self.alpha,
            "passed": self.passed, "baseline": self.baseline, "current": self.current, "warnings": self.warnings,
            "verdicts": [v.to_dict() for v in self.verdicts],
        }


def _classify(change: float, significant: bool, threshold: float) -> str:
    pct = (change - 1.0) * 100.0
    if significant and pct > threshold:
        return "slower"
    if significant and pct < -threshold:
        return "faster"
    return "same"


# ------------------------------------------------------------------ wall-time gate


def find_reference(sample: Sample, run: RunSamples, *, reference: str = REFERENCE,
                   within: Callable[[str], bool] = lambda name: True) -> Sample | None:
    """The reference backend's benchmark a sample is normalized by (see module doc)."""
    cands = [s for s in run.samples.values()
             if s.algorithm == sample.algorithm and s.backend == reference and within(s.name)]
    if not cands:
        return None
    for s in cands:
        if (s.operation, s.size, s.aad) == (sample.operation, sample.size, sample.aad):
            return s
    whole = [s for s in cands if s.kind == "operation" and s.operation in ("encrypt", "sign")]
    whole = [s for s in whole if s.aad in (None, 13)] or whole
    pool = whole or cands
    if sample.size:
        sized = [s for s in pool if s.size]
        if sized:
            return min(sized, key=lambda s: (abs(math.log(s.size / sample.size)), s.name))
    return sorted(pool, key=lambda s: s.name)[0]


def _select_baseline(baseline: list[RunSamples], current: RunSamples, warnings: list[str]) -> list[RunSamples]:
    cpu = current.machine.get("cpu_model")
    same = [r for r in baseline if r.machine.get("cpu_model") == cpu]
    if same:
        if len(same) < len(baseline):
            warnings.append(f"using the {len(same)} of {len(baseline)} baseline run(s) measured on the same CPU ({cpu})")
        return same
    models = sorted({str(r.machine.get("cpu_model")) for r in baseline})
    warnings.append(f"WARNING: no baseline run on this CPU ({cpu}); baseline CPU(s): {', '.join(models)} — "
                    "ratios to openssl move between CPU models; accept a baseline for this runner")
    return baseline


def wall_gate(
    *,
    baseline: Sequence[RunSamples],
    current: RunSamples,
    reference: str = REFERENCE,
    threshold: float = DEFAULT_WALL_THRESHOLD,
    alpha: float = DEFAULT_ALPHA,
    include: Callable[[Sample], bool] = lambda s: True,
    same_cpu: bool = True,
) -> GateReport:
    """Normalized wall-time gate of ``current`` against one or more baseline runs."""
    if not baseline:
        raise UsageError("no baseline run to compare with")
    warnings: list[str] = []
    base = _select_baseline(list(baseline), current, warnings) if same_cpu else list(baseline)
    for key, label in (("openssl", "OpenSSL"), ("python", "Python")):
        olds = {r.machine.get(key) for r in base if r.machine.get(key)}
        new = current.machine.get(key)
        if new and olds and olds != {new}:
            warnings.append(f"note: different {label}: baseline {', '.join(sorted(map(str, olds)))}, current {new} "
                            "(the reference moves too)")
    caps = {r.machine.get("openssl_ia32cap") for r in base}  # None: unset
    new_cap = current.machine.get("openssl_ia32cap")
    if caps and caps != {new_cap}:
        shown = ", ".join(sorted("unset" if c is None else repr(c) for c in caps))
        warnings.append(f"note: different OPENSSL_ia32cap: baseline {shown}, current "
                        f"{'unset' if new_cap is None else repr(new_cap)} (the reference moves too)")
    from .results import settings_notes

    def has_ecdsa(r: RunSamples) -> bool:  # among the selected benchmarks
        return any(s.algorithm.startswith("ecdsa") and include(s) for s in r.samples.values())

    notes = (n for r in base
             for n in settings_notes(r.settings, current.settings, ecdsa=has_ecdsa(r) and has_ecdsa(current)))
    for note in dict.fromkeys(notes):
        warnings.append(note)
    if not current.complete:
        warnings.append(f"note: {current.label} is an interrupted run: the benchmarks it did not reach are "
                        "listed as gone")
    single = [r.label for r in [*base, current] if r.source == "cryptobench" and r.settings.get("processes") == 1]
    if single:
        warnings.append(f"note: {', '.join(single)} ran one worker process (--fast): its values are not independent, "
                        "so the p-values overstate significance; gate runs of the default profile or --ci")
    if len(base) == 1 and current.source == "cryptobench":
        # seven runs of unchanged code against a one-run baseline made 20 minutes before: one
        # benchmark flagged six times (+5.4% to +9.7%, p down to 1e-7); pooled with a second
        # baseline run, none
        warnings.append(f"note: the baseline is one run ({base[0].label}): how far a ratio wanders from run to run "
                        "is unknown to the test, so drift of a few percent can show as significant; pool two or "
                        "three runs as the baseline (a directory of them)")
    only_means = [r.label for r in [*base, current]
                  if r.source == "pytest-benchmark" and r.samples and all(len(s.values) < 2 for s in r.samples.values())]
    if only_means:  # the gate passed such files without a word
        warnings.append(f"note: {', '.join(only_means)} hold(s) one value per benchmark (pytest-benchmark without "
                        "--benchmark-save-data): no change can be significant, so this gate cannot fail")
    verdicts = []
    for name, s in sorted(current.samples.items()):
        if s.backend == reference or s.kind == "overhead" or not include(s):
            continue
        olds = [r for r in base if name in r.samples]
        if not olds:
            verdicts.append(Verdict(name, "new", note="not in the baseline"))
            continue

        def in_all(refname: str) -> bool:
            return all(refname in r.samples for r in olds)

        ref = find_reference(s, current, reference=reference, within=in_all)
        if ref is None:
            verdicts.append(Verdict(name, "no-reference", note=f"no {reference} benchmark of {s.algorithm} in every run"))
            continue
        new_n = _normalize(s, ref)
        old_n = _pool([_normalize(r.samples[name], r.samples[ref.name]) for r in olds])
        change, p = compare_normalized(old_n, new_n)
        status = _classify(change, p < alpha, threshold)
        paths = {r.samples[name].code_path for r in olds} - {""}
        note = ""
        if s.code_path and paths and paths != {s.code_path}:
            note = f"code path {', '.join(sorted(paths))} -> {s.code_path}"
        verdicts.append(Verdict(name, status, change, p, math.exp(old_n.mean), math.exp(new_n.mean), ref.name, note))
    cpu = current.machine.get("cpu_model")
    for name in sorted({n for r in base for n in r.samples} - set(current.samples)):
        r = next(r for r in base if name in r.samples)
        s = r.samples[name]
        if s.backend != reference and s.kind != "overhead" and include(s):
            ref = find_reference(s, r, reference=reference)  # so that a re-run (confirm_filter) measures it too
            outcome = current.kernels.get(f"{s.algorithm}/{s.backend}", {})
            status, why = outcome.get("status", ""), outcome.get("reason", "")
            if (status == "unavailable" and why.startswith(CPU_LACKS)
                    and not any(b.machine.get("cpu_model") == cpu for b in base if name in b.samples)):
                # a kernel this machine cannot run (a CPU feature), measured on another CPU model only:
                # the runner, not the code (the no-baseline-on-this-CPU warning says so once). Any
                # other reason (a broken Numba, a failed build) is gone: the code's
                verdicts.append(Verdict(name, "unavailable", note=f"unavailable on this CPU ({why}); the baseline "
                                        "measured it on another CPU model"))
                continue
            note = (f"in the baseline, not in this run: {status.upper() if status != 'unavailable' else status}"
                    + (f" ({why})" if why else "")) if status and status != "passed" else "in the baseline, not in this run"
            verdicts.append(Verdict(name, "gone", reference=ref.name if ref else "", note=note))
    return GateReport("wall", threshold, alpha, verdicts, warnings, [r.label for r in base], current.label,
                      source=current.source)


def confirm_filter(report: GateReport) -> str:
    """A ``cryptobench run --filter`` value selecting the regressed and the gone
    benchmarks and their references (exact names, so nothing else is re-measured; a
    kernel that was only not reached, a worker stopped by --timeout say, gets its
    second chance); "" if none."""
    names = sorted({n for v in (*report.regressions, *report.gone) for n in (v.name, v.reference) if n})
    # `run --filter` matches substrings unless a pattern has a glob character;
    # "[x]rest" is a glob that matches exactly "xrest"
    return ",".join(f"[{n[0]}]{n[1:]}" for n in names)


# ------------------------------------------------------------------ instruction counts


@dataclass(frozen=True)
class CountTarget:
    """One benchmark to count: a kernel's operation (or hot path) at a size."""

    algorithm: str
    backend: str
    operation: str
    size: int | None = None
    aad: int | None = None
    hot_path: bool = False

    @property
    def name(self) -> str:
        from .bench import Spec

        return Spec(self.algorithm, self.backend, self.operation, self.size, self.aad, self.hot_path).name


@dataclass
class InstructionCount:
    name: str
    algorithm: str
    backend: str
    operation: str
    size: int | None
    aad: int | None
    kind: str
    code_path: str
    calls: int
    empty: int  # instructions of the empty callback
    loop: int  # instructions of the callback running `calls` calls
    per_call: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def valgrind_path(valgrind: str | None = None) -> str | None:
    """The valgrind executable, or None when it is not installed."""
    import shutil

    return shutil.which(valgrind or "valgrind")


def _read_totals(path: Path) -> int:
    """The ``summary:`` (or ``totals:``) line of a callgrind output file: Ir."""
    found = None
    with open(path) as fh:
        for line in fh:
            if line.startswith("summary:") or (found is None and line.startswith("totals:")):
                found = int(line.split()[1])
    if found is None:
        raise RuntimeError(f"{path}: no summary/totals line")
    return found


def _kernel_module(algorithm: str, backend: str) -> str:
    from .registry import ALGORITHMS

    base = backend.split("-", 1)[0]
    return f"cryptobench.kernels.{ALGORITHMS[algorithm]}.{'peers' if base == 'peer' else base}"


def count_instructions(
    targets: Sequence[CountTarget] | CountTarget,
    *,
    calls: int = 20,
    valgrind: str | None = None,
    register: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    timeout: float = 1800.0,
) -> dict[str, InstructionCount | str]:
    """Count the instructions of ``calls`` calls of each benchmark under callgrind.

    All targets run in one valgrind process (start-up under valgrind costs
    seconds). Returns ``{name: InstructionCount}``, or ``{name: reason}`` for a
    target the child could not run (e.g. a native path valgrind's CPU lacks).
    ``register`` names extra modules whose ``register(reg)`` adds kernels in
    the child (test kernels); they must be importable with the given ``env``.
    Raises RuntimeError when valgrind itself fails.
    """
    if isinstance(targets, CountTarget):
        targets = [targets]
    exe = valgrind_path(valgrind)
    if exe is None:
        raise RuntimeError("valgrind is not installed (apt-get install valgrind)")
    if calls < 1:
        raise UsageError("--calls must be at least 1")
    child_env = dict(os.environ if env is None else env)
    child_env["PYTHONHASHSEED"] = "0"
    from .registry import default_registry

    reg = default_registry()

    def module_of(t: CountTarget) -> str:
        # the module that registered it: a CRYPTOBENCH_BACKENDS backend's name says nothing of
        # its module (every one of its benchmarks was "not counted: No module named ...")
        return reg.origin(f"{t.algorithm}/{t.backend}") or _kernel_module(t.algorithm, t.backend)

    spec = {"register": list(register), "targets": [
        {"algorithm": t.algorithm, "backend": t.backend, "operation": t.operation, "size": t.size, "aad": t.aad,
         "hot_path": t.hot_path, "module": module_of(t), "calls": calls_for(t, calls)} for t in targets]}
    with tempfile.TemporaryDirectory(prefix="cryptobench-icount-") as d:
        out = Path(d) / "callgrind.out"
        spec_file, info = Path(d) / "spec.json", Path(d) / "child.json"
        spec_file.write_text(json.dumps(spec))
        cmd = [exe, "--tool=callgrind", "--collect-atstart=no", "--toggle-collect=ffi_call",
               "--dump-after=ffi_call", f"--callgrind-out-file={out}", "--quiet", "--vgdb=no",
               sys.executable, "-P", "-m", "cryptobench.gate", "--icount-child", str(spec_file), str(info)]
        from ._child import die_with_parent  # a SIGKILLed gate leaves no callgrind running
        from ._signals import popen_held  # nor does a signal while callgrind starts

        with popen_held(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env,
                        preexec_fn=die_with_parent) as proc:
            try:
                _, stderr = proc.communicate(timeout=timeout)
            except BaseException:  # a timeout, Ctrl-C or SIGTERM: stop callgrind and reap it before going on
                proc.kill()
                proc.wait()
                raise
        if proc.returncode != 0 or not info.exists():
            tail = (stderr or "").strip().splitlines()[-3:]
            raise RuntimeError(f"callgrind child failed (exit {proc.returncode}): " + " | ".join(tail))
        meta = json.loads(info.read_text())
        parts = sorted(Path(d).glob("callgrind.out.*"), key=lambda p: int(p.name.rsplit(".", 1)[1]))
        parts = [p for p in parts if "dump-after" in p.read_text()[:2000]]
        ran = [m for m in meta["targets"] if not m.get("error")]
        if len(parts) < 2 * len(ran):
            raise RuntimeError(f"callgrind wrote {len(parts)} profile parts, expected {2 * len(ran)}")
        parts = parts[len(parts) - 2 * len(ran):]  # ours are the last: the child runs them after all set-up
        totals = iter([_read_totals(p) for p in parts])
    results: dict[str, InstructionCount | str] = {}
    for t, m in zip(targets, meta["targets"]):
        if m.get("error"):
            results[t.name] = m["error"]
            continue
        empty, loop = next(totals), next(totals)
        if m.get("loop_error"):
            results[t.name] = m["loop_error"]
            continue
        n = calls_for(t, calls)
        results[t.name] = InstructionCount(t.name, t.algorithm, t.backend, t.operation, t.size, t.aad,
                                           "hot-path" if t.hot_path else "operation", m.get("code_path", ""),
                                           n, empty, loop, (loop - empty) / n)
    return results


#: Key generation draws a fresh random key each call, so its count moves with the keys: the
#: pure-Python one by 1.9% over eleven processes of 10 calls (1,150,512-1,172,725 per call,
#: 2026-11-28), against a 2% gate. It gets this many times the calls (the mean of four times
#: as many keys; the count per call stays comparable with a baseline's): five processes of
#: 40 calls spread over 0.44% (1,154,639-1,159,722).
KEYGEN_CALLS_FACTOR = 4


def calls_for(target: "CountTarget", calls: int) -> int:
    """The calls a target's loop makes under callgrind: ``calls``, more for key generation."""
    return calls * KEYGEN_CALLS_FACTOR if target.operation == "keygen" else calls


def _icount_child(spec_path: str, info_path: str) -> None:
    """Runs under callgrind. Loads each target's kernel and prepares its benchmark;
    then, for each target in turn, makes two ctypes callbacks through libc's
    ``lfind`` over one element (so one callback each): the first empty, the
    second running the call ``calls`` times. Everything else happens before the
    first callback, so the last profile parts are ours, in order."""
    import ctypes
    import gc
    import importlib

    from . import bench
    from .registry import Registry, env_mismatch

    spec = json.loads(Path(spec_path).read_text())
    reg = Registry()
    loaded: set[str] = set()
    metas: list[dict[str, Any]] = []
    calls_of: list[Any] = []
    prepared_kernels: set[str] = set()
    for t in spec["targets"]:
        meta: dict[str, Any] = {}
        metas.append(meta)
        calls_of.append(None)
        try:
            for mod in [t["module"], *spec["register"]]:
                if mod in loaded:
                    continue
                loaded.add(mod)
                try:
                    module = importlib.import_module(mod)
                except ModuleNotFoundError as exc:
                    if exc.name == mod and spec["register"]:
                        continue  # a test kernel's backend has no module of its own
                    raise
                module.register(reg)
            kernel = reg.get(t["algorithm"], t["backend"])
            if not kernel.available:
                raise RuntimeError(f"unavailable under valgrind: {kernel.reason}")
            why = env_mismatch(kernel)
            if why is not None:  # counted here it would be another kernel's code
                raise RuntimeError(why)
            meta["code_path"] = kernel.path or kernel.backend
            if kernel.prepare is not None and kernel.name not in prepared_kernels:
                kernel.prepare()
                prepared_kernels.add(kernel.name)
            s = bench.Spec(t["algorithm"], t["backend"], t["operation"], t["size"], t["aad"], t["hot_path"])
            call = bench.prepare(kernel, s).call
            call()
            call()
            calls_of[-1] = call
        except Exception as exc:  # noqa: BLE001 - reported to the parent
            meta["error"] = f"{type(exc).__name__}: {exc}"
    libc = ctypes.CDLL(None)
    lfind = libc.lfind
    lfind.restype = ctypes.c_void_p
    cmp_t = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
    state: dict[str, Any] = {"call": None, "n": 0, "error": None}

    def body(a, b):
        c = state["call"]
        try:
            for _ in range(state["n"]):
                c()
        except Exception as exc:  # noqa: BLE001
            state["error"] = f"{type(exc).__name__}: {exc}"
        return 0

    cb = cmp_t(body)
    elems = (ctypes.c_int * 1)(1)
    key = ctypes.c_int(1)
    nmemb = ctypes.c_size_t(1)
    size = ctypes.sizeof(ctypes.c_int)
    gc.collect()
    gc.disable()
    for t, meta, call in zip(spec["targets"], metas, calls_of):
        if call is None:
            continue
        state.update(call=call, n=0, error=None)
        lfind(ctypes.byref(key), elems, ctypes.byref(nmemb), size, cb)  # empty
        state["n"] = int(t["calls"])
        lfind(ctypes.byref(key), elems, ctypes.byref(nmemb), size, cb)  # n calls
        if state["error"]:
            meta["loop_error"] = state["error"]
    gc.enable()
    Path(info_path).write_text(json.dumps({"targets": metas}))


def count_targets(
    *,
    algorithms: str | None = None,
    backends: str | None = "python,native",
    sizes: tuple[int, ...] = (64,),
    pattern: str | None = None,
    hot_paths: bool = True,
) -> tuple[list[CountTarget], list[tuple[str, str]]]:
    """What ``gate --count`` counts: (targets, [(kernel, reason not counted)])."""
    from . import bench
    from .registry import select

    targets, skipped = [], []
    for k in select(algorithms, backends):
        if not k.available:
            skipped.append((k.name, k.reason))
            continue
        for s in bench.specs_for(k, sizes=sizes, aads=(bench.TLS_AAD,), hot_paths=hot_paths, pattern=pattern):
            targets.append(CountTarget(s.algorithm, s.backend, s.operation, s.size, s.aad, s.hot_path))
    return targets, skipped


def measure_counts(
    targets: Iterable[CountTarget],
    *,
    calls: int = 20,
    valgrind: str | None = None,
    register: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    on_count: Callable[[CountTarget, InstructionCount | None, str], None] | None = None,
) -> dict[str, Any]:
    """Count every target; returns the document :func:`save_counts` writes."""
    from . import machine

    exe = valgrind_path(valgrind)
    if exe is None:
        raise UsageError("valgrind is not installed (apt-get install valgrind); it is needed for instruction counts")
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()
    counts, skipped = {}, {}
    targets = list(targets)
    try:
        got = count_instructions(targets, calls=calls, valgrind=exe, register=register, env=env)
    except RuntimeError as exc:
        got = {t.name: str(exc) for t in targets}
    for t in targets:
        c = got.get(t.name, "not run")
        if isinstance(c, str):
            skipped[t.name] = c
            if on_count:
                on_count(t, None, c)
            continue
        counts[c.name] = c.to_dict()
        if on_count:
            on_count(t, c, "")
    return {
        "schema": ICOUNT_SCHEMA,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "valgrind": version,
        "python": sys.version.split()[0],
        "git_commit": machine.git_commit(),
        "cpu_model": _cpu_model(),
        "calls": calls,
        "counts": counts,
        "skipped": skipped,
    }


def _cpu_model() -> str | None:
    try:
        from . import native

        return native.cpu_model()
    except Exception:  # noqa: BLE001
        return None


def save_counts(path: str | Path, doc: Mapping[str, Any]) -> Path:
    from ._io import atomic_write_text  # creates the parent directory

    return atomic_write_text(path, json.dumps(doc, indent=1, sort_keys=True) + "\n")


def load_counts(path: str | Path) -> dict[str, Any]:
    from . import results

    p = Path(path)
    doc = results.read_json(p, "instruction-count file", allow_nan=False)
    if not isinstance(doc, dict) or doc.get("schema") != ICOUNT_SCHEMA:
        raise ResultsFileError(f"{p}: not an instruction-count file (schema {ICOUNT_SCHEMA})")
    counts = doc.get("counts")
    if not isinstance(counts, dict) or not isinstance(doc.get("skipped", {}), dict):
        raise ResultsFileError(f"{p}: malformed instruction-count file: counts and skipped must be objects")
    for name, c in counts.items():
        # at least one instruction a call: a baseline of 5e-324 made every change +inf% (and --json wrote Infinity)
        if not isinstance(c, dict) or not _positive_number(c.get("per_call"), MAX_INSTRUCTIONS) or c["per_call"] < 1:
            raise ResultsFileError(f"{p}: malformed instruction-count file: {name}: per_call must be a number from 1"
                                   f" to below {MAX_INSTRUCTIONS:g}")
        if not isinstance(c.get("code_path", ""), str):
            raise ResultsFileError(f"{p}: malformed instruction-count file: {name}: code_path must be a string")
    # printed as a table cell, and in the warnings when the two sides differ
    bad = next((f"skipped[{k!r}]" for k, why in doc.get("skipped", {}).items() if not isinstance(why, str)),
               next((k for k in ("python", "valgrind") if not (doc.get(k) is None or isinstance(doc[k], str))), None))
    if bad is not None:
        raise ResultsFileError(f"{p}: malformed instruction-count file: {bad} must be a string")
    return doc


def is_count_file(path: str | Path) -> bool:
    p = Path(path)
    return p.is_file() and _is_icount_file(p)


def instruction_gate(
    *,
    baseline: Mapping[str, Any],
    current: Mapping[str, Any],
    threshold: float = DEFAULT_ICOUNT_THRESHOLD,
    include: Callable[[str], bool] = lambda name: True,
    baseline_label: str = "",
    current_label: str = "",
) -> GateReport:
    """Exact gate: instructions per call, current against baseline."""
    warnings = []
    for key, label in (("python", "Python"), ("valgrind", "valgrind")):
        if baseline.get(key) != current.get(key):
            warnings.append(f"WARNING: different {label}: {baseline.get(key)!r} vs {current.get(key)!r} — "
                            "instruction counts include the interpreter; accept a new baseline")
    old, new = baseline.get("counts", {}), current.get("counts", {})
    verdicts = []
    for name in sorted(new):
        if not include(name):
            continue
        n = new[name]
        if name not in old:
            verdicts.append(Verdict(name, "new", new=n["per_call"], note="not in the baseline"))
            continue
        o = old[name]
        if o.get("code_path") != n.get("code_path"):
            verdicts.append(Verdict(name, "path-changed", old=o["per_call"], new=n["per_call"],
                                    note=f"code path {o.get('code_path')} -> {n.get('code_path')}: not comparable"))
            continue
        change = n["per_call"] / o["per_call"] if o["per_call"] > 0 else float("inf")
        verdicts.append(Verdict(name, _classify(change, True, threshold), change, None, o["per_call"], n["per_call"]))
    unavailable = current.get("unavailable") if isinstance(current.get("unavailable"), dict) else {}
    for name in sorted(set(old) - set(new)):
        if include(name):
            kernel = "/".join(name.split("/")[:2])
            why = current.get("skipped", {}).get(name) or (
                f"{kernel} unavailable: {unavailable[kernel]}" if isinstance(unavailable.get(kernel), str)
                else "not counted in this run")
            verdicts.append(Verdict(name, "gone", old=old[name]["per_call"], note=why))
    return GateReport("instructions", threshold, None, verdicts, warnings, [baseline_label], current_label,
                      source="counts")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--icount-child":
        _icount_child(sys.argv[2], sys.argv[3])
    else:
        sys.exit("usage: python -m cryptobench.gate --icount-child SPEC_FILE INFO_PATH (internal)")
