"""argparse ``type=`` checks shared by the subcommands.

Each refuses a bad value while the command line is parsed, so the user gets
one line and exit status 2 before any work starts (rather than a traceback
from deep inside after a long verify or run).
"""

from __future__ import annotations

import argparse
import gzip
import math
import os
import re
import zlib
from pathlib import Path


def _number(text: str, ok, wanted: str) -> float:
    """``text`` as a float for which ``ok`` holds, else one line saying what was ``wanted``."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not ok(value):  # NaN fails every check below
        raise argparse.ArgumentTypeError(f"{wanted}, not {text!r}")
    return value


def percent(text: str) -> float:
    """A threshold such as ``5%`` or ``5``: finite and not negative."""
    return _number(text.rstrip("%"), lambda v: 0 <= v < math.inf, "a percentage of 0 or more (e.g. 5%)")


def probability(text: str) -> float:
    """A significance level strictly between 0 and 1."""
    return _number(text, lambda v: 0 < v < 1, "a significance level between 0 and 1, exclusive (e.g. 0.01)")


def seconds(text: str) -> float:
    """A duration in seconds: finite and not negative."""
    return _number(text, lambda v: 0 <= v < math.inf, "a finite number of seconds, 0 or more")


def name_list(text: str) -> str:
    """A comma-separated selection (``-a``, ``-b``, ``--filter``) naming at least one thing.

    An empty or blank value (often an unset shell variable, ``-b "$BACKEND"``)
    would select nothing out and so mean *everything*: a full run where one
    kernel was wanted. It is refused instead.
    """
    if not any(item.strip() for item in text.split(",")):
        raise argparse.ArgumentTypeError(
            f"{text!r} names nothing; give at least one name or pattern, or leave the option out for all")
    return text


def one_name(text: str) -> str:
    """A single backend name (``--reference``): not blank, not a list."""
    if not text.strip() or "," in text:
        raise argparse.ArgumentTypeError(f"one backend name (e.g. openssl), not {text!r}")
    return text.strip()


def _whole(text: str, lo: int) -> int:
    """``text`` as an int of at least ``lo``, else one line saying so."""
    try:
        value = int(text)
    except ValueError:
        value = lo - 1
    if value < lo:
        raise argparse.ArgumentTypeError(f"a whole number of {lo} or more, not {text!r}")
    return value


def positive_int(text: str) -> int:
    """A whole number of 1 or more (a count of calls, processes, ...)."""
    return _whole(text, 1)


def nonnegative_int(text: str) -> int:
    """A whole number of 0 or more (a seed for numpy's default_rng)."""
    return _whole(text, 0)


def _check_creatable(path: Path, text: str) -> None:
    """The nearest existing ancestor of ``path`` is a directory we may create files in."""
    p = path.absolute()
    while not p.exists():
        p = p.parent
    if not p.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: {p} is not a directory")
    if not os.access(p, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{text}: cannot create files in {p} (permission denied)")


def output_file(text: str) -> str:
    """A file to (over)write atomically: not a directory, in a place we can write."""
    path = Path(text)
    if not text:
        raise argparse.ArgumentTypeError("an empty file name")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a directory, not a file name")
    if path.exists() and not path.is_file():  # renaming a file over /dev/null removed the device
        raise argparse.ArgumentTypeError(f"{text} exists and is not a regular file (a device, FIFO or socket)")
    if path.is_symlink() and not path.exists():
        try:
            os.path.realpath(text, strict=True)
        except FileNotFoundError:
            pass  # a dangling link: written through, checked when written
        except OSError:
            raise argparse.ArgumentTypeError(f"{text} is a symbolic link loop") from None
    _check_creatable(path.parent, text)
    return text


def report_file(text: str) -> str:
    """A report, counts or filter file to (over)write: like :func:`output_file`, but
    never over a file of benchmark results (``verify --json results/x.json`` would
    have replaced a run's hours of measurement with a report; only ``run --force``
    replaces results)."""
    text = output_file(text)
    path = Path(text)
    try:
        with path.open("rb") as f:
            head = f.read(64)
        if head[:2] == b"\x1f\x8b":  # results.json.gz, as pyperf reads it
            with gzip.open(path) as f:
                head = f.read(64)
    except (OSError, EOFError, zlib.error):  # missing (the usual case), unreadable, or not gzip after all
        return text
    if re.match(rb'\s*\{\s*"benchmarks"\s*:', head):
        raise argparse.ArgumentTypeError(f"{text} holds benchmark results (a cryptobench run's or pyperf's); "
                                         "not replacing it: choose another name")
    return text


def output_dir(text: str) -> str:
    """A directory to write files into (created if missing)."""
    path = Path(text)
    if not text:
        raise argparse.ArgumentTypeError("an empty directory name")
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} exists and is not a directory")
    _check_creatable(path, text)
    return text


def xlsx_file(text: str) -> str:
    """A workbook to write: named .xlsx, and not an existing file of another kind
    (``--xlsx fleet.toml`` would have replaced the fleet file it was reading)."""
    text = output_file(text)
    path = Path(text)
    if path.suffix.lower() != ".xlsx":
        raise argparse.ArgumentTypeError(f"{text}: name the workbook FILE.xlsx (spreadsheet programs go by the suffix)")
    if path.is_file() and path.stat().st_size:
        try:
            with path.open("rb") as f:
                magic = f.read(4)
        except OSError as exc:
            raise argparse.ArgumentTypeError(f"{text}: cannot read it to check what it is: {exc.strerror}") from None
        if magic != b"PK\x03\x04":
            raise argparse.ArgumentTypeError(f"{text} exists and is not an .xlsx workbook; not replacing it")
    return text
