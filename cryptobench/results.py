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
non-JSON or other-schema file; :func:`save` writes atomically.
"""

from __future__ import annotations

import gzip
import json
import statistics
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from ._io import atomic_write_bytes, atomic_write_text
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
        import pyperf

        return pyperf.BenchmarkSuite._json_load(str(self.path), self.suite_json)


def measurements_from_suite_json(doc: dict[str, Any]) -> list[Measurement]:
    import pyperf

    suite = pyperf.BenchmarkSuite._json_load(None, doc)
    out = []
    for b in suite.get_benchmarks():
        md = b.get_metadata()
        if md.get("kind") == "overhead":
            continue
        for key in ("algorithm", "backend", "operation", "kind", "code_path"):
            if not isinstance(md.get(key, ""), str):
                raise ValueError(f"{b.get_name()}: metadata {key} must be a string, got {md[key]!r}")
        size = md.get("size")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
            raise ValueError(f"{b.get_name()}: metadata size must be a positive integer, got {size!r}")
        if "setup_s" in md and not _number(md["setup_s"]):  # show --details prints it as a time
            raise ValueError(f"{b.get_name()}: metadata setup_s must be a number, got {md['setup_s']!r}")
        out.append(
            Measurement(
                name=b.get_name(),
                algorithm=md.get("algorithm", ""),
                backend=md.get("backend", ""),
                operation=md.get("operation", ""),
                size=md.get("size"),
                kind=md.get("kind", "operation"),
                code_path=md.get("code_path", ""),
                values=list(b.get_values()),
                metadata=dict(md),
                load_avg_max=max((x for r in b.get_runs() if _number(x := r.get_metadata().get("load_avg_1min"))),
                                 default=None),
            )
        )
    return out


_JSON_NAMES = {dict: "an object", str: "a string", bool: "true or false"}


_GZIP_MAGIC = b"\x1f\x8b"


def read_json(path: str | Path, what: str = "results file") -> Any:
    """The JSON document in a file (gzip-compressed too, as pyperf writes
    ``*.json.gz``); ResultsFileError, one line, for anything that is not one:
    missing, unreadable, empty, not UTF-8, not JSON, or nested too deeply."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise ResultsFileError(f"{p}: no such {what}") from None
    except OSError as exc:
        raise ResultsFileError(f"{p}: cannot read: {exc.strerror}") from None
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise ResultsFileError(f"{p}: a damaged gzip file: {exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ResultsFileError(f"{p}: not a {what}: not UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        raise ResultsFileError(f"{p}: empty file (an interrupted write?)")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        hint = " (truncated?)" if exc.pos >= len(text) - 2 else ""
        raise ResultsFileError(f"{p}: not valid JSON{hint}: {exc.msg} at line {exc.lineno}") from None
    except RecursionError:
        raise ResultsFileError(f"{p}: not a {what}: JSON nested too deeply") from None


def load(path: str | Path) -> Results:
    """Load and check a results file; ResultsFileError (one line) when it is not one."""
    p = Path(path)
    doc = read_json(p)
    if not isinstance(doc, dict) or "cryptobench" not in doc or "benchmarks" not in doc:
        raise ResultsFileError(f"{p}: not a cryptobench results file (no 'cryptobench' section)")
    info = doc["cryptobench"]
    schema = info.get("schema") if isinstance(info, dict) else None
    if schema != SCHEMA_VERSION:
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
    try:
        measurements = measurements_from_suite_json(doc)
    except Exception as exc:  # noqa: BLE001 - pyperf raises several types on bad data
        raise ResultsFileError(f"{p}: malformed pyperf data: {exc}") from None
    return Results(p, doc, info, measurements)


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


#: The fields of the 'cryptobench' section the tables read, with what each must be when present:
#: (where, key, description, check); "kernel" fields are checked in every kernels[...] entry.
_FIELDS = (
    ("machine", "tsc_mhz", "a positive number or null", lambda x: x is None or (_number(x) and x > 0)),
    ("info", "overhead_s", "a number or null", lambda x: x is None or _number(x)),
    ("kernel", "status", "a string", lambda x: isinstance(x, str)),
    ("kernel", "reason", "a string", lambda x: isinstance(x, str)),
    ("kernel", "env", "an object", lambda x: isinstance(x, dict)),
    ("kernel", "cold_prepare_s", "a number or null", lambda x: x is None or _number(x)),
    ("kernel", "cold_prepare", "an object", lambda x: isinstance(x, dict)),
    ("kernel", "worker_prepare_s", "a list of numbers", lambda x: isinstance(x, list) and all(map(_number, x))),
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


def newest_first(directory: str | Path = "results") -> list[Path]:
    """The results files in a directory, most recent first: names start with a
    UTC timestamp; a same-second run gets a -2, -3... suffix, which sorts after."""
    d = Path(directory)
    if d.exists() and not d.is_dir():
        raise ResultsFileError(f"{d} is a file, not a directory of results files")

    def key(p: Path) -> tuple[str, int]:
        stem, _, n = p.stem.rpartition("-")
        return (stem, int(n)) if n.isdigit() and stem else (p.stem, 1)

    files = sorted((p for p in d.glob("*.json") if not p.name.startswith(".")), key=key, reverse=True)
    if not files:
        raise ResultsFileError(f"no results files in {d}/ (run `cryptobench run` first)")
    return files


def newest(directory: str | Path = "results") -> Path:
    """The most recent results file in a directory (see :func:`newest_first`)."""
    return newest_first(directory)[0]


def settings_notes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Warnings when two runs' measurement settings make their times differ for
    reasons other than the code: ``--parallel`` copies share the machine, and a
    profile with more values finds a lower minimum."""
    notes = []
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
