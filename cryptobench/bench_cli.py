"""CLI commands of the measurement engine: run, show, compare, plot.

Argument parsing and printing only; the work is in run.py, results.py,
report.py and plot.py.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time

from ._argtypes import name_list, output_dir, output_file, percent, seconds
from ._child import DEFAULT_WORKER_TIMEOUT
from ._text import printable
from .errors import UsageError
from .registry import FILTER_HELP

RUN_HELP = """\
Verify each selected kernel on a quick vector subset (a kernel that fails is
shown as FAILED and never timed), then time every operation and hot path in
pyperf worker processes, and write a pyperf-compatible results file
(results/<UTC timestamp>_<host>.json unless --output is given).

Profiles: default (2 worker processes x 3 values per benchmark; all kernels
in about 1.5 minutes on 2 cores, a minute more on the first run while Numba
fills its compile cache), --fast (1 x 2, a smoke test),
--rigorous (6 x 5, longer values: for publication), --ci (6 x 3, short
values: the nightly's profile; six processes give the regression gate's test
enough to work with, see `cryptobench gate --help`).
Figures are medians; cycles are TSC cycles; speedups are against python and
openssl measured in the same run. Exit status 1 when a kernel FAILED its
vectors or its worker failed (ERROR), which includes a worker stopped after
--timeout seconds (default 600): the run goes on to the next kernel.

--self-check times openssl AES-128-GCM encrypt at 16 KiB through the harness
and in a plain timing loop, three alternating rounds, and writes no results
file; it takes a profile and --timeout, and refuses the other options (-a,
-b, --filter, --sizes, --no-hot-paths, --no-aad, --parallel, -o, --force).
Exit status 1 when the two medians differ by more than 10%.
"""



def add_commands(sub, add_selection) -> None:
    p = sub.add_parser("run", help="verify, then measure every available kernel with pyperf", description=RUN_HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_selection(p)
    p.add_argument("--sizes", help="comma-separated message sizes in bytes (default: 16,64,256,1024,8192,16384; 16k works)")
    p.add_argument("--filter", type=name_list, metavar="PATTERNS", help="only these benchmarks: " + FILTER_HELP)
    p.add_argument("--no-hot-paths", action="store_true", help="whole operations only")
    p.add_argument("--no-aad", action="store_true", help="also measure AEADs with empty AAD (besides the 13-byte TLS AAD), "
                   "shown in a second table per AEAD")
    prof = p.add_mutually_exclusive_group()
    prof.add_argument("--rigorous", action="store_const", const="rigorous", dest="profile", help="more processes and values (publication)")
    prof.add_argument("--fast", action="store_const", const="fast", dest="profile", help="fewest values (smoke test)")
    prof.add_argument("--ci", action="store_const", const="ci", dest="profile", help="the nightly CI profile (6 processes)")
    p.add_argument("--parallel", type=int, default=1, metavar="N", help="run N copies at once and report aggregate throughput (like openssl speed -multi)")
    p.add_argument("-o", "--output", type=output_file, metavar="FILE",
                   help="results file (default: results/<UTC timestamp>_<host>.json); an existing one is not replaced")
    p.add_argument("--force", action="store_true", help="replace --output FILE if it already holds something")
    p.add_argument("--timeout", type=seconds, default=DEFAULT_WORKER_TIMEOUT, metavar="SECONDS",
                   help="stop a timing worker (one kernel's benchmarks, one process) still running after SECONDS: "
                   f"the kernel is reported as ERROR and the run goes on (default: {DEFAULT_WORKER_TIMEOUT:g}; 0: no limit)")
    p.add_argument("--self-check", action="store_true", help="compare the harness's openssl AES-128-GCM 16 KiB figure with a plain timing loop "
                   "(writes no file; exit status 1 when they differ by more than 10%%)")
    p.set_defaults(func=cmd_run, profile="default")

    p = sub.add_parser(
        "show",
        help="render a results file's tables again",
        description="Print the tables `cryptobench run` printed, from its results file: the machine, "
        "per algorithm the throughput at each size with speedups against python and openssl "
        "measured in the same run, the hot paths, and ECDSA operations per second. Nothing is "
        "measured again.",
    )
    p.add_argument("file", help="results file (JSON written by cryptobench run)")
    p.add_argument("-a", "--algorithm", type=name_list, help="only these algorithms (comma-separated; aes = both AES-GCMs, ecdsa, globs)")
    p.add_argument("--details", action="store_true", help="every benchmark: median, stdev, values, cycles, setup cost")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser(
        "compare",
        help="compare two results files; exit 1 on a significant slowdown over the threshold",
        description="Compare each benchmark the two runs have in common: the change of its median time, "
        "and whether it is significant (pyperf's t-test over the runs' values, 95%; Welch's when the two hold "
        "different numbers of values, which pyperf cannot test). Lists the benchmarks "
        "that changed by more than --threshold and were significant, then the geometric mean of "
        "new/old time; warns when the CPU, Python, OpenSSL, OPENSSL_ia32cap or native build differ, since "
        "absolute times are then not comparable (`cryptobench gate` compares ratios to openssl instead), "
        "and names the benchmarks only one file has (with the kernel's FAILED or ERROR status when that "
        "is why). "
        "Exit status 1 when any benchmark is significantly slower by more than the threshold.",
    )
    p.add_argument("old", help="the earlier results file (JSON written by cryptobench run)")
    p.add_argument("new", help="the later results file")
    p.add_argument("--threshold", type=percent, default=5.0, help="slowdown (in %%) that fails, when significant (default: 5%%)")
    p.add_argument("--all", action="store_true", help="list unchanged benchmarks too")
    add_selection(p)
    p.add_argument("--filter", type=name_list, metavar="PATTERNS", help="only these benchmarks (as for run): " + FILTER_HELP)
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser(
        "plot",
        help="PNG charts: throughput vs size, hot-path breakdown, ECDSA ops/s",
        description="Write PNG charts of one results file into --out: throughput-<algorithm>.png "
        "(encrypt throughput against message size, per backend), hotpaths-<algorithm>.png (each hot "
        "path's share of an encrypt) and ecdsa.png (sign and verify operations per second).",
    )
    p.add_argument("file", help="results file (JSON written by cryptobench run)")
    p.add_argument("--out", type=output_dir, default="plots", help="output directory (default: plots/)")
    p.set_defaults(func=cmd_plot)


def _console(stderr: bool = False):
    from .cli import _console as c

    return c(stderr)


def print_results(res, algorithms: list[str] | None = None, details: bool = False) -> None:
    from . import report
    from .display import fit_to_width

    wanted = algorithms or None  # None: every algorithm
    con = _console()

    def show(table) -> None:
        for part in fit_to_width(table, con.width):  # a figure is never cut to "12.…"
            con.print(part)

    for line in report.header_lines(res):
        con.print(line, markup=False)  # machine fields are data: a '[' in a CPU name is not markup
    for alg in report.algorithms_in(res):
        if wanted and alg not in wanted:
            continue
        for t in report.algorithm_tables(res, alg):
            show(t)
        nt = report.not_timed_table(res, alg)
        if nt is not None:
            show(nt)
    pt = report.peers_table(res, wanted)
    if pt is not None:
        show(pt)
    oc = report.one_time_costs_table(res, wanted)
    if oc is not None:
        show(oc)
    if details:
        show(report.details_table(res, wanted))


#: Options --self-check has no use for (it times one fixed benchmark and writes no file), as (dest, flag).
_NOT_WITH_SELF_CHECK = (("algorithm", "-a/--algorithm"), ("backend", "-b/--backend"), ("sizes", "--sizes"),
                        ("filter", "--filter"), ("no_hot_paths", "--no-hot-paths"), ("no_aad", "--no-aad"),
                        ("output", "-o/--output"), ("force", "--force"))


def cmd_run(args: argparse.Namespace) -> int:
    import contextlib

    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from . import bench, results
    from .run import PROFILES, Interrupted, run

    profile = PROFILES[args.profile]
    if args.self_check:
        given = [flag for dest, flag in _NOT_WITH_SELF_CHECK if getattr(args, dest)]
        given += ["--parallel"] if args.parallel != 1 else []
        if given:
            raise UsageError(f"--self-check times openssl AES-128-GCM encrypt at 16 KiB alone and writes no results "
                             f"file: it takes no {', '.join(given)}")
        return _self_check(profile, args.timeout)
    sizes = bench.parse_sizes(args.sizes)
    try:
        started_in = os.getcwd()  # run writes to absolute paths (a kernel may chdir); they are shown from here
    except FileNotFoundError:  # a traceback before
        raise UsageError("the current directory no longer exists (removed since this shell entered it); "
                         "cd to a directory that does") from None
    aads = (0, bench.TLS_AAD) if args.no_aad else (bench.TLS_AAD,)
    if args.output and not args.force and os.path.isfile(args.output) and os.path.getsize(args.output):
        # like pyperf: a results file is hours of measurement; the first kernel's atomic write would replace it
        raise UsageError(f"{args.output} already exists: choose another --output, or add --force to replace it")
    err = _console(stderr=True)
    cpus = os.cpu_count() or 1
    if args.parallel > cpus:
        err.print(f"[yellow]--parallel {args.parallel} on {cpus} CPUs: the copies share cores, so the aggregate "
                  "shows contention, not scaling (each copy also holds its own tables in memory)[/]")
    progress = Progress(
        TextColumn("[bold]{task.fields[kernel]}[/] {task.fields[phase]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )
    task = None
    # the bar starts once the selection is known to be good: an error before that is the only line on
    # stderr (Progress.stop prints an empty line when stderr is not a terminal, started or not)
    shown = contextlib.ExitStack()
    # A bar drawn into a CI log or a file appears once, at the end: there each kernel gets a line as it
    # finishes instead, so a long nightly run shows where it is
    lines = not err.is_terminal
    done = {"kernels": 0, "of": 0, "t0": 0.0}

    def on_plan(pl):
        nonlocal task
        done["of"], done["t0"] = len(pl.kernels), time.monotonic()
        if not lines:
            shown.enter_context(progress)
            task = progress.add_task("run", total=pl.total * profile.processes, kernel="", phase="")
        err.print(
            f"{len(pl.kernels)} kernels, {pl.total} benchmarks x {profile.processes} processes "
            f"({profile.name} profile); {len(pl.skipped)} unavailable"
        )

    def on_kernel_start(name, phase):
        if task is not None:
            progress.update(task, kernel=name, phase=phase)

    def on_benchmark(name):
        if task is not None:
            progress.advance(task)

    def on_kernel_done(outcome):
        failed = outcome.status != "passed"
        if lines:
            done["kernels"] += 1
            width = len(str(done["of"]))
            took = int(time.monotonic() - done["t0"])
            what = (f"{outcome.status.upper()} — {printable(outcome.reason, limit=sys.maxsize)}" if failed
                    else f"passed, {outcome.benchmarks} benchmarks")
            err.print(f"[{done['kernels']:>{width}}/{done['of']}] {printable(outcome.kernel, limit=sys.maxsize)}: {what}  "
                      f"({took // 3600}:{took // 60 % 60:02}:{took % 60:02} elapsed)", markup=False, highlight=False, soft_wrap=True)
        elif failed:
            progress.console.print(f"[bold red]{escape(outcome.kernel)}: {outcome.status.upper()}[/] — {escape(outcome.reason)}")

    try:
        with shown:
            path, _ = run(
                algorithms=args.algorithm, backends=args.backend, sizes=sizes, aads=aads, pattern=args.filter,
                hot_paths=not args.no_hot_paths, profile=profile, parallel=args.parallel, output=args.output,
                on_plan=on_plan, on_kernel_start=on_kernel_start, on_benchmark=on_benchmark, on_kernel_done=on_kernel_done,
                timeout=args.timeout,
            )
    except Interrupted as exc:
        if str(exc):
            print(f"cryptobench run: interrupted; kept what finished in {exc} (marked incomplete)", file=sys.stderr)
        else:
            print("cryptobench run: interrupted before any kernel finished; nothing written", file=sys.stderr)
        return 130
    res = results.load(path)
    print_results(res)
    shown = _as_given(path, started_in)
    shown = printable(str(shown), limit=sys.maxsize)  # the name as typed, an escape sequence shown, not obeyed
    # -q: at the default profile's 6 values per benchmark pyperf warns "Not enough samples" hundreds of times
    _console().print(f"wrote {shown}  (python -m pyperf show -q {shlex.quote(shown)} works too)", markup=False)
    failed = [n for n, o in res.kernels.items() if o.get("status") in ("failed", "error")]
    return 1 if failed else 0


def _as_given(path, start: str) -> str:
    """``path`` relative to the directory the command started in when it lies below it
    (``results/...json``, as a user would type it), else as it is."""
    rel = os.path.relpath(path, start)
    return str(path) if rel.startswith(os.pardir) else rel


def _self_check(profile, timeout: float = DEFAULT_WORKER_TIMEOUT) -> int:
    """The harness's figure for openssl AES-128-GCM encrypt at 16 KiB vs a plain loop."""
    import statistics
    import tempfile
    from pathlib import Path

    from . import bench, results
    from .registry import get
    from .run import run

    con = _console()
    k = get("aes-128-gcm", "openssl")
    spec = bench.Spec("aes-128-gcm", "openssl", "encrypt", 16384, bench.TLS_AAD)
    call = bench.prepare(k, spec).call
    n = bench.calibrate(call, 0.02)
    harness_runs, plain_runs = [], []
    # alternate the two measurements so that drift on a shared machine hits both alike
    for _round in range(3):
        with tempfile.TemporaryDirectory() as d:
            out = Path(d) / "self-check.json"
            run(algorithms="aes-128-gcm", backends="openssl", sizes=(16384,), pattern="*/encrypt/16384",
                hot_paths=False, profile=profile, output=out, timeout=timeout)
            harness_runs.append(results.load(out).find("aes-128-gcm", "openssl", "encrypt", 16384).median)
        samples = []
        for _ in range(7):
            t0 = time.perf_counter()
            for _ in range(n):
                call()
            samples.append((time.perf_counter() - t0) / n)
        plain_runs.append(statistics.median(samples))
    harness, plain = statistics.median(harness_runs), statistics.median(plain_runs)
    diff = harness / plain - 1.0
    con.print(f"openssl aes-128-gcm encrypt 16 KiB: harness {harness * 1e6:.2f} µs, plain loop {plain * 1e6:.2f} µs, "
              f"difference {diff * 100:+.1f}% (limit ±10%; medians of 3 alternating rounds)")
    return 0 if abs(diff) <= 0.10 else 1


def cmd_show(args: argparse.Namespace) -> int:
    from . import report, results
    from .registry import ALGORITHMS, expand_algorithms

    algos = expand_algorithms(args.algorithm)
    res = results.load(args.file)
    present = report.algorithms_in(res)
    unknown = report.unknown_algorithms(res)
    what = ", ".join(f"{a!r} ({n})" for a, n in unknown.items())
    if unknown and not args.details and not any(m.algorithm in present for m in res.measurements):
        raise UsageError(f"{args.file}: no benchmark of an algorithm this cryptobench knows "
                         f"({', '.join(ALGORITHMS)}), only of {what} (--details lists them)")
    if algos and not set(algos) & set(present):
        raise UsageError(f"{args.file} has no {', '.join(algos)} benchmarks (it has: {', '.join(present) or 'none'})")
    print_results(res, algos, args.details)
    if unknown and not (args.details and not algos):  # else the details table lists them
        _console().print(f"note: not shown: {sum(unknown.values())} benchmark(s) of an algorithm this cryptobench "
                         f"does not know: {what}; --details without -a lists them", style="yellow", markup=False)
    ops = {k: n for k, n in report.unknown_operations(res).items() if not algos or k.split("/")[0] in algos}
    if ops and not args.details:  # else the details table lists them
        _console().print(f"note: not shown: {sum(ops.values())} benchmark(s) of an operation this cryptobench does not "
                         "know: " + ", ".join(f"{k!r} ({n})" for k, n in ops.items()) + "; --details lists them",
                         style="yellow", markup=False)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from . import report, results
    from .registry import name_filter

    old, new = results.load(args.old), results.load(args.new)
    include = name_filter(args.filter, args.algorithm, args.backend,
                          extra_backends={m.backend for r in (old, new) for m in r.measurements})
    changes, warnings = report.compare(old, new, include)
    if not changes:
        raise UsageError("the two files have no benchmark in common")
    changes = [c for c in changes if include(c.name)]
    if not changes:
        from .gate_cli import _selection

        raise UsageError(f"no benchmark of the selection ({_selection(args)}) is in both files")
    con = _console()
    for w in warnings:
        con.print(w, style="bold yellow", markup=False)
    # a kernel that vanished (its worker failed, it FAILED its vectors) must not pass unremarked
    for a, b, label, other in ((old, new, "OLD", "NEW"), (new, old, "NEW", "OLD")):
        only = sorted({m.name for m in a.measurements if include(m.name)} - {m.name for m in b.measurements})
        if not only:
            continue
        kernels = sorted({"/".join(n.split("/")[:2]) for n in only})
        why = [f"{k}: {b.kernels[k].get('status', '?').upper()}" for k in kernels
               if b.kernels.get(k, {}).get("status", "passed") != "passed"]
        stopped = "" if b.info.get("complete") else f" ({other} is from a run that was interrupted: INCOMPLETE)"
        con.print(f"note: {len(only)} benchmark(s) of {label} are not in {other}, so not compared: "
                  + ", ".join(only[:5]) + (" ..." if len(only) > 5 else "")
                  + (f" ({'; '.join(why)} in {other})" if why else "") + stopped, style="yellow", markup=False)
    shown = changes if args.all else [c for c in changes if c.significant and abs(c.percent) > args.threshold]
    if shown:
        from .display import fit_to_width

        for part in fit_to_width(report.compare_table(shown, args.threshold), con.width, fold_min=16):
            con.print(part)
    gm = report.geomean_change(changes)
    slower = [c for c in changes if c.significant and c.percent > args.threshold]
    faster = [c for c in changes if c.significant and c.percent < -args.threshold]
    con.print(
        f"{len(changes)} benchmarks compared: geometric mean of new/old time {gm:.3f} ({(gm - 1) * 100:+.1f}%); "
        f"{len(slower)} significantly slower and {len(faster)} significantly faster than ±{args.threshold:g}%"
    )
    if slower:
        more = f" and {len(slower) - 10} more (the table lists them)" if len(slower) > 10 else ""
        from rich.text import Text

        # names come from the files: text, not markup ('[/x]' in one raised MarkupError, exit 1)
        con.print(Text.assemble(("REGRESSION", "bold red"), f": {', '.join(c.name for c in slower[:10])}{more}"))
        return 1
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from . import results
    from .plot import plot, stale_charts

    res = results.load(args.file)
    written = plot(res, args.out)
    if not written:
        raise UsageError(f"{args.file}: nothing to plot")
    con = _console()
    for p in written:
        con.print(f"wrote {printable(str(p), limit=sys.maxsize)}", markup=False)
    # charts an earlier plot left there are not this file's: say so rather than let them pass for it
    others = stale_charts(args.out, written)
    if others:
        con.print(f"note: {args.out} also holds {len(others)} chart(s) this file did not make (an earlier plot's): "
                  + ", ".join(p.name for p in others[:5]) + (" ..." if len(others) > 5 else ""),
                  style="yellow", markup=False)
    return 0
