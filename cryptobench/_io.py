"""Atomic file writes: a results file is either the old one, the new one, or absent;
a set of files (the cost model's CSVs and workbook) is all written or none."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ._signals import held
from .errors import OutputError


def make_dir(path: str | os.PathLike) -> Path:
    """Create ``path`` and its parents if missing; OutputError if that fails."""
    d = Path(path)
    try:
        d.mkdir(parents=True, exist_ok=True)
    except FileExistsError:  # exist_ok covers a directory only
        raise OutputError(f"cannot create the directory {d}: a file of that name is in the way") from None
    except OSError as exc:
        raise OutputError(f"cannot create the directory {d}: {exc.strerror or exc}") from None
    return d


def _stage(target: Path, data: bytes) -> str:
    """``data`` in a fsynced temporary file beside ``target``; its name."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from None
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes 0600; results are ordinary files
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException as exc:
        _unlink(tmp)
        if isinstance(exc, OSError):
            raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from None
        raise
    return tmp


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def atomic_write_many(files: list[tuple[str | os.PathLike, bytes]]) -> list[Path]:
    """Write a set of files all or nothing (as far as a file system allows).

    Every file is first staged in a fsynced temporary file beside its target
    (creating missing directories); only when all are staged is each renamed
    over its target, with the stop signals held (:func:`._signals.held`) so
    that an interruption lands before or after the renames, not between
    them. When one cannot be staged, the staged ones are removed,
    directories this call created are removed again, no target is touched, and
    OutputError says which file could not be written.
    """
    staged: list[tuple[str, Path]] = []
    created: list[Path] = []
    try:
        for path, data in files:
            target = Path(path)
            if target.is_dir():
                raise OutputError(f"cannot write {target}: Is a directory")
            missing = [d for d in (target.parent, *target.parent.parents) if not d.exists()]
            created.extend(reversed(missing))
            make_dir(target.parent)
            staged.append((_stage(target, data), target))
        with held():  # a stop signal takes effect after the last rename, not between two
            for tmp, target in staged:
                try:
                    os.replace(tmp, target)
                except OSError as exc:
                    raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from None
    except BaseException:
        for tmp, _ in staged:
            _unlink(tmp)
        for d in reversed(created):
            try:
                d.rmdir()
            except OSError:
                pass
        raise
    return [t for _, t in staged]


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path``, fsync, then rename over it.

    OutputError (one line, nothing changed at ``path``) when it cannot be written.
    """
    return atomic_write_many([(path, data)])[0]


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode())
