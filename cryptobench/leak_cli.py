"""``cryptobench leakcheck``: argument parsing and printing only (the work is in leakcheck.py)."""

from __future__ import annotations

import argparse
import json

from ._argtypes import output_file, seconds
from .errors import UsageError

HELP = """\
A dudect-style constant-time test. For each kernel and secret input (AEAD:
plaintext and key; ECDSA: the nonce k and the private key d), time calls on a
fixed secret against fresh random secrets, interleaved at random, and run
Welch's t-test on the raw and cropped timings. Native kernels are timed in C
with the TSC; the others from Python with perf_counter_ns.

|t| >= 4.5 means the time depends on the secret. A deliberately leaky
T-table AES runs first as a control: if the test cannot see it, the run is
inconclusive. Before each C-timed call 64 KiB are read, so the level-1 data
cache starts cold as it does after a context switch (--no-evict turns that
off; a T-table AES whose tables stay in L1 then leaks too little to see).

Exit status 1 when a kernel that claims to be constant-time leaks, or the
control is not flagged. Run long: --measurements 1000000 --budget 0.
"""


def add_commands(sub, add_selection) -> None:
    p = sub.add_parser("leakcheck", help="dudect-style constant-time test: Welch's t on fixed vs random secrets",
                       description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_selection(p)
    p.add_argument("--test", help="comma-separated secrets to vary: plaintext, key, sign-k, sign-d (default: all)")
    p.add_argument("-n", "--measurements", type=int, default=1_000_000,
                   help="measurements per kernel and secret (default: %(default)s)")
    p.add_argument("--budget", type=seconds, default=5.0, metavar="SECONDS",
                   help="stop each test after this long even if short of --measurements; 0 = no limit (default: %(default)s)")
    p.add_argument("--no-evict", action="store_true", help="do not read 64 KiB before each C-timed call")
    p.add_argument("--no-control", action="store_true", help="skip the deliberately leaky T-table AES")
    p.add_argument("--seed", type=int, default=20261127, help="seed of the class and input draws (default: %(default)s)")
    p.add_argument("--json", type=output_file, metavar="FILE", help="also write the results as JSON (atomically)")
    p.set_defaults(func=cmd_leakcheck)


def cmd_leakcheck(args: argparse.Namespace) -> int:
    import os

    from rich.table import Table

    from . import leakcheck as L
    from ._io import atomic_write_text
    from .cli import _console
    from .registry import require_available, select, split_list

    if args.measurements < 1000:
        raise UsageError("--measurements must be at least 1000")
    if args.budget < 0:
        raise UsageError("--budget must be >= 0")
    selected = select(args.algorithm, args.backend)  # refuse bad names before any work
    require_available(selected, "check")
    wanted = set(split_list(args.test))
    known = [t for kind in L.TESTS.values() for t in kind]
    unknown = sorted(wanted - set(known))
    if unknown:
        raise UsageError(f"unknown --test {unknown[0]!r}; valid: {', '.join(known)}")
    if wanted and not any(wanted & set(L.TESTS[k.kind]) for k in selected if k.available):
        kinds = "; ".join(f"{kind} kernels: " + ", ".join(ts) for kind, ts in L.TESTS.items())
        raise UsageError(f"nothing to check: no selected kernel has --test {','.join(sorted(wanted))} ({kinds})")
    con, err = _console(), _console(stderr=True)
    for k in (k for k in selected if not k.available):
        err.print(f"[yellow]skipped, unavailable: {k.name}: {k.reason}[/]")
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
    table = Table(title=f"leakcheck: Welch's t, fixed vs random secret (|t| >= {L.THRESHOLD} is a leak)")
    for col, just in (("kernel", "left"), ("path", "left"), ("claim", "left"), ("secret", "left"),
                      ("timer", "left"), ("measurements", "right"), ("max |t|", "right"), ("at", "left"),
                      ("|t| raw", "right"), ("mean fixed / random", "right"), ("verdict", "left")):
        table.add_column(col, justify=just, no_wrap=col in ("kernel", "measurements", "max |t|"))
    for r in results:
        style = "bold red" if r.failed else ("yellow" if r.leaks and not r.control else "")
        unit = "cyc" if r.timer.startswith("TSC") else "ns"
        table.add_row(
            r.kernel, r.path, "CT" if r.constant_time else "var", r.test, r.timer,
            f"{r.measurements:,}", f"{r.max_t:.2f}", r.at, f"{r.t_all:.2f}",
            f"{r.mean_fixed:,.0f} / {r.mean_random:,.0f} {unit}" if r.measurements else "-",
            (r.verdict + (f": {r.error}" if r.error else "")),
            style=style,
        )
    con.print(table)
    loads = [x for r in results for x in r.load]
    if loads:
        con.print(f"load average during the run: {min(loads):.1f} .. {max(loads):.1f} on {os.cpu_count()} CPUs")
    if args.json:
        doc = {"schema": "cryptobench-leakcheck/1", "threshold": L.THRESHOLD, "evict": not args.no_evict,
               "results": [r.to_dict() for r in results]}
        atomic_write_text(args.json, json.dumps(doc, indent=2) + "\n")
        con.print(f"wrote {args.json}")
    failed = [r for r in results if r.failed]
    if failed:
        con.print("[bold red]FAILED:[/] " + ", ".join(f"{r.kernel} ({r.test}): {r.verdict}" for r in failed))
        return 1
    return 0
