"""Rich renderables for the CLI. These build tables; only cli.py prints them."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Iterable

from rich.table import Table
from rich.text import Text

from ._text import printable

if TYPE_CHECKING:  # annotations only: report.py imports literal() without loading verify
    from .registry import Kernel
    from .verify import KernelReport


def literal(value: object, style: str = "") -> Text:
    """``value`` as text shown exactly as it is, for a cell, title or caption.

    Text from a file (a benchmark or kernel name, a code path, a reason, a
    machine field) must not go to rich as a ``str``: rich reads a ``str`` as
    console markup, so ``[/x]`` in it raised MarkupError (a traceback, exit 1,
    which ``gate`` and ``compare`` mean as "a regression") and ``[avx512]``
    vanished from ``libcrypto[avx512] path``. Control characters (an escape
    sequence in a file's name) are shown as escapes. None is an empty cell."""
    return Text("" if value is None else printable(str(value), limit=sys.maxsize), style=style)


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

    def fits(cols: int, extra: int = 0) -> bool:
        return width is None or _table_width(list(table_w.values())[:cols]) + extra <= width

    wide = fits(7, _MIN_HOT + _MIN_NOTES)
    # the path moves under the table before anything folds; narrower, whether it is available and
    # claims constant time (at 40-54 columns those two columns were drawn empty); narrower still
    # (algorithm and backend side by side do not fit) there is no table, only the paragraphs
    shown = 7 if wide else 5 if fits(5) else 4 if fits(4) else 2 if fits(2) else 0
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
    for alg, backend, avail, ct, path, hot, notes in cells:
        parts = [] if shown > 2 else [f"available: {'yes' if avail else 'no'}", f"constant-time: {ct}"]
        parts += [] if shown == 5 else [f"path: {path}"]
        parts += [f"hot paths: {hot}"] if avail else []
        parts += [notes] if notes else []
        paragraphs += [Text(f"{alg}/{backend}", style="bold"),
                       Padding(Text("; ".join(parts), overflow="fold"), (0, 0, 0, 4), expand=False)]
    what = "" if shown == 5 else "its code path, " if shown == 4 else "whether it is available and claims constant time, its code path, "
    head = Text(f"Per kernel: {what}its hot paths and how it works, or why it is unavailable:")
    return ([t] if shown else [Text("Kernels", style="table.title")]) + [head, Group(*paragraphs)]


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
    t.add_column("check", no_wrap=True)
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
            notes.append(f"FAIL {f}")
        failed = Text(str(c.failed), style="bold red" if c.failed else "")
        # a check's name, skip reasons and failures quote vector files and exceptions: text, not markup
        t.add_row(literal(c.name), str(c.passed), failed, str(c.skipped), literal("\n".join(notes)))
    return t


def verify_summary_table(reports: Iterable[KernelReport]) -> Table:
    t = Table(title="Verification summary", title_justify="left")
    t.add_column("kernel", no_wrap=True)  # the name to type after -a and -b: never cut
    t.add_column("status")
    t.add_column("passed", justify="right")
    t.add_column("failed", justify="right")
    t.add_column("skipped", justify="right")
    t.add_column("reason", overflow="fold")
    for r in reports:
        t.add_row(literal(r.name), _status_text(r.status), str(r.passed), str(r.failed), str(r.skipped),
                  literal(r.reason))
    return t


def _longest(s: str, by_word: bool) -> int:
    """The widest word (wrapping at spaces) or line of ``s``, in terminal cells."""
    from rich.cells import cell_len

    parts = s.split() if by_word else s.splitlines()
    return max((cell_len(p) for p in parts), default=0)


def _table_width(widths: list[int]) -> int:
    """A table's width for these column widths: a rule and two spaces of padding per column, and the edge."""
    return sum(widths) + 3 * len(widths) + 1


def _narrow(widths: list[int], floors: list[int], width: int | None) -> list[int]:
    """Column widths narrowed one cell at a time, the widest above its floor first, until the
    table fits ``width`` or every column is at its floor."""
    w = list(widths)
    while width is not None and _table_width(w) > width:
        i = max(range(len(w)), key=lambda j: w[j] - floors[j])
        if w[i] <= floors[i]:
            break
        w[i] -= 1
    return w


def fitted_table(title: str, headers: list[str], rows: list[list[str]], width: int | None, *,
                 left: tuple[str, ...] = (), foldable: tuple[str, ...] = (), fold_min: int = 12) -> Table:
    """A table of text cells for a console ``width`` columns wide that never cuts a cell.

    Figures and names are whole or the table is not drawn that way (a dollar
    figure cut to "$4,075…" reads as a number): headers may wrap at spaces,
    only the ``foldable`` columns (file names) may fold, down to ``fold_min``.
    Tried in turn: as given; transposed (a row per header, a column per row,
    the first column's cells as headers: the shape of a spreadsheet); and
    one column of labels and one of values, a section per row.
    ``left`` names the left-justified columns (the rest are figures).
    """
    from rich.cells import cell_len

    def need(cells: list[str], header: str, fold: bool) -> int:
        whole = max([_longest(header, True), *(cell_len(c) for c in cells)])
        return min(whole, fold_min) if fold else whole

    def fits(mins: list[int]) -> bool:
        return width is None or _table_width(mins) <= width

    cols = list(zip(*rows)) if rows else [() for _ in headers]
    mins = [need(list(c), h, h in foldable) for c, h in zip(cols, headers)]
    if fits(mins):
        natural = [max([cell_len(h), *(cell_len(x) for x in c)]) for c, h in zip(cols, headers)]
        t = Table(title=title, title_justify="left")
        for h, w in zip(headers, _narrow(natural, mins, width)):
            t.add_column(h, justify="left" if h in left else "right", overflow="fold", width=w)
        for r in rows:
            t.add_row(*(Text(x) for x in r))
        return t
    # transposed: the first column's cells head the columns; the other headers label the rows
    labels, body = headers[1:], [r[1:] for r in rows]
    mins = [max(_longest(h, True) for h in labels)] + [need([x for x, h in zip(b, labels) if h not in foldable], r[0], False)
                                              for r, b in zip(rows, body)]
    natural = [max(cell_len(h) for h in labels)] + [max([cell_len(r[0]), *(cell_len(x) for x in b)])
                                                    for r, b in zip(rows, body)]
    if fits(mins):
        t = Table(title=title, title_justify="left")
        widths = _narrow(natural, mins, width)
        t.add_column(headers[0], justify="left", overflow="fold", width=widths[0])
        for r, w in zip(rows, widths[1:]):
            t.add_column(Text(r[0]), justify="right", overflow="fold", width=w)  # a name: text, not markup
        for i, h in enumerate(labels):
            t.add_row(Text(h), *(Text(b[i], justify="left" if h in left else "right") for b in body))
        return t
    # narrower still: one column of labels and one of values, a section per row (rich folds
    # whatever must fold when even this does not fit)
    t = Table(title=title, title_justify="left")
    t.add_column(headers[0], justify="left", overflow="fold")
    t.add_column("", justify="right", overflow="fold")
    for n, (r, b) in enumerate(zip(rows, body)):
        if n:
            t.add_section()
        t.add_row(Text(r[0], style="bold"), "")
        for h, x in zip(labels, b):
            t.add_row(Text(h), Text(x, justify="left" if h in left else "right"))
    return t


def _plain(cell) -> str:
    if isinstance(cell, Text):
        return cell.plain
    if isinstance(cell, str):
        return Text.from_markup(cell).plain
    return ""


def fit_to_width(table: Table, width: int | None, keep: int | None = None, fold_min: int = 8) -> list:
    """``table`` as one or more tables that fit ``width`` columns without cutting a cell.

    rich shrinks a table that is too wide by cutting cells ("12.…" for 12,800
    MB/s); here a column that may wrap wraps at spaces and never cuts a word,
    one that folds (code paths) folds down to ``fold_min``, and one that may
    not wrap (the backend) stays whole.
    When even that is too wide, the columns are split over several tables,
    each repeating the first ``keep`` columns (the backend), the later ones
    titled "(continued)" (a column with every cell empty is left out
    first); narrower still, each row becomes a record of header and value
    lines. ``keep`` defaults to the leading columns that may
    not wrap (the names that identify a row), at least one.
    """
    from dataclasses import replace

    if width is None or not table.columns:
        return [table]
    if keep is None:
        keep = max(1, next((i for i, c in enumerate(table.columns) if not c.no_wrap), len(table.columns)))

    longest = _longest
    cells = [[_plain(c) for c in col.cells] for col in table.columns]
    natural, headed, mins = [], [], []  # widths: as wide as needed; with the header wrapped; the least
    for col, cs in zip(table.columns, cells):
        header = _plain(col.header)
        whole = max([longest(header, True), *(longest(c, True) for c in cs)])  # the longest word
        content = max([longest(header, True), *(longest(c, False) for c in cs), col.min_width or 0])
        natural.append(max(content, longest(header, False)))
        headed.append(content)
        if col.no_wrap:  # never cut, never wrapped (the backend)
            mins.append(max([longest(header, True), *(longest(c, False) for c in cs)]))  # no rows: the header
        elif col.overflow == "fold":  # code paths: fold anywhere
            mins.append(max(longest(header, True), min(whole, fold_min)))
        else:  # wraps at spaces, so a word is never cut
            mins.append(whole)

    def total(idx: list[int], w: list[int]) -> int:
        return _table_width([w[i] for i in idx])

    groups: list[list[int]] = []
    head = list(range(min(keep, len(mins))))
    rest = list(range(len(head), len(mins)))
    if total(head + rest, mins) > width:  # too wide: a column with no cell to show goes first
        rest = [i for i in rest if any(c.strip() for c in cells[i])] or rest
    group = list(head)
    for i in rest:
        if len(group) > len(head) and total(group + [i], mins) > width:
            groups.append(group)
            group = list(head)
        group.append(i)
    groups.append(group)

    if any(total(idx, mins) > width for idx in groups):
        return [_records(table, keep)]  # not even the key and one column side by side: one record per row
    out = []
    for n, idx in enumerate(groups):
        # wrap headers before folding or wrapping any cell
        w = _narrow(_narrow([natural[i] for i in idx], [headed[i] for i in idx], width), [mins[i] for i in idx], width)
        title = table.title if n == 0 or not table.title else _continued(table.title)
        t = Table(title=title, title_justify=table.title_justify, show_lines=table.show_lines, box=table.box,
                  caption=table.caption if n == len(groups) - 1 else None)
        t.columns = [replace(table.columns[i], width=wi, min_width=None, no_wrap=False, overflow="fold",
                             _index=k, _cells=list(table.columns[i].cells)) for k, (i, wi) in enumerate(zip(idx, w))]
        t.rows = list(table.rows)
        out.append(t)
    return out


def _continued(title) -> Text:
    """The title of a table's later part: ``title``'s text and "(continued)", styled as rich
    styles a str title. As a str it was parsed as markup again once its markup had been
    stripped, so a Text title holding ``[/x]`` (a kernel's code path) raised MarkupError."""
    return Text(f"{_plain(title)} (continued)", style="table.title")


def _records(table: Table, keep: int):
    """``table`` as one record per row: its first ``keep`` cells on a line, then "header: value" lines."""
    from rich.console import Group

    lines = [Text(_plain(table.title), style="italic")] if table.title else []
    cols = [list(c.cells) for c in table.columns]
    for r in range(table.row_count):
        lines.append(Text(" ".join(_plain(cols[i][r]) for i in range(min(keep, len(cols)))), style="bold"))
        for i in range(keep, len(cols)):
            lines.append(Text(f"  {_plain(table.columns[i].header)}: ") + Text(_plain(cols[i][r])))
    if table.caption:
        lines.append(Text(_plain(table.caption), style="dim"))
    return Group(*lines)
