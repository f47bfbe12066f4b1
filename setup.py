"""The native build only; metadata lives in pyproject.toml.

Builds ``cryptobench._native`` with cffi from csrc/build.py. If the build
fails (no C compiler, another architecture), installation still succeeds with a
warning and the native backend reports itself unavailable with the reason;
set CRYPTOBENCH_REQUIRE_NATIVE=1 to make a failed native build fatal.
"""

import os
import sys

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


setup(
    package_dir={"cryptobench": "cryptobench", "cryptobench.kernels": "kernels"},
    cffi_modules=["csrc/build.py:ffibuilder"],
    cmdclass={"build_ext": OptionalNativeBuild},
)
