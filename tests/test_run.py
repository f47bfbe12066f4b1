"""The measurement engine: worker protocol, results schema, compare, refusal to
time a failing kernel, and bad input. Real runs use pyperf's fastest settings."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cryptobench import registry, results
from cryptobench.errors import ResultsFileError
from cryptobench.registry import Kernel
from cryptobench.run import PROFILES, run

DATA = Path(__file__).parent / "data" / "results"


def cli(args, cwd):
    env = dict(os.environ, COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "cryptobench.cli", *args], cwd=cwd, capture_output=True,
                          text=True, env=env, timeout=600)


# ------------------------------------------------------------------ worker protocol


def test_worker_protocol(tmp_path):
    out = tmp_path / "w.json"
    name = "aes-128-gcm/openssl/encrypt/64"
    cmd = [sys.executable, "-m", "cryptobench._worker", "--worker", "--loops=1", "--values=2", "--warmups=1",
           "--output", str(out), "--quiet", "--kernel", "aes-128-gcm/openssl", "--cb-min-time=0.001", "--bench", name]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert f"CB-DONE {name}" in lines
    cal = [l for l in lines if l.startswith("CB-CAL ")]
    assert len(cal) == 1 and cal[0].startswith(f"CB-CAL {name}=")
    calls = int(cal[0].rsplit("=", 1)[1])
    import pyperf

    b = pyperf.Benchmark.load(str(out))
    md = b.get_metadata()
    assert (md["algorithm"], md["backend"], md["operation"], md["size"]) == ("aes-128-gcm", "openssl", "encrypt", 64)
    assert md["inner_loops"] == calls and len(b.get_values()) == 2
    assert 1e-8 < b.median() < 1e-3  # seconds per encrypt of 64 bytes

    # a second worker told the calibration reuses it (pyperf merges only equal inner_loops)
    out2 = tmp_path / "w2.json"
    cmd2 = [c if c != str(out) else str(out2) for c in cmd] + ["--calls", f"{name}={calls}"]
    p2 = subprocess.run(cmd2, capture_output=True, text=True, timeout=120)
    assert p2.returncode == 0 and "CB-CAL" not in p2.stdout
    b.add_runs(pyperf.Benchmark.load(str(out2)))
    assert len(b.get_runs()) == 2


# ------------------------------------------------------------------ results schema


def test_results_roundtrip_and_pyperf_reads_it(tmp_path):
    res = results.load(DATA / "base.json")
    out = tmp_path / "copy.json"
    results.save(out, res.pyperf_suite(), dict(res.info))
    again = results.load(out)
    assert [(m.name, m.values) for m in again.measurements] == [(m.name, m.values) for m in res.measurements]
    assert again.kernels["aes-128-gcm/broken"]["status"] == "failed"
    p = subprocess.run([sys.executable, "-m", "pyperf", "show", str(out)], capture_output=True, text=True)
    assert p.returncode == 0 and "aes-128-gcm/openssl/encrypt/16384" in p.stdout


def test_measurement_figures():
    res = results.load(DATA / "base.json")
    m = res.find("aes-128-gcm", "openssl", "encrypt", 16384)
    assert m.mb_per_s == pytest.approx(16384 / m.median / 1e6)
    assert m.cycles_per_byte(2000.0) == pytest.approx(m.median * 2000e6 / 16384)
    assert 3.9e-6 < m.median < 4.1e-6


@pytest.mark.parametrize(
    "content,needle",
    [
        (None, "no such results file"),
        ("", "empty file"),
        ('{"version": "1.0", "benchmarks": [', "not valid JSON"),
        ("[1, 2]", "not a cryptobench results file"),
        ('{"version": "1.0", "benchmarks": [], "cryptobench": {"schema": 99}}', "schema version 99"),
    ],
)
def test_bad_results_files_are_refused(tmp_path, content, needle):
    f = tmp_path / "r.json"
    if content is not None:
        f.write_text(content)
    with pytest.raises(ResultsFileError, match=needle):
        results.load(f)
    p = cli(["show", str(f)], tmp_path)
    assert p.returncode == 2 and needle in p.stderr and len(p.stderr.strip().splitlines()) == 1


def _spoil_machine(doc):
    doc["cryptobench"]["machine"] = None


def _spoil_kernels(doc):
    doc["cryptobench"]["kernels"] = []


def _spoil_a_kernel(doc):
    doc["cryptobench"]["kernels"]["aes-128-gcm/openssl"] = "passed"


def _spoil_size(doc):
    b = next(b for b in doc["benchmarks"] if b["metadata"].get("size"))
    b["metadata"]["size"] = "big"


def _spoil_backend(doc):
    b = next(b for b in doc["benchmarks"] if b["metadata"].get("kind") != "overhead")
    b["metadata"]["backend"] = 7


def _spoil_parallel(doc):
    doc["cryptobench"]["settings"]["parallel"] = "two"  # compare and gate read it (int() raised ValueError)


@pytest.mark.parametrize(
    "spoil,needle",
    [
        (_spoil_machine, "malformed 'cryptobench' section: machine must be an object, got None"),
        (_spoil_kernels, "malformed 'cryptobench' section: kernels must be an object, got []"),
        (_spoil_a_kernel, "malformed 'cryptobench' section: kernels['aes-128-gcm/openssl'] must be an object"),
        (_spoil_size, "metadata size must be a positive integer, got 'big'"),
        (_spoil_backend, "metadata backend must be a string, got 7"),
        (_spoil_parallel, "settings.parallel must be a positive integer and settings.profile a string, got 'two'"),
    ],
)
def test_valid_json_with_the_wrong_shape_is_refused(tmp_path, spoil, needle):
    """These went through the schema check and raised AttributeError or TypeError from deep inside
    show, compare, gate and cost (a hand-edited or foreign file)."""
    doc = json.loads((DATA / "base.json").read_text())
    spoil(doc)
    f = tmp_path / "r.json"
    f.write_text(json.dumps(doc))
    with pytest.raises(ResultsFileError) as exc:
        results.load(f)
    assert needle in str(exc.value)
    for args in (["show", str(f)], ["compare", str(f), str(DATA / "base.json")], ["gate", str(DATA / "base.json"), str(f)]):
        p = cli(args, tmp_path)
        assert p.returncode == 2 and needle in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr


def test_truncated_real_file_is_refused(tmp_path):
    text = (DATA / "base.json").read_text()
    f = tmp_path / "t.json"
    f.write_text(text[: len(text) // 2])
    with pytest.raises(ResultsFileError, match="not valid JSON"):
        results.load(f)


# ------------------------------------------------------------------ compare


def test_compare_insignificant_change_passes(tmp_path):
    p = cli(["compare", str(DATA / "base.json"), str(DATA / "same.json")], tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "0 significantly slower" in p.stdout


def _fewer_values(src, dst, keep):
    """``src`` with each worker's values cut to the first ``keep`` (a run of another profile)."""
    doc = json.loads(src.read_text())
    for b in doc["benchmarks"]:
        for r in b["runs"]:
            if "values" in r:
                r["values"] = r["values"][:keep]
    dst.write_text(json.dumps(doc))
    return dst


def test_compare_of_runs_with_different_value_counts_tests_them(tmp_path):
    # pyperf's test cannot take samples of different sizes and answered "significant": every benchmark
    # of a default run against a --fast or --ci one was, and compare exited 1 on unchanged code
    same = _fewer_values(DATA / "same.json", tmp_path / "same-fewer.json", 2)
    p = cli(["compare", str(DATA / "base.json"), str(same), "--all"], tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "0 significantly slower" in p.stdout and "| yes |" not in " ".join(p.stdout.split()).replace("│", "|")
    slower = _fewer_values(DATA / "slower.json", tmp_path / "slower-fewer.json", 2)  # a real slowdown still shows
    p = cli(["compare", str(DATA / "base.json"), str(slower)], tmp_path)
    assert p.returncode == 1 and "aes-128-gcm/openssl/encrypt/16384" in p.stdout and "SLOWER" in p.stdout


def test_compare_significant_slowdown_fails(tmp_path):
    p = cli(["compare", str(DATA / "base.json"), str(DATA / "slower.json"), "--threshold", "5%"], tmp_path)
    assert p.returncode == 1
    assert "aes-128-gcm/openssl/encrypt/16384" in p.stdout and "SLOWER" in p.stdout
    assert "+20." in p.stdout


def test_compare_slowdown_under_threshold_passes(tmp_path):
    p = cli(["compare", str(DATA / "base.json"), str(DATA / "slower.json"), "--threshold", "25%"], tmp_path)
    assert p.returncode == 0


def test_compare_selection_narrows_what_is_compared_and_judged(tmp_path):
    base, slower = str(DATA / "base.json"), str(DATA / "slower.json")
    # the slowdown is in openssl's 16 KiB encrypt: selecting python leaves it out
    p = cli(["compare", base, slower, "-b", "python"], tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "1 benchmarks compared" in p.stdout
    p = cli(["compare", base, slower, "-a", "aes", "--filter", "encrypt/16384"], tmp_path)
    assert p.returncode == 1 and "2 benchmarks compared" in p.stdout and "SLOWER" in p.stdout
    p = cli(["compare", base, slower, "-a", "ecdsa"], tmp_path)
    assert p.returncode == 2
    assert p.stderr.strip() == "cryptobench compare: error: no benchmark of the selection (-a ecdsa) is in both files"
    p = cli(["compare", base, slower, "-b", "bogus"], tmp_path)
    assert p.returncode == 2 and p.stderr.startswith("cryptobench compare: error: unknown backend 'bogus'; valid: ")


def test_backend_selection_of_results_follows_runs_rule(tmp_path):
    # -b openssl selected openssl-noavx512 too in compare, gate and history (64 extra benchmarks)
    from cryptobench.registry import name_filter

    ok = name_filter(None, None, "openssl")
    assert ok("aes-128-gcm/openssl/encrypt/64") and not ok("aes-128-gcm/openssl-noavx512/encrypt/64")
    ok = name_filter(None, None, "openssl*")
    assert ok("aes-128-gcm/openssl/encrypt/64") and ok("aes-128-gcm/openssl-noavx512/encrypt/64")
    ok = name_filter(None, None, "native")
    assert ok("aes-128-gcm/native-vaes/encrypt/64") and not ok("aes-128-gcm/numba-hw/encrypt/64")


@pytest.mark.parametrize("new,status", [("same.json", 0), ("slower.json", 1)])
def test_a_closed_pipe_keeps_the_exit_status(tmp_path, new, status):
    # `compare ... | head` exited 1 ("a regression") whatever the comparison found: rich's default
    p = subprocess.Popen([sys.executable, "-m", "cryptobench", "compare", str(DATA / "base.json"), str(DATA / new), "--all"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    p.stdout.close()  # the reader is gone before the first line
    err = p.stderr.read().decode()
    assert p.wait(timeout=120) == status and "Traceback" not in err, err


def test_compare_warns_across_machines(tmp_path):
    doc = json.loads((DATA / "same.json").read_text())
    doc["cryptobench"]["machine"]["cpu_model"] = "Another CPU"
    other = tmp_path / "other.json"
    other.write_text(json.dumps(doc))
    p = cli(["compare", str(DATA / "base.json"), str(other)], tmp_path)
    assert "WARNING: different CPU" in p.stdout


def test_compare_and_gate_warn_across_settings(tmp_path):
    doc = json.loads((DATA / "same.json").read_text())
    doc["cryptobench"]["settings"].update(parallel=2, profile="ci")
    other = tmp_path / "other.json"
    other.write_text(json.dumps(doc))
    for command in ("compare", "gate"):
        out = " ".join(cli([command, str(DATA / "base.json"), str(other)], tmp_path).stdout.split())
        assert "WARNING: different --parallel: 1 vs 2" in out, (command, out)
        assert "note: different profile: fixture vs ci" in out, (command, out)
    out = cli(["compare", str(DATA / "base.json"), str(DATA / "same.json")], tmp_path).stdout
    assert "different --parallel" not in out and "different profile" not in out


def test_show_of_an_algorithm_the_file_lacks_is_refused(tmp_path):
    # it used to print the header and exit 0, as if the algorithm had been shown
    p = cli(["show", str(DATA / "base.json"), "-a", "ecdsa-p256-sha256"], tmp_path)
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1
    assert "base.json has no ecdsa-p256-sha256 benchmarks (it has: aes-128-gcm)" in p.stderr
    assert cli(["show", str(DATA / "base.json"), "-a", "aes-128-gcm"], tmp_path).returncode == 0


def test_show_golden(tmp_path):
    p = cli(["show", str(DATA / "base.json")], tmp_path)
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "aes-128-gcm: encrypt throughput" in out
    assert "aes-128-gcm/broken" in out and "FAILED" in out
    # openssl at 16 KiB: 16384 B / 4.0 µs = 4094 MB/s; python (20 ms) is 5000x slower
    assert "4094" in out and "5003×" in out and "0.0002×" in out
    assert "2444" in out  # python: 20 ms x 2000 MHz / 16384 B = 2441 TSC cycles/byte (±noise)


# ------------------------------------------------------------------ real runs


@pytest.fixture
def tagflip_kernel():
    from test_registry import _TagFlipper

    reg = registry.default_registry()
    k = Kernel("aes-128-gcm", "broken-tagflip", True, impl=_TagFlipper(registry.get("aes-128-gcm", "openssl").impl))
    reg.add(k)
    yield k
    reg.remove(k.name)


def test_failing_kernel_is_never_timed(tmp_path, tagflip_kernel):
    out = tmp_path / "r.json"
    path, info = run(backends="broken-tagflip,openssl", algorithms="aes-128-gcm", sizes=(64,),
                     hot_paths=False, profile=PROFILES["fast"], output=out, pattern="*encrypt*")
    res = results.load(path)
    assert res.kernels["aes-128-gcm/broken-tagflip"]["status"] == "failed"
    assert "verification" in res.kernels["aes-128-gcm/broken-tagflip"]["reason"]
    assert not [m for m in res.measurements if m.backend == "broken-tagflip"]
    assert res.find("aes-128-gcm", "openssl", "encrypt", 64) is not None
    assert res.info["complete"] is True


def test_cli_run_writes_a_file_pyperf_reads(tmp_path):
    p = cli(["run", "--fast", "-a", "chacha20-poly1305", "-b", "openssl", "--sizes", "64,1k", "--no-hot-paths",
             "-o", "r.json"], tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "chacha20-poly1305: encrypt throughput" in p.stdout
    q = subprocess.run([sys.executable, "-m", "pyperf", "show", str(tmp_path / "r.json")], capture_output=True, text=True)
    assert q.returncode == 0 and "chacha20-poly1305/openssl/encrypt/1024" in q.stdout
    res = results.load(tmp_path / "r.json")
    assert {m.size for m in res.measurements} == {64, 1024}
    assert res.info["overhead_s"] > 0
    assert res.machine["tsc_mhz"] is None or res.machine["tsc_mhz"] > 0


@pytest.mark.parametrize(
    "args,needle",
    [
        (["run", "--sizes", "12,abc"], "invalid size 'abc'"),
        (["run", "--sizes", "0"], "invalid size '0'"),
        (["run", "--sizes", ""], "--sizes is empty"),
        (["run", "--sizes", " "], "--sizes is empty"),
        (["gate", "--count", "--sizes", ""], "--sizes is empty"),
        (["run", "--algorithm", "rot13"], "unknown algorithm 'rot13'; valid:"),
        (["run", "--backend", "fpga"], "unknown backend 'fpga'; valid:"),
        (["run", "--filter", "no-such-benchmark-anywhere"],
         "but no benchmark of theirs matches --filter 'no-such-benchmark-anywhere' at these sizes; names look like "),
        (["run", "-b", "python", "--sizes", "16", "--filter", "*16384"], "matches --filter '*16384'"),
        (["run", "-a", "ecdsa-p256-sha256", "-b", "peer-pyaes"],
         "no kernel is both algorithm ecdsa-p256-sha256 and backend peer-pyaes"),
        pytest.param(["run", "-b", "peer-pyaes", "--no-hot-paths"], "offer only hot paths, and --no-hot-paths was given",
                     marks=pytest.mark.skipif(importlib.util.find_spec("pyaes") is None,
                                              reason="pyaes is not installed (pip install '.[peers]')")),
        (["run", "--parallel", "0"], "--parallel must be at least 1"),
    ],
)
def test_run_bad_input(tmp_path, args, needle):
    p = cli(args + ["-o", "r.json"], tmp_path)
    assert p.returncode == 2, p.stdout + p.stderr
    assert needle in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r.json").exists() and not (tmp_path / "results").exists()


@pytest.mark.parametrize("command,out", [("run", "-o"), ("verify", "--json"), ("leakcheck", "--json")])
def test_every_selected_kernel_unavailable_is_refused_with_the_reason(tmp_path, monkeypatch, command, out):
    # run and leakcheck used to skip them silently (leakcheck then timed only its control
    # and exited 0); verify checked nothing and exited 0
    monkeypatch.setenv("CRYPTOBENCH_NATIVE_DISABLE", "all")
    p = cli([command, "-b", "native-vaes", "-a", "aes-128-gcm", out, "r.json"], tmp_path)
    assert p.returncode == 2, p.stdout + p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
    assert (f"nothing to {'check' if command == 'leakcheck' else command}: every selected kernel is unavailable "
            "(aes-128-gcm/native-vaes: disabled by CRYPTOBENCH_NATIVE_DISABLE") in p.stderr
    assert not (tmp_path / "r.json").exists()


def test_run_does_not_replace_an_existing_results_file_without_force(tmp_path):
    keep = tmp_path / "base.json"
    keep.write_text((DATA / "base.json").read_text())
    args = ["run", "-a", "aes-128-gcm", "-b", "openssl", "--sizes", "16", "--no-hot-paths", "--fast",
            "--filter", "*encrypt*", "-o", "base.json"]
    p = cli(args, tmp_path)
    assert p.returncode == 2 and "base.json already exists: choose another --output, or add --force" in p.stderr
    assert keep.read_text() == (DATA / "base.json").read_text()
    (tmp_path / "empty.json").write_text("")  # e.g. from mktemp: nothing to lose
    assert cli(args[:-1] + ["empty.json"], tmp_path).returncode == 0
    p = cli(args + ["--force"], tmp_path)
    assert p.returncode == 0, p.stderr
    assert [m.name for m in results.load(keep).measurements if m.kind != "overhead"] == ["aes-128-gcm/openssl/encrypt/16"]


def test_newest_prefers_the_later_of_two_same_second_runs(tmp_path):
    for name in ("20261127T010101Z_vm.json", "20261127T010101Z_vm-2.json", "20261127T000000Z_vm-3.json"):
        (tmp_path / name).write_text("{}")
    assert results.newest(tmp_path).name == "20261127T010101Z_vm-2.json"


def test_parallel_beyond_the_cpus_warns_before_running(tmp_path, monkeypatch, capsys):
    from cryptobench import cli

    monkeypatch.setattr("os.cpu_count", lambda: 1)
    out = tmp_path / "p.json"
    args = ["run", "-b", "openssl", "-a", "aes-128-gcm", "--sizes", "16", "--no-hot-paths", "--fast",
            "--filter", "*encrypt*", "-o", str(out)]
    assert cli.main([*args, "--parallel", "2"]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "--parallel 2 on 1 CPUs: the copies share cores" in err
    assert cli.main([*args, "--parallel", "1", "--force"]) == 0
    assert "share cores" not in capsys.readouterr().err


def test_parallel_copies_are_merged_and_reported_as_aggregate(tmp_path):
    path, info = run(backends="openssl", algorithms="aes-128-gcm", sizes=(64,), hot_paths=False,
                     profile=PROFILES["fast"], output=tmp_path / "p.json", pattern="*encrypt*", parallel=2)
    res = results.load(path)
    assert res.info["settings"]["parallel"] == 2
    bench = next(b for b in res.pyperf_suite().get_benchmarks() if b.get_name() == "aes-128-gcm/openssl/encrypt/64")
    assert len(bench.get_runs()) == 2  # one run from each concurrent copy, merged
    from cryptobench import report

    (table, *_) = report.algorithm_tables(res, "aes-128-gcm")
    assert "aggregate of 2 parallel copies" in str(table.title)


def test_aead_table_has_one_openssl_column_per_distinct_size():
    from cryptobench import report
    from cryptobench.results import Measurement, Results

    def table(sizes):
        ms = [Measurement(f"aes-128-gcm/{b}/encrypt/{n}", "aes-128-gcm", b, "encrypt", n, "operation", "p",
                          [t * n, t * n], {"aad": 13})
              for n in sizes for b, t in (("openssl", 1e-9), ("python", 5e-8))]
        (t, *_) = report.algorithm_tables(Results(None, {}, {}, ms), "aes-128-gcm")
        return [str(c.header) for c in t.columns], {str(c.header): list(c._cells) for c in t.columns}

    # --sizes 16: the small-record and large-record ratios are the same column, shown once
    heads, cells = table((16,))
    assert [h for h in heads if h.startswith("×openssl")] == ["×openssl 16B"]
    assert [str(x) for x in cells["×openssl 16B"]] == ["1.00×", "0.02×"]
    heads, _ = table((16, 16384))
    assert [h for h in heads if h.startswith("×openssl")] == ["×openssl 16B", "×openssl 16K"]


def test_peers_table_shows_the_python_against_peer_ratios():
    """#4's three ratios, read off one run: python's AEAD encrypt against a peer's
    encrypt (or pyaes's keystream alone), and ECDSA sign and verify."""
    from rich.console import Console

    from cryptobench import report
    from cryptobench.results import Measurement, Results

    def m(alg, backend, op, size, t, aad=13, kind="operation"):
        meta = {"aad": aad} if aad is not None else {}
        return Measurement(f"{alg}/{backend}/{op}/{size}", alg, backend, op, size, kind, "p", [t, t], meta)

    ms = [
        m("aes-128-gcm", "python", "encrypt", 16384, 1e-3), m("aes-128-gcm", "python", "encrypt", 64, 1e-5),
        m("aes-128-gcm", "peer-pyaes", "aes-ctr", 16384, 2e-2, aad=None, kind="hot-path"),
        m("chacha20-poly1305", "python", "encrypt", 1024, 1e-4),
        m("chacha20-poly1305", "peer-chacha20poly1305", "encrypt", 1024, 3e-3),
        m("ecdsa-p256-sha256", "python", "sign", None, 1e-4, aad=None),
        m("ecdsa-p256-sha256", "python", "verify", None, 1e-3, aad=None),
        m("ecdsa-p256-sha256", "peer-ecdsa", "sign", None, 4e-4, aad=None),
        m("ecdsa-p256-sha256", "peer-ecdsa", "verify", None, 1.5e-3, aad=None),
        m("ecdsa-p256-sha256", "openssl", "sign", None, 2e-5, aad=None),
    ]
    res = Results(None, {}, {}, ms)
    con = Console(width=200, record=True)
    con.print(report.peers_table(res))
    out = con.export_text()
    assert "aes-128-gcm encrypt 16K" in out and "peer-pyaes aes-ctr 16K (keystream only)" in out and "20.00×" in out
    assert "chacha20-poly1305 encrypt 1K" in out and "30.00×" in out  # the largest size both have
    assert "ecdsa-p256-sha256 sign" in out and "4.00×" in out and "1.50×" in out
    assert "openssl" not in out
    assert report.peers_table(Results(None, {}, {}, [x for x in ms if not x.backend.startswith("peer")])) is None


def test_settings_notes_warn_when_ecdsa_inputs_differ():
    old = {"profile": "default", "parallel": 1}  # made before bench.DISTINCT_INPUTS: no entry
    new = {"profile": "default", "parallel": 1, "ecdsa_inputs": 1024}
    (note,) = results.settings_notes(old, new)
    assert note.startswith("WARNING: ECDSA benchmarks cycled through 1 vs 1024 distinct inputs")
    assert results.settings_notes(new, dict(new)) == []
    assert results.settings_notes(old, new, ecdsa=False) == []  # no ECDSA benchmark compared
    assert results.settings_notes({}, new) == []  # a pytest-benchmark file has no run settings


def test_compare_and_gate_warn_across_the_ecdsa_input_change(tmp_path):
    """The committed 2026-11-27 run signed one message; a run now cycles through
    1,024: comparing the two says so, unless no ECDSA benchmark is compared."""
    old = Path(__file__).resolve().parent.parent / "results" / "20261127T204800Z_vm.json"
    doc = json.loads(old.read_text())
    assert "ecdsa_inputs" not in doc["cryptobench"]["settings"]
    doc["cryptobench"]["settings"]["ecdsa_inputs"] = 1024
    new = tmp_path / "new.json"
    new.write_text(json.dumps(doc))
    needle = "WARNING: ECDSA benchmarks cycled through 1 vs 1024 distinct inputs"
    for command in ("compare", "gate"):
        out = " ".join(cli([command, str(old), str(new)], tmp_path).stdout.split())
        assert needle in out, (command, out[:500])
        out = " ".join(cli([command, str(old), str(new), "-a", "aes"], tmp_path).stdout.split())
        assert needle not in out and "benchmarks compared" in out, (command, out[:500])


def test_a_file_pyperf_rewrote_is_refused_with_the_reason(tmp_path):
    # pyperf convert (or timeit --append) keeps the benchmarks and drops the 'cryptobench' section:
    # the refusal said only "no 'cryptobench' section", which sent users looking for a bug
    conv = tmp_path / "conv.json"
    subprocess.run([sys.executable, "-m", "pyperf", "convert", "--indent", str(DATA / "base.json"), "-o", str(conv)],
                   check=True, capture_output=True, timeout=120)
    p = cli(["show", str(conv)], tmp_path)
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert "no 'cryptobench' section): its benchmarks are cryptobench's, so a pyperf command rewrote it" in p.stderr
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps({"version": "1.0", "metadata": {}, "benchmarks": [
        {"metadata": {"name": "timeit"}, "runs": [{"values": [1e-6, 1.1e-6]}]}]}))
    p = cli(["show", str(plain)], tmp_path)
    assert p.returncode == 2 and "it looks like a pyperf file of other benchmarks" in p.stderr, p.stderr
    pb = tmp_path / "pb.json"
    pb.write_text(json.dumps({"machine_info": {}, "version": "5.1.0", "benchmarks": []}))
    p = cli(["compare", str(pb), str(pb)], tmp_path)
    assert p.returncode == 2 and "pytest-benchmark JSON, which `cryptobench gate` reads" in p.stderr, p.stderr
