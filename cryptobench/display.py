"""Rich renderables for the CLI. These build tables; only cli.py prints them."""

from __future__ import annotations

from typing import Iterable

from rich.table import Table
from rich.text import Text

from .registry import Kernel
from .verify import KernelReport


def kernels_table(kernels: Iterable[Kernel]) -> Table:
    t = Table(title="Kernels", title_justify="left", show_lines=False)
    t.add_column("algorithm")
    t.add_column("backend")
    t.add_column("available")
    t.add_column("constant-time")
    t.add_column("path")
    t.add_column("hot paths")
    t.add_column("notes", overflow="fold")
    for k in kernels:
        avail = Text("yes", style="green") if k.available else Text("no", style="red")
        ct = "claimed" if k.constant_time else "no"
        hot = ", ".join(k.hot_paths) if k.hot_paths else "-"
        notes = k.reason if not k.available else k.description
        if k.available and k.lacks:
            notes = (notes + "; " if notes else "") + "lacks " + ", ".join(
                f"{hp} ({why})" if why else hp for hp, why in sorted(k.lacks.items()))
        if k.available and k.env:
            notes = (notes + "; " if notes else "") + "runs with " + " ".join(f"{n}={v}" for n, v in k.env.items())
        t.add_row(k.algorithm, k.backend, avail, ct, k.path or "-", hot, Text(notes))  # reasons are text, not markup
    return t


def _status_text(status: str) -> Text:
    style = {"passed": "green", "failed": "bold red", "unavailable": "yellow", "empty": "yellow"}[status]
    return Text(status.upper(), style=style)


def verify_kernel_table(rep: KernelReport) -> Table:
    title = Text.assemble((rep.name, "bold"), "  ", _status_text(rep.status))
    if rep.path:
        title.append(f"  (path: {rep.path})", style="dim")
    if rep.env:
        where = "in a child process" if rep.in_child else "in this process"
        seen = " ".join(f"{k}={'(unset)' if v is None else v}" for k, v in rep.env.items())
        title.append(f"  (checked {where} with {seen})", style="dim")
    t = Table(title=title, title_justify="left")
    t.add_column("check")
    t.add_column("passed", justify="right")
    t.add_column("failed", justify="right")
    t.add_column("skipped", justify="right")
    t.add_column("notes", overflow="fold")
    for c in rep.checks:
        notes = []
        if c.acceptable:
            notes.append(f"{c.acceptable} acceptable (either outcome allowed)")
        for reason, n in c.skip_reasons.items():
            notes.append(f"skipped {n}: {reason}")
        for f in c.failures:
            notes.append(Text(f"FAIL {f}", style="red").plain)
        failed = Text(str(c.failed), style="bold red" if c.failed else "")
        t.add_row(c.name, str(c.passed), failed, str(c.skipped), "\n".join(notes))
    return t


def verify_summary_table(reports: Iterable[KernelReport]) -> Table:
    t = Table(title="Verification summary", title_justify="left")
    t.add_column("kernel")
    t.add_column("status")
    t.add_column("passed", justify="right")
    t.add_column("failed", justify="right")
    t.add_column("skipped", justify="right")
    t.add_column("reason", overflow="fold")
    for r in reports:
        t.add_row(r.name, _status_text(r.status), str(r.passed), str(r.failed), str(r.skipped), r.reason)
    return t
