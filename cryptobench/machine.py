"""What machine and software a run measured: recorded with every results file."""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import time
from functools import lru_cache
from importlib import metadata as _md
from pathlib import Path
from typing import Any

from . import native
from ._text import printable


@lru_cache(maxsize=1)
def tsc_mhz() -> float | None:
    """TSC frequency measured against the monotonic clock (about 0.1 s).

    These are *TSC* cycles: the reference-rate counter, not core cycles (the
    core may run faster or slower than the TSC under turbo or power limits).
    None when the native extension (rdtsc) is unavailable.
    """
    _, lib = native.load()
    if lib is None or not lib.cb_cpu_is_x86():
        return None
    rates = []
    for _ in range(3):
        t0, c0 = time.perf_counter_ns(), lib.cb_rdtsc_ordered()
        time.sleep(0.03)
        t1, c1 = time.perf_counter_ns(), lib.cb_rdtsc_ordered()
        rates.append((c1 - c0) / ((t1 - t0) / 1000.0))
    rates.sort()
    return round(rates[1], 1) if rates[1] > 0 else None


def _version(dist: str) -> str | None:
    try:
        return _md.version(dist)
    except _md.PackageNotFoundError:
        return None


def git_commit() -> str | None:
    """The project's git commit: the checkout's when running from one (an
    editable install), else the one recorded when this copy was built from a
    checkout (``_build_info.json``, written by setup.py); None if neither."""
    here = Path(__file__).resolve().parent.parent
    if not (here / ".git").exists():
        try:
            return json.loads((Path(__file__).resolve().parent / "_build_info.json").read_text()).get("git_commit")
        except (OSError, ValueError, AttributeError):
            return None
    try:
        out = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
        dirty = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    commit = out.stdout.strip()
    return commit + ("-dirty" if dirty.stdout.strip() else "")


def perf_counters_available() -> bool:
    """Whether hardware performance counters can be read (perf_event_paranoid and a PMU)."""
    return Path("/sys/bus/event_source/devices/cpu/events").exists() or Path(
        "/sys/bus/event_source/devices/cpu_core"
    ).exists()


#: OpenSSL's CPU capability override, read when libcrypto loads.
IA32CAP_ENV = "OPENSSL_ia32cap"


def describe() -> dict[str, Any]:
    """Machine and software metadata for a results file (plain JSON types).

    ``openssl_ia32cap`` is present when the environment sets OPENSSL_ia32cap
    (even to the empty string, which turns off every CPU extension): it
    changes every openssl figure of the run. Kernels that set it themselves
    (``openssl-noavx512``) record their own value in the run's kernel section.
    """
    try:
        from cryptography.hazmat.backends.openssl import backend as _ossl

        openssl = _ossl.openssl_version_text()
    except Exception:  # noqa: BLE001
        openssl = None
    info = {
        "host": socket.gethostname(),
        "cpu_model": native.cpu_model(),
        "cpu_features": sorted(native.detected_features()),
        "cpu_features_disabled": sorted(native.disabled_features()),
        "cpu_count": os.cpu_count(),
        "tsc_mhz": tsc_mhz(),
        "cycles": "TSC cycles (reference rate, not core cycles)",
        "perf_counters": perf_counters_available(),
        "os": f"{platform.system()} {platform.release()}",
        "machine": platform.machine(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "versions": {
            name: _version(name)
            for name in ("cryptobench", "cryptography", "cffi", "pyperf", "numba", "llvmlite", "numpy", "rich")
        },
        "openssl": openssl,
        "native_build": native.build_info(),
        "native_unavailable": native.unavailable_reason(),
        # how the native AEADs' encrypt/decrypt reach C: the CPython-API
        # module, or cffi when it is not built or CRYPTOBENCH_NATIVE_DISABLE has capi
        "native_aead_call": "capi" if native.fast_module() is not None else "cffi",
        "git_commit": git_commit(),
    }
    if IA32CAP_ENV in os.environ:
        # escaped and cut as need be: the results file's reader refuses control characters and long text
        info["openssl_ia32cap"] = printable(os.environ[IA32CAP_ENV])
    return info
