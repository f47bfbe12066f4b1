"""Details of `run`, `show` and `list` as a user meets them: a refused run says one
line and nothing else, --filter and --self-check are described as they behave,
--no-aad figures reach the tables, hand-edited results files are refused in
one line, and `list` never cuts a name one types after -a or -b."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

from cryptobench import registry, results
from cryptobench.errors import ResultsFileError

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "tests" / "data" / "results" / "base.json"


def cli(args, cwd, columns="200"):
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    if columns:
        env["COLUMNS"] = columns
    return subprocess.run([sys.executable, "-m", "cryptobench.cli", *args], cwd=cwd, capture_output=True,
                          text=True, env=env, timeout=600)


def flat(text: str) -> str:
    return " ".join(text.split())


def write(doc, path: Path) -> Path:
    path.write_text(json.dumps(doc))
    return path


# ------------------------------------------------------------------ run: refused before any work


@pytest.mark.parametrize("terminal", [False, True])
def test_run_into_a_log_says_each_kernel_as_it_finishes(tmp_path, terminal):
    # into a pipe (a CI log) rich draws the bar once, at the end: a nightly run showed one line, then
    # nothing until it was over. There each kernel now gets a line of its own; a terminal keeps the bar
    env = {"FORCE_COLOR": "1"} if terminal else {}
    p = subprocess.run([sys.executable, "-m", "cryptobench.cli", "run", "--fast", "-a", "chacha20-poly1305",
                        "-b", "python,openssl", "--no-hot-paths", "--sizes", "64", "-o", "new/dir/r.json"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=600,
                       env={**{k: v for k, v in os.environ.items() if k not in ("COLUMNS", "FORCE_COLOR")}, **env})
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "new" / "dir" / "r.json").is_file()  # -o into a directory not made yet: ENOENT before
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert "2 kernels, 4 benchmarks x 1 processes (fast profile); 0 unavailable" in p.stderr, p.stderr

    done = [re.fullmatch(r"\[(\d)/2\] (\S+): passed, 2 benchmarks  \(0:\d\d:\d\d elapsed\)", line) for line in lines[1:]]
    if terminal:
        assert not any(done) and "━" in p.stderr, p.stderr
    else:
        assert "━" not in p.stderr and len(lines) == 3 and lines[0].startswith("2 kernels"), p.stderr
        assert [(m[1], m[2]) for m in done] == [("1", "chacha20-poly1305/python"), ("2", "chacha20-poly1305/openssl")]


@pytest.mark.parametrize(
    "args,needle",
    [
        (["-a", "foo"], "unknown algorithm 'foo'; valid:"),
        (["-b", "foo"], "unknown backend 'foo'; valid:"),
        (["--parallel", "0"], "--parallel must be at least 1"),
        (["--filter", "zzz"], "no benchmark of theirs matches --filter 'zzz'"),
    ],
)
def test_a_refused_run_prints_its_error_and_nothing_else(tmp_path, args, needle):
    # the progress display was entered before the selection was checked, and rich
    # printed an empty line on leaving it: stderr began with a blank line
    p = cli(["run", *args, "-o", "r.json"], tmp_path)
    assert p.returncode == 2, p.stderr
    lines = p.stderr.splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("cryptobench run: error: ") and needle in lines[0]
    assert p.stdout == "" and list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ --filter says what it does


RULE = ("comma-separated patterns; a benchmark is kept when its name matches one: a pattern with * ? or [ is a "
        "shell-style glob over the whole name, any other a substring (so 'encrypt/16' also selects encrypt/16384; "
        "'[a]es-128-gcm/openssl/encrypt/16' selects exactly that name)")


@pytest.mark.parametrize("command", ["run", "compare"])
def test_filter_help_states_the_substring_rule(tmp_path, command):
    p = cli([command, "--help"], tmp_path)
    assert p.returncode == 0, p.stderr
    assert "--filter PATTERNS" in p.stdout and "GLOB" not in p.stdout
    assert RULE in flat(p.stdout)


def test_the_filter_rule_as_documented_is_how_names_match():
    name16, name16k = "aes-128-gcm/openssl/encrypt/16", "aes-128-gcm/openssl/encrypt/16384"
    assert registry.name_matches(name16k, name16)  # no glob character: a substring
    assert registry.name_matches(name16k, "encrypt/16")
    assert registry.name_matches(name16, "[a]es-128-gcm/openssl/encrypt/16")  # a glob: the whole name
    assert not registry.name_matches(name16k, "[a]es-128-gcm/openssl/encrypt/16")
    assert registry.name_matches(name16k, "zzz, [a]es-128-gcm/openssl/encrypt/16384")  # comma-separated
    readme = flat((ROOT / "README.md").read_text())
    assert ("one with `*`, `?` or `[` is a shell-style glob over the whole name, any other a substring, so "
            "`aes-128-gcm/openssl/encrypt/16` also selects `.../encrypt/16384`") in readme
    assert "write it as a glob such as `'[a]es-128-gcm/openssl/encrypt/16'`" in readme


# ------------------------------------------------------------------ --self-check


def test_self_check_refuses_the_options_it_would_ignore(tmp_path):
    p = cli(["run", "--self-check", "--fast", "-a", "aes", "--sizes", "16", "-o", "r.json", "--parallel", "2"],
            tmp_path)
    assert p.returncode == 2, p.stdout + p.stderr
    assert p.stderr.splitlines() == [
        "cryptobench run: error: --self-check times openssl AES-128-GCM encrypt at 16 KiB alone and writes no "
        "results file: it takes no -a/--algorithm, --sizes, -o/--output, --parallel"]
    assert p.stdout == "" and list(tmp_path.iterdir()) == []
    p = cli(["run", "--self-check", "--no-aad", "--filter", "x"], tmp_path)
    assert p.returncode == 2 and p.stderr.rstrip().endswith("it takes no --filter, --no-aad"), p.stderr


def test_self_check_exit_status_is_documented():
    p = cli(["run", "--help"], ROOT)
    assert p.returncode == 0, p.stderr
    text = flat(p.stdout)
    assert "Exit status 1 when the two medians differ by more than 10%." in text
    assert "exit status 1 when they differ by more than 10%)" in text
    readme = flat((ROOT / "README.md").read_text())
    assert "and exits with status 1 when they differ by more than 10%; it writes no results file" in readme


@pytest.mark.parametrize("ratio,status", [(1.05, 0), (0.93, 0), (1.2, 1), (0.85, 1)])
def test_self_check_exit_status_is_1_beyond_ten_percent(monkeypatch, capsys, ratio, status):
    """The harness figure `ratio` times the plain loop's: status 1 beyond ±10% (the plain
    loop is timed with a clock that advances 1 µs per reading, over 10 calls)."""
    from cryptobench import bench_cli
    from cryptobench.run import PROFILES

    clock = iter(range(10**6))
    monkeypatch.setattr(bench_cli, "time", types.SimpleNamespace(perf_counter=lambda: next(clock) * 1e-6))
    monkeypatch.setattr("cryptobench.bench.calibrate", lambda call, min_time: 10)
    monkeypatch.setattr("cryptobench.run.run", lambda **kw: None)  # no harness run: its figure is given below
    harness = types.SimpleNamespace(median=ratio * 1e-7)
    monkeypatch.setattr("cryptobench.results.load", lambda path: types.SimpleNamespace(find=lambda *a: harness))
    assert bench_cli._self_check(PROFILES["fast"]) == status
    out = flat(capsys.readouterr().out)
    assert f"plain loop 0.10 µs, difference {(ratio - 1) * 100:+.1f}% (limit ±10%" in out


# ------------------------------------------------------------------ --no-aad reaches the tables


def _with_noaad(keep_aad13: bool) -> dict:
    """base.json plus, for each benchmark, an empty-AAD copy that is twice as fast."""
    doc = json.loads(BASE.read_text())
    extra = []
    for b in doc["benchmarks"]:
        c = copy.deepcopy(b)
        c["metadata"]["name"] = c["metadata"]["name"].replace("/encrypt/", "/encrypt-noaad/")
        c["metadata"]["aad"] = 0
        for r in c["runs"]:
            r["values"] = [v / 2 for v in r["values"]]
        extra.append(c)
    doc["benchmarks"] = (doc["benchmarks"] if keep_aad13 else []) + extra
    return doc


def _table(out: str, title: str) -> str:
    """The text of the table under ``title`` (up to its bottom border)."""
    assert title in out, out
    rest = out.split(title, 1)[1]
    return rest.split("└", 1)[0]


def test_no_aad_figures_get_their_own_table(tmp_path):
    f = write(_with_noaad(True), tmp_path / "n.json")
    assert {m.metadata["aad"] for m in results.load(f).measurements} == {0, 13}
    p = cli(["show", str(f)], tmp_path)
    assert p.returncode == 0, p.stderr
    aad13 = _table(p.stdout, "aes-128-gcm: encrypt throughput, MB/s, AAD 13 bytes")
    noaad = _table(p.stdout, "aes-128-gcm: encrypt throughput, MB/s, empty AAD (run --no-aad)")
    # openssl at 16 KiB: 16384 B / 4.0 µs = 4094 MB/s with the AAD, twice that without
    assert "4094" in aad13 and "8188" not in aad13
    assert "8188" in noaad and "4094" not in noaad and "1.64" in noaad  # python: 0.818 MB/s x 2
    assert "encrypt-noaad" not in p.stdout  # the tables, not --details


def test_empty_aad_figures_alone_are_not_labelled_aad_13(tmp_path):
    # a run with --no-aad --filter noaad: the AAD-13 table used to fall back on the empty-AAD figures
    f = write(_with_noaad(False), tmp_path / "n.json")
    p = cli(["show", str(f)], tmp_path)
    assert p.returncode == 0, p.stderr
    assert "AAD 13 bytes" not in p.stdout
    assert "8188" in _table(p.stdout, "aes-128-gcm: encrypt throughput, MB/s, empty AAD (run --no-aad)")


# ------------------------------------------------------------------ hand-edited results files


def _kernel(name, **fields):
    return lambda doc: doc["cryptobench"]["kernels"].setdefault(name, {"status": "passed"}).update(fields)


@pytest.mark.parametrize(
    "spoil,needle",
    [
        (lambda d: d["cryptobench"]["machine"].update(tsc_mhz="2596.6"),
         "malformed 'cryptobench' section: machine.tsc_mhz must be a positive number or null, got '2596.6'"),
        (lambda d: d["cryptobench"].update(overhead_s="45 ns"),
         "malformed 'cryptobench' section: overhead_s must be a number or null, got '45 ns'"),
        (_kernel("aes-128-gcm/broken", status=3),
         "malformed 'cryptobench' section: kernels['aes-128-gcm/broken'].status must be a string, got 3"),
        (_kernel("aes-128-gcm/broken", status=None),
         "kernels['aes-128-gcm/broken'].status must be a string, got None"),
        (_kernel("aes-128-gcm/broken", reason=5), "kernels['aes-128-gcm/broken'].reason must be a string, got 5"),
        (_kernel("aes-128-gcm/openssl", cold_prepare_s="1.5"),
         "kernels['aes-128-gcm/openssl'].cold_prepare_s must be a number or null, got '1.5'"),
        (_kernel("aes-128-gcm/openssl", cold_prepare_s=1.5, cold_prepare=["cache_hits"]),
         "kernels['aes-128-gcm/openssl'].cold_prepare must be an object, got ['cache_hits']"),
        (_kernel("aes-128-gcm/openssl", cold_prepare_s=1.5, worker_prepare_s=[0.1, "0.2"]),
         "kernels['aes-128-gcm/openssl'].worker_prepare_s must be a list of numbers, got [0.1, '0.2']"),
        (_kernel("aes-128-gcm/openssl-noavx512", env=None),
         "kernels['aes-128-gcm/openssl-noavx512'].env must be an object, got None"),
        (lambda d: d["benchmarks"][0]["metadata"].update(setup_s="fast"),
         "aes-128-gcm/openssl/encrypt/16384: metadata setup_s must be a number, got 'fast'"),
    ],
    ids=["tsc_mhz", "overhead_s", "status", "status-null", "reason", "cold_prepare_s", "cold_prepare",
         "worker_prepare_s", "env", "setup_s"],
)
def test_fields_the_tables_read_are_checked_on_load(tmp_path, spoil, needle):
    """Each of these passed results.load and raised TypeError or AttributeError in show (a traceback, exit 1)."""
    doc = json.loads(BASE.read_text())
    spoil(doc)
    f = write(doc, tmp_path / "r.json")
    with pytest.raises(ResultsFileError) as exc:
        results.load(f)
    assert needle in str(exc.value)
    for args in (["show", str(f)], ["show", str(f), "--details"]):
        p = cli(args, tmp_path)
        assert p.returncode == 2, p.stdout + p.stderr
        assert p.stderr.splitlines() == [f"cryptobench show: error: {exc.value}"] and p.stdout == ""


def test_the_committed_results_files_still_load():
    files = sorted(ROOT.glob("results/**/*.json")) + [BASE]
    assert len(files) > 1
    for f in files:
        assert results.load(f).info["machine"]


def _algorithm(doc, value, which=None):
    for i, b in enumerate(doc["benchmarks"]):
        if which is None or i in which:
            b["metadata"]["algorithm"] = value
    return doc


def test_show_refuses_a_file_with_no_algorithm_it_knows(tmp_path):
    # it printed the header and the not-timed table and exited 0, showing not one figure
    f = write(_algorithm(json.loads(BASE.read_text()), "aes-192-gcm"), tmp_path / "r.json")
    p = cli(["show", str(f)], tmp_path)
    assert p.returncode == 2, p.stdout + p.stderr
    assert p.stderr.splitlines() == [
        f"cryptobench show: error: {f}: no benchmark of an algorithm this cryptobench knows (aes-128-gcm, "
        "aes-256-gcm, chacha20-poly1305, ecdsa-p256-sha256), only of 'aes-192-gcm' (3) (--details lists them)"]
    p = cli(["show", str(f), "--details"], tmp_path)
    assert p.returncode == 0, p.stderr
    assert "aes-128-gcm/openssl/encrypt/16384" in p.stdout  # the benchmark names are unchanged


def test_show_says_which_benchmarks_it_leaves_out(tmp_path):
    f = write(_algorithm(json.loads(BASE.read_text()), "aes-192-gcm", which={1}), tmp_path / "r.json")
    note = ("note: not shown: 1 benchmark(s) of an algorithm this cryptobench does not know: 'aes-192-gcm' (1); "
            "--details without -a lists them")
    for args in ([], ["-a", "aes"], ["-a", "aes", "--details"]):
        p = cli(["show", str(f), *args], tmp_path)
        assert p.returncode == 0, p.stderr
        assert p.stdout.splitlines()[-1] == note, args
        assert "aes-128-gcm: encrypt throughput" in p.stdout and "4094" in p.stdout
    p = cli(["show", str(f), "--details"], tmp_path)
    assert p.returncode == 0 and "not shown" not in p.stdout
    assert "aes-128-gcm/python/encrypt/16384" in p.stdout  # listed in the details table


@pytest.mark.parametrize("columns", ["60", "80", "100", "120"])
def test_show_never_cuts_a_figure_on_a_narrow_terminal(tmp_path, columns):
    # at 80 and 100 columns rich cut 115-173 lines of the main tables: 12,800 MB/s read "12.…",
    # ratios "0.…". Narrower than a table needs, its columns go on in a "(continued)" table.
    def cells(p):
        assert p.returncode == 0, p.stderr
        return {c.strip() for line in p.stdout.splitlines()
                for c in line.replace("┃", "│").replace(": ", "│").split("│")}  # tables and records

    f = ROOT / "results" / "20261127T204800Z_vm.json"
    wide = cells(cli(["show", str(f), "--details"], tmp_path, "400"))
    p = cli(["show", str(f), "--details"], tmp_path, columns)
    narrow = cells(p)
    assert "…" not in p.stdout and max(map(len, p.stdout.splitlines())) <= int(columns)
    figures = {c for c in wide if c and c[0].isdigit() and " " not in c}  # MB/s, ratios, cycles, times
    assert len(figures) > 300 and not sorted(figures - narrow)[:10]
    backends = {k.backend for k in registry.kernels()} & wide
    assert len(backends) > 10 and not backends - narrow
    assert "(continued)" in p.stdout  # narrower than one column beside the names, records instead:
    assert ("  median: " in p.stdout) == (columns == "60")
    if columns == "80":  # a split hot-path table names each row by hot path and backend in every part
        hot = [b for b in p.stdout.split("hot paths (largest size measured)")[1:] if b.startswith(" (continued)")]
        assert hot and all("│ key-expansion │ native-vaes " in b.split("\n\n")[0] for b in hot[:1])


# ------------------------------------------------------------------ list


@pytest.mark.parametrize("columns", [None, "60", "80", "100", "250"])
def test_list_through_a_pipe_prints_every_algorithm_and_backend_in_full(tmp_path, columns):
    from cryptobench.display import _kernel_notes

    p = cli(["list"], tmp_path, columns)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    cells = {c.strip() for line in lines for c in line.split("│")}
    kernels = registry.kernels()
    assert any(len(k.backend) >= 20 for k in kernels)  # peer-chacha20poly1305 was cut to peer-chacha20poly13…
    assert not [k.backend for k in kernels if k.backend not in cells]
    assert not [k.algorithm for k in kernels if k.algorithm not in cells]
    assert "…" not in p.stdout  # the other columns fold instead
    assert max(map(len, lines)) <= int(columns or 140)
    # every kernel's notes and code path readable as prose: at 80 columns the notes column was
    # four letters wide and the listing 1,151 lines long
    flat = " ".join(" ".join(c.strip() for c in line.split("│")) for line in lines).split()
    text = " ".join(flat)
    for k in kernels:
        assert " ".join(_kernel_notes(k).split()) in text, k.name
        assert k.path in text, k.name
    assert len(lines) < 8 * len(kernels), len(lines)


def test_machine_fields_are_printed_as_text_not_markup(tmp_path):
    # a CPU name with '[/bold]' in a hand-edited file raised rich.errors.MarkupError (a traceback)
    doc = json.loads(BASE.read_text())
    doc["cryptobench"]["machine"]["cpu_model"] = "Intel[R] Xeon [/bold] [link=x]"
    f = tmp_path / "odd.json"
    f.write_text(json.dumps(doc))
    p = subprocess.run([sys.executable, "-m", "cryptobench", "show", str(f)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "CPU Intel[R] Xeon [/bold] [link=x] (2 logical CPUs)" in p.stdout


def test_a_busy_run_is_flagged(tmp_path):
    # beside another busy process, 253 of 650 benchmarks varied by >10% and ratios were off by
    # 2.3x, and neither run nor show said a word
    def show(doc):
        f = tmp_path / "r.json"
        f.write_text(json.dumps(doc))
        p = subprocess.run([sys.executable, "-m", "cryptobench", "show", str(f)], capture_output=True, text=True,
                           timeout=120, env=dict(os.environ, COLUMNS="300"))
        assert p.returncode == 0, p.stderr
        return p.stdout

    quiet = json.loads(BASE.read_text())
    for b in quiet["benchmarks"]:
        for r in b["runs"]:
            r.setdefault("metadata", {})["load_avg_1min"] = 1.2  # the run's own worker on 2 CPUs
    assert "the machine was busy" not in show(quiet)
    loaded = copy.deepcopy(quiet)
    loaded["benchmarks"][1]["runs"][-1]["metadata"]["load_avg_1min"] = 2.6
    assert "WARNING: the machine was busy during this run (load average up to 2.6 on 2 CPUs; 0 of 3" in show(loaded)
    spread = copy.deepcopy(quiet)
    for b in spread["benchmarks"]:
        for r in b["runs"]:
            if "values" in r:
                r["values"] = [v * (1 + 0.5 * i) for i, v in enumerate(r["values"])]
    assert "(load average up to 1.2 on 2 CPUs; 3 of 3 benchmarks vary by more than 10%" in show(spread)


def test_compare_says_how_many_regressions_it_did_not_name(tmp_path):
    # "46 significantly slower", then 10 names and nothing to say the list was cut
    old = json.loads(BASE.read_text())
    new = copy.deepcopy(old)
    for i in range(12):
        for doc, factor in ((old, 1.0), (new, 1.5)):
            b = copy.deepcopy(doc["benchmarks"][1])
            b["metadata"].update(name=f"aes-128-gcm/python/encrypt/{i + 100}", size=i + 100)
            for r in b["runs"]:
                if "values" in r:
                    r["values"] = [v * factor * (1 + 0.001 * j) for j, v in enumerate(r["values"])]
            doc["benchmarks"].append(b)
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(old))
    b.write_text(json.dumps(new))
    p = subprocess.run([sys.executable, "-m", "cryptobench", "compare", str(a), str(b)], capture_output=True, text=True,
                       timeout=120, env=dict(os.environ, COLUMNS="400"))
    assert p.returncode == 1, p.stderr
    line = next(x for x in p.stdout.splitlines() if x.startswith("REGRESSION"))
    assert line.count("aes-128-gcm/python/encrypt/1") == 10 and line.endswith(" and 2 more (the table lists them)"), line


def test_compare_names_benchmarks_only_one_file_has(tmp_path):
    # a backend whose worker failed in NEW vanished from the comparison without a word
    old = json.loads(BASE.read_text())
    new = copy.deepcopy(old)
    gone = new["benchmarks"].pop(1)["metadata"]["name"]  # aes-128-gcm/python/encrypt/16384
    new["cryptobench"]["kernels"]["aes-128-gcm/python"] = {"status": "error", "reason": "worker exited with status 1"}
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(old))
    b.write_text(json.dumps(new))
    p = subprocess.run([sys.executable, "-m", "cryptobench", "compare", str(a), str(b)], capture_output=True, text=True,
                       timeout=120, env=dict(os.environ, COLUMNS="400"))
    assert p.returncode == 0, p.stderr
    assert (f"note: 1 benchmark(s) of OLD are not in NEW, so not compared: {gone} "
            "(aes-128-gcm/python: ERROR in NEW)") in p.stdout
