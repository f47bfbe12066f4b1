"""``cryptobench history``: each benchmark's trend across committed results files.

:func:`collect` reads every cryptobench results file under a directory
(recursively: ``results/baseline/``, ``results/nightly/`` ...), orders the runs
by the date each was made (``cryptobench.created``; the file name breaks
ties), and follows every benchmark through them. The default metric is the
benchmark's time divided by the reference backend's (openssl) time measured in
the same run, as in the wall-time gate (``gate.py``), because absolute times
from different nights or machines are not comparable; ``metric="time"`` gives
the median time instead.

A *step* is a pair of consecutive runs between which the benchmark's
normalized time changed significantly (the gate's Welch t-test, p < alpha) by
more than ``threshold`` percent: the night a slowdown (or speed-up) landed,
with the git commit recorded in the later run.

Builders only: :func:`runs_table` and :func:`trend_table` return rich tables,
:func:`plot` writes PNG files; nothing here prints.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from rich.table import Table
from rich.text import Text

from . import gate
from .display import literal
from .errors import ResultsFileError, UsageError
from .results import results_files


@dataclass(frozen=True)
class Run:
    """One results file in the history."""

    path: str
    created: str
    commit: str
    cpu_model: str


@dataclass(frozen=True)
class Point:
    run: int  # index into History.runs
    value: float  # normalized ratio or median seconds
    median_s: float


@dataclass(frozen=True)
class Step:
    """A significant change between two consecutive points of one series."""

    before: int  # run indices
    after: int
    change: float  # after / before, above 1 is slower
    p_value: float

    @property
    def percent(self) -> float:
        return (self.change - 1.0) * 100.0


@dataclass
class Series:
    name: str
    algorithm: str
    backend: str
    points: list[Point] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)

    @property
    def total_change(self) -> float | None:
        if len(self.points) < 2:
            return None
        return self.points[-1].value / self.points[0].value


@dataclass
class History:
    metric: str
    reference: str
    runs: list[Run]
    series: dict[str, Series]
    skipped: list[tuple[str, str]]


def _short(commit: str | None) -> str:
    if not commit:
        return "-"
    dirty = commit.endswith("-dirty") or commit.endswith("+dirty")
    return commit[:10] + ("+dirty" if dirty else "")


def collect(
    *,
    directory: str | Path = "results",
    include: Callable[[str], bool] = lambda name: True,
    metric: str = "ratio",
    reference: str = gate.REFERENCE,
    threshold: float = gate.DEFAULT_WALL_THRESHOLD,
    alpha: float = gate.DEFAULT_ALPHA,
) -> History:
    """Read every results file under ``directory`` and build each benchmark's series."""
    if metric not in ("ratio", "time"):
        raise UsageError(f"unknown metric {metric!r}: ratio or time")
    d = Path(directory)
    if not d.is_dir():
        raise UsageError(f"{d}: not a directory")
    loaded: list[gate.RunSamples] = []
    skipped: list[tuple[str, str]] = []
    for f in results_files(d, recursive=True):
        try:
            r = gate.load_run_or_counts(f)
        except ResultsFileError as exc:
            skipped.append((str(f), str(exc).split(": ", 1)[-1]))
            continue
        if r is None:
            skipped.append((str(f), "instruction counts (compare with `cryptobench gate`)"))
            continue
        if r.source != "cryptobench":
            skipped.append((str(f), "pytest-benchmark JSON (gate it with `cryptobench gate`)"))
            continue
        loaded.append(r)
    loaded.sort(key=lambda r: (r.created, r.label))
    runs = [Run(r.label, r.created, _short(r.machine.get("git_commit")), str(r.machine.get("cpu_model") or "?"))
            for r in loaded]
    series: dict[str, Series] = {}
    normalized: dict[str, list[tuple[int, gate._Normalized]]] = {}
    for i, r in enumerate(loaded):
        for name, s in r.samples.items():
            if s.kind == "overhead" or not include(name):
                continue
            if metric == "ratio" and s.backend == reference:
                continue
            median = statistics.median(s.values)
            if metric == "ratio":
                ref = gate.find_reference(s, r, reference=reference)
                if ref is None:
                    continue
                norm = gate._normalize(s, ref)
                value = math.exp(norm.mean)
            else:
                mean, se2, count = gate._log_stats(s.values, s.runs)
                norm = gate._Normalized(mean, ((se2, count),))
                value = median
            ser = series.setdefault(name, Series(name, s.algorithm, s.backend))
            ser.points.append(Point(i, value, median))
            normalized.setdefault(name, []).append((i, norm))
    for name, pts in normalized.items():
        ser = series[name]
        for (i0, a), (i1, b) in zip(pts, pts[1:]):
            change, p = gate.compare_normalized(a, b)
            if p < alpha and abs(change - 1.0) * 100.0 > threshold:
                ser.steps.append(Step(i0, i1, change, p))
    return History(metric, reference, runs, dict(sorted(series.items())), skipped)


def runs_table(h: History) -> Table:
    t = Table(title="Runs (oldest first)", title_justify="left")
    for c in ("#", "date", "commit", "CPU", "file"):
        t.add_column(c, justify="right" if c == "#" else "left", overflow="fold" if c == "file" else None)
    for i, r in enumerate(h.runs):
        # every field but the index comes from the file (or its path): text, not markup
        t.add_row(str(i), literal(r.created or "?"), literal(r.commit), literal(r.cpu_model), literal(r.path))
    return t


def _fmt(h: History, v: float) -> str:
    if h.metric == "ratio":
        return f"{v:.3g}×"
    from .report import fmt_time

    return fmt_time(v)


def trend_table(h: History, *, steps_only: bool = False) -> Table:
    # a hot path the reference lacks (ghash, key-expansion, the P-256 arithmetic) is divided by
    # the reference's encrypt or sign at the nearest size (gate.find_reference): a figure to
    # follow from run to run, not a speed ratio, and the title says so
    what = (f"time / {h.reference} time in the same run; a hot path {h.reference} lacks: / its encrypt or sign"
            if h.metric == "ratio" else "median time")
    # the reference is a backend name from the files: text, not markup (styled as rich styles a str title)
    t = Table(title=literal(f"Trends ({what}; + is slower)", style="table.title"), title_justify="left")
    for c in ("benchmark", "runs", "first", "last", "change", "trend", "significant steps (run: change, commit)"):
        t.add_column(c, justify="left" if c in ("benchmark", "trend") or c.startswith("significant") else "right",
                     overflow="fold" if c.startswith("significant") else None)
    for ser in h.series.values():
        if steps_only and not ser.steps:
            continue
        first, last = ser.points[0].value, ser.points[-1].value
        tc = ser.total_change
        steps = Text()
        for k, st in enumerate(ser.steps):
            if k:
                steps.append("; ")
            steps.append(f"#{st.after}: {st.percent:+.1f}% ({h.runs[st.after].commit})",
                         style="bold red" if st.change > 1 else "green")
        t.add_row(literal(ser.name), str(len(ser.points)), _fmt(h, first), _fmt(h, last),
                  "-" if tc is None else f"{(tc - 1) * 100:+.1f}%", _spark([p.value for p in ser.points]),
                  steps if ser.steps else Text("-", style="dim"))
    return t


_BARS = "▁▂▃▄▅▆▇█"


def _spark(values: list[float]) -> str:
    """A sparkline of log values (a text trend, higher = slower)."""
    if len(values) < 2:
        return ""
    logs = [math.log(v) for v in values[-24:]]
    lo, hi = min(logs), max(logs)
    if hi - lo < 1e-12:
        return _BARS[3] * len(logs)
    return "".join(_BARS[min(7, int((x - lo) / (hi - lo) * 8))] for x in logs)


def moved_reference(series: list) -> list[int]:
    """The runs at which, among the series of one operation and size (the backends that
    share one reference benchmark), three or more and at least half of those measured
    there step the same way: the reference every one of their ratios divides by moved
    (openssl's own hot path got faster, say), not each kernel at once."""
    groups: dict[str, list] = {}
    for s in series:
        groups.setdefault("/".join(s.name.split("/")[2:]), []).append(s)
    runs = set()
    for members in groups.values():
        present: dict[int, int] = {}
        ways: dict[tuple[int, bool], int] = {}
        for s in members:
            for p in s.points:
                present[p.run] = present.get(p.run, 0) + 1
            for st in s.steps:
                ways[(st.after, st.change > 1)] = ways.get((st.after, st.change > 1), 0) + 1
        runs |= {r for (r, _), n in ways.items() if n >= max(3, present.get(r, 0) / 2)}
    return sorted(runs)


def plot(h: History, out_dir: str | Path) -> list[Path]:
    """``history-<algorithm>.png``: one line per benchmark over the runs, steps
    marked; written all or none (OutputError names the file that could not be)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker  # noqa: F401 - matplotlib.ticker below

    from ._io import atomic_write_many
    from .plot import _png, literal_text

    out = Path(out_dir)
    files: list[tuple[Path, bytes]] = []
    # dates, commits, names and the reference come from the files: no mathtext
    labels = [f"#{i} {literal_text(r.created[:10])}\n{literal_text(r.commit)}" for i, r in enumerate(h.runs)]
    styles = ("-", "--", ":", "-.")  # matplotlib's ten colours come round again: a new line style each time
    for algorithm in sorted({s.algorithm for s in h.series.values()}):
        sers = [s for s in h.series.values() if s.algorithm == algorithm]
        fig, ax = plt.subplots(figsize=(max(8, 0.9 * len(h.runs) + 4), 6))
        for i, s in enumerate(sers):
            xs = [p.run for p in s.points]
            ys = [p.value for p in s.points]
            ax.plot(xs, ys, marker=".", linewidth=1, linestyle=styles[i // 10 % len(styles)],
                    label=literal_text(s.name.split("/", 1)[1]))
            for st in s.steps:  # higher is slower (both metrics): a slowdown's marker points up, as its line goes
                y = next(p.value for p in s.points if p.run == st.after)
                ax.plot([st.after], [y], marker="^" if st.change > 1 else "v", markersize=11,
                        color="red" if st.change > 1 else "green", zorder=5)
                ax.annotate(f"{st.percent:+.0f}%", (st.after, y), textcoords="offset points", xytext=(6, 6), fontsize=7)
        ax.set_yscale("log")
        fmt = matplotlib.ticker.FormatStrFormatter("%.3g")
        ax.yaxis.set_major_formatter(fmt)
        ax.yaxis.set_minor_formatter(fmt)
        ax.tick_params(axis="y", which="minor", labelsize=7)
        ax.set_xticks(range(len(h.runs)))
        ax.set_xticklabels(labels, fontsize=7)
        ax.set_ylabel((f"time / {literal_text(h.reference)} time (same run)" if h.metric == "ratio" else "median time (s)")
                      + "; higher is slower")
        ax.set_title(f"{literal_text(algorithm)}: history (▲ significant slowdown, ▼ speed-up)")
        ax.grid(True, which="both", alpha=0.3)
        notes = []
        if len(sers) <= 30:
            ax.legend(fontsize=6, ncol=2, loc="center left", bbox_to_anchor=(1.0, 0.5))
        else:  # the legend was dropped without a word
            notes.append(f"{len(sers)} lines, too many to name: narrow them with -a, -b or --filter")
        if h.metric == "ratio":
            crowd = moved_reference(sers)
            if crowd:
                notes.append(f"at {', '.join(f'#{r}' for r in crowd)}, lines divided by one {literal_text(h.reference)} "
                             "benchmark step together: that reference likely moved, not the kernels")
        if notes:
            fig.text(0.01, -0.02, "\n".join(notes), fontsize=8, va="top", color="dimgrey")
        files.append((out / f"history-{algorithm}.png", _png(plt, fig)))
    return atomic_write_many(files) if files else []  # all or none, like `cryptobench plot`
