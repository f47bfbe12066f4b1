"""CLI commands of the nightly gate: ``cryptobench gate`` and ``cryptobench history``.

Argument parsing and printing only; the work is in gate.py and history.py
(docs/nightly.md explains both).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

from ._argtypes import name_list, one_name, output_dir, percent, positive_int, probability, report_file
from ._text import printable
from .errors import UsageError
from .registry import FILTER_HELP

GATE_HELP = """\
Fail (exit 1) on a significant slowdown of any kernel against a baseline,
or on a benchmark of the baseline missing from the current run ("gone": its
kernel FAILED, ERRORed, was not reached, or is unavailable now). In the
wall-time gate, a kernel unavailable because this CPU lacks its instructions,
measured in the baseline on another CPU model only, is shown as "unavailable"
and does not fail. Gate the same selection the run made.

Wall time (the default): BASELINE is a results file, a pytest-benchmark JSON
file, or a directory of them (several runs are pooled; runs on the same CPU
model as CURRENT are preferred; CURRENT itself, if it is in the directory, and
unreadable files are left out, with a note). Each benchmark's time is divided by openssl's
time measured in the same run, and the ratio is compared with Welch's t-test:
a regression is a change with p < --alpha that is slower by more than
--threshold (default 5%).

Instruction counts: with --count, every selected python and native kernel
that passes the quick vector subset (as in `run`) has each benchmark (at
--sizes, default 64 bytes) run --calls times under valgrind's callgrind, and
the instructions per call are written to --output; given a BASELINE count
file, any count more than --threshold (default 2%) above it fails. Two count
files can also be compared without --count.

A wall-time regression seen once may be a busy moment of the machine, and
the test is per benchmark (no correction for the hundreds in a full run): the
nightly workflow re-measures just the regressed and gone benchmarks and their
openssl references and fails only if the second run confirms it (exit 1 is a
regression or a gone benchmark; exit 2, bad usage, must not start a re-run):
  cryptobench gate BASE NEW.json --emit-filter F; rc=$?
  if [ $rc -eq 1 ]; then cryptobench run --ci --filter "$(cat F)" -o CONFIRM.json;
    cryptobench gate BASE CONFIRM.json --filter "$(cat F)"; else exit $rc; fi

examples:
  cryptobench gate results/baseline/ nightly/results.json
  cryptobench gate results/baseline/pytest-benchmark.json nightly/pytest-benchmark.json
  cryptobench gate --count -o nightly/instructions.json results/baseline/instructions.json
  cryptobench gate old-instructions.json new-instructions.json
"""

HISTORY_HELP = """\
Each benchmark's trend across the results files in DIR (recursively; default
results/), ordered by the date each run was made, with its git commit: the
ratio to openssl measured in the same run (--metric ratio, the default) or the
median time (--metric time). Consecutive runs whose ratio changed
significantly (p < --alpha) by more than --threshold are marked as steps.
--plot DIR writes one PNG per algorithm.
"""


def add_commands(sub, add_selection) -> None:
    p = sub.add_parser("gate", help="nightly regression gate: normalized wall time or callgrind instruction counts",
                       description=GATE_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("baseline", nargs="?", help="baseline: results file, pytest-benchmark JSON, directory, or instruction-count file")
    p.add_argument("current", nargs="?", help="the run to check (omit with --count: measured now)")
    add_selection(p)
    p.add_argument("--filter", type=name_list, metavar="PATTERNS", help="only these benchmarks: " + FILTER_HELP)
    p.add_argument("--threshold", type=percent, default=None, metavar="PCT",
                   help="smallest slowdown that fails (default 5%% wall time, 2%% instructions)")
    p.add_argument("--alpha", type=probability, default=0.01, help="significance level of the wall-time test (default 0.01)")
    p.add_argument("--reference", type=one_name, default="openssl", help="backend whose same-run time normalizes the others (default openssl)")
    p.add_argument("--any-cpu", action="store_true", help="pool every baseline run, not only those on this CPU model")
    p.add_argument("--count", action="store_true", help="count instructions now with valgrind (python and native kernels by default)")
    p.add_argument("-o", "--output", type=report_file, metavar="FILE", help="with --count: where to write the counts (default instructions.json)")
    p.add_argument("--calls", type=positive_int, default=20, help="with --count: calls per benchmark under callgrind (default 20)")
    p.add_argument("--sizes", default="64", help="with --count: message sizes (default 64; callgrind is ~50x slower)")
    p.add_argument("--no-hot-paths", action="store_true", help="with --count: whole operations only")
    p.add_argument("--register", action="append", default=[], metavar="MODULE",
                   help="with --count: also register the kernels of MODULE, for this count only (a backend "
                   "CRYPTOBENCH_BACKENDS loads needs no --register)")
    p.add_argument("--json", type=report_file, metavar="FILE", help="write every verdict as JSON")
    p.add_argument("--emit-filter", type=report_file, metavar="FILE",
                   help="on a wall-time regression or a gone benchmark, write a `cryptobench run --filter` value naming the regressed and gone "
                        "benchmarks and their references, to confirm them in a second run (gate that run with the "
                        "same --filter, or every other baseline benchmark shows as gone); an empty line when none")
    p.add_argument("--all", action="store_true", help="show every benchmark, not only changes")
    p.set_defaults(func=cmd_gate)

    p = sub.add_parser("history", help="each kernel's trend across committed results files, with significant steps",
                       description=HISTORY_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("directory", nargs="?", default="results", help="directory of results files (default results/)")
    add_selection(p)
    p.add_argument("--filter", type=name_list, metavar="PATTERNS", help="only these benchmarks: " + FILTER_HELP)
    p.add_argument("--metric", choices=("ratio", "time"), default="ratio", help="ratio to openssl (default) or median time")
    p.add_argument("--threshold", type=percent, default=5.0, metavar="PCT", help="smallest step marked (default 5%%)")
    p.add_argument("--alpha", type=probability, default=0.01, help="significance level of a step (default 0.01)")
    p.add_argument("--reference", type=one_name, help="backend of the ratio (default openssl; not with --metric time)")
    p.add_argument("--plot", type=output_dir, metavar="DIR", help="write history-<algorithm>.png charts to DIR")
    p.add_argument("--steps-only", action="store_true", help="only benchmarks with a marked step")
    p.set_defaults(func=cmd_history)


def _console():
    from .cli import _console as c

    return c()


def _fmt_pct(v) -> str:
    return "-" if v.percent is None else f"{v.percent:+.1f}%"


def _print_report(rep, show_all: bool, summary: bool = True) -> None:
    from rich.table import Table
    from rich.text import Text

    from .display import fit_to_width, literal

    con = _console()
    for w in rep.warnings:
        con.print(w, style="bold yellow", markup=False)
    wall = rep.mode == "wall"
    rows = rep.verdicts if show_all else [v for v in rep.verdicts if v.status not in ("same",)]
    if rows:
        title = ("Normalized wall time (kernel / openssl in the same run; + is slower)" if wall
                 else "Instructions per call (callgrind Ir; + is more)")
        t = Table(title=title, title_justify="left")
        # the verdict before the reference: on a narrow terminal the columns that do not fit
        # move to a "(continued)" table, the later columns first (at 80 the reference goes,
        # the verdict stays beside the figures; narrower, it goes too)
        cols = ["benchmark", "baseline", "current", "change"] + (["p"] if wall else []) + ["verdict"] \
            + (["reference"] if wall else []) + ["note"]
        for c in cols:  # names and notes fold; a figure or verdict stays on one line, never cut
            t.add_column(c, justify="left" if c in ("benchmark", "reference", "verdict", "note") else "right",
                         overflow="fold", no_wrap=c not in ("benchmark", "reference", "note"))
        style = {"slower": "bold red", "faster": "green", "same": "dim", "path-changed": "yellow", "gone": "bold red",
                 "unavailable": "yellow"}
        for v in rows:
            fmt = (lambda x: "-" if x is None else f"{x:.4g}") if wall else (lambda x: "-" if x is None else f"{x:,.0f}")
            # names, the reference and notes (code paths, skip reasons) come from the files: text, not markup
            cells = [literal(v.name), fmt(v.old), fmt(v.new), _fmt_pct(v)]
            if wall:
                cells.append("-" if v.p_value is None else f"{v.p_value:.2g}")
            cells.append(Text(v.status.upper() if v.status == "slower" else v.status, style=style.get(v.status, "")))
            if wall:
                cells.append(literal(v.reference))
            cells.append(literal(v.note))
            t.add_row(*cells)
        for part in fit_to_width(t, con.width, fold_min=16):
            con.print(part)
    if not summary:
        return
    compared = rep.compared
    from .results import geometric_mean

    gm = geometric_mean(v.change for v in compared if v.change and not math.isinf(v.change))
    what = "normalized time" if wall else "instructions per call"
    crit = f"p < {rep.alpha:g} and slower by more than {rep.threshold:g}%" if wall else f"more than {rep.threshold:g}% more instructions"
    from collections import Counter

    done = {id(v) for v in compared}
    others = Counter(v.status for v in rep.verdicts if id(v) not in done)
    not_compared = (f"; {sum(others.values())} not compared ("
                    + ", ".join(f"{n} {s}" for s, n in others.most_common()) + ")") if others else ""
    gm_text = "-" if math.isnan(gm) else f"{gm:.3f}"  # nothing compared (every flagged one gone): not "nan"
    con.print(f"{len(compared)} benchmarks compared ({what}); geometric mean of new/old {gm_text}; "
              f"{len(rep.regressions)} regression(s) ({crit}), {len(rep.improvements)} improvement(s)" + not_compared)
    def named(vs: list) -> str:  # names from the files: an escape sequence shown, not obeyed
        return (", ".join(printable(v.name, limit=sys.maxsize) for v in vs[:10])
                + (f" and {len(vs) - 10} more" if len(vs) > 10 else ""))

    if rep.regressions:
        con.print(Text.assemble(("REGRESSION", "bold red"), ": " + named(rep.regressions)))
        if wall:  # alpha is per benchmark, with no correction for how many were tested
            n = len(compared)
            # read in the nightly's confirming gate too, where the re-measure is the run just gated
            again = ("believe one that a second run, of just the flagged ones, confirms (see --help: --emit-filter)"
                     if rep.source == "cryptobench" else "time the flagged ones again before believing it")
            con.print(f"note: the test is per benchmark (p < {rep.alpha:g} each, {n} test{'s' if n != 1 else ''}), "
                      f"so unchanged code can show a regression now and then; {again}", style="dim")
    if rep.gone:  # a kernel unavailable, failing or cut short now passed without a word but "not compared (gone)"
        con.print(Text.assemble(("GONE", "bold red"), f": {len(rep.gone)} benchmark(s) of the baseline are not in "
                                f"{printable(rep.current, limit=sys.maxsize)}: " + named(rep.gone) + " (a kernel unavailable, FAILED, ERROR or not "
                                "reached? the notes say; gate the same selection as the run, or accept a new baseline "
                                "when they were removed on purpose)"))
    if rep.passed:
        con.print("[green]gate passed[/]")


def _refuse_outputs_over_inputs(args: argparse.Namespace) -> None:
    """No output may replace a file the gate reads, nor another output: ``--json
    base.json`` replaced the baseline with the report (exit 0), and ``--count`` with
    no -o wrote over an ``instructions.json`` given as the baseline."""
    outputs = [(flag, path) for flag, path in (("--json", args.json), ("--emit-filter", args.emit_filter),
                                               ("-o/--output", args.output or ("instructions.json" if args.count else None)))
               if path]
    inputs: list[str] = []
    for given in (args.baseline, args.current):
        if given and os.path.isdir(given):
            try:
                from .results import RESULTS_SUFFIXES

                inputs += [os.path.join(given, n) for n in sorted(os.listdir(given)) if n.endswith(RESULTS_SUFFIXES)]
            except OSError:
                pass  # reading it is refused later, with the reason
        elif given:
            inputs.append(given)
    real = {os.path.realpath(p): p for p in inputs}
    seen: dict[str, str] = {}
    for flag, path in outputs:
        key = os.path.realpath(path)
        if key in real:
            default = " (the default with --count)" if flag == "-o/--output" and not args.output else ""
            raise UsageError(f"{flag} {path}{default} would replace {real[key]}, which the gate reads; "
                             "write the output elsewhere")
        if key in seen:
            raise UsageError(f"{flag} and {seen[key]} both name {path}; give each its own file")
        seen[key] = flag


def cmd_gate(args: argparse.Namespace) -> int:
    from . import bench, gate
    from .registry import name_filter

    _refuse_outputs_over_inputs(args)
    registered = []
    if args.count and args.register:  # kernels of --register modules: their backends are names -b may use
        from .registry import EXTRA_BACKENDS_ENV, extra_backend_modules

        twice = sorted(set(args.register) & set(extra_backend_modules()))
        if twice:  # its kernels were counted twice, each with the other's setup in its profile
            raise UsageError(f"--register {twice[0]}: {EXTRA_BACKENDS_ENV} already loads it; name it once")
        import importlib

        from .registry import Registry

        reg = Registry()
        for mod in args.register:
            try:
                importlib.import_module(mod).register(reg)
            except Exception as exc:  # noqa: BLE001 - exit 1 would read as "a regression"
                raise UsageError(f"--register {mod}: {exc!r}") from None
        # -a and -b select among them as among the built-in kernels
        selected = name_filter(None, args.algorithm, args.backend, strict=False)
        registered = [k for k in reg.all() if selected(f"{k.name}/")]
    # wall time and count files: the files say which backends exist (checked below, once they are read)
    include_name = name_filter(args.filter, args.algorithm, args.backend, strict=args.count,
                               extra_backends={k.backend for k in registered})
    if args.count:
        if args.current:
            raise UsageError("with --count give at most one file, the baseline; the current counts are measured")
        sizes = bench.parse_sizes(args.sizes)  # bad usage first, whatever the machine lacks
        if not gate.valgrind_path():
            raise UsageError("valgrind is not installed (apt-get install valgrind); it is needed for --count")
        baseline = gate.load_counts(args.baseline) if args.baseline else None
        from .registry import backend_matches, default_registry, split_list

        builtin = {k.backend for k in default_registry().all()}
        # -b may name only --register backends: then no built-in kernel is counted
        pats = [p for p in split_list(args.backend or "python,native") if any(backend_matches(b, p) for b in builtin)]
        targets, skipped = gate.count_targets(
            algorithms=args.algorithm, backends=",".join(pats), sizes=sizes,
            pattern=args.filter, hot_paths=not args.no_hot_paths,
        ) if pats else ([], [])
        if registered:
            for k in registered:
                if k.available:
                    targets += [gate.CountTarget(s.algorithm, s.backend, s.operation, s.size, s.aad, s.hot_path)
                                for s in bench.specs_for(k, sizes=sizes, hot_paths=not args.no_hot_paths,
                                                         pattern=args.filter)]
        if not targets:
            from .registry import unavailable_reasons

            raise UsageError("nothing to count: no benchmark of an available kernel matches the selection"
                             + (f" (unavailable: {unavailable_reasons(skipped)})" if skipped else ""))
        con = _console()
        # as run: a kernel is counted only if it passed the quick vector subset here, now
        from .verify import verify_kernel

        by_name = {k.name: k for k in (*default_registry().all(), *registered)}
        wrong = {}
        for name in sorted({f"{t.algorithm}/{t.backend}" for t in targets}):
            rep = verify_kernel(by_name[name], quick=True)
            if rep.failed:
                wrong[name] = next((f for c in rep.checks for f in c.failures), "")
        for name, why in wrong.items():
            con.print(f"  {name}: FAILED its vectors, not counted — {why}", style="bold red", markup=False)
        targets = [t for t in targets if f"{t.algorithm}/{t.backend}" not in wrong]
        if not targets:
            raise UsageError("nothing to count: every selected kernel FAILED its vectors")
        keygens = any(gate.calls_for(t, 1) > 1 for t in targets)
        con.print(f"counting instructions of {len(targets)} benchmarks x {args.calls} calls under callgrind "
                  + (f"(key generation: {args.calls * gate.KEYGEN_CALLS_FACTOR}, a random key each call; "
                     if keygens else "(")
                  + f"{len(skipped)} kernels unavailable)")

        from rich.markup import escape

        def on_count(t, c, err):
            if c is None:
                con.print(f"  {escape(t.name)}: [yellow]not counted[/] — {escape(str(err))}")
            else:
                con.print(f"  {t.name}: {c.per_call:,.0f} instructions/call ({c.code_path})", markup=False)

        import signal

        def on_sigterm(signum, frame):  # as `run` does: a killed gate stops callgrind and removes its files
            raise KeyboardInterrupt

        old_handler = signal.signal(signal.SIGTERM, on_sigterm)
        try:
            doc = gate.measure_counts(targets, calls=args.calls, register=args.register, on_count=on_count)
            if skipped:  # a gone benchmark's note says why its kernel was not counted at all
                doc["unavailable"] = {name: str(why) for name, why in skipped}
        finally:
            signal.signal(signal.SIGTERM, old_handler)
        if not doc.get("counts"):  # it wrote {"counts": {}} and exited 0: a count of nothing
            raise UsageError(f"no benchmark could be counted ({len(targets)} tried; the reasons are above); "
                             "nothing written")
        out = args.output or "instructions.json"
        gate.save_counts(out, doc)
        con.print(f"wrote {printable(str(out), limit=sys.maxsize)}", markup=False)
        if baseline is None:
            return 0
        rep = gate.instruction_gate(baseline=baseline, current=doc, threshold=_thr(args, gate.DEFAULT_ICOUNT_THRESHOLD),
                                    include=include_name, baseline_label=args.baseline, current_label=out)
    else:
        if not args.baseline or not args.current:
            raise UsageError("give BASELINE and CURRENT (or --count to measure instruction counts now)")
        for path in (args.baseline, args.current):  # report a missing file in argument order
            if not os.path.exists(path):
                raise UsageError(f"{path}: no such file")
        if gate.is_count_file(args.current):
            old_counts, new_counts = gate.load_counts(args.baseline), gate.load_counts(args.current)
            in_files = {n.split("/")[1] for doc in (old_counts, new_counts) for n in doc["counts"] if "/" in n}
            include_name = name_filter(args.filter, args.algorithm, args.backend, extra_backends=in_files)
            rep = gate.instruction_gate(baseline=old_counts, current=new_counts,
                                        threshold=_thr(args, gate.DEFAULT_ICOUNT_THRESHOLD), include=include_name,
                                        baseline_label=args.baseline, current_label=args.current)
        else:
            current = gate.load_run(args.current)
            left_out: list[str] = []
            baseline = gate.load_runs(args.baseline, kind=current.source, current=args.current, notes=left_out)
            in_files = {s.backend for r in (current, *baseline) for s in r.samples.values()}
            if args.reference not in in_files:  # else every benchmark is listed as "no-reference"
                raise UsageError(f"--reference {args.reference}: no benchmark of that backend is in these files "
                                 f"(their backends: {', '.join(sorted(in_files))})")
            include_name = name_filter(args.filter, args.algorithm, args.backend, extra_backends=in_files)
            rep = gate.wall_gate(baseline=baseline, current=current, reference=args.reference,
                                 threshold=_thr(args, gate.DEFAULT_WALL_THRESHOLD), alpha=args.alpha,
                                 include=lambda s: include_name(s.name), same_cpu=not args.any_cpu)
            rep.warnings[:0] = left_out
    if not rep.verdicts:
        from .registry import split_list

        if args.backend and not args.count and set(split_list(args.backend)) <= {args.reference}:
            raise UsageError(f"-b {args.backend}: {args.reference} is the reference every benchmark is divided by, "
                             "so it is not gated itself; select the backends to gate")
        sel = _selection(args)
        raise UsageError(f"no benchmark of the selection ({sel}) is in both the baseline and the current run" if sel
                         else "no benchmark in common between the baseline and the current run")
    if not rep.compared and not rep.gone:  # a gate that compared nothing must not pass (a nightly would stay green)
        from collections import Counter

        _print_report(rep, True, summary=False)  # each benchmark's note says why
        counts = Counter(v.status for v in rep.verdicts)
        raise UsageError("no benchmark could be compared ("
                         + ", ".join(f"{n} {s}" for s, n in counts.most_common()) + "; the notes above say why)")
    if args.json:
        from ._io import atomic_write_text

        atomic_write_text(args.json, json.dumps(rep.to_dict(), indent=1) + "\n")
    if args.emit_filter:
        from ._io import atomic_write_text

        atomic_write_text(args.emit_filter, gate.confirm_filter(rep) + "\n")
    _print_report(rep, args.all)
    return 0 if rep.passed else 1


def _selection(args) -> str:
    """The -a, -b and --filter options given, as typed (empty when none)."""
    return " ".join(f"{flag} {value}" for flag, value in (("-a", args.algorithm), ("-b", args.backend),
                                                          ("--filter", args.filter)) if value)


def _unknown_backend(args) -> None:
    """Refuse a -b that is neither registered nor in any of the files (history's -b may name a
    backend registered only when they were made), as run and compare refuse one, naming the
    backends the files hold. The files are read for it only when a -b is not registered."""
    from . import history
    from .registry import name_filter

    try:
        name_filter(None, None, args.backend)  # run's and compare's check, against the registered backends
        return
    except UsageError:
        pass
    try:
        names = history.collect(directory=args.directory, metric="time").series
    except UsageError:
        return  # no directory, or no file: said below, with its own reason
    # the same check with the files' backends counted too: its message lists both
    name_filter(None, None, args.backend, extra_backends={n.split("/")[1] for n in names if "/" in n})


def _thr(args, default: float) -> float:
    return default if args.threshold is None else args.threshold


def cmd_history(args: argparse.Namespace) -> int:
    from . import history
    from .registry import name_filter

    # not strict: the files may hold backends registered only when they were made; a -b
    # that matches nothing ends in "no benchmark ... matches the selection" below
    include = name_filter(args.filter, args.algorithm, args.backend, strict=False)
    if args.reference is not None and args.metric == "time":  # it was ignored without a word
        raise UsageError("--reference sets the backend of --metric ratio; --metric time has none")
    _unknown_backend(args)  # -b python,nope showed python and said nothing of nope
    reference = args.reference or "openssl"
    h = history.collect(directory=args.directory, include=include,
                        metric=args.metric, reference=reference, threshold=args.threshold, alpha=args.alpha)
    con = _console()
    for path, why in h.skipped:
        con.print(printable(f"skipped {path}: {why}", limit=sys.maxsize), style="dim", markup=False)
    if not h.series:
        if not h.runs:
            raise UsageError(f"{args.directory}: no cryptobench results file found")
        if args.metric == "ratio" and history.collect(directory=args.directory, include=include, metric="time").series:
            raise UsageError(f"{args.directory}: no benchmark of the selection was measured beside its reference "
                             f"({reference}) in any of the {len(h.runs)} run(s); --metric time shows median times")
        raise UsageError(f"{args.directory}: no benchmark of the {len(h.runs)} run(s) matches the selection"
                         + (f" ({_selection(args)})" if _selection(args) else ""))
    con.print(history.runs_table(h))
    con.print(history.trend_table(h, steps_only=args.steps_only))
    steps = sum(len(s.steps) for s in h.series.values())
    con.print(f"{len(h.series)} benchmarks across {len(h.runs)} runs; {steps} significant step(s) "
              f"(p < {args.alpha:g}, more than {args.threshold:g}%)")
    if args.plot:
        from .plot import stale_charts

        written = history.plot(h, args.plot)
        for p in written:
            con.print(f"wrote {printable(str(p), limit=sys.maxsize)}", markup=False)
        others = stale_charts(args.plot, written, "history-*.png")  # as plot says of its own
        if others:
            con.print(f"note: {printable(str(args.plot), limit=sys.maxsize)} also holds {len(others)} history chart(s) "
                      "this selection did not make (an earlier history's): " + ", ".join(p.name for p in others[:5])
                      + (" ..." if len(others) > 5 else ""), style="yellow", markup=False)
    return 0
