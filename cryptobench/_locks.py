"""A module-level lock that a child made by ``os.fork()`` gets unheld.

Tables and compiled kernels are built once, on first use, under a module
lock. If another thread holds that lock when the process forks (the pure-Python
ECDSA table takes about 2 s to build), the child inherits it held by a thread
that does not exist there, and its first call waits forever. Each of these
locks is replaced by a fresh one in the child; whatever was being built is
not published until complete, so the child simply builds it again.
"""

from __future__ import annotations

import os
import threading


class ChildSafeLock:
    """``threading.Lock`` (``RLock`` when ``reentrant``), fresh in a forked child.

    For module-level locks only: each registers an at-fork hook that lives as
    long as the process.
    """

    def __init__(self, reentrant: bool = False) -> None:
        self._factory = threading.RLock if reentrant else threading.Lock
        self._lock = self._factory()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._renew)

    def _renew(self) -> None:
        self._lock = self._factory()

    def __enter__(self) -> bool:
        return self._lock.__enter__()

    def __exit__(self, *exc: object) -> None:
        self._lock.__exit__(*exc)
