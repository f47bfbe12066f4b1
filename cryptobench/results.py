"""Results files: a pyperf BenchmarkSuite JSON document plus cryptobench's own section.

The file is a valid pyperf suite (``python -m pyperf show/stats/hist/compare_to``
read it; pyperf ignores unknown top-level keys) with one extra key::

    {"version": "1.0", "metadata": {...}, "benchmarks": [...],   # pyperf
     "cryptobench": {"schema": 1, "created": "...", "complete": true,
                     "machine": {...}, "settings": {...},
                     "kernels": {"aes-128-gcm/native-vaes": {"status": "passed", ...}},
                     "overhead_s": 2.1e-08}}

Each benchmark carries pyperf metadata ``algorithm``, ``backend``,
``operation``, ``size`` (bytes, where one applies), ``code_path`` and ``kind``.
Kernels that failed verification appear under ``kernels`` with status
``failed`` and have no benchmark: they are never a number.

:func:`load` refuses (with :class:`ResultsFileError`) a missing, truncated,
non-JSON or other-schema file, and one whose fields the readers use have the wrong
type or an impossible value; :func:`save` writes atomically.
"""

from __future__ import annotations

import functools
import gzip
import io
import json
import os
import re
import stat
import statistics
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from ._io import atomic_write_bytes, atomic_write_text
from ._text import MAX_TEXT
from .errors import ResultsFileError

SCHEMA_VERSION = 1


@dataclass
class Measurement:
    """One benchmark's figures, derived from its pyperf values."""

    name: str
    algorithm: str
    backend: str
    operation: str
    size: int | None
    kind: str
    code_path: str
    values: list[float]  # seconds per operation (per unit for field-mul)
    metadata: dict[str, Any] = field(default_factory=dict)
    #: The highest 1-minute load average pyperf saw in this benchmark's worker processes.
    load_avg_max: float | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def stdev(self) -> float:
        return statistics.stdev(self.values) if len(self.values) > 1 else 0.0

    @property
    def mb_per_s(self) -> float | None:
        """Throughput in MB/s (10^6 bytes/s), where the benchmark has a size."""
        if self.size is None or self.operation == "key-expansion":
            return None
        return self.size / self.median / 1e6

    @property
    def ops_per_s(self) -> float:
        return 1.0 / self.median

    def cycles(self, tsc_mhz: float | None) -> float | None:
        """TSC cycles per operation."""
        return None if not tsc_mhz else self.median * tsc_mhz * 1e6

    def cycles_per_byte(self, tsc_mhz: float | None) -> float | None:
        c = self.cycles(tsc_mhz)
        if c is None or not self.size or self.operation == "key-expansion":
            return None
        return c / self.size


@dataclass
class Results:
    path: Path | None
    suite_json: dict[str, Any]
    info: dict[str, Any]
    measurements: list[Measurement]
    #: The pyperf BenchmarkSuite of suite_json, built once (by :func:`load`, or on first use).
    suite: Any = field(default=None, repr=False, compare=False)

    @property
    def machine(self) -> dict[str, Any]:
        return self.info.get("machine", {})

    @property
    def kernels(self) -> dict[str, dict[str, Any]]:
        return self.info.get("kernels", {})

    @property
    def tsc_mhz(self) -> float | None:
        return self.machine.get("tsc_mhz")

    def find(self, algorithm: str, backend: str, operation: str, size: int | None = None, aad: int | None = None) -> Measurement | None:
        for m in self.measurements:
            if (m.algorithm, m.backend, m.operation, m.size) == (algorithm, backend, operation, size):
                if aad is None or m.metadata.get("aad", aad) == aad:
                    return m
        return None

    def pyperf_suite(self):
        """The pyperf suite (shared: read it, do not change it)."""
        if self.suite is None:
            self.suite = _suite(self.path, self.suite_json)
        return self.suite


def _suite(path: Path | None, doc: dict[str, Any]):
    import pyperf

    return pyperf.BenchmarkSuite._json_load(None if path is None else str(path), doc)


def measurements_from_suite(suite) -> list[Measurement]:
    out = []
    seen: dict[tuple[Any, ...], str] = {}
    for b in suite.get_benchmarks():
        md = b.get_metadata()
        if md.get("kind") == "overhead":
            continue
        name = b.get_name()
        if not isinstance(name, str):
            raise ValueError(f"benchmark name must be a string, got {name!r:.40}")
        md = dict(md)
        runs_setup = [r.get_metadata()["setup_s"] for r in b.get_runs() if "setup_s" in r.get_metadata()]
        if "setup_s" not in md and runs_setup:
            # each worker process records its own setup_s, so pyperf's common metadata drops it
            bad = next((s for s in runs_setup if not _seconds(s)), None)
            if bad is not None:
                raise ValueError(f"{name}: metadata setup_s must be {_SECONDS}, got {bad!r:.40}")
            md["setup_s"] = statistics.median(runs_setup)
        _check_benchmark(name, md)
        values = list(b.get_values())
        if not values:  # pyperf accepts runs of warmups only; a median of nothing is no figure
            raise ValueError(f"{name}: no values (only warmups)")
        bad = next((v for v in values if not is_call_time(v)), None)
        if bad is not None:
            raise ValueError(f"{name}: values must be seconds from {MIN_SECONDS:g} to {MAX_SECONDS:g}, got {bad!r}")
        key = tuple(md.get(k) for k in ("algorithm", "backend", "operation", "size", "aad", "kind"))
        if key in seen:  # the tables would show one of the two and drop the other unsaid
            raise ValueError(f"{name} and {seen[key]} have the same algorithm, backend, operation, size and aad")
        seen[key] = name
        out.append(
            Measurement(
                name=name,
                algorithm=md["algorithm"],
                backend=md["backend"],
                operation=md["operation"],
                size=md.get("size"),
                kind=md.get("kind", "operation"),
                code_path=md.get("code_path", ""),
                values=values,
                metadata=dict(md),
                load_avg_max=max((x for r in b.get_runs() if _number(x := r.get_metadata().get("load_avg_1min"))),
                                 default=None),
            )
        )
    return out


#: Bounds of a benchmark's value (seconds per operation): outside them a figure is garbage
#: (and the gate's logarithms and their differences overflow).
MIN_SECONDS, MAX_SECONDS = 1e-15, 1e6
#: The longest text a machine field may hold (a real one is a line or, for a native build error, a few
#: hundred characters; a hand-made 50 MB cpu_model made show take over a minute to print).
MAX_MACHINE_TEXT = MAX_TEXT  # what the writers escape and cut text to (cryptobench._text)
#: The largest message size a benchmark may claim (bytes; ``run --sizes`` allows 16 MiB).
MAX_BENCH_SIZE = 1 << 40


def is_call_time(v: Any) -> bool:
    """A benchmark value: seconds per call within [MIN_SECONDS, MAX_SECONDS] (results and
    pytest-benchmark files alike; further out the gate's logarithms overflow)."""
    return _number(v) and MIN_SECONDS <= v <= MAX_SECONDS


def is_byte_count(v: Any, least: int) -> bool:
    """A size or AAD length: a whole number of bytes from ``least`` to MAX_BENCH_SIZE."""
    return type(v) is int and least <= v <= MAX_BENCH_SIZE


@functools.lru_cache(maxsize=1)
def _known_operations() -> dict[str, dict[str, bool]]:
    """Per known algorithm, its operations and hot paths, each with whether it is measured at a size."""
    from .bench import SIZED
    from .registry import ALGORITHMS, HOT_PATHS, KINDS, OPERATIONS

    out = {}
    for alg, family in ALGORITHMS.items():
        whole = OPERATIONS[KINDS[alg]]
        out[alg] = {op: op in SIZED or op == "key-expansion" for op in (*whole, *HOT_PATHS[family])}
    return out


def _check_benchmark(name: str, md: dict[str, Any]) -> None:
    """ValueError naming what is wrong with one benchmark's metadata (after pyperf merged it)."""
    for key in ("algorithm", "backend", "operation"):
        if key not in md:  # the tables would show it under an empty name, or not at all
            raise ValueError(f"{name}: metadata lacks {key}")
    for key in ("algorithm", "backend", "operation", "kind", "code_path"):
        if key in md and not isinstance(md[key], str):
            raise ValueError(f"{name}: metadata {key} must be a string, got {md[key]!r:.40}")
    if md.get("kind", "operation") not in ("operation", "hot-path"):
        raise ValueError(f"{name}: metadata kind must be operation, hot-path or overhead, got {md['kind']!r:.40}")
    size = md.get("size")
    if size is not None and not is_byte_count(size, 1):
        raise ValueError(f"{name}: metadata size must be a positive integer, got {size!r:.40}")
    aad = md.get("aad")
    if aad is not None and not is_byte_count(aad, 0):
        raise ValueError(f"{name}: metadata aad must be a whole number of bytes, got {aad!r:.40}")
    if "setup_s" in md and not _seconds(md["setup_s"]):  # show --details prints it as a time
        want = _SECONDS if _number(md["setup_s"]) else "a number"
        raise ValueError(f"{name}: metadata setup_s must be {want}, got {md['setup_s']!r:.40}")
    # a known operation of a known algorithm has a size exactly when it takes a message (or a key)
    alg, op = md["algorithm"], md["operation"]
    sized = _known_operations().get(alg, {}).get(op)
    if sized and size is None:
        raise ValueError(f"{name}: metadata lacks the size of {alg} {op}")
    if sized is False and size is not None:
        raise ValueError(f"{name}: {alg} {op} takes no message, but metadata size is {size!r}")


_JSON_NAMES = {dict: "an object", str: "a string", bool: "true or false"}


_GZIP_MAGIC = b"\x1f\x8b"
#: No results, instruction-count or pytest-benchmark file comes near this (a full run is ~1 MB);
#: a bigger file (or gzip stream, decompressed) is refused before it fills the memory.
MAX_FILE_BYTES = 256 << 20
#: A full run has ~650 benchmarks; pyperf loads a suite in time quadratic in their number
#: (20 000 took 18 s), so a file of more is refused rather than hanging.
MAX_BENCHMARKS = 10_000


class _NonFinite(ValueError):
    pass


class NonFiniteJSON(ResultsFileError):
    """read_json(allow_nan=False) met NaN or Infinity (which pytest-benchmark JSON may hold)."""


def _refuse_constant(token: str) -> Any:
    raise _NonFinite(token)


def read_json(path: str | Path, what: str = "results file", *, allow_nan: bool = True) -> Any:
    """The JSON document in a file (gzip-compressed too, as pyperf writes
    ``*.json.gz``); ResultsFileError, one line, for anything that is not one:
    missing, unreadable, empty, larger than :data:`MAX_FILE_BYTES`, not UTF-8,
    not JSON, nested too deeply, or (``allow_nan=False``) holding NaN or Infinity,
    which are not JSON numbers (Python's json module writes and reads them)."""
    p = Path(path)
    try:
        # O_NONBLOCK: opening a FIFO named *.json in a scanned directory blocked until a writer came
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        with open(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise ResultsFileError(f"{p}: not a {what}: not a regular file")
            data = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ResultsFileError(f"{p}: no such {what}") from None
    except OSError as exc:
        raise ResultsFileError(f"{p}: cannot read: {exc.strerror}") from None
    gzipped = data[:2] == _GZIP_MAGIC
    if gzipped:
        try:  # read no more than the bound: a small file may decompress to gigabytes
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as gz:
                data = gz.read(MAX_FILE_BYTES + 1)
        except (OSError, EOFError, zlib.error) as exc:
            raise ResultsFileError(f"{p}: a damaged gzip file: {exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ResultsFileError(f"{p}: not a {what}: larger than {MAX_FILE_BYTES >> 20} MiB"
                               + (" decompressed" if gzipped else ""))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ResultsFileError(f"{p}: not a {what}: not UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        raise ResultsFileError(f"{p}: empty file (an interrupted write?)")
    try:
        doc = json.loads(text, parse_constant=None if allow_nan else _refuse_constant)
    except _NonFinite as exc:
        raise NonFiniteJSON(f"{p}: malformed {what}: it holds {exc}, which is not a number JSON allows") from None
    except json.JSONDecodeError as exc:
        hint = " (truncated?)" if exc.pos >= len(text) - 2 else ""
        raise ResultsFileError(f"{p}: not valid JSON{hint}: {exc.msg} at line {exc.lineno}") from None
    except RecursionError:
        raise ResultsFileError(f"{p}: not a {what}: JSON nested too deeply") from None
    except ValueError:  # an integer of more digits than int() converts (4,300): a traceback before
        raise ResultsFileError(f"{p}: not a {what}: a number with more digits than Python reads") from None
    if _CONTROL.search(text):
        # names, paths and machine fields are printed: an ESC sequence would drive the terminal
        raise ResultsFileError(f"{p}: not a {what}: its text holds control characters (terminal escape "
                               "sequences?), which would reach the terminal")
    return doc


#: Control characters in a JSON document's text other than tab, newline and carriage return:
#: C0 ones written as \u00XX escapes (JSON allows no raw ones in strings), DEL and C1 ones in
#: either form. (A literal backslash followed by "u001b" would match too; no real file has one.)
_CONTROL = re.compile(r"[\x7f-\x9f]|\\u00(?:0[0-8bcef]|1[0-9a-f]|7f|[89][0-9a-f])", re.IGNORECASE)


def _why_no_section(doc: Any) -> str:
    """What a file of cryptobench's benchmarks without its section went through: every
    pyperf command that writes a file (convert, timeit --append...) keeps the benchmarks
    and drops the sections it does not know."""
    if not isinstance(doc, dict) or not isinstance(doc.get("benchmarks"), list):
        return ""
    if "machine_info" in doc:  # it has a "version" too: it was called a pyperf file
        return ": pytest-benchmark JSON, which `cryptobench gate` reads (the others read `cryptobench run`'s files)"
    common = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    for b in doc["benchmarks"][:3]:
        own = b.get("metadata") if isinstance(b, dict) else None
        md = {**common, **own} if isinstance(own, dict) else common  # pyperf moves shared keys to the suite's
        if "algorithm" in md and "backend" in md:
            return (": its benchmarks are cryptobench's, so a pyperf command rewrote it (pyperf convert or "
                    "--append keep the benchmarks and drop that section); use the file `cryptobench run` wrote")
    return ": it looks like a pyperf file of other benchmarks" if "version" in doc else ""


def load(path: str | Path, doc: Any = None) -> Results:
    """Load and check a results file; ResultsFileError (one line) when it is not one.
    ``doc``: the file's document when the caller has read it already (with allow_nan=False)."""
    p = Path(path)
    if doc is None:
        doc = read_json(p, allow_nan=False)
    if not isinstance(doc, dict) or "cryptobench" not in doc or "benchmarks" not in doc:
        raise ResultsFileError(f"{p}: not a cryptobench results file (no 'cryptobench' section)" + _why_no_section(doc))
    info = doc["cryptobench"]
    schema = info.get("schema") if isinstance(info, dict) else None
    if type(schema) is not int or schema != SCHEMA_VERSION:  # true and 1.0 equal 1 in Python
        raise ResultsFileError(
            f"{p}: results schema version {schema!r}, this cryptobench reads version {SCHEMA_VERSION}"
        )
    for key, kind in (("machine", dict), ("settings", dict), ("kernels", dict), ("created", str), ("complete", bool)):
        if not isinstance(info.get(key), kind):
            raise ResultsFileError(f"{p}: malformed 'cryptobench' section: {key} must be {_JSON_NAMES[kind]}, "
                                   f"got {info.get(key)!r:.40}")
    parallel, profile = info["settings"].get("parallel", 1), info["settings"].get("profile", "")
    if type(parallel) is not int or parallel < 1 or not isinstance(profile, str):
        raise ResultsFileError(f"{p}: malformed 'cryptobench' section: settings.parallel must be a positive "
                               f"integer and settings.profile a string, got {parallel!r:.20} and {profile!r:.20}")
    bad = next((name for name, outcome in info["kernels"].items() if not isinstance(outcome, dict)), None)
    if bad is not None:
        raise ResultsFileError(f"{p}: malformed 'cryptobench' section: kernels[{bad!r}] must be an object")
    _check_fields(p, info)
    if isinstance(doc["benchmarks"], list) and len(doc["benchmarks"]) > MAX_BENCHMARKS:
        raise ResultsFileError(f"{p}: {len(doc['benchmarks'])} benchmarks, more than a results file holds "
                               f"(at most {MAX_BENCHMARKS})")
    try:
        suite = _suite(p, doc)
        measurements = measurements_from_suite(suite)
    except Exception as exc:  # noqa: BLE001 - pyperf raises several types on bad data
        raise ResultsFileError(f"{p}: malformed pyperf data: {exc}") from None
    return Results(p, doc, info, measurements, suite)


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _seconds(x: Any) -> bool:
    """A duration: a number from 0 to MAX_SECONDS (not NaN, not negative)."""
    return _number(x) and 0 <= x <= MAX_SECONDS


_SECONDS = f"a number of seconds from 0 to {MAX_SECONDS:g}"


def _str_or_none(x: Any) -> bool:
    return x is None or isinstance(x, str)


#: The fields of the 'cryptobench' section the tables read, with what each must be when present:
#: (where, key, description, check); "kernel" fields are checked in every kernels[...] entry. The rows
#: are checked in order: a field's type first, then its range (a negative or absurd figure would be
#: printed as if measured).
_FIELDS = (
    ("machine", "tsc_mhz", "a positive number or null", lambda x: x is None or (_number(x) and x > 0)),
    ("machine", "tsc_mhz", "below 1e6 (MHz)", lambda x: x is None or x < 1e6),
    ("machine", "cpu_count", "a positive integer or null",
     lambda x: x is None or (type(x) is int and 1 <= x <= 1 << 20)),
    *(row for key in ("cpu_model", "git_commit", "openssl", "openssl_ia32cap", "python", "os", "native_build",
                      "native_unavailable", "native_aead_call")
      for row in (("machine", key, "a string or null", _str_or_none),
                  ("machine", key, f"at most {MAX_MACHINE_TEXT:,} characters",
                   lambda x: x is None or len(x) <= MAX_MACHINE_TEXT))),
    ("info", "overhead_s", "a number or null", lambda x: x is None or _number(x)),
    ("info", "overhead_s", _SECONDS, lambda x: x is None or _seconds(x)),
    ("kernel", "status", "a string", lambda x: isinstance(x, str)),
    ("kernel", "reason", "a string", lambda x: isinstance(x, str)),
    ("kernel", "env", "an object", lambda x: isinstance(x, dict)),
    ("kernel", "cold_prepare_s", "a number or null", lambda x: x is None or _number(x)),
    ("kernel", "cold_prepare_s", _SECONDS, lambda x: x is None or _seconds(x)),
    ("kernel", "cold_prepare", "an object", lambda x: isinstance(x, dict)),
    ("kernel", "worker_prepare_s", "a list of numbers", lambda x: isinstance(x, list) and all(map(_number, x))),
    ("kernel", "worker_prepare_s", f"a list of numbers of seconds from 0 to {MAX_SECONDS:g}",
     lambda x: all(map(_seconds, x))),
)


def _check_fields(p: Path, info: dict[str, Any]) -> None:
    """ResultsFileError naming the first field of :data:`_FIELDS` that is present with the wrong type
    (a hand-edited file: show, compare and cost would fail deep inside with a TypeError)."""
    places: list[tuple[str, dict[str, Any], str]] = [("machine", info["machine"], "machine."), ("info", info, "")]
    places += [("kernel", outcome, f"kernels[{name!r}].") for name, outcome in info["kernels"].items()]
    for where, section, prefix in places:
        for field_where, key, want, ok in _FIELDS:
            if field_where == where and key in section and not ok(section[key]):
                raise ResultsFileError(f"{p}: malformed 'cryptobench' section: {prefix}{key} must be {want}, "
                                       f"got {section[key]!r:.40}")


def save(path: str | Path, suite, info: dict[str, Any]) -> Path:
    """Write a suite plus cryptobench's section atomically."""
    doc = suite._as_json() if suite is not None else {"version": "1.0", "benchmarks": []}
    info = dict(info, schema=SCHEMA_VERSION)
    doc["cryptobench"] = info
    text = json.dumps(doc, indent=1, sort_keys=True) + "\n"
    if str(path).endswith(".gz"):  # as pyperf does: `pyperf show x.json.gz` reads it
        return atomic_write_bytes(path, gzip.compress(text.encode(), mtime=0))
    return atomic_write_text(path, text)


#: How a results file's name ends: pyperf reads a .json.gz as gzipped JSON, and so do we.
RESULTS_SUFFIXES = (".json", ".json.gz")


def results_files(directory: str | Path, *, recursive: bool = False) -> list[Path]:
    """The files in ``directory`` (below it, with ``recursive``) named like results files,
    .json or .json.gz (the directory scans saw only .json: a gzipped run was never read), by name."""
    d = Path(directory)
    found = (d.rglob("*") if recursive else d.glob("*"))
    return sorted(p for p in found if p.name.endswith(RESULTS_SUFFIXES))  # a directory so named is reported by the reader


def _bare_name(p: Path) -> str:
    """The name without .json or .json.gz."""
    return next(p.name[: -len(s)] for s in sorted(RESULTS_SUFFIXES, key=len, reverse=True) if p.name.endswith(s))


def newest_first(directory: str | Path = "results") -> list[Path]:
    """The results files in a directory, most recent first: names start with a
    UTC timestamp; a same-second run gets a -2, -3... suffix, which sorts after."""
    d = Path(directory)
    if d.exists() and not d.is_dir():
        raise ResultsFileError(f"{d} is a file, not a directory of results files")

    def key(p: Path) -> tuple[str, int]:
        bare = _bare_name(p)
        stem, _, n = bare.rpartition("-")
        return (stem, int(n)) if n.isascii() and n.isdigit() and stem else (bare, 1)  # not '²'

    files = sorted((p for p in results_files(d) if not p.name.startswith(".")), key=key, reverse=True)
    if not files:
        raise ResultsFileError(f"no results files in {d}/ (run `cryptobench run` first)")
    return files


def newest(directory: str | Path = "results") -> Path:
    """The most recent results file in a directory (see :func:`newest_first`)."""
    return newest_first(directory)[0]


def settings_notes(old: dict[str, Any], new: dict[str, Any], *, ecdsa: bool = True) -> list[str]:
    """Warnings when two runs' measurement settings make their times differ for
    reasons other than the code: ``--parallel`` copies share the machine, a
    profile with more values finds a lower minimum, and (when both runs have
    ECDSA benchmarks: ``ecdsa``) ECDSA inputs cycled or not."""
    notes = []
    if ecdsa and "profile" in old and "profile" in new:  # two `cryptobench run` files
        # files made before bench.DISTINCT_INPUTS have no entry: one input each
        a, b = old.get("ecdsa_inputs", 1), new.get("ecdsa_inputs", 1)
        if a != b:
            notes.append(f"WARNING: ECDSA benchmarks cycled through {a!r:.12} vs {b!r:.12} distinct inputs (1: a "
                         "file made before 2026-11-28) — the pure-Python kernel signs about 10% slower over distinct "
                         "messages (results/README.md)")
    a, b = old.get("parallel", 1), new.get("parallel", 1)  # checked by load(): positive ints
    if a != b:
        notes.append(f"WARNING: different --parallel: {a} vs {b} — copies share the machine, which changes per-copy "
                     "times")
    a, b = old.get("profile"), new.get("profile")
    if a and b and a != b:
        notes.append(f"note: different profile: {a} vs {b} — more values or processes give slightly lower times")
    return notes


def geometric_mean(xs: Iterable[float]) -> float:
    xs = [x for x in xs if x > 0]
    return statistics.geometric_mean(xs) if xs else float("nan")
