"""Installing and running cryptobench as a new user does: a read-only install,
no C compiler, results/ in the way, the commit an installed copy records.

Most run in-process or in one small child; two build the package from a copy
of the checkout (pip wheel with CC=/bin/false, python -m build --sdist): a few
seconds each, as nothing is compiled."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------ results/ in the way


def test_make_dir_says_a_file_is_in_the_way(tmp_path):
    from cryptobench._io import make_dir
    from cryptobench.errors import OutputError

    (tmp_path / "results").write_text("not a directory\n")
    with pytest.raises(OutputError, match=r"^cannot create the directory .*results: a file of that name is in the way$"):
        make_dir(tmp_path / "results")


def test_run_default_output_points_at_output_option(tmp_path):
    from cryptobench.errors import OutputError
    from cryptobench.run import default_output

    (tmp_path / "results").write_text("")
    with pytest.raises(OutputError, match=r"in the way \(choose a file with --output\)$"):
        default_output(tmp_path / "results")


# ------------------------------------------------------------------ no native extension


def test_header_without_a_tsc_says_so():
    from cryptobench.report import header_lines

    def res(**machine):
        return SimpleNamespace(path="r.json", info={"complete": True, "created": "now"}, measurements=[],
                               machine={"cpu_model": "X", "cpu_count": 2, "os": "Linux", "python": "3.11",
                                        "openssl": "OpenSSL", **machine})

    assert "TSC 2600.0 MHz;" in header_lines(res(tsc_mhz=2600.0))[1]
    line = header_lines(res(tsc_mhz=None, native_unavailable="not built"))[1]
    assert "None" not in line and "TSC not measured (no native extension);" in line
    assert "no TSC;" in header_lines(res(tsc_mhz=None, native_unavailable=None))[1]


def test_native_not_built_names_the_recorded_reason(monkeypatch, tmp_path):
    from cryptobench import native

    info = tmp_path / "_build_info.json"
    monkeypatch.setattr(native, "_build_info_path", lambda: info)
    monkeypatch.setattr(native, "_native_file_present", lambda: True)
    assert native._not_built_reason() is None  # a file that fails to load is reported as that

    monkeypatch.setattr(native, "_native_file_present", lambda: False)
    plain = native._not_built_reason()
    assert plain == "native extension not built when cryptobench was installed; install gcc or clang, then reinstall cryptobench"
    info.write_text(json.dumps({"git_commit": None,
                                "native_build_errors": {"cryptobench._native": "no C compiler: gcc not found"}}))
    assert native._not_built_reason() == (
        "native extension not built when cryptobench was installed (no C compiler: gcc not found); "
        "install gcc or clang, then reinstall cryptobench")
    info.write_text("[not an object")
    assert native._not_built_reason() == plain


# ------------------------------------------------------------------ read-only install: Numba's cache

_READ_ONLY_CHILD = textwrap.dedent(
    """
    import os, sys, tempfile
    root = os.path.realpath(sys.argv[1])
    real = tempfile.TemporaryFile

    def only_under_root(*args, dir=None, **kwargs):
        # Numba's test for a writable cache directory, and ours: everywhere but
        # root is read-only (site-packages beside the kernels, the user's ~/.cache)
        if dir is not None and not os.path.realpath(dir).startswith(root + os.sep):
            raise PermissionError(13, "Permission denied", str(dir))
        return real(*args, dir=dir, **kwargs)

    tempfile.TemporaryFile = only_under_root
    tempfile.tempdir = os.path.join(root, "tmp")
    os.makedirs(tempfile.tempdir)

    from cryptobench.kernels import _numba_common  # noqa: F401  (chooses the cache directory)
    from cryptobench.kernels.ecdsa_p256 import _numba_p256  # noqa: F401  (@njit(cache=True) at import)

    sys.path.insert(0, sys.argv[2])
    import cached_mod
    assert cached_mod.inc(41) == 42
    print(os.environ.get("NUMBA_CACHE_DIR"))
    """
)


def test_numba_cache_falls_back_to_a_private_temp_dir(tmp_path):
    """Read-only site-packages and no writable home: Numba would refuse every
    cache=True function ("no locator available"); the kernels get a private
    per-user cache directory instead, shared by every process."""
    pytest.importorskip("numba")
    root, src = tmp_path / "writable", tmp_path / "src"
    root.mkdir()
    src.mkdir()
    (src / "cached_mod.py").write_text("import numba\n\n@numba.njit(cache=True)\ndef inc(x):\n    return x + 1\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    out = subprocess.run([sys.executable, "-c", _READ_ONLY_CHILD, str(root), str(src)],
                         capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""  # no warning, no traceback
    cache = root / "tmp" / f"cryptobench-numba-{os.getuid()}"
    assert out.stdout.strip() == str(cache)
    assert (cache.stat().st_mode & 0o777) == 0o700
    assert list(cache.rglob("cached_mod.inc-*.nbi")), "the compiled function was cached there"
    assert not (src / "__pycache__").exists() or not list((src / "__pycache__").glob("*.nbi"))


# ------------------------------------------------------------------ building (no compiling)


def _copy_tracked(dest: Path) -> Path:
    """The checkout's tracked files (as they are in the working tree) in ``dest``."""
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("needs a git checkout")
    files = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    return dest


def _pip_wheel(src: Path, out: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(src)],
        capture_output=True, text=True, timeout=600, env={**os.environ, **env},
    )


def _wheel_json(out: Path) -> tuple[dict, list[str]]:
    (whl,) = out.glob("cryptobench-*.whl")
    with zipfile.ZipFile(whl) as z:
        return json.loads(z.read("cryptobench/_build_info.json")), z.namelist()


def test_without_a_c_compiler_the_wheel_builds_and_records_why(tmp_path):
    src = _copy_tracked(tmp_path / "src")
    built = _pip_wheel(src, tmp_path / "out", CC="/bin/false", CRYPTOBENCH_REQUIRE_NATIVE="0")
    assert built.returncode == 0, built.stderr
    info, names = _wheel_json(tmp_path / "out")
    assert not [n for n in names if n.endswith(".so")]
    assert "cryptobench/data/fleet.toml" in names
    assert info["git_commit"] is None  # a copy without .git: no commit, said as null
    assert info["native_build_errors"] == {
        "cryptobench._aead_fast": "the C compiler /bin/false failed with exit status 1",
        "cryptobench._native": "the C compiler /bin/false failed with exit status 1",
    }

    fatal = _pip_wheel(src, tmp_path / "out2", CC="/bin/false", CRYPTOBENCH_REQUIRE_NATIVE="1")
    assert fatal.returncode != 0
    text = fatal.stdout + fatal.stderr
    assert "CRYPTOBENCH_REQUIRE_NATIVE=1 makes that fatal" in text
    assert text.count("makes that fatal") == 1


def test_sdist_ships_sources_docs_and_the_commit(tmp_path):
    """The sdist has what building needs (csrc/, data), the documents, no half test
    suite, and the commit; a wheel built from it (no .git there) keeps that commit."""
    import importlib.metadata

    try:  # the distribution, not an importable name: a checkout's build/ folder imports as 'build'
        importlib.metadata.version("build")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("needs the 'build' package (the test extra installs it)")
    src = _copy_tracked(tmp_path / "src")
    git = ["git", "-C", str(src), "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "t"], check=True)
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    made = subprocess.run([sys.executable, "-m", "build", "--sdist", "-o", str(tmp_path / "dist"), str(src)],
                          capture_output=True, text=True, timeout=600)
    assert made.returncode == 0, made.stderr
    (sdist,) = (tmp_path / "dist").glob("cryptobench-*.tar.gz")
    with tarfile.open(sdist) as t:
        names = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
        top = t.getnames()[0].split("/")[0]
        info = json.load(t.extractfile(f"{top}/cryptobench/_build_info.json"))
    assert info == {"git_commit": commit}
    for needed in ("README.md", "setup.py", "pyproject.toml", "csrc/build.py", "csrc/p256/p256_mul_adx.S",
                   "csrc/_pyapi/aead_fast.c", "cryptobench/data/fleet.toml", "docs/kernels.md",
                   "kernels/aes_gcm/numba.py"):
        assert needed in names, needed
    assert not [n for n in names if n.startswith("tests/")]
    assert not [n for n in names if n.endswith((".so", ".o", ".pyc"))]

    built = _pip_wheel(sdist, tmp_path / "out", CC="/bin/false", CRYPTOBENCH_REQUIRE_NATIVE="0")
    assert built.returncode == 0, built.stderr
    assert _wheel_json(tmp_path / "out")[0]["git_commit"] == commit
