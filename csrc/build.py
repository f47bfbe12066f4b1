"""The single cffi builder for ``cryptobench._native`` (API mode, out of line).

Every folder under csrc/ (common/ first) contributes its sources: all ``*.c``
and ``*.S`` files, and the declarations found between ``CFFI_BEGIN`` and
``CFFI_END`` in its ``*.h`` files (one source of truth per entry point, as
pyca/cryptography's build_padding.py reads padding.h). A new primitive only
adds a folder.

Environment:
  CRYPTOBENCH_SANITIZE=1   build with ASan + UBSan (-fsanitize=address,undefined)
  CRYPTOBENCH_CFLAGS       extra compiler flags, appended
  CRYPTOBENCH_NATIVE_ONLY  comma-separated folders to build (development aid)

A second, small extension, ``cryptobench._aead_fast`` (:func:`fast_extension`),
is plain CPython C API: the whole-message AEAD calls as METH_FASTCALL methods,
because at 16-64 bytes cffi's argument conversion costs more than the
cryptography (csrc/_pyapi/aead_fast.c says why). It compiles the same AEAD
sources again with the same flags. Folders whose name starts with ``_`` hold
such non-cffi code and are not read for cffi declarations.

Per-function ``__attribute__((target(...)))`` selects AES-NI, AVX2, VAES...
inside the code, so the module is built for baseline x86-64 and dispatches at
run time from cpuid; no -march=native.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent
MODULE = "cryptobench._native"
_BLOCK = re.compile(r"/\*\s*CFFI_BEGIN\s*\*/(.*?)/\*\s*CFFI_END\s*\*/", re.S)


def folders() -> list[Path]:
    only = [f for f in os.environ.get("CRYPTOBENCH_NATIVE_ONLY", "").split(",") if f]
    found = sorted(p for p in HERE.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    found.sort(key=lambda p: (p.name != "common", p.name))
    if only:
        found = [p for p in found if p.name == "common" or p.name in only]
    return found


def declarations(dirs: list[Path]) -> str:
    """The cdef text: every CFFI_BEGIN..CFFI_END block of every header."""
    parts = []
    for d in dirs:
        for h in sorted(d.glob("*.h")):
            for block in _BLOCK.findall(h.read_text()):
                parts.append(f"/* {h.relative_to(HERE)} */\n{block.strip()}\n")
    return "\n".join(parts)


def sources(dirs: list[Path]) -> list[str]:
    out: list[str] = []
    for d in dirs:
        out += [str(p.relative_to(HERE.parent)) for p in sorted(d.glob("*.c"))]
        out += [str(p.relative_to(HERE.parent)) for p in sorted(d.glob("*.S"))]
    return out


def compile_flags() -> tuple[list[str], list[str]]:
    cflags = ["-O3", "-std=gnu11", "-fno-strict-aliasing", "-Wall", "-Wno-unused-function"]
    ldflags: list[str] = []
    if os.environ.get("CRYPTOBENCH_SANITIZE") == "1":
        san = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=undefined"]
        cflags = [f for f in cflags if f != "-O3"] + ["-O1", "-g"] + san
        ldflags += san
    extra = os.environ.get("CRYPTOBENCH_CFLAGS", "").split()
    cflags += extra
    return cflags, ldflags


def make_builder(module: str = MODULE) -> FFI:
    dirs = folders()
    ffi = FFI()
    ffi.cdef(declarations(dirs))
    cflags, ldflags = compile_flags()
    shown = " ".join(cflags).replace('"', "'")
    includes = "\n".join(f'#include "{h.name}"' for d in dirs for h in sorted(d.glob("*.h")))
    ffi.set_source(
        module,
        includes,
        sources=sources(dirs),
        include_dirs=[str(d) for d in dirs],
        extra_compile_args=cflags,
        extra_link_args=ldflags,
        define_macros=[("CB_BUILD_FLAGS", f'"{shown}"')],
    )
    return ffi


#: The non-cffi module and the csrc/ folders it compiles (besides csrc/_pyapi/).
FAST_MODULE = "cryptobench._aead_fast"
FAST_FOLDERS = ("common", "aes_gcm", "chacha20_poly1305")


def fast_extension(module: str = FAST_MODULE):
    """The setuptools Extension of ``cryptobench._aead_fast`` (paths relative to the checkout)."""
    from setuptools import Extension

    dirs = [HERE / f for f in FAST_FOLDERS]
    cflags, ldflags = compile_flags()
    shown = " ".join(cflags).replace('"', "'")
    return Extension(
        module,
        sources=["csrc/_pyapi/aead_fast.c"] + [s for s in sources(dirs) if not s.endswith(".S")],
        include_dirs=[str(d) for d in dirs],
        extra_compile_args=cflags + ["-fvisibility=hidden"],
        extra_link_args=ldflags,
        define_macros=[("CB_BUILD_FLAGS", f'"{shown}"')],
    )


if sys.platform == "win32":  # pragma: no cover - not a supported target
    raise SystemExit("cryptobench's native build supports Linux and macOS only")

ffibuilder = make_builder()

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
