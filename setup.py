"""The native build only; metadata lives in pyproject.toml.

Builds ``cryptobench._native`` with cffi from csrc/build.py, and beside it
``cryptobench._aead_fast`` (csrc/_pyapi/, plain CPython API; csrc/build.py says why). If the build
fails (no C compiler, another architecture), installation still succeeds with a
warning and the native backend reports itself unavailable with the reason;
set CRYPTOBENCH_REQUIRE_NATIVE=1 to make a failed native build fatal.
"""

import os
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py


class OptionalNativeBuild(build_ext):
    def build_extensions(self):
        # hand-written assembly (csrc/*/*.S, preprocessed by the C compiler driver)
        if ".S" not in self.compiler.src_extensions:
            self.compiler.src_extensions.append(".S")
        super().build_extensions()

    def run(self):
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - any build failure
            self._give_up(exc)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001
            self._give_up(exc)

    def _give_up(self, exc):
        if os.environ.get("CRYPTOBENCH_REQUIRE_NATIVE") == "1":
            raise exc
        msg = (
            "\n*** cryptobench: the native extension could not be built "
            f"({type(exc).__name__}: {exc}).\n"
            "*** Installing without it; the native backend will report itself "
            "unavailable. Install gcc (or clang) and reinstall to enable it.\n"
        )
        sys.stderr.write(msg)


def _git_commit():
    """The checkout's commit (with -dirty for uncommitted changes), or None outside a git checkout."""
    import subprocess

    here = Path(__file__).resolve().parent
    if not (here / ".git").exists():
        return None
    try:
        head = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if head.returncode != 0:
        return None
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


class BuildPyWithCommit(build_py):
    """Record the commit being installed in cryptobench/_build_info.json: an installed
    copy has no .git beside it, and results files name the commit they measured."""

    def run(self):
        super().run()
        import json

        target = Path(self.build_lib) / "cryptobench" / "_build_info.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps({"git_commit": _git_commit()}) + "\n")


def _fast_extensions():
    """cryptobench._aead_fast (csrc/build.py's fast_extension); none on Windows, which csrc/build.py refuses."""
    import importlib.util

    path = Path(__file__).resolve().parent / "csrc" / "build.py"
    spec = importlib.util.spec_from_file_location("_cryptobench_csrc_build", path)
    csrc_build = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(csrc_build)
    except SystemExit:  # an unsupported platform: the cffi module reports it too
        return []
    return [csrc_build.fast_extension()]


setup(
    package_dir={"cryptobench": "cryptobench", "cryptobench.kernels": "kernels"},
    cffi_modules=["csrc/build.py:ffibuilder"],
    ext_modules=_fast_extensions(),
    cmdclass={"build_ext": OptionalNativeBuild, "build_py": BuildPyWithCommit},
)
