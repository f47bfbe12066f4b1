"""``cryptobench leakcheck``: argument parsing and printing only (the work is in leakcheck.py)."""

from __future__ import annotations

import argparse
import json
import sys

from ._argtypes import name_list, nonnegative_int, report_file, seconds
from ._text import printable
from .errors import UsageError



HELP = """\
A dudect-style constant-time test. For each kernel and secret input (AEAD:
plaintext, key, and tag, where a forgery right in all but its last byte is
decrypted against random forgeries; ECDSA: the nonce k and the private key
d), time calls on a fixed secret against fresh random secrets, interleaved at
random, and run Welch's t-test on the raw and cropped timings. Native kernels
are timed in C with the TSC; the others from Python with perf_counter_ns.

|t| >= 4.5 (TVLA's threshold) means the times of the two classes differ:
evidence of a leak in the kernel, or in what the harness does with the
inputs (docs/leakcheck.md lists such artifacts). Under 10^4 measurements
(dudect's "enough") a kernel with no leak seen is "too few measurements",
not cleared. A deliberately leaky T-table AES, timed in C, runs first as a
control: if the test cannot see it, the C-timed rows are inconclusive. Before each C-timed call 64 KiB are read, so the level-1 data
cache starts cold as it does after a context switch (--no-evict turns that
off; a T-table AES whose tables stay in L1 then leaks too little to see).

Each kernel first runs the quick vector subset `run` uses; one that fails
is reported and never timed. Exit status 1 when a kernel that claims to be
constant-time leaks, a kernel fails its vectors or raises (or accepts a
forged tag) while timed, or the control is not flagged (or cannot run) in a
run with C-timed rows; and (INCONCLUSIVE) when kernels that claim constant
time were selected but none could be judged (too few measurements, or not
measured). A kernel leakcheck cannot drive here (no C loop; openssl-noavx512
needs its own environment) is listed as an error without failing the run.
Run long: --measurements 1000000 --budget 0.
"""


def add_commands(sub, add_selection) -> None:
    p = sub.add_parser("leakcheck", help="dudect-style constant-time test: Welch's t on fixed vs random secrets",
                       description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_selection(p)
    p.add_argument("--test", type=name_list, help="comma-separated secrets to vary: plaintext, key, tag, sign-k, sign-d (default: all)")
    p.add_argument("-n", "--measurements", type=int, default=1_000_000,
                   help="measurements per kernel and secret, at least 1000 (default: %(default)s)")
    p.add_argument("--budget", type=seconds, default=5.0, metavar="SECONDS",
                   help="stop each test after this long even if short of --measurements; 0 = no limit (default: %(default)s)")
    p.add_argument("--no-evict", action="store_true", help="do not read 64 KiB before each C-timed call")
    p.add_argument("--no-control", action="store_true", help="skip the deliberately leaky T-table AES")
    p.add_argument("--seed", type=nonnegative_int, default=20261127,
                   help="seed of the class and input draws, 0 or more (default: %(default)s)")
    p.add_argument("--json", type=report_file, metavar="FILE", help="also write the results as JSON (atomically)")
    p.set_defaults(func=cmd_leakcheck)


def cmd_leakcheck(args: argparse.Namespace) -> int:
    import os

    from . import leakcheck as L
    from ._io import atomic_write_text
    from .cli import _console
    from .registry import require_available, select, split_list

    json_path = os.path.abspath(args.json) if args.json else None  # fixed before a kernel can chdir
    if args.measurements < 1000:
        raise UsageError("--measurements must be at least 1000")
    if args.budget < 0:
        raise UsageError("--budget must be >= 0")
    selected = select(args.algorithm, args.backend)  # refuse bad names before any work
    require_available(selected, "check")
    hot_only = [k.name for k in selected if k.available and k.impl is None]
    if hot_only and all(k.impl is None for k in selected if k.available):  # e.g. -b peer-pyaes: 0 targets, "passed"
        raise UsageError(f"nothing to check: {', '.join(hot_only)} offer(s) hot paths only, and leakcheck times "
                         "whole operations (encrypt, sign)")
    wanted = set(split_list(args.test))
    known = [t for kind in L.TESTS.values() for t in kind]
    unknown = sorted(wanted - set(known))
    if unknown:
        raise UsageError(f"unknown --test {unknown[0]!r}; valid: {', '.join(known)}")
    timed = [k for k in selected if k.available and k.impl is not None]
    if wanted and not any(wanted & set(L.tests_of(k)) for k in timed):
        kinds = "; ".join(f"{kind} kernels: " + ", ".join(ts) for kind, ts in L.TESTS.items())
        has = ", ".join(f"{k.name}: {'/'.join(L.tests_of(k))}" for k in timed[:6]) + (", ..." if len(timed) > 6 else "")
        raise UsageError(f"nothing to check: no selected kernel has --test {','.join(sorted(wanted))} ({kinds}; "
                         f"sign-k needs a kernel that takes a given nonce, which openssl does not; selected: {has})")
    con, err = _console(), _console(stderr=True)
    for k in (k for k in selected if not k.available):
        err.print(f"skipped, unavailable: {k.name}: {k.reason}", style="yellow", markup=False)
    load = os.getloadavg()[0]
    if load > (os.cpu_count() or 1) * 0.5:
        err.print(f"[yellow]note: load average {load:.1f} on {os.cpu_count()} CPUs; timings will be noisy[/]")

    rows = []

    def on_start(kernel, test):
        if err.is_terminal:
            err.print(f"  {kernel} {test} ...", end="\r")

    results = L.leakcheck(
        algorithms=args.algorithm, backends=args.backend, tests=args.test, measurements=args.measurements,
        budget_s=args.budget or None, evict=not args.no_evict, control=not args.no_control, seed=args.seed,
        on_start=on_start, on_result=rows.append,
    )
    table, left_out = leak_table(results, con.width)
    con.print(table)
    if left_out:
        con.print(f"left out to fit: {', '.join(left_out)}", style="dim", markup=False)
    loads = [x for r in results for x in r.load]
    if loads:
        con.print(f"load average during the run: {min(loads):.1f} .. {max(loads):.1f} on {os.cpu_count()} CPUs")
    if args.json:
        from . import machine

        # enough to repeat the run and re-judge it: the settings, the outcome, and the machine
        # (OPENSSL_ia32cap changes what the openssl rows time)
        doc = {"schema": "cryptobench-leakcheck/1", "threshold": L.THRESHOLD, "evict": not args.no_evict,
               "settings": {"measurements": args.measurements, "budget_s": args.budget, "seed": args.seed,
                            "tests": args.test, "algorithms": args.algorithm, "backends": args.backend,
                            "control": not args.no_control, "min_measurements": L.MIN_MEASUREMENTS},
               "outcome": outcome(results), "summary": summary(results), "machine": machine.describe(),
               "results": [r.to_dict() for r in results]}
        atomic_write_text(json_path, json.dumps(doc, indent=2) + "\n")
        con.print(f"wrote {printable(args.json, limit=sys.maxsize)}", markup=False)
    line = summary(results)
    con.print(line, style=None if line.startswith("passed") else "bold red", markup=False, soft_wrap=True)
    return 0 if outcome(results) == "passed" else 1


#: The table's columns. When the console is too narrow for all of them, those in
#: _LEAVE_OUT go, first ones first; kernel, secret, max |t| and verdict always stay
#: and are never cut (narrower still, each verdict goes on a line under its kernel).
_COLUMNS = (("kernel", "left"), ("path", "left"), ("claim", "left"), ("secret", "left"), ("timer", "left"),
            ("measurements", "right"), ("max |t|", "right"), ("at", "left"), ("|t| raw", "right"),
            ("mean fixed / random", "right"), ("verdict", "left"))
_LEAVE_OUT = ("timer", "|t| raw", "mean fixed / random", "claim", "measurements", "path", "at")


def _cells(r) -> dict[str, str]:
    unit = "cyc" if r.timer.startswith("TSC") else "ns"
    return {"kernel": r.kernel, "path": r.path, "claim": "CT" if r.constant_time else "var", "secret": r.test,
            "timer": r.timer, "measurements": f"{r.measurements:,}", "max |t|": f"{r.max_t:.2f}", "at": r.at,
            "|t| raw": f"{r.t_all:.2f}",
            "mean fixed / random": f"{r.mean_fixed:,.0f} / {r.mean_random:,.0f} {unit}" if r.measurements else "-",
            "verdict": r.verdict}


def leak_table(results, width: int):
    """The results table for a console ``width`` columns wide, and the names of the columns left out to fit."""
    from rich.cells import cell_len
    from rich.table import Table
    from rich.text import Text

    from .leakcheck import THRESHOLD

    rows = [_cells(r) for r in results]

    def layout(stacked: bool, left_out: tuple[str, ...]) -> dict[str, int]:
        """Each column shown and the width of its widest cell (error messages may wrap, so not counted)."""
        cols = [c for c, _ in _COLUMNS if c not in left_out and not (stacked and c == "verdict")]
        w = {c: max(cell_len(x) for x in [c, *(row[c] for row in rows)]) for c in cols}
        if stacked:
            w["kernel"] = max([w["kernel"], *(2 + cell_len(row["verdict"]) for row in rows)])
        return w

    def fits(w: dict[str, int]) -> bool:  # a rule and two spaces of padding per column, and the right edge
        return sum(w.values()) + 3 * len(w) + 1 <= width

    choices = [(stacked, _LEAVE_OUT[:i]) for stacked in (False, True) for i in range(len(_LEAVE_OUT) + 1)]
    stacked, left_out = next((c for c in choices if fits(layout(*c))), choices[-1])
    widths = layout(stacked, left_out)
    ok = fits(widths)
    holder = "kernel" if stacked else "verdict"  # the column that holds the verdict, and any error message
    table = Table(title=f"leakcheck: Welch's t, fixed vs random secret (|t| >= {THRESHOLD} is a leak)")
    for col, just in _COLUMNS:
        if col in widths:  # fitting: only the error messages wrap (a long word folds); narrower: fold, never cut
            table.add_column("kernel\n  verdict" if stacked and col == "kernel" else col, justify=just,
                             no_wrap=ok and col != holder, min_width=widths[col] if ok else None,
                             overflow="fold" if col == holder or not ok else "ellipsis")
    for r, row in zip(results, rows):
        row["verdict"] += f": {r.error}" if r.error else ""
        if stacked:
            row["kernel"] += "\n  " + row["verdict"]
        style = "bold red" if r.failed else ("yellow" if r.leaks and not r.control else "")
        table.add_row(*(Text(row[c]) for c in widths), style=style)
    return table, left_out


def _judged(results) -> list:
    """The rows that claim constant time and were judged: measured enough, without error."""
    return [r for r in results if r.constant_time and not r.control and r.verdict != "too few measurements"
            and not r.error]


def _c_timed(results) -> bool:
    """Whether any kernel row was timed in C: what the control vouches for."""
    return any(r.timer == "TSC in C" and not r.control and r.measurements for r in results)


def outcome(results) -> str:
    """passed, FAILED or INCONCLUSIVE, as the exit status says (0, 1, 1).

    The control is timed in C: not seeing it makes the C-timed rows mean nothing, and a
    run of Python-timed rows alone does not stand or fall by it. A run that selected
    kernels claiming constant time but judged none of them checked nothing: it does not
    pass."""
    if any(r.failed for r in results if not r.control):
        return "FAILED"
    control = next((r for r in results if r.control), None)
    if control is not None and control.failed and _c_timed(results):
        return "FAILED"
    if any(r.constant_time and not r.control for r in results) and not _judged(results):
        return "INCONCLUSIVE"
    return "passed"


def summary(results) -> str:
    """One line: passed, FAILED or INCONCLUSIVE (as the exit status says), and the figures it was decided on."""
    from .leakcheck import THRESHOLD

    parts = [f"{len(results)} target{'s' if len(results) != 1 else ''}"]
    few = sum(r.verdict == "too few measurements" and not r.control for r in results)
    judged = _judged(results)
    if judged:
        top = max(judged, key=lambda r: r.max_t)
        leaks = [f"{r.kernel} {r.test}" for r in judged if r.leaks]
        parts.append(f"max |t| {top.max_t:.2f} ({top.kernel} {top.test}) over the {len(judged)} that claim constant "
                     "time: " + (f"{len(leaks)} at or above {THRESHOLD} ({', '.join(leaks)})" if leaks
                                 else f"none at or above {THRESHOLD}"))
    else:
        parts.append("no kernel that claims constant time was judged")
    wrong = sum(r.vectors_failed for r in results)
    raised = sum(bool(r.error) and r.raised and not r.control for r in results)
    errors = sum(bool(r.error) and not (r.raised or r.vectors_failed or r.control) for r in results)
    if few:
        parts.append(f"{few} with too few measurements to judge")
    if wrong:
        parts.append(f"{wrong} failed {'their' if wrong > 1 else 'its'} vectors (not timed)")
    if raised:
        parts.append(f"{raised} failed while timed (error)")
    if errors:
        parts.append(f"{errors} not measured (error)")
    control = next((r for r in results if r.control), None)
    scope = "" if _c_timed(results) else "; it vouches for C-timed rows, and none ran"
    if control is None:
        parts.append("no control (--no-control): nothing shows the test could see a leak")
    elif control.error:
        parts.append(f"control not run ({control.error}){scope}")
    else:
        inconclusive = ", so the C-timed rows are inconclusive" if _c_timed(results) else ""
        parts.append(f"control {'flagged' if control.leaks else 'NOT flagged' + inconclusive} "
                     f"(|t| {control.max_t:.2f}){scope}")
    return f"{outcome(results)}: " + "; ".join(parts)
