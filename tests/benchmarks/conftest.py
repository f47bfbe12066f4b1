"""The pytest-benchmark suite is not part of the default test run.

`pytest` (testpaths = tests) would otherwise collect this folder; every file
here is ignored unless the run asks for benchmarks:

    pytest tests/benchmarks --benchmark-only            # what the nightly workflow runs
    CRYPTOBENCH_BENCHMARKS=1 pytest tests/benchmarks     # also enables it

Ignoring at collection (not skipping) keeps the default run from importing
anything here. The folder is a package (``__init__.py``) so that this file is
imported as ``benchmarks.conftest``: without it, pytest would import it as a
second top-level ``conftest`` and ``from conftest import ...`` in tests/ would
find the wrong one.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).parent
ENV = "CRYPTOBENCH_BENCHMARKS"


def _enabled(config) -> bool:
    if os.environ.get(ENV, "") not in ("", "0"):
        return True
    try:
        return bool(config.getoption("benchmark_only"))
    except ValueError:  # pytest-benchmark not installed
        return False


def pytest_ignore_collect(collection_path, config):
    if collection_path == HERE / "conftest.py":
        return None
    if HERE in collection_path.parents and not _enabled(config):
        return True
    return None


# slow_kernel is imported by the suite and by tests/test_gate.py
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
