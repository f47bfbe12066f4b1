"""Module locks that a forked child gets unheld (cryptobench._locks)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading

import pytest

from cryptobench._locks import ChildSafeLock

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def _child_can_take(lock, take) -> bool:
    """Fork while another thread holds ``lock``; whether the child can take it within 2 s."""
    held, release = threading.Event(), threading.Event()

    def hold():
        with lock:
            held.set()
            release.wait()

    t = threading.Thread(target=hold)
    t.start()
    held.wait()
    try:
        pid = os.fork()
        if pid == 0:
            os._exit(0 if take(lock) else 1)
        _, status = os.waitpid(pid, 0)
    finally:
        release.set()
        t.join()
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # fork() with threads running
@pytest.mark.parametrize("reentrant", [False, True])
def test_a_lock_another_thread_held_at_the_fork_is_free_in_the_child(reentrant):
    # the control: a plain lock stays held in the child by a thread that is not there
    assert not _child_can_take(threading.RLock() if reentrant else threading.Lock(),
                               lambda lock: lock.acquire(timeout=2))
    assert _child_can_take(ChildSafeLock(reentrant), lambda lock: lock._lock.acquire(timeout=2))


def test_a_child_forked_while_the_python_ecdsa_table_is_built_signs():
    """The ~2 s table build holds the module lock: a child forked meanwhile waited forever."""
    script = textwrap.dedent("""
        import os, signal, threading, time
        from cryptobench import registry
        k = registry.get("ecdsa-p256-sha256", "python")
        t = threading.Thread(target=lambda: k.impl.private_key(5))
        t.start()
        time.sleep(0.3)
        pid = os.fork()
        if pid == 0:
            signal.alarm(60)
            key = k.impl.private_key(7)
            key.public_key().verify(b"m", key.sign(b"m"))
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        t.join()
        print("signal" if os.WIFSIGNALED(status) else os.WEXITSTATUS(status))
    """)
    p = subprocess.run([sys.executable, "-W", "ignore::DeprecationWarning", "-c", script],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "0", p.stdout + p.stderr
