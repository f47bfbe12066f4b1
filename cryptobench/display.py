"""Rich renderables for the CLI. These build tables; only cli.py prints them."""

from __future__ import annotations

from typing import Iterable

from rich.table import Table
from rich.text import Text

from .registry import Kernel
from .verify import KernelReport


def _kernel_notes(k: Kernel) -> str:
    notes = k.reason if not k.available else k.description
    if k.available and k.lacks:
        notes = (notes + "; " if notes else "") + "lacks " + ", ".join(
            f"{hp} ({why})" if why else hp for hp, why in sorted(k.lacks.items()))
    if k.available and k.env:
        notes = (notes + "; " if notes else "") + "runs with " + " ".join(f"{n}={v}" for n, v in k.env.items())
    return notes


#: The narrowest the wide layout's last two columns may be before the notes move under the table.
_MIN_HOT, _MIN_NOTES = 20, 36


def kernels_table(kernels: Iterable[Kernel], width: int | None = None) -> list:
    """``cryptobench list`` for a console ``width`` columns wide (None: as wide as needed).

    Wide: one row per kernel with its hot paths and notes. Narrower than that
    needs (the notes are prose; at 80 columns they folded into four-letter
    strips, 1,151 lines), the table keeps the columns one scans and types
    (algorithm and backend never cut) and the hot paths and notes follow it,
    one paragraph per kernel. Returns the renderables to print, in order.
    """
    from rich.cells import cell_len
    from rich.console import Group
    from rich.padding import Padding

    kernels = list(kernels)
    cells = [(k.algorithm, k.backend, k.available, "claimed" if k.constant_time else "no", k.path or "-",
              ", ".join(k.hot_paths) if k.hot_paths else "-", _kernel_notes(k)) for k in kernels]

    def w(i: int, header: str) -> int:
        return max([cell_len(header), *(cell_len(c[i]) for c in cells)])

    table_w = {"algorithm": w(0, "algorithm"), "backend": w(1, "backend"), "available": len("available"),
               "constant-time": len("constant-time"), "path": w(4, "path")}

    def fits(cols: int, extra: int = 0) -> bool:  # a rule and two spaces of padding per column, and the edge
        return width is None or sum(list(table_w.values())[:cols]) + extra + 3 * cols + 1 <= width

    wide = fits(7, _MIN_HOT + _MIN_NOTES)
    shown = 7 if wide else 5 if fits(5) else 4  # the path moves under the table before anything folds
    t = Table(title="Kernels", title_justify="left", show_lines=False)
    for col in list(table_w)[:min(shown, 5)]:
        if col in ("algorithm", "backend"):  # what one types after -a and -b: never cut
            t.add_column(col, no_wrap=True, min_width=table_w[col])
        else:  # narrower than even these four: fold rather than cut
            t.add_column(col, overflow="fold")
    if wide:
        t.add_column("hot paths", overflow="fold")
        t.add_column("notes", overflow="fold")
    for alg, backend, avail, ct, path, hot, notes in cells:
        # every cell is text, not markup: an out-of-tree backend's path or reason may hold '[...]'
        row = [alg, backend, Text("yes", style="green") if avail else Text("no", style="red"), ct, Text(path)]
        row += [Text(hot), Text(notes)] if wide else []
        t.add_row(*row[:shown])
    if wide:
        return [t]
    paragraphs = []
    for alg, backend, avail, _, path, hot, notes in cells:
        parts = [] if shown == 5 else [f"path: {path}"]
        parts += [f"hot paths: {hot}"] if avail else []
        parts += [notes] if notes else []
        paragraphs += [Text(f"{alg}/{backend}", style="bold"),
                       Padding(Text("; ".join(parts), overflow="fold"), (0, 0, 0, 4), expand=False)]
    what = "" if shown == 5 else "its code path, "
    return [t, Text(f"Per kernel: {what}its hot paths and how it works, or why it is unavailable:"),
            Group(*paragraphs)]


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
