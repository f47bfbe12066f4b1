"""``cryptobench cost``: the cost model from the command line (parsing and printing only)."""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

from ._argtypes import output_dir, xlsx_file
from ._text import printable
from .errors import UsageError

COST_HELP = """\
Turn measured CPU time into fleet hardware dollars. Reads a fleet file (TOML:
hardware generations, money, traffic, scenarios; the bundled example by
default: see `cryptobench cost --example-fleet`) and the results files it
names, then prints, per scenario and generation, the crypto CPU at peak, the
servers it takes and what they cost, and for each scenario against the
baseline the cores, servers and dollars a year saved, how long hardware
purchases are deferred, the net present value of the saving over the
planning horizon, the same less the cost of the work (engineer-months), and
the payback time.

"newest" in the fleet file means the newest file in --results that has every
measurement the fleet needs, at message sizes that cover the traffic's TLS
records: a newer file from a narrower or interrupted run (say `run -b python`
or `run --sizes 16,64`) is passed over, with a note naming it and what it
lacks, and so is a *.json there that is not a results file (an instruction-count
file from `gate --count`, a gate report). A needed kernel that FAILED its
vectors (or was unavailable) in the newest run stops with an error.

--xlsx writes a workbook whose Model sheet recomputes everything with live
formulas over the Inputs and Measurements sheets (with sensitivity rows and a
tornado chart); --csv writes the same tables as CSV files.
"""


def add_commands(sub, add_selection) -> None:
    p = sub.add_parser("cost", help="price the CPU a faster kernel saves: cores, servers, dollars, deferral",
                       description=COST_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fleet", metavar="TOML", help="fleet file (default: the bundled example)")
    p.add_argument("--results", metavar="DIR", default="results", help="where \"newest\" looks (default: results/)")
    p.add_argument("--xlsx", type=xlsx_file, metavar="FILE.xlsx",
                   help="write the live-formula workbook (replaces an earlier workbook, never another kind of file)")
    p.add_argument("--csv", type=output_dir, metavar="DIR", help="write the tables as CSV files into DIR")
    p.add_argument("--example-fleet", action="store_true", help="print the bundled example fleet file and exit")
    p.set_defaults(func=cmd_cost)


def compute(fleet_path: str | None, results_dir: str):
    """Load, validate, evaluate: (fleet, measured, result, sensitivity)."""
    from .cost import check_finite, evaluate, sensitivity
    from .cost_inputs import measured_costs
    from .fleet import load_fleet

    from .registry import kernels

    fleet = load_fleet(fleet_path, known_backends={k.backend for k in kernels()})
    measured = measured_costs(fleet, results_dir)
    result = evaluate(fleet, measured)
    sens = sensitivity(fleet, measured)
    check_finite(fleet, result, sens)  # never an inf or NaN on the terminal, in a CSV or in the workbook
    return fleet, measured, result, sens


def cmd_cost(args: argparse.Namespace) -> int:
    from .cli import _console
    from .fleet import example_fleet_text

    if args.example_fleet:
        ignored = [flag for flag, given in (("--fleet", args.fleet), ("--xlsx", args.xlsx), ("--csv", args.csv),
                                            ("--results", args.results != "results")) if given]
        if ignored:  # it prints a file and stops: a workbook asked for beside it was silently never written
            raise UsageError(f"--example-fleet prints the example fleet file and does nothing else; "
                             f"drop {', '.join(ignored)} (or, to price it, run cost without --example-fleet)")
        sys.stdout.write(example_fleet_text())
        return 0
    fleet, measured, result, sens = compute(args.fleet, args.results)
    # every output is built before anything is printed or written, and written all or nothing
    files = _outputs(args, fleet, measured, result, sens)
    con = _console()
    for gen in fleet.generations:
        m = measured[gen.name]
        if not gen.borrow_results_from and m.skipped:
            con.print(printable(f"{gen.name}: \"newest\" passed over " + "; ".join(m.skipped)
                                + f"; using {m.source_file}", limit=sys.maxsize), style="yellow", markup=False)
    for t in tables(fleet, measured, result, con.width):
        con.print(t)
    for line in over_capacity(fleet, result):
        con.print(line, style="bold red", markup=False)
    for c in result.comparisons:
        con.print(c.sentence(), style="bold" if c.usd_saved_per_year >= 0 else "bold red", markup=False)
    flagged = sorted({f for s in result.scenarios for g in s.generations for f in g.request.extrapolated})
    if flagged:
        con.print("extrapolated beyond the measured sizes (nearest size's time per byte used): " + "; ".join(flagged),
                  style="yellow", markup=False)
    if files:
        from ._io import atomic_write_many

        for path in atomic_write_many(files):
            con.print(f"wrote {printable(str(path), limit=sys.maxsize)}", markup=False)
    return 0


def _outputs(args: argparse.Namespace, fleet, measured, result, sens) -> list[tuple[str, bytes]]:
    """(path, contents) of the --xlsx workbook and the --csv files, built in memory."""
    files: list[tuple[str, bytes]] = []
    if args.xlsx:
        from .xlsx import export_xlsx

        files.append((args.xlsx, export_xlsx(fleet, measured, result, sens)))
    if args.csv:
        for name, text in csv_texts(fleet, measured, result, sens).items():
            files.append((str(Path(args.csv) / name), text.encode()))
    return files


def over_capacity(fleet, result) -> list[str]:
    """A warning for each scenario and generation whose crypto alone needs more
    servers than the generation has, at the target utilization the model counts
    servers at: its figures then describe a fleet that could not carry the
    traffic within that headroom (shares above 100%, deferrals of years)."""
    def n(x: float) -> str:  # not "needs 1 half servers ... than the 0 it has" for 1.08 and 0.5
        return f"{x:,.0f}" if abs(x) >= 10 else f"{x:.1f}"

    out = []
    util = fleet.economics.target_cpu_utilization
    for s in result.scenarios:
        for g in s.generations:
            have = fleet.generation(g.generation).servers
            if g.servers_for_crypto_servers > have:
                out.append(f"scenario {s.scenario!r} needs {n(g.servers_for_crypto_servers)} {g.generation} servers "
                           f"for crypto alone at peak (at the {util * 100:.4g}% target CPU utilization), more than the "
                           f"{n(have)} it has: this fleet could not carry the traffic within that headroom, and the "
                           "comparisons with it are only arithmetic")
    return out


def _nz(text: str) -> str:
    """A figure that rounds to zero without its minus sign ("-0.0000%" is 0.0000%)."""
    return text[1:] if text.startswith("-") and not any(c in "123456789" for c in text) else text


def _days(d: float) -> str:
    """A deferral in days: under 0.1 with two significant digits (a positive saving read
    "0.0" days, where the sentence says "less than a day")."""
    return f"{d:.2g}" if 0 < abs(d) < 0.05 else _nz(f"{d:,.1f}")


def _usd(x: float) -> str:
    return f"-${-x:,.0f}" if x < 0 else f"${x:,.0f}"


def tables(fleet, measured, result, width: int | None = None):
    """The scenario tables and the comparison table for a console ``width`` wide.
    No figure is ever cut: narrower than a table needs, it is drawn transposed."""
    from .display import fitted_table
    from .report import fmt_time

    out = []
    for s in result.scenarios:
        rows = [[g.generation, fmt_time(g.crypto_seconds_per_request_s), f"{g.cores_busy_cores:,.1f}",
                 f"{g.servers_for_crypto_servers:,.2f}", _usd(g.annual_cost_per_server_usd),
                 _usd(g.crypto_cost_usd_per_year),
                 "ESTIMATE (borrowed)" if g.estimate else measured[g.generation].source_file]
                for g in s.generations]
        rows.append(["total", "", f"{s.cores_busy_cores:,.1f}", f"{s.servers_for_crypto_servers:,.2f}", "",
                     _usd(s.crypto_cost_usd_per_year), ""])
        out.append(fitted_table(
            f"Scenario {s.scenario}: crypto at peak ({fleet.traffic.peak_requests_per_s:,.0f} requests/s)",
            ["generation", "crypto per request", "cores busy", "servers for crypto", "USD/server/year",
             "crypto USD/year", "measurements"], rows, width,
            left=("generation", "measurements"), foldable=("measurements",)))  # the file name folds, never cut
    rows = []
    for c in result.comparisons:
        d = c.purchase_deferral_days
        rows.append([c.scenario + (" [ESTIMATE]" if c.estimate else ""), _nz(f"{c.cores_saved_cores:,.1f}"),
                     _nz(f"{c.servers_saved_servers:,.2f}"), _usd(c.usd_saved_per_year),
                     _nz(f"{c.fleet_share_saved_fraction:.4%}"), "n/a" if d is None else _days(d),
                     _usd(c.npv_usd), _usd(c.engineer_cost_usd), _usd(c.npv_net_of_work_usd),
                     "n/a" if c.payback_months is None else f"{c.payback_months:,.1f}"])
    out.append(fitted_table(
        f"Against the baseline ({fleet.scenarios[0].name}); positive = saved",
        ["scenario", "cores", "servers", "USD/year", "share of fleet", "deferral (days)", "NPV of saving (USD)",
         "cost of work (USD)", "NPV net of work (USD)", "simple payback (months)"], rows, width,
        left=("scenario",), foldable=("scenario",)))
    return out


def csv_tables(fleet, measured, result, sens) -> dict[str, list[list]]:
    """The terminal's tables (and the workbook's inputs) as rows of plain values."""
    from .cost import sensitivity_held

    scen = [["scenario", "generation", "estimate", "capacity_share_fraction", "crypto_seconds_per_request_s",
             "cores_busy_cores", "servers_for_crypto_servers", "annual_cost_per_server_usd", "crypto_cost_usd_per_year"]]
    for s in result.scenarios:
        for g in s.generations:
            scen.append([s.scenario, g.generation, g.estimate, g.capacity_share, g.crypto_seconds_per_request_s,
                         g.cores_busy_cores, g.servers_for_crypto_servers, g.annual_cost_per_server_usd,
                         g.crypto_cost_usd_per_year])
    comp = [["scenario", "baseline", "estimate", "cores_saved_cores", "servers_saved_servers", "usd_saved_per_year",
             "fleet_cores_in_use_at_peak_cores", "fleet_share_saved_fraction", "purchase_deferral_days", "npv_usd",
             "engineer_cost_usd", "npv_net_of_work_usd", "payback_months", "summary"]]
    for c in result.comparisons:
        comp.append([c.scenario, c.baseline, c.estimate, c.cores_saved_cores, c.servers_saved_servers,
                     c.usd_saved_per_year, c.fleet_cores_in_use_at_peak_cores, c.fleet_share_saved_fraction,
                     c.purchase_deferral_days, c.npv_usd, c.engineer_cost_usd, c.npv_net_of_work_usd,
                     c.payback_months, c.sentence()])
    meas = [["generation", "file", "machine", "date", "algorithm", "backend", "operation", "size_bytes", "seconds_per_op"]]
    for gen in fleet.generations:
        if gen.estimate:
            continue  # its lender's rows are the measurements; scenarios.csv flags it as an estimate
        gname, mc = gen.name, measured[gen.name]
        for (alg, backend, op), ser in sorted(mc.series.items()):
            for size, secs in zip(ser.sizes, ser.seconds):
                meas.append([gname, mc.source_file, mc.machine, mc.date, alg, backend, op, size, secs])
        for (alg, backend, op), secs in sorted(mc.per_op.items()):
            meas.append([gname, mc.source_file, mc.machine, mc.date, alg, backend, op, "", secs])
    sen = [["scenario", "input", "usd_saved_per_year_at_minus_20pct", "usd_saved_per_year_at_plus_20pct",
            "npv_usd_at_minus_20pct", "npv_usd_at_plus_20pct", "minus_20pct_held_at", "plus_20pct_held_at"]]
    for sc, rows in sens.items():
        for key, (lo, hi, nlo, nhi) in rows.items():
            held = ["" if v is None else v for v in sensitivity_held(fleet, key)]  # a step past the input's valid range
            sen.append([sc, key, lo, hi, nlo, nhi, *held])
    return {"scenarios.csv": scen, "comparisons.csv": comp, "measurements.csv": meas, "sensitivity.csv": sen}


def csv_texts(fleet, measured, result, sens) -> dict[str, str]:
    """Each CSV file's name and text."""
    out = {}
    for name, rows in csv_tables(fleet, measured, result, sens).items():
        buf = io.StringIO()
        csv.writer(buf).writerows(rows)
        out[name] = buf.getvalue()
    return out
