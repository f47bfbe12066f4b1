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
    cmdclass={"build_ext": OptionalNativeBuild},
)
