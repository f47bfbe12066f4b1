"""Child Python processes of the harness: pyperf workers and verification in a
kernel's environment.

Both start ``sys.executable -P -m cryptobench.<module>``: -P never imports
cryptobench from the current directory. Run from a source checkout after
``pip install .``, the checkout's cryptobench/ (without kernels/ mapped in,
without the built extension) would shadow the installed package.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Mapping

#: Seconds a timing worker may run before it is stopped and its kernel reported as an
#: ERROR (run --timeout; 0: no limit). A worker times one kernel's benchmarks; the whole
#: default run, every kernel, took under 3 minutes here (2026-11-28), so a worker still
#: running after ten is stuck (a deadlock, an endless loop), and the run, often a nightly
#: job with a time limit of its own, goes on to the next kernel.
DEFAULT_WORKER_TIMEOUT = 600.0


def python_cmd(module: str, *args: str) -> list[str]:
    """The command line that runs ``python -m module args`` as the harness does."""
    return [sys.executable, "-P", "-m", module, *args]


def child_env(kernel_env: Mapping[str, str] | None = None, **extra: str) -> dict[str, str]:
    """This process's environment, then ``extra``, then the kernel's own
    variables (:attr:`~cryptobench.registry.Kernel.env`), which win: a row
    defined by ``OPENSSL_ia32cap`` runs with its value even when the user's
    environment sets another."""
    env = dict(os.environ)
    env.update(extra)
    env.update(kernel_env or {})
    return env


def die_with_parent() -> None:
    """In the child, before exec: be killed if the parent is (Linux
    PR_SET_PDEATHSIG), so a SIGKILLed run leaves no orphan timing on the machine."""
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
        except (OSError, AttributeError):
            pass
