#!/usr/bin/env bash
# The native extension built with AddressSanitizer + UndefinedBehaviorSanitizer
# (CRYPTOBENCH_SANITIZE=1, see csrc/build.py), run against the vector,
# differential-fuzzing and bad-input tests of the native backends.
#
# The instrumented build goes into a separate directory (build/sanitize/ by
# default, SANITIZE_DIR to change it) that holds a cryptobench package made of
# symlinks to the sources plus the ASan _native extension; PYTHONPATH puts it
# first and `python -P` keeps the checkout's own cryptobench/ (with its
# uninstrumented extension) off sys.path. The installed package is not touched.
#
# A non-ASan python loading an ASan extension needs the ASan runtime first in
# the process: LD_PRELOAD=$(gcc -print-file-name=libasan.so). Python's own
# allocations are not leak-checked (detect_leaks=0); any ASan or UBSan report
# aborts the test process, which fails this script.
#
# Usage: .ci/sanitize.sh [extra pytest args]     (PYTHON=... to pick the interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

if [ -z "${PYTHON:-}" ]; then
    if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
out=${SANITIZE_DIR:-$repo/build/sanitize}
cc=${CC:-gcc}
libasan=$("$cc" -print-file-name=libasan.so)
if [ ! -e "$libasan" ] || [ "$libasan" = libasan.so ]; then
    echo "sanitize: $cc has no libasan.so (install libasan / gcc); cannot run the ASan build" >&2
    exit 1
fi

echo "sanitize: building the ASan+UBSan extension into $out"
start=$SECONDS
CRYPTOBENCH_SANITIZE=1 "$PYTHON" - "$repo" "$out" <<'PY'
import os, shutil, sys
from pathlib import Path

repo, out = Path(sys.argv[1]), Path(sys.argv[2])
pkg = out / "cryptobench"
if pkg.exists():
    shutil.rmtree(pkg)
pkg.mkdir(parents=True)
for p in (repo / "cryptobench").iterdir():
    if p.name.startswith(("_native", "_aead_fast")) or p.name == "__pycache__":
        continue
    (pkg / p.name).symlink_to(p)
(pkg / "kernels").symlink_to(repo / "kernels")  # package_dir maps kernels/ to cryptobench.kernels

# csrc/build.py names sources relative to the checkout and cffi compiles in its
# tmpdir: give the tmpdir its own copy so no object file lands in the checkout.
build = out / "_build"
shutil.rmtree(build / "csrc", ignore_errors=True)
shutil.copytree(repo / "csrc", build / "csrc", ignore=shutil.ignore_patterns("*.o", "__pycache__"))
os.chdir(repo)
sys.path.insert(0, str(repo / "csrc"))
import setuptools  # noqa: F401,E402 - the distutils cffi uses
from distutils.ccompiler import new_compiler  # noqa: E402

# setup.py teaches build_ext that .S (assembly through the C driver) is a
# source; cffi's own compile step needs the same.
_exts = type(new_compiler()).src_extensions
if ".S" not in _exts:
    _exts.append(".S")
import build as cbuild  # noqa: E402

so = Path(cbuild.make_builder().compile(tmpdir=str(build), verbose=False))
shutil.move(str(so), pkg / so.name)
print(f"sanitize: built {pkg / so.name}")

# the CPython-API AEAD module (csrc/_pyapi/), same sanitizer flags
from setuptools import Distribution  # noqa: E402

os.chdir(build)
cmd = Distribution({"ext_modules": [cbuild.fast_extension()]}).get_command_obj("build_ext")
cmd.build_lib, cmd.build_temp = str(out / "_fast_lib"), str(out / "_fast_tmp")
cmd.ensure_finalized()
cmd.run()
for so in Path(cmd.build_lib).glob("cryptobench/_aead_fast*.so"):
    shutil.move(str(so), pkg / so.name)
    print(f"sanitize: built {pkg / so.name}")
PY
echo "sanitize: build took $((SECONDS - start)) s"

export PYTHONPATH="$out${PYTHONPATH:+:$PYTHONPATH}"
export LD_PRELOAD="$libasan${LD_PRELOAD:+:$LD_PRELOAD}"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export CRYPTOBENCH_REQUIRE_NATIVE=1

# Refuse to "pass" on the wrong extension.
"$PYTHON" -P - "$out" <<'PY'
import sys
import cryptobench._native as ext
import cryptobench._aead_fast as fast
from cryptobench import native
info = native.build_info() or ""
if not ext.__file__.startswith(sys.argv[1]) or "-fsanitize=address" not in info:
    sys.exit(f"sanitize: loaded {ext.__file__} built with {info!r}, not the ASan build")
if not fast.__file__.startswith(sys.argv[1]) or "-fsanitize=address" not in fast.build_flags:
    sys.exit(f"sanitize: loaded {fast.__file__} built with {fast.build_flags!r}, not the ASan build")
kernels = [k for k in __import__("cryptobench.registry").registry.kernels() if k.base_backend == "native"]
down = [f"{k.name}: {k.reason}" for k in kernels if not k.available and "CPU lacks" not in k.reason]
if down:
    sys.exit("sanitize: native kernels unavailable in the ASan build:\n  " + "\n  ".join(down))
print(f"sanitize: {ext.__file__} ({info}); {sum(k.available for k in kernels)} native kernels available")
PY

start=$SECONDS
"$PYTHON" -P -m pytest -p no:cacheprovider -q \
    tests/test_kernels.py tests/test_fuzz_differential.py tests/test_bad_input.py tests/test_native_capi.py \
    -k native "$@"
echo "sanitize: tests took $((SECONDS - start)) s"
