"""Text from outside (the environment, an exception's message) made fit for a
terminal line and a results file, whose reader refuses control characters and
machine fields over 4,096 characters."""

from __future__ import annotations

#: results.MAX_MACHINE_TEXT, the reader's bound, is this one
MAX_TEXT = 4096


def printable(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` with each control character (newlines kept) written as its escape
    (``\\x1b``), cut to ``limit`` characters."""
    out = "".join(c if c.isprintable() or c == "\n" else c.encode("unicode_escape").decode("ascii") for c in text)
    return out if len(out) <= limit else out[: limit - 1] + "…"
