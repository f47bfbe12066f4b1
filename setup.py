"""The native build only; metadata lives in pyproject.toml.

Builds ``cryptobench._native`` with cffi from csrc/build.py, and beside it
``cryptobench._aead_fast`` (csrc/_pyapi/, plain CPython API; csrc/build.py says why). If the build
fails (no C compiler, another architecture), installation still succeeds with a
warning (pip shows a build's output only with -v) and the native backend
reports itself unavailable with the reason, which is kept for it in
cryptobench/_build_info.json beside the commit built; set
CRYPTOBENCH_REQUIRE_NATIVE=1 to make a failed native build fatal.
"""

import json
import os
import re
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

#: Written beside the installed package: the commit built and, when the native
#: build failed, why (cryptobench/machine.py and cryptobench/native.py read it).
BUILD_INFO = Path("cryptobench") / "_build_info.json"


def _read_info(path: Path) -> dict:
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def _short_reason(exc: BaseException) -> str:
    """One line on why a build step failed (the compiler's command line is already above it)."""
    text = str(exc).strip()
    m = re.match(r"Command '\['([^']*)'.*returned non-zero exit status (\d+)", text, re.S)
    if m:
        return f"the C compiler {m.group(1)} failed with exit status {m.group(2)}"
    m = re.search(r"\[Errno 2\] No such file or directory: '([^']*)'", text)
    if m:
        return f"no C compiler: {m.group(1)} not found"
    first = text.splitlines()[0] if text else ""
    if len(first) > 200:
        first = first[:197] + "..."
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


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
            if getattr(exc, "_cryptobench_reported", False):  # build_extension's, made fatal
                raise
            self._give_up(exc, [ext.name for ext in self.extensions])

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001
            self._give_up(exc, [ext.name])
            ext.optional = True  # an editable install then skips copying it into the source tree

    def _give_up(self, exc, names):
        reason = _short_reason(exc)
        what = ", ".join(names) or "the native extension"
        if os.environ.get("CRYPTOBENCH_REQUIRE_NATIVE") == "1":
            sys.stderr.write(f"\n*** cryptobench: {what} could not be built ({reason}), and "
                             "CRYPTOBENCH_REQUIRE_NATIVE=1 makes that fatal.\n")
            exc._cryptobench_reported = True
            raise exc
        sys.stderr.write(
            f"\n*** cryptobench: {what} could not be built ({reason}).\n"
            "*** Installing without it; the native backend will report itself "
            "unavailable. Install gcc (or clang) and reinstall to enable it.\n"
        )
        self._record(names, reason)

    def _record(self, names, reason):
        """Keep the reason in the built package, for ``cryptobench list`` to show."""
        if self.inplace:  # an editable install: nothing is copied, nothing to annotate
            return
        target = Path(self.build_lib) / BUILD_INFO
        info = _read_info(target)
        errors = info.get("native_build_errors")
        if not isinstance(errors, dict):
            errors = {}
        errors.update({n: reason for n in names})
        info["native_build_errors"] = errors
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(info) + "\n")
        except OSError:
            pass


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
    copy has no .git beside it, and results files name the commit they measured.
    Built from an sdist (no .git), the commit is the one the sdist recorded."""

    def run(self):
        super().run()
        commit = _git_commit()
        if commit is None:
            commit = _read_info(Path(__file__).resolve().parent / BUILD_INFO).get("git_commit")
        target = Path(self.build_lib) / BUILD_INFO
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps({"git_commit": commit}) + "\n")


class SdistWithCommit(sdist):
    """Put cryptobench/_build_info.json (the commit) into the sdist, so that a copy
    built from it, which has no .git, still records which commit it is."""

    def make_release_tree(self, base_dir, files):
        super().make_release_tree(base_dir, files)
        commit = _git_commit()
        if commit is not None:
            target = Path(base_dir) / BUILD_INFO
            if target.exists():  # a hard link into the source tree: replace, do not write through
                target.unlink()
            target.write_text(json.dumps({"git_commit": commit}) + "\n")


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
    cmdclass={"build_ext": OptionalNativeBuild, "build_py": BuildPyWithCommit, "sdist": SdistWithCommit},
)
