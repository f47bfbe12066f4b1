"""`cryptobench history`: trends across results files, ordered by date, with
significant steps marked at the run (and commit) where they landed."""

from __future__ import annotations

import json
import math
import random
import re
import shutil
from pathlib import Path

import pyperf
import pytest

from cryptobench import history, results
from cryptobench.cli import main

FIXTURES = Path(__file__).parent / "data" / "results"


def _write(path: Path, created: str, commit: str, times: dict[tuple[str, str, int], float], seed: int) -> Path:
    """A results file like `cryptobench run` writes: 2 runs x 6 values, 1% noise."""
    rng = random.Random(seed)
    benches = []
    for (backend, op, size), t in times.items():
        runs = []
        for _ in range(2):
            values = [t * math.exp(rng.gauss(0, 0.01)) for _ in range(6)]
            md = {"name": f"chacha20-poly1305/{backend}/{op}/{size}", "algorithm": "chacha20-poly1305", "backend": backend,
                  "operation": op, "size": size, "kind": "hot-path" if op == "poly1305" else "operation",
                  "code_path": "x", "inner_loops": 10}
            if op == "encrypt":
                md["aad"] = 13
            runs.append(pyperf.Run(values, warmups=[(1, values[0])], metadata=md, collect_metadata=False))
        benches.append(pyperf.Benchmark(runs))
    info = {"created": created, "complete": True, "kernels": {}, "settings": {},
            "machine": {"cpu_model": "CPU A", "git_commit": commit}}
    path.parent.mkdir(parents=True, exist_ok=True)
    results.save(path, pyperf.BenchmarkSuite(benches), info)
    return path


@pytest.fixture
def results_dir(tmp_path: Path) -> Path:
    """Four nights, the file names out of date order (history sorts by `created`):
    night 3 (commit c3) makes python encrypt 20% slower; night 2 the whole machine is
    30% slower (openssl too), which must not show as a step of the ratio."""
    d = tmp_path / "results"
    nights = [
        ("2026-11-01T03:00:00+00:00", "c1" * 20, 1.0, 1.0),
        ("2026-11-02T03:00:00+00:00", "c2" * 20, 1.3, 1.3),
        ("2026-11-03T03:00:00+00:00", "c3" * 20, 1.2, 1.0),
        ("2026-11-04T03:00:00+00:00", "c4" * 20, 1.2, 1.0),
    ]
    for i, (created, commit, py_factor, machine) in enumerate(nights):
        times = {("openssl", "encrypt", 1024): 1e-6 * machine, ("python", "encrypt", 1024): 1e-4 * py_factor,
                 ("python", "poly1305", 1024): 2e-5 * machine}
        sub = "baseline" if i == 0 else "nightly"
        _write(d / sub / f"{9 - i}_night.json", created, commit, times, seed=i)
    (d / "README.md").write_text("not json")
    (d / "nightly" / "instructions.json").write_text(json.dumps({"schema": "cryptobench-icount/1", "counts": {}}))
    return d


def test_steps_are_found_where_they_landed(results_dir):
    h = history.collect(directory=results_dir)
    assert [r.created[:10] for r in h.runs] == ["2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04"]
    assert h.runs[2].commit == "c3c3c3c3c3"
    enc = h.series["chacha20-poly1305/python/encrypt/1024"]
    assert len(enc.points) == 4
    # the machine got 30% slower on night 2, but the ratio to openssl in the same run did not: no step
    # night 2 -> 3: the python kernel itself 1.2/1.3 of before, relative to openssl 1.2x of night 2's ratio
    assert [(s.before, s.after) for s in enc.steps] == [(1, 2)]
    assert enc.steps[0].change == pytest.approx(1.2, rel=0.03)
    assert enc.total_change == pytest.approx(1.2, rel=0.03)
    # poly1305 (a hot path openssl has) moves with the machine only: flat ratio, no step
    poly = h.series["chacha20-poly1305/python/poly1305/1024"]
    assert poly.steps == [] and poly.total_change == pytest.approx(1.0, abs=0.03)
    assert "chacha20-poly1305/openssl/encrypt/1024" not in h.series  # the reference itself
    skipped = dict(h.skipped)
    assert any("instruction counts" in why for why in skipped.values())


def test_time_metric_sees_the_machine(results_dir):
    h = history.collect(directory=results_dir, metric="time")
    poly = h.series["chacha20-poly1305/python/poly1305/1024"]
    # absolute times: the slower machine on night 2 is a step up, night 3 a step down
    assert [(s.before, s.after) for s in poly.steps] == [(0, 1), (1, 2)]
    assert "chacha20-poly1305/openssl/encrypt/1024" in h.series


def test_history_cli_table_and_plot(results_dir, tmp_path, capsys):
    plots = tmp_path / "plots"
    assert main(["history", str(results_dir), "--plot", str(plots), "-b", "python"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"#2: \+(1[7-9]|2[0-3])\.\d% \(c3c3c3c3c3\)", out), out
    assert "1 significant step(s)" in out
    assert (plots / "history-chacha20-poly1305.png").stat().st_size > 1000
    # a chart that cannot be written: one line, exit 2, nothing half-written (was an IsADirectoryError traceback)
    blocked = tmp_path / "blocked"
    (blocked / "history-chacha20-poly1305.png").mkdir(parents=True)
    capsys.readouterr()
    assert main(["history", str(results_dir), "--plot", str(blocked), "-b", "python"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("history-chacha20-poly1305.png: Is a directory") and len(err.splitlines()) == 1, err
    assert [p.name for p in blocked.iterdir()] == ["history-chacha20-poly1305.png"]
    assert main(["history", str(results_dir), "--steps-only", "--filter", "*/poly1305/*"]) == 0
    assert "0 significant step(s)" in capsys.readouterr().out


def test_history_refuses_nothing_to_show(tmp_path, capsys):
    assert main(["history", str(tmp_path / "nope")]) == 2
    (tmp_path / "empty").mkdir()
    assert main(["history", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert "not a directory" in err and "empty: no cryptobench results file found" in err
    d = tmp_path / "r"
    shutil.copytree(FIXTURES, d)
    assert main(["history", str(d), "--filter", "no-such-benchmark"]) == 2
    assert "no benchmark of the 3 run(s) matches the selection (--filter no-such-benchmark)" in " ".join(capsys.readouterr().err.split())
    # openssl's own benchmarks have no ratio to openssl: say so, and what shows them
    assert main(["history", str(d), "-b", "openssl"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "no benchmark of the selection was measured beside its reference (openssl)" in err
    assert "--metric time shows median times" in err
    assert main(["history", str(d), "-b", "openssl", "--metric", "time"]) == 0


def test_history_reads_the_committed_fixtures(tmp_path):
    d = tmp_path / "r"
    shutil.copytree(FIXTURES, d)
    h = history.collect(directory=d)
    assert len(h.runs) == 3 and "aes-128-gcm/python/encrypt/16384" in h.series


def test_history_reads_and_parses_each_file_once(tmp_path, monkeypatch):
    """A year of nightly files is read by every history and gate call: each file is read, parsed as
    JSON and loaded by pyperf once (it was three reads and two pyperf loads, twice the time)."""
    from cryptobench import gate

    d = tmp_path / "r"
    shutil.copytree(FIXTURES, d)
    counts = {"icount": d / "counts.json", "pytest-benchmark": d / "pb.json"}
    counts["icount"].write_text(json.dumps({"schema": gate.ICOUNT_SCHEMA, "counts": {}}))
    counts["pytest-benchmark"].write_text(json.dumps({"machine_info": {}, "benchmarks": []}))
    reads, suites = [], []
    real_read, real_suite = results.read_json, results._suite
    monkeypatch.setattr(results, "read_json", lambda p, *a, **k: reads.append(Path(p).name) or real_read(p, *a, **k))
    monkeypatch.setattr(results, "_suite", lambda p, doc: suites.append(Path(p).name) or real_suite(p, doc))
    h = history.collect(directory=d)
    names = sorted(f.name for f in d.rglob("*.json"))
    assert len(names) == 5 and len(h.runs) == 3
    assert sorted(reads) == names
    assert sorted(suites) == sorted(n for n in names if n not in ("counts.json", "pb.json"))
    assert {why for f, why in h.skipped} >= {"instruction counts (compare with `cryptobench gate`)"}


def test_history_refuses_a_reference_for_median_times(tmp_path):
    # --metric time has no reference: --reference python was ignored without a word
    import subprocess
    import sys

    data = Path(__file__).parent / "data" / "results"
    p = subprocess.run([sys.executable, "-m", "cryptobench.cli", "history", str(data), "--metric", "time",
                        "--reference", "python"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert p.returncode == 2 and p.stderr.strip() == (
        "cryptobench history: error: --reference sets the backend of --metric ratio; --metric time has none")
    p = subprocess.run([sys.executable, "-m", "cryptobench.cli", "history", str(data), "--metric", "time"],
                       capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert p.returncode == 0, p.stderr


def test_history_names_an_unknown_backend_and_keeps_retired_ones(results_dir, capsys):
    # -b nope said only "no benchmark matches the selection" where run and compare say "unknown backend"
    assert main(["history", str(results_dir), "-b", "nope"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "unknown backend 'nope'; valid: " in err and "retired" not in err
    # beside a good one it was passed over in silence
    assert main(["history", str(results_dir), "-b", "python,nope"]) == 2
    assert "unknown backend 'nope'" in capsys.readouterr().err
    # registered but in no file: the selection matches nothing, which is what it says
    assert main(["history", str(results_dir), "-b", "native-vaes"]) == 2
    assert "matches the selection (-b native-vaes)" in " ".join(capsys.readouterr().err.split())
    # a backend no longer registered but in the files is still shown (not strict)
    _write(results_dir / "nightly" / "retired.json", "2026-11-05T03:00:00+00:00", "c5" * 20,
           {("openssl", "encrypt", 1024): 1e-6, ("retired", "encrypt", 1024): 2e-6}, seed=9)
    assert main(["history", str(results_dir), "-b", "retired"]) == 0
    assert "chacha20-poly1305/retired/encrypt/1024" in capsys.readouterr().out
    assert main(["history", str(results_dir), "-b", "nope"]) == 2  # the valid list now names the file's backend
    assert "retired" in capsys.readouterr().err


def test_history_charts_name_a_moved_reference_too_many_lines_and_stale_charts(results_dir, tmp_path, capsys,
                                                                             monkeypatch):
    # the charts drew a slowdown as a downward marker on a rising line, dropped the legend past 30 lines
    # without a word, and read a change of openssl's own hot path as every kernel's slowdown
    up = history.Step(0, 1, 1.5, 1e-9)
    mk = lambda name, steps: history.Series(name, "a", name.split("/")[1],  # noqa: E731
                                            [history.Point(0, 1.0, 1.0), history.Point(1, 1.5, 1.5)], steps)
    shared = [mk(f"a/b{i}/chacha20/64", [up]) for i in range(3)] + [mk("a/b3/chacha20/64", [])]
    assert history.moved_reference(shared) == [1]  # three of four divided by one reference benchmark
    apart = [mk(f"a/b{i}/op{i}/64", [up]) for i in range(4)]  # each divided by its own: no common cause
    assert history.moved_reference(apart) == []
    from cryptobench import plot

    marks = []
    real_png = plot._png

    def spy(plt, fig):  # the step markers: (marker, colour) of each one-point line
        marks.extend((ln.get_marker(), ln.get_color()) for ln in fig.axes[0].get_lines() if len(ln.get_xdata()) == 1)
        return real_png(plt, fig)

    monkeypatch.setattr(plot, "_png", spy)
    out = tmp_path / "plots"
    out.mkdir()
    (out / "history-aes-128-gcm.png").write_bytes(b"old")
    (out / "throughput-x.png").write_bytes(b"plot's, not history's")
    assert main(["history", str(results_dir), "--plot", str(out)]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert (f"note: {out} also holds 1 history chart(s) this selection did not make (an earlier history's): "
            "history-aes-128-gcm.png") in text
    # night 3's python slowdown (the fixture): a red marker pointing up, the way its line goes
    assert ("^", "red") in marks and ("v", "red") not in marks


def test_gzipped_results_are_found_by_every_directory_scan(tmp_path):
    # `run -o x.json.gz` writes what pyperf reads, but history, gate's baseline directory and cost's
    # newest file looked for *.json only: the gzipped run was never read, and nothing said so
    import gzip

    from cryptobench import gate

    d = tmp_path / "r"
    shutil.copytree(FIXTURES, d)
    plain = d / "slower.json"
    (d / "slower.json.gz").write_bytes(gzip.compress(plain.read_bytes()))
    plain.unlink()
    assert len(history.collect(directory=d).runs) == 3
    assert len(gate.load_runs(d, kind="cryptobench")) == 3
    newest = results.newest_first(d)
    assert {p.name for p in newest} == {"base.json", "same.json", "slower.json.gz"}
    assert results.load(newest[0]).measurements  # the gzipped one loads as the others do
