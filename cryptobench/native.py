"""Access to the cffi extension ``cryptobench._native`` and the CPU it runs on.

``load()`` never raises: it returns ``(ffi, lib)`` or ``(None, None)`` and
:func:`unavailable_reason` says why. CPU features come from cpuid in C
(csrc/common/cpu.c); without the extension they are read from /proc/cpuinfo
so ``cryptobench list`` can still show them.

``CRYPTOBENCH_NATIVE_DISABLE=vaes,avx2,aesni,adx,...`` removes features from
what the native dispatch may use, so one machine can test every lower path;
the pseudo-feature ``capi`` turns off the CPython-API entry points of
:func:`fast_module` (the AEAD kernels then call C through cffi only).
"""

from __future__ import annotations

import os
import platform
from functools import lru_cache
from typing import Any

#: cryptobench feature name -> (bit in cb_cpu_features, /proc/cpuinfo flag)
FEATURES: dict[str, tuple[int, str]] = {
    "aesni": (1, "aes"),
    "pclmulqdq": (2, "pclmulqdq"),
    "ssse3": (4, "ssse3"),
    "avx2": (8, "avx2"),
    "vaes": (16, "vaes"),
    "vpclmulqdq": (32, "vpclmulqdq"),
    "bmi2": (64, "bmi2"),
    "adx": (128, "adx"),
    "sha": (256, "sha_ni"),
    "avx512f": (512, "avx512f"),
}

DISABLE_ENV = "CRYPTOBENCH_NATIVE_DISABLE"

_error: str | None = None


@lru_cache(maxsize=1)
def load() -> tuple[Any, Any]:
    """``(ffi, lib)`` of the native extension, or ``(None, None)``."""
    global _error
    try:
        from . import _native  # type: ignore[attr-defined]
    except Exception as exc:  # ImportError, or an OSError from the loader
        _error = _not_built_reason() or f"native extension failed to load: {exc}"
        return None, None
    return _native.ffi, _native.lib


def _native_file_present() -> bool:
    """Whether a ``cryptobench._native`` file exists (loadable or not)."""
    import importlib.util

    try:
        return importlib.util.find_spec(f"{__package__}._native") is not None
    except (ImportError, ValueError):
        return True  # cannot tell: report the import error itself


def _build_info_path():
    """``_build_info.json`` beside this module: written by setup.py (the commit built,
    and why a native build failed)."""
    from pathlib import Path

    return Path(__file__).resolve().parent / "_build_info.json"


def _not_built_reason() -> str | None:
    """Why there is no ``cryptobench._native`` file at all (None when there is one):
    the install could not compile it, with setup.py's recorded reason when it left one."""
    import json

    if _native_file_present():
        return None
    why = None
    try:
        why = json.loads(_build_info_path().read_text())["native_build_errors"]["cryptobench._native"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return ("native extension not built when cryptobench was installed"
            + (f" ({why})" if isinstance(why, str) and why else "")
            + "; install gcc or clang, then reinstall cryptobench")


#: CRYPTOBENCH_NATIVE_DISABLE name of the CPython-API AEAD entry points.
CAPI = "capi"


@lru_cache(maxsize=1)
def _import_fast() -> Any:
    try:
        from . import _aead_fast  # type: ignore[attr-defined]
    except Exception:  # not built (failed or unsupported build): cffi only
        return None
    return _aead_fast


def fast_module() -> Any:
    """``cryptobench._aead_fast`` (csrc/_pyapi/aead_fast.c: whole-message AEAD
    calls as CPython methods, for small records), or None when it was not
    built or ``CRYPTOBENCH_NATIVE_DISABLE`` names ``capi``."""
    if CAPI in disabled_features():
        return None
    return _import_fast()


def unavailable_reason() -> str | None:
    """Why the native extension is unavailable, or None when it loaded."""
    ffi, lib = load()
    return None if lib is not None else _error


def has_symbol(name: str) -> bool:
    _, lib = load()
    return lib is not None and hasattr(lib, name)


@lru_cache(maxsize=1)
def detected_features() -> frozenset[str]:
    """Features the CPU has, before CRYPTOBENCH_NATIVE_DISABLE."""
    _, lib = load()
    if lib is not None:
        bits = lib.cb_cpu_features()
        return frozenset(n for n, (bit, _) in FEATURES.items() if bits & bit)
    flags: set[str] = set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    return frozenset(n for n, (_, flag) in FEATURES.items() if flag in flags)


def disabled_features() -> frozenset[str]:
    raw = os.environ.get(DISABLE_ENV, "")
    names = {x.strip().lower() for x in raw.split(",") if x.strip()}
    if "all" in names:
        return frozenset(FEATURES)
    return frozenset(names)


def unknown_disabled() -> list[str]:
    """Names in CRYPTOBENCH_NATIVE_DISABLE that mean nothing (a typo disables nothing)."""
    raw = os.environ.get(DISABLE_ENV, "")
    valid = {*FEATURES, CAPI, "all"}
    return sorted({x.strip().lower() for x in raw.split(",") if x.strip()} - valid)


def features() -> frozenset[str]:
    """Features the native dispatch may use: detected minus disabled."""
    return detected_features() - disabled_features()


def missing(*needed: str) -> str | None:
    """None when every feature in ``needed`` is usable, else a human reason."""
    detected, disabled = detected_features(), disabled_features()
    absent = [n for n in needed if n not in detected]
    if absent:
        from .registry import CPU_LACKS

        return CPU_LACKS + ", ".join(_pretty(n) for n in absent)
    off = [n for n in needed if n in disabled]
    if off:
        return f"disabled by {DISABLE_ENV} ({', '.join(off)})"
    return None


def _pretty(name: str) -> str:
    return {"aesni": "AES-NI", "pclmulqdq": "PCLMULQDQ", "vpclmulqdq": "VPCLMULQDQ"}.get(name, name.upper())


@lru_cache(maxsize=1)
def cpu_model() -> str:
    ffi, lib = load()
    if lib is not None:
        buf = ffi.new("char[64]")
        n = lib.cb_cpu_brand(buf, 64)
        if n > 0:
            return ffi.string(buf).decode(errors="replace").strip()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def build_info() -> str | None:
    ffi, lib = load()
    if lib is None:
        return None
    return ffi.string(lib.cb_build_info()).decode()


def rdtsc() -> int:
    _, lib = load()
    return int(lib.cb_rdtsc()) if lib is not None else 0
