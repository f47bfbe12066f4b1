"""Atomic file writes: a results file is either the old one, the new one, or absent;
a set of files (the cost model's CSVs and workbook) is all written or none."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ._signals import held
from .errors import OutputError


def _in_the_way(d: Path) -> str:
    """What stops ``d`` being made: the first of it and its parents that is there and is not a
    directory. A dangling symbolic link was "a file of that name is in the way", where no file is."""
    for p in (d, *d.parents):
        if not os.path.lexists(p) or p.is_dir():
            continue
        name = "it" if p == d else str(p)
        if p.is_symlink():
            try:
                os.stat(p)
            except FileNotFoundError:
                return f"{name} is a symbolic link to {os.readlink(p)}, which does not exist"
            except OSError:
                return f"{name} is a symbolic link loop"
        return "a file of that name is in the way" if p == d else f"{p} is a file, not a directory"
    return "a file is in the way"


def make_dir(path: str | os.PathLike) -> Path:
    """Create ``path`` and its parents if missing; OutputError if that fails."""
    d = Path(path)
    try:
        d.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):  # d or a parent is something other than a directory
        raise OutputError(f"cannot create the directory {d}: {_in_the_way(d)}") from None
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

    A rename can fail after others succeeded (a file someone else owns in a
    sticky directory such as /tmp, an immutable file). So each existing target
    is first hard-linked to a hidden backup beside it; when a rename fails, the
    targets already replaced get their old contents back (and new ones are
    removed). A target that cannot be linked (on a file system without hard
    links, or the very file a sticky directory protects) is renamed last, where
    its failure still leaves every other target as it was.

    A symbolic link is written through: its target gets the new contents (the
    link itself stayed in place and pointed at the old ones when the rename
    replaced the link). An existing target that is not a regular file (a
    device such as /dev/null, a FIFO, a socket) is refused: renaming a new file
    over it removed the device. The paths given are returned.
    """
    staged: list[tuple[str, Path]] = []
    created: list[Path] = []
    try:
        for path, data in files:
            target = _through_links(path)
            if target.is_dir():
                raise OutputError(f"cannot write {path}: Is a directory")
            if target.exists() and not target.is_file():
                raise OutputError(f"cannot write {path}: it is not a regular file (a device, FIFO or socket), "
                                  "and a new file renamed over it would replace it")
            missing = [d for d in (target.parent, *target.parent.parents) if not d.exists()]
            created.extend(reversed(missing))
            make_dir(target.parent)
            staged.append((_stage(target, data), target))
        with held():  # a stop signal takes effect after the last rename, not between two
            _replace_all(staged)
    except BaseException:
        for tmp, _ in staged:
            _unlink(tmp)
        for d in reversed(created):
            try:
                d.rmdir()
            except OSError:
                pass
        raise
    return [Path(path) for path, _ in files]


def _through_links(path: str | os.PathLike) -> Path:
    """``path``, or the file a symbolic link there names. A loop, or a link into a
    directory that does not exist (a mount point not mounted), is an OutputError: the
    rename replaced a looping link with a file, and the directories were made."""
    if not os.path.islink(path):
        return Path(path)
    try:
        target = Path(os.path.realpath(path, strict=True))
    except FileNotFoundError:  # a dangling link: its target may be new, its directory must not be
        target = Path(os.path.realpath(path))
        if not target.parent.is_dir():
            raise OutputError(f"cannot write {path}: it is a symbolic link to {target}, "
                              f"and {target.parent} is not a directory") from None
    except OSError as exc:  # ELOOP
        raise OutputError(f"cannot write {path}: {exc.strerror or exc} (a symbolic link loop)") from None
    return target


_NEW = "new"  # a target that did not exist: undone by removing it
_UNSAVED = "unsaved"  # an existing target that could not be linked: cannot be undone


def _backup(target: Path) -> str:
    """A hard link to ``target`` under a hidden name beside it (not ``*.json``, so
    no directory scan reads it); _NEW or _UNSAVED when there is nothing to link or it cannot be."""
    if not os.path.lexists(target):
        return _NEW
    for _ in range(20):
        name = os.path.join(target.parent, f".{target.name}.{os.urandom(4).hex()}.old")
        try:
            os.link(target, name, follow_symlinks=False)
            return name
        except FileExistsError:
            continue
        except OSError:
            break
    return _UNSAVED


def _replace_all(staged: list[tuple[str, Path]]) -> None:
    """Rename each staged file over its target, undoing the done ones when one fails."""
    # one file needs no backup: if its rename fails, nothing was replaced
    saved = [(tmp, target, _backup(target) if len(staged) > 1 else _UNSAVED) for tmp, target in staged]
    saved.sort(key=lambda item: item[2] == _UNSAVED)  # those that cannot be undone last
    done: list[tuple[Path, str]] = []
    try:
        for tmp, target, backup in saved:
            try:
                os.replace(tmp, target)
            except OSError as exc:
                raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from None
            done.append((target, backup))
    except BaseException:
        for target, backup in reversed(done):
            if backup == _NEW:
                _unlink(str(target))
            elif backup != _UNSAVED:
                try:
                    os.replace(backup, target)
                except OSError:
                    pass
        raise
    finally:
        for _, _, backup in saved:
            if backup not in (_NEW, _UNSAVED):
                _unlink(backup)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path``, fsync, then rename over it.

    OutputError (one line, nothing changed at ``path``) when it cannot be written.
    """
    return atomic_write_many([(path, data)])[0]


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode())
