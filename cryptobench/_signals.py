"""Holding stop signals over steps that must not be cut in two.

Every command turns Ctrl-C, SIGTERM and SIGHUP into one cleanup (cli.py). Two
moments used to escape it: a signal between the renames of a set of output
files (some new, some old), and one while a child process was starting (the
command never learned of the child, so its cleanup could not stop it). Both
now run under :func:`held`.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import threading

#: The signals a command stops on (SIGHUP where the platform has it).
_STOP = tuple(s for s in (getattr(signal, n, None) for n in ("SIGINT", "SIGTERM", "SIGHUP")) if s is not None)


@contextlib.contextmanager
def held():
    """Within the block, a stop signal is only noted; when the block ends
    (normally or not), the handlers are back and each noted signal is raised
    again, so it takes effect then: the command's cleanup, a
    KeyboardInterrupt, or the default action.

    A signal that is ignored (``nohup``'s SIGHUP) stays ignored, and one whose
    handler was not set from Python is left alone. Only the main thread can
    set handlers; in any other thread the block runs as it is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    noted: list[int] = []

    def note(signum, frame):
        if signum not in noted:
            noted.append(signum)

    old = {}
    try:
        for signum in _STOP:
            handler = signal.getsignal(signum)
            if handler is not None and handler != signal.SIG_IGN:
                old[signum] = signal.signal(signum, note)
        yield
    finally:
        for signum, handler in old.items():
            signal.signal(signum, handler)
        for signum in noted:
            signal.raise_signal(signum)  # runs the handler now; a KeyboardInterrupt goes on from here


def popen_held(*args, **kwargs) -> subprocess.Popen:
    """``subprocess.Popen(*args, **kwargs)`` with the stop signals held while
    the child starts. A signal in that moment then stops the command with the
    child known: this kills and reaps it, closes its pipes and lets the
    signal's exception go on, as if it had come just before the start."""
    proc = None
    try:
        with held():
            proc = subprocess.Popen(*args, **kwargs)
    except BaseException:
        if proc is not None:
            proc.kill()
            proc.wait()
            for f in (proc.stdin, proc.stdout, proc.stderr):
                if f is not None:
                    f.close()
        raise
    return proc
