"""Shared fixtures: every registered kernel, so a backend added later is tested
by registering it; unavailable kernels skip with their reason."""

from __future__ import annotations

import os
import shutil

# Subprocesses started by the tests (python -m cryptobench..., python -c ...)
# must import the installed package, not the checkout they run in: with
# `pip install .` the checkout's cryptobench/ has neither kernels/ mapped in
# nor the built extension. PYTHONSAFEPATH (Python 3.11+) stops Python from
# putting the current directory first on sys.path.
os.environ["PYTHONSAFEPATH"] = "1"
# One console width for every test and every process a test starts. pytest imports readline,
# which sets COLUMNS and LINES in the C environment (not in os.environ) to the terminal's size,
# and children inherit that: their output wrapped at 80 columns with no terminal, at the
# terminal's width on a developer's screen, and, with no COLUMNS at all, at cryptobench's own
# 140 (its width for a pipe), so a phrase a test looked for could be split across lines. A test
# that needs another width sets it.
os.environ["COLUMNS"] = "140"

import pytest

from cryptobench import registry

ALL = registry.kernels()


def kernel_params(pred=lambda k: True):
    """Every kernel matching ``pred`` as a pytest param; unavailable ones skip
    with their reason, and so do kernels that need environment variables this
    process lacks (``openssl-noavx512``): in here they would run other code
    under their name. tests/test_kernel_env.py checks those in a child process."""
    out = []
    for k in ALL:
        if not pred(k):
            continue
        marks = [] if k.available else [pytest.mark.skip(reason=f"{k.name} unavailable: {k.reason}")]
        why = registry.env_mismatch(k)
        if k.available and why:
            marks = [pytest.mark.skip(reason=why)]
        out.append(pytest.param(k, id=k.name, marks=marks))
    return out


def require_tool(name: str) -> str:
    """Path of an external tool; skip locally when absent, fail in CI (CI=true)."""
    path = shutil.which(name)
    if path:
        return path
    msg = f"{name} is not installed (apt-get install {name}); .ci/run installs it"
    if os.environ.get("CI") == "true":
        pytest.fail(msg)
    pytest.skip(msg)


def require_memcheck_header(gcc: str) -> None:
    """valgrind/memcheck.h, for the memcheck constant-time checks: skip locally when the
    compiler cannot find it, fail in CI (CI=true)."""
    import subprocess

    probe = subprocess.run([gcc, "-E", "-x", "c", "-"], input="#include <valgrind/memcheck.h>\n",
                           capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        msg = "valgrind/memcheck.h is missing (it ships with the valgrind package; .ci/run installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)
