"""Text from a file is shown as it is, never read as rich markup or matplotlib mathtext.

A results file (or an instruction-count or pytest-benchmark file) is data: a benchmark
name, a code path, a kernel's reason, a machine field or a directory name holding
``[/x]`` made rich raise MarkupError (a traceback and exit status 1, which `gate` and
`compare` mean as "a regression"), and one holding ``[avx512]`` lost it
(``libcrypto[avx512] path`` was shown as ``libcrypto path``). In a chart, text between
two ``$`` was parsed as mathtext: ``$\\frac$`` stopped `plot` and `history --plot` with
a ParseException traceback.

Each case mutates a copy of a fixture under tests/data and runs the command through
``cryptobench.cli.main``: it must not raise, must exit as it would with plain text,
and must print the text literally.
"""

from __future__ import annotations

import copy
import io
import json
import random
from pathlib import Path

import pytest
from rich.console import Console
from rich.table import Table
from rich.text import Text

from cryptobench import gate
from cryptobench.cli import main

DATA = Path(__file__).parent / "data"
RESULTS = DATA / "results"  # base.json, same.json, slower.json: aes-128-gcm, openssl and python
NOAVX512 = DATA / "noavx512" / "noavx512.json"  # AEAD, hot path, ECDSA and the openssl-noavx512 rows

CRASH = "[/x]"  # a closing tag with nothing open: MarkupError
TAGS = "[bold]b[/bold]"  # a valid tag: rich dropped it silently
SILENT = "libcrypto[avx512] path"  # shown as "libcrypto path"
MATH = r"$\frac$"  # mathtext with a command missing its arguments: ParseException


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def _write(path: Path, doc: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


def _run(capsys, argv: list[str]) -> tuple[int, str]:
    """Exit status and stdout + stderr with whitespace collapsed (rich wraps long lines).
    A MarkupError or ParseException leaves main() as an exception: the traceback a user saw."""
    capsys.readouterr()
    try:
        rc = main(argv)
    except Exception as exc:  # noqa: BLE001 - the bug: report which command crashed and how
        pytest.fail(f"cryptobench {' '.join(argv)} crashed: {exc!r}")
    cap = capsys.readouterr()
    text = cap.out + cap.err
    assert "Traceback" not in text and "MarkupError" not in text, text
    return rc, " ".join(text.split())


def _flat(text: str) -> str:
    return "".join(c for c in text if not c.isspace() and c not in "│┃")


def _shows(literal: str, out: str) -> bool:
    """``literal`` is in ``out``, perhaps wrapped or folded inside a table cell (a column narrower
    than the text): compared without whitespace and column rules. Text rich read as markup
    is still missing (``libcrypto path``), or raised MarkupError."""
    return _flat(literal) in _flat(out)


def _benchmarks(doc: dict, prefix: str) -> list[dict]:
    out = [b for b in doc["benchmarks"] if b["metadata"]["name"].startswith(prefix)]
    assert out, prefix
    return out


# ------------------------------------------------------------------ show


def _code_path(text: str, prefix: str):
    def mutate(doc):
        for b in _benchmarks(doc, prefix):
            b["metadata"]["code_path"] = text
    return mutate


def _failed_reason(doc):
    doc["cryptobench"]["kernels"]["aes-128-gcm/broken"] = {"status": "failed", "reason": f"{TAGS} {CRASH} vectors"}


def _kernel_key(doc):  # a failed kernel (not timed) whose preparation was timed (one-time costs)
    doc["cryptobench"]["kernels"][f"aes-128-gcm/{CRASH}"] = {"status": "failed", "reason": "failed 3 checks",
                                                             "cold_prepare_s": 0.25}


def _cold_prepare_key(doc):
    k = doc["cryptobench"]["kernels"]["aes-128-gcm/python"]
    k["cold_prepare_s"] = 0.5
    k["cold_prepare"] = {CRASH: 1, "cache": TAGS}


def _ia32cap(doc):  # the caption of the ×openssl-noavx512 tables
    for name, k in doc["cryptobench"]["kernels"].items():
        if name.endswith("/openssl-noavx512"):
            k["env"]["OPENSSL_ia32cap"] = f":~0x58{CRASH}"


def _backend(doc):
    for b in _benchmarks(doc, "aes-128-gcm/native-vaes/"):
        md = b["metadata"]
        md["backend"] = f"native-{CRASH}"
        md["name"] = md["name"].replace("native-vaes", md["backend"])


def _hot_path_operation(doc):  # one this cryptobench does not know is still shown in the hot-path table
    for b in _benchmarks(doc, "aes-128-gcm/native-vaes/aes-ctr"):
        md = b["metadata"]
        md["operation"] = f"aes-ctr{CRASH}"
        md["name"] = md["name"].replace("aes-ctr", md["operation"])


def _peer(doc):  # a pure-Python library's row beside python: the peers table names it
    (b,) = _benchmarks(doc, "aes-128-gcm/python/encrypt/16384")
    peer = copy.deepcopy(b)
    peer["metadata"].update(backend=f"peer-{CRASH}", name=f"aes-128-gcm/peer-{CRASH}/encrypt/16384")
    doc["benchmarks"].append(peer)


def _name(doc):  # a benchmark's name is free text (the key is its metadata)
    (b,) = _benchmarks(doc, "aes-128-gcm/python/encrypt/16384")
    b["metadata"]["name"] = f"aes-128-gcm/python/{CRASH}/{TAGS}"


#: (mutation, the text to find, shown by `show` too or only by `show --details`)
_SHOW_CASES = [
    (_code_path(SILENT, "aes-128-gcm/native-vaes/"), SILENT, True, "code_path-dropped"),
    (_code_path(CRASH, "ecdsa-p256-sha256/native-adx/"), CRASH, True, "code_path-crash"),
    (_code_path(TAGS, "aes-128-gcm/native-vaes/aes-ctr"), TAGS, False, "hot-path-code_path"),
    (_hot_path_operation, f"aes-ctr{CRASH}", True, "hot-path-operation"),
    (_failed_reason, f"{TAGS} {CRASH} vectors", True, "failed-reason"),
    (_kernel_key, f"aes-128-gcm/{CRASH}", True, "kernels-key"),
    (_cold_prepare_key, f"{CRASH}=1, cache={TAGS}", True, "cold_prepare-key"),
    (_ia32cap, f"(OPENSSL_ia32cap=:~0x58{CRASH})", True, "OPENSSL_ia32cap-caption"),
    (_backend, f"native-{CRASH}", True, "backend"),
    (_peer, f"peer-{CRASH} encrypt 16K", True, "peer-backend"),
    (_name, f"aes-128-gcm/python/{CRASH}/{TAGS}", False, "benchmark-name"),
]


@pytest.mark.parametrize("mutate,literal,details", [
    pytest.param(mutate, literal, details, id=f"{'show--details' if details else 'show'}-{name}")
    for mutate, literal, in_show, name in _SHOW_CASES for details in (False, True) if details or in_show
])
def test_show_prints_file_text_literally(tmp_path, capsys, mutate, literal, details):
    doc = _load(NOAVX512)
    mutate(doc)
    f = _write(tmp_path / "run.json", doc)
    rc, out = _run(capsys, ["show", str(f)] + (["--details"] if details else []))
    assert rc == 0, out
    assert _shows(literal, out), out


def test_show_at_a_narrow_width_keeps_file_text_literal(tmp_path, capsys, monkeypatch):
    # tables too wide for the console are split ("(continued)") or turned into records
    # (display.fit_to_width): both read each cell's text, and fold it (a long code path
    # is then in pieces between other cells: only the short one is looked for)
    doc = _load(NOAVX512)
    _code_path(CRASH, "ecdsa-p256-sha256/native-adx/")(doc)
    _code_path(SILENT, "aes-128-gcm/native-vaes/")(doc)
    _failed_reason(doc)
    f = _write(tmp_path / "run.json", doc)
    for columns in ("70", "40"):
        monkeypatch.setenv("COLUMNS", columns)
        rc, out = _run(capsys, ["show", str(f), "--details"])
        assert rc == 0 and _shows(CRASH, out), out


# ------------------------------------------------------------------ compare


def test_compare_prints_benchmark_names_literally(tmp_path, capsys):
    # openssl's 16-byte encrypt: unchanged between base.json and same.json, so no regression
    name = f"aes-128-gcm/openssl/{CRASH}/{TAGS}"
    files = []
    for which in ("base", "same"):
        doc = _load(RESULTS / f"{which}.json")
        (b,) = [b for b in doc["benchmarks"] if b["metadata"]["name"] == "aes-128-gcm/openssl/encrypt/16"]
        b["metadata"]["name"] = name
        files.append(str(_write(tmp_path / f"{which}.json", doc)))
    rc, out = _run(capsys, ["compare", *files, "--all"])
    assert rc == 0, out
    assert _shows(name, out), out


def test_compare_names_a_regressed_benchmark_literally(tmp_path, capsys):
    # its REGRESSION line built the names into markup: '[/x]' raised MarkupError (exit 1 either way)
    files = []
    for which, factor in (("base", 1.0), ("same", 1.5)):
        doc = _load(RESULTS / f"{which}.json")
        _slower(doc, "aes-128-gcm/python/", factor)
        for b in doc["benchmarks"]:
            if b["metadata"]["name"] == "aes-128-gcm/python/encrypt/16384":
                b["metadata"]["name"] = f"aes-128-gcm/python/{CRASH}"
        files.append(str(_write(tmp_path / f"{which}.json", doc)))
    rc, out = _run(capsys, ["compare", *files])
    assert rc == 1, out
    assert out.endswith(f"REGRESSION: aes-128-gcm/python/{CRASH}"), out


# ------------------------------------------------------------------ gate: wall time


def _slower(doc: dict, prefix: str, factor: float) -> None:
    for b in _benchmarks(doc, prefix):
        for r in b["runs"]:
            r["values"] = [v * factor for v in r["values"]]


def test_gate_on_results_files_prints_names_literally(tmp_path, capsys):
    # python's 16 KiB encrypt 50% slower: a real regression (exit 1), named in the table and
    # on the REGRESSION line; openssl's 16 KiB encrypt, its reference, named in the reference column
    renames = {"aes-128-gcm/python/encrypt/16384": f"aes-128-gcm/python/{CRASH}",
               "aes-128-gcm/openssl/encrypt/16384": f"aes-128-gcm/openssl/{TAGS}"}
    files = []
    for which, factor in (("base", 1.0), ("same", 1.5)):
        doc = _load(RESULTS / f"{which}.json")
        _slower(doc, "aes-128-gcm/python/", factor)
        for b in doc["benchmarks"]:
            b["metadata"]["name"] = renames.get(b["metadata"]["name"], b["metadata"]["name"])
        files.append(str(_write(tmp_path / f"{which}.json", doc)))
    rc, out = _run(capsys, ["gate", *files, "--all"])
    assert rc == 1, out
    table, regression = out.split("REGRESSION: ")
    assert regression.startswith(f"aes-128-gcm/python/{CRASH} "), out
    assert _shows(f"aes-128-gcm/python/{CRASH}", table), out  # the table's row
    # the renamed openssl benchmark is python's reference (the reference column; not a row of its own)
    assert _shows(f"aes-128-gcm/openssl/{TAGS}", table), out
    again = _write(tmp_path / "base-again.json", _load(Path(files[0])))
    rc, out = _run(capsys, ["gate", files[0], str(again), "--all"])
    assert rc == 0 and _shows(f"aes-128-gcm/python/{CRASH}", out), out


def _pytest_benchmark(kernel_t: float, seed: int, name: str, code_path: str) -> dict:
    rng = random.Random(seed)

    def noisy(t):
        return [t * (1 + rng.gauss(0, 0.01)) for _ in range(50)]

    def bench(bname, backend, t):
        return {"name": f"test_kernel[{bname}]", "extra_info": {
            "algorithm": "chacha20-poly1305", "backend": backend, "operation": "encrypt", "size": 1024, "aad": 13,
            "kind": "operation", "name": bname, "code_path": code_path},
            "stats": {"data": noisy(t), "mean": t}}

    return {"machine_info": {"cpu": {"brand_raw": f"CPU {CRASH}"}, "python_version": "3.11.7"},
            "commit_info": {"id": "abc"}, "datetime": "2026-11-27T00:00:00",
            "benchmarks": [bench("chacha20-poly1305/openssl/encrypt/1024", "openssl", 1e-6),
                           bench(name, "python", kernel_t)]}


def test_gate_on_pytest_benchmark_json_prints_names_literally(tmp_path, capsys):
    name = f"chacha20-poly1305/python/{CRASH}"  # short: a wrapped cell is split by the other columns' cells
    old = _write(tmp_path / "old.json", _pytest_benchmark(1e-4, 1, name, "x"))
    new = _write(tmp_path / "new.json", _pytest_benchmark(1.5e-4, 2, name, "x"))
    rc, out = _run(capsys, ["gate", str(old), str(new)])
    assert rc == 1, out  # a real regression: 50% slower
    table, regression = out.split("REGRESSION: ")
    assert regression.startswith(name + " ") and _shows(name, table), out


# ------------------------------------------------------------------ gate: instruction counts


def _counts(path: Path, counts: dict, skipped: dict | None = None) -> str:
    gate.save_counts(path, {"schema": gate.ICOUNT_SCHEMA, "python": "3.11.7", "valgrind": "valgrind-3.19.0",
                            "counts": counts, "skipped": skipped or {}})
    return str(path)


def test_gate_on_instruction_counts_prints_keys_paths_and_reasons_literally(tmp_path, capsys):
    same, path, gone, slow = (f"aes-128-gcm/python/encrypt/{TAGS}", "aes-128-gcm/python/decrypt/64",
                              "aes-128-gcm/python/aes-ctr/64", f"aes-128-gcm/python/{CRASH}/64")
    old = _counts(tmp_path / "old.json", {
        same: {"per_call": 1000.0, "code_path": "x"},
        path: {"per_call": 1000.0, "code_path": SILENT},
        gone: {"per_call": 1000.0, "code_path": "x"},
        slow: {"per_call": 1000.0, "code_path": "x"}})
    new = _counts(tmp_path / "new.json", {
        same: {"per_call": 1000.0, "code_path": "x"},
        path: {"per_call": 1000.0, "code_path": CRASH},
        slow: {"per_call": 2000.0, "code_path": "x"}}, skipped={gone: f"{TAGS} {CRASH} no kernel"})
    rc, out = _run(capsys, ["gate", old, new, "--all"])
    assert rc == 1, out  # twice the instructions: a real regression
    table, regression = out.split("REGRESSION: ")
    assert _shows(same, table) and _shows(slow, table), out  # counts keys
    assert _shows(f"code path {SILENT} -> {CRASH}: not comparable", table), out  # the path-changed note
    assert _shows(f"{TAGS} {CRASH} no kernel", table), out  # the gone note: the skipped reason
    # the gone one fails the gate too, named on a line of its own
    assert regression.startswith(f"{slow} GONE: 1 benchmark(s) of the baseline are not in {new}: {gone} ("), out


# ------------------------------------------------------------------ history


def _history_dir(tmp_path: Path, machine: dict, name: str | None = None, *, created: str = "",
                 markup_dir: bool = True) -> Path:
    """The three tests/data/results files, with these machine fields, ``created`` after each
    run's date and python's 16 KiB encrypt renamed, in a directory whose path holds "[/x]"
    (``markup_dir``)."""
    d = tmp_path / "r[" / "x]" if markup_dir else tmp_path / "r"
    for f in sorted(RESULTS.glob("*.json")):
        doc = _load(f)
        doc["cryptobench"]["machine"].update(machine)
        doc["cryptobench"]["created"] += created
        if name:
            for b in _benchmarks(doc, "aes-128-gcm/python/encrypt/16384"):
                b["metadata"]["name"] = name
        _write(d / f.name, doc)
    return d


def test_history_prints_machine_fields_paths_and_names_literally(tmp_path, capsys):
    name = f"aes-128-gcm/python/{CRASH}/{TAGS}"
    d = _history_dir(tmp_path, {"cpu_model": f"CPU {TAGS}", "git_commit": CRASH}, name, created=f" {TAGS}")
    assert CRASH in str(d)
    rc, out = _run(capsys, ["history", str(d)])
    assert rc == 0, out
    assert _shows(f"+00:00 {TAGS}", out), out  # the date
    assert _shows(f"CPU {TAGS}", out), out
    assert f" {CRASH} " in out, out  # the commit
    assert _shows(name, out), out
    assert _shows(str(d / "base.json"), out), out  # the file column folds a long path


ESC = "\x1b[31mred\x1b]0;title\x07"  # a colour and a window-title sequence in a file's name


def test_file_names_with_escape_sequences_are_shown_escaped(tmp_path, capsys):
    # a results file's contents may hold no control character (the readers refuse it), but a
    # name from a directory scan could, and reached the terminal raw: in history's runs table,
    # in its "skipped" lines, and in the one-line error naming a file
    d = _history_dir(tmp_path, {}, markup_dir=False)
    (d / "base.json").rename(d / f"base{ESC}.json")
    (d / f"junk{ESC}.json").write_text("{}")
    rc, out = _run(capsys, ["history", str(d)])
    assert rc == 0, out
    assert "\x1b" not in out and "\x07" not in out, repr(out)
    assert _shows("base\\x1b[31mred\\x1b]0;title\\x07.json", out), out  # the runs table
    assert "skipped " + str(d / "junk\\x1b[31mred\\x1b]0;title\\x07.json") in out, out
    rc, out = _run(capsys, ["gate", str(d / f"junk{ESC}.json"), str(d / "same.json")])
    assert rc == 2 and "\x1b" not in out and "junk\\x1b[31mred" in out, repr(out)


def test_a_typed_file_name_with_an_escape_sequence_is_shown_escaped_on_success(tmp_path, capsys):
    # show's header and every "wrote" line printed the name raw (only the error line escaped it)
    import shutil

    src = tmp_path / f"base{ESC}.json"
    shutil.copy(RESULTS / "base.json", src)
    for argv in (["show", str(src)], ["plot", str(src), "--out", str(tmp_path / f"p{ESC}")]):
        rc, out = _run(capsys, argv)
        assert rc in (0, 1) and "\x1b" not in out and "\x07" not in out, (argv, repr(out))
    rc, out = _run(capsys, ["show", str(src)])
    assert "base\\x1b[31mred" in out
    rc, out = _run(capsys, ["plot", str(src), "--out", str(tmp_path / f"p{ESC}")])
    assert "wrote " + str(tmp_path / "p\\x1b[31mred\\x1b]0;title\\x07") in out, out


# ------------------------------------------------------------------ charts


def _with_ghash(doc: dict) -> None:
    """A ghash hot path beside aes-ctr for every backend that has one, so `plot` draws the
    hot-path breakdown chart (its tick labels are backend names) too."""
    for b in list(_benchmarks(doc, "aes-128-gcm/")):
        md = b["metadata"]
        if md.get("operation") == "aes-ctr":
            g = copy.deepcopy(b)
            g["metadata"].update(operation="ghash", name=md["name"].replace("/aes-ctr/", "/ghash/"))
            doc["benchmarks"].append(g)


def _cpu_model(doc):
    doc["cryptobench"]["machine"]["cpu_model"] = f"AMD {MATH} EPYC"


def _math_backend(doc):
    for prefix, backend in (("aes-128-gcm/native-vaes/", "native-vaes"), ("ecdsa-p256-sha256/native-adx/", "native-adx")):
        for b in _benchmarks(doc, prefix):
            md = b["metadata"]
            md["backend"] = r"py$\bad$"
            md["name"] = md["name"].replace(backend, md["backend"])


@pytest.mark.parametrize("mutate", [_cpu_model, _math_backend], ids=["cpu_model-title", "backend-labels"])
def test_plot_draws_file_text_with_dollars(tmp_path, capsys, mutate):
    doc = _load(NOAVX512)
    _with_ghash(doc)
    mutate(doc)
    f = _write(tmp_path / "run.json", doc)
    out = tmp_path / "plots"
    rc, text = _run(capsys, ["plot", str(f), "--out", str(out)])
    assert rc == 0, text
    names = {"throughput-aes-128-gcm.png", "hotpaths-aes-128-gcm.png", "ecdsa.png"}
    assert {p.name for p in out.iterdir()} == names
    assert all((out / n).stat().st_size > 1000 for n in names)


@pytest.mark.parametrize("machine,name", [
    ({"git_commit": MATH}, None),
    ({}, r"aes-128-gcm/python/$\bad$/16384"),
], ids=["git_commit-ticks", "name-legend"])
def test_history_plot_draws_file_text_with_dollars(tmp_path, capsys, machine, name):
    d = _history_dir(tmp_path, machine, name, markup_dir=False)  # the chart alone: no "[/x]" for the table
    out = tmp_path / "plots"
    rc, text = _run(capsys, ["history", str(d), "--plot", str(out)])
    assert rc == 0, text
    png = out / "history-aes-128-gcm.png"
    assert png.stat().st_size > 1000
    if machine:
        assert _shows(MATH, text), text  # and the table shows it as it is


def test_chart_text_escapes_every_dollar_and_nothing_else():
    from matplotlib.text import Text as MplText

    from cryptobench.plot import literal_text

    assert literal_text("AMD EPYC 9R14") == "AMD EPYC 9R14"
    for s in (MATH, "a$b", r"a\$b$", "$$"):
        shown, math = MplText(text=literal_text(s))._preprocess_math(literal_text(s))
        assert (shown, math) == (s, False)


# ------------------------------------------------------------------ display helpers


def _render(renderables, width: int) -> str:
    con = Console(file=io.StringIO(), width=width, color_system=None)
    for r in renderables:
        con.print(r)
    return " ".join(con.file.getvalue().split())


def test_a_split_table_keeps_its_text_title_and_cells_literal():
    from cryptobench.display import fit_to_width

    t = Table(title=Text(f"kernel (path: {CRASH})"))
    for c in ("backend", "path", "a", "b", "c", "d"):
        t.add_column(c, no_wrap=c == "backend")
    t.add_row(Text(f"native-{CRASH}"), Text(SILENT), *(["12345678"] * 4))
    for width in (40, 12):  # split into "(continued)" tables; then one record per row
        out = _render(fit_to_width(t, width), width)
        assert f"native-{CRASH}" in out, out
    out = _render(fit_to_width(t, 40), 40)
    assert f"kernel (path: {CRASH}) (continued)" in out, out


def test_verify_tables_show_reasons_and_failures_literally():
    from cryptobench.display import verify_kernel_table, verify_summary_table
    from cryptobench.verify import CheckResult, KernelReport

    check = CheckResult(f"vectors {TAGS}", passed=1, failed=1, failures=[f"tcId 5: {CRASH} expected {SILENT}"])
    ok = KernelReport("aes-128-gcm", "python", True, path="ttable", checks=[check])
    gone = KernelReport("aes-128-gcm", f"native-{TAGS}", False, reason=f"no VAES {CRASH}")  # an out-of-tree backend
    out = _render([verify_kernel_table(ok), verify_summary_table([ok, gone])], 140)
    assert f"vectors {TAGS}" in out and f"FAIL tcId 5: {CRASH} expected {SILENT}" in out, out
    assert f"aes-128-gcm/native-{TAGS}" in out and f"no VAES {CRASH}" in out, out
