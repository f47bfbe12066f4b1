"""Malformed but plausible results files, pytest-benchmark JSON and instruction-count files:
every reader refuses them in one line naming the file (exit status 2), never a traceback, a
hang or a wrong figure printed as if measured.

Each case below is a class of file a mutation fuzzer (every metadata key removed, null, of the
wrong type, negative, NaN, infinite, huge; runs without values; duplicate benchmarks; gzip
bombs; ...) found getting past ``results.load``, ``gate.load_run`` or ``gate.load_counts``
and failing later: a StatisticsError, OverflowError, TypeError or AttributeError out of show,
compare, plot, gate, history or cost, or "inf" and "-1 s" printed as figures.
"""

from __future__ import annotations

import copy
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cryptobench import gate, results
from cryptobench.cli import main
from cryptobench.errors import ResultsFileError

DATA = Path(__file__).parent / "data" / "results"
BASE = DATA / "base.json"
NAN, INF = float("nan"), float("inf")


def _doc() -> dict:
    return json.loads(BASE.read_text())


def _bench(doc: dict, i: int = 1) -> dict:
    """A benchmark's metadata, with the suite-level keys (base.json shares algorithm, kind,
    operation and aad there) copied into every benchmark, so that one can be changed alone."""
    common = doc.pop("metadata", {}) or {}
    for b in doc["benchmarks"]:
        b["metadata"] = dict(common, **b.get("metadata", {}))
    return doc["benchmarks"][i]["metadata"]


def _values(doc: dict, values) -> None:
    for r in doc["benchmarks"][1]["runs"]:
        r["values"] = values


def _warmups_only(doc: dict) -> None:
    for r in doc["benchmarks"][1]["runs"]:
        r["values"] = []  # pyperf accepts a run of warmups alone


def _duplicate_under_another_name(doc: dict) -> None:
    _bench(doc)
    twin = copy.deepcopy(doc["benchmarks"][1])
    twin["metadata"]["name"] = "aes-128-gcm/python/encrypt/16384-again"
    doc["benchmarks"].append(twin)


def _machine(**fields):
    return lambda doc: doc["cryptobench"]["machine"].update(fields)


def _kernel(**fields):
    return lambda doc: doc["cryptobench"]["kernels"]["aes-128-gcm/openssl"].update(fields)


def _metadata(**fields):
    return lambda doc: _bench(doc).update(fields)


def _lacks(key):
    return lambda doc: _bench(doc).pop(key)


# (id, spoil, what the one-line message says)
REFUSED = [
    ("warmups-only", _warmups_only, "aes-128-gcm/python/encrypt/16384: no values (only warmups)"),
    ("value-infinite", lambda d: _values(d, [1e-3, INF]), "it holds Infinity, which is not a number JSON allows"),
    ("value-huge", lambda d: _values(d, [1e308]), "values must be seconds from 1e-15 to 1e+06, got 1e+308"),
    ("value-tiny", lambda d: _values(d, [1e-300]), "values must be seconds from 1e-15 to 1e+06, got 1e-300"),
    ("value-bool", lambda d: _values(d, [True]), "values must be seconds from 1e-15 to 1e+06, got True"),
    ("overhead-nan", lambda d: d["cryptobench"].update(overhead_s=NAN), "it holds NaN, which is not a number"),
    ("overhead-negative", lambda d: d["cryptobench"].update(overhead_s=-1),
     "overhead_s must be a number of seconds from 0 to 1e+06, got -1"),
    ("cold-prepare-negative", _kernel(cold_prepare_s=-5.0), "cold_prepare_s must be a number of seconds from 0"),
    ("worker-prepare-negative", _kernel(cold_prepare_s=1.0, worker_prepare_s=[0.1, -1]),
     "worker_prepare_s must be a list of numbers of seconds from 0 to 1e+06, got [0.1, -1]"),
    ("setup-negative", _metadata(setup_s=-1), "metadata setup_s must be a number of seconds from 0 to 1e+06, got -1"),
    ("tsc-huge", _machine(tsc_mhz=1e308), "machine.tsc_mhz must be below 1e6 (MHz), got 1e+308"),
    ("tsc-infinite", _machine(tsc_mhz=INF), "it holds Infinity"),
    ("cpu-count-string", _machine(cpu_count="2"), "machine.cpu_count must be a positive integer or null, got '2'"),
    ("git-commit-number", _machine(git_commit=5), "machine.git_commit must be a string or null, got 5"),
    ("ia32cap-list", _machine(openssl_ia32cap=["~0x200000200000000"]), "machine.openssl_ia32cap must be a string"),
    ("cpu-model-dict", _machine(cpu_model={"x": 1}), "machine.cpu_model must be a string or null"),
    ("cpu-model-huge", _machine(cpu_model="x" * 4097), "machine.cpu_model must be at most 4,096 characters, got 'xxx"),
    ("schema-true", lambda d: d["cryptobench"].update(schema=True), "results schema version True"),
    ("schema-float", lambda d: d["cryptobench"].update(schema=1.0), "results schema version 1.0"),
    ("name-number", _metadata(name=7), "benchmark name must be a string, got 7"),
    ("lacks-backend", _lacks("backend"), "aes-128-gcm/python/encrypt/16384: metadata lacks backend"),
    ("lacks-algorithm", _lacks("algorithm"), "metadata lacks algorithm"),
    ("lacks-operation", _lacks("operation"), "metadata lacks operation"),
    ("lacks-size", _lacks("size"), "metadata lacks the size of aes-128-gcm encrypt"),
    ("size-nan", _metadata(size=NAN), "it holds NaN"),  # pyperf dropped it (NaN != NaN): a sizeless encrypt
    ("size-huge", _metadata(size=10**30), "metadata size must be a positive integer, got 1000000000000000000000"),
    ("aad-string", _metadata(aad="13"), "metadata aad must be a whole number of bytes, got '13'"),
    ("aad-negative", _metadata(aad=-1), "metadata aad must be a whole number of bytes, got -1"),
    ("kind-unknown", _metadata(kind="weird"), "metadata kind must be operation, hot-path or overhead, got 'weird'"),
    ("sized-signature", lambda d: _bench(d).update(algorithm="ecdsa-p256-sha256", operation="sign",
                                                   name="ecdsa-p256-sha256/python/sign"),
     "ecdsa-p256-sha256 sign takes no message, but metadata size is 16384"),
    ("same-benchmark-twice", _duplicate_under_another_name,
     "have the same algorithm, backend, operation, size and aad"),
]


@pytest.mark.parametrize("spoil,needle", [pytest.param(s, n, id=i) for i, s, n in REFUSED])
def test_malformed_results_files_are_refused_in_one_line(tmp_path, spoil, needle):
    doc = _doc()
    spoil(doc)
    f = tmp_path / "r.json"
    f.write_text(json.dumps(doc))  # NaN and Infinity as Python's json writes them
    with pytest.raises(ResultsFileError) as exc:
        results.load(f)
    msg = str(exc.value)
    assert needle in msg and msg.startswith(str(f)) and "\n" not in msg, msg
    with pytest.raises(ResultsFileError):
        gate.load_run(f)


@pytest.mark.parametrize("spoil,needle", [pytest.param(s, n, id=i) for i, s, n in REFUSED
                                          if i in ("warmups-only", "value-huge", "name-number", "lacks-size",
                                                   "git-commit-number", "ia32cap-list")])
def test_every_reader_exits_2_and_history_skips_the_file(tmp_path, capsys, spoil, needle):
    """Before, these were tracebacks: StatisticsError (show, compare, plot, cost, history),
    OverflowError (gate), TypeError (plot, gate, show --details), AttributeError (history)."""
    doc = _doc()
    spoil(doc)
    d = tmp_path / "results"
    d.mkdir()
    f = d / "20301231T000000Z_bad.json"
    f.write_text(json.dumps(doc))
    fleet = tmp_path / "fleet.toml"
    from cryptobench.fleet import example_fleet_text

    fleet.write_text(example_fleet_text().replace('results = "newest"', f'results = "{f}"', 1))
    for argv in (["show", str(f)], ["show", "--details", str(f)], ["compare", str(BASE), str(f)],
                 ["compare", str(f), str(BASE)], ["plot", str(f), "--out", str(tmp_path / "plots")],
                 ["gate", str(BASE), str(f)], ["gate", str(f), str(DATA / "same.json")],
                 ["cost", "--results", str(d)], ["cost", "--fleet", str(fleet)]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert needle in err and len(err.splitlines()) == 1 and str(f) in err, (argv, err)
    for name in ("base.json", "same.json"):
        (d / name).write_bytes((DATA / name).read_bytes())
    assert main(["history", str(d)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert f"skipped {f}: " in out and needle.split(": ")[-1] in out


def _nan_size(doc):
    _bench(doc)["size"] = NAN


ACCEPTED = [  # valid (or a field the readers do not need): read as before
    ("unknown-keys", lambda d: d["cryptobench"].update(future={"x": 1})),
    ("incomplete", lambda d: d["cryptobench"].update(complete=False)),
    ("no-aad", _lacks("aad")),  # files before run --no-aad: 13 bytes
    ("aad-0", _metadata(aad=0, name="aes-128-gcm/python/encrypt-noaad/16384")),
    ("unknown-backend", _metadata(backend="peer-newlib", name="aes-128-gcm/peer-newlib/encrypt/16384")),
    ("cpu-count-null", _machine(cpu_count=None)),
    ("tsc-null", _machine(tsc_mhz=None)),
    ("cpu-model-longest", _machine(cpu_model="x" * 4096)),
    ("no-kind", _lacks("kind")),
]


@pytest.mark.parametrize("spoil", [pytest.param(s, id=i) for i, s in ACCEPTED])
def test_valid_variants_still_load(tmp_path, spoil):
    doc = _doc()
    spoil(doc)
    f = tmp_path / "r.json"
    f.write_text(json.dumps(doc))
    assert len(results.load(f).measurements) == 3
    assert main(["show", str(f)]) == 0


def test_an_operation_no_table_shows_is_noted(tmp_path, capsys):
    # a newer version's operation (or a hand edit) vanished from show's tables unsaid
    doc = _doc()
    _bench(doc).update(operation="encrypt-in-place", name="aes-128-gcm/python/encrypt-in-place/16384")
    f = tmp_path / "r.json"
    f.write_text(json.dumps(doc))
    assert main(["show", str(f)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert ("note: not shown: 1 benchmark(s) of an operation this cryptobench does not know: "
            "'aes-128-gcm/encrypt-in-place' (1); --details lists them") in out


def test_show_details_of_an_algorithm_whose_kernels_all_failed(tmp_path, capsys):
    # the details table with no row raised TypeError in fit_to_width (a run whose kernels all FAILED)
    doc = _doc()
    doc["cryptobench"]["kernels"]["chacha20-poly1305/python"] = {"status": "failed", "reason": "3 checks failed"}
    f = tmp_path / "r.json"
    f.write_text(json.dumps(doc))
    assert main(["show", "--details", "-a", "chacha20-poly1305", str(f)]) == 0
    assert "FAILED" in capsys.readouterr().out


def test_files_too_big_to_read_are_refused_before_they_fill_the_memory(tmp_path, monkeypatch):
    """A 3 MB gzip file decompressed to 3 GB (6 GB of memory); /dev/zero was read until memory ran out;
    20 000 benchmarks took pyperf 18 s (quadratic)."""
    monkeypatch.setattr(results, "MAX_FILE_BYTES", 1 << 20)
    bomb = tmp_path / "bomb.json.gz"
    bomb.write_bytes(gzip.compress(b" " * (2 << 20) + BASE.read_bytes()))
    with pytest.raises(ResultsFileError, match=r"bomb.json.gz: not a results file: larger than 1 MiB decompressed$"):
        results.load(bomb)
    with pytest.raises(ResultsFileError, match=r"^/dev/zero: not a results file: not a regular file$"):
        results.load("/dev/zero")  # read until memory ran out, then refused as larger than the bound; now not opened
    monkeypatch.setattr(results, "MAX_BENCHMARKS", 2)
    with pytest.raises(ResultsFileError, match="3 benchmarks, more than a results file holds"):
        results.load(BASE)


_PB = {"name": "t", "extra_info": {"algorithm": "aes-128-gcm", "backend": "python", "operation": "encrypt",
                                   "size": 1024, "aad": 13, "name": "aes-128-gcm/python/encrypt/1024"},
       "stats": {"data": [1e-4, 1.1e-4]}}


def _pb(**info):
    b = copy.deepcopy(_PB)
    b["extra_info"].update(info)
    return b


@pytest.mark.parametrize("doc,needle", [
    pytest.param({"benchmarks": [_pb(name=5)]}, "benchmarks[0]: name must be a non-empty string, got 5", id="name"),
    # the message ended "two benchmarks named " with nothing after it
    pytest.param({"benchmarks": [dict(_pb(name=""), name="")]}, "benchmarks[0]: name must be a non-empty string, got ''",
                 id="name-empty"),
    pytest.param({"benchmarks": [_pb(kind="zzz")]}, "extra_info.kind must be one of operation, hot-path, overhead, got 'zzz'",
                 id="kind"),
    # a results file refuses these; the gate compared whichever came last
    pytest.param({"benchmarks": [_PB, dict(_pb(name="other"), name="other")]},
                 "aes-128-gcm/python/encrypt/1024 and other measure the same algorithm, backend, operation, size and AAD",
                 id="same-identity"),
    pytest.param({"benchmarks": [_pb(backend=["python"])]}, "extra_info.backend must be a string", id="backend"),
    pytest.param({"benchmarks": [_pb(code_path=1.5)]}, "extra_info.code_path must be a string", id="code_path"),
    pytest.param({"benchmarks": [_pb(size="1024")]}, "extra_info.size must be a whole number of bytes from 1",
                 id="size"),
    pytest.param({"benchmarks": [_pb(size=-1)]}, "extra_info.size must be a whole number of bytes from 1", id="size-"),
    pytest.param({"benchmarks": [dict(_PB, stats={"data": [1e308]})]}, "stats must hold positive numbers of seconds",
                 id="huge"),
    pytest.param({"benchmarks": [_PB, _PB]}, "two benchmarks named aes-128-gcm/python/encrypt/1024", id="twice"),
    pytest.param({"machine_info": {"cpu": {"brand_raw": 5}}, "benchmarks": [_PB]},
                 "machine_info.cpu.brand_raw must be a string of at most 4,096 characters, got 5", id="cpu"),
    pytest.param({"machine_info": {"cpu": {"brand_raw": "x" * 4097}}, "benchmarks": [_PB]},
                 "machine_info.cpu.brand_raw must be a string of at most 4,096 characters, got 'xx", id="cpu-huge"),
])
def test_malformed_pytest_benchmark_json_is_refused(tmp_path, doc, needle):
    f = tmp_path / "pb.json"
    f.write_text(json.dumps({"machine_info": {}, **doc}))
    with pytest.raises(ResultsFileError) as exc:
        gate.load_run(f)
    assert f"{f}: malformed pytest-benchmark JSON: " in str(exc.value) and needle in str(exc.value)


_COUNTS = {"schema": gate.ICOUNT_SCHEMA, "python": "3.11.7", "valgrind": "valgrind-3.19.0",
           "counts": {"a/python/encrypt/64": {"per_call": 1000.0, "code_path": "x"}}, "skipped": {}}


@pytest.mark.parametrize("spoil,needle", [
    pytest.param(lambda d: d.update(skipped={"b/python/sign": 3}), "skipped['b/python/sign'] must be a string",
                 id="skipped"),
    pytest.param(lambda d: d.update(python=3.11), "python must be a string", id="python"),
    pytest.param(lambda d: d["counts"]["a/python/encrypt/64"].update(per_call=1e308), "per_call must be a number from 1",
                 id="huge"),
    pytest.param(lambda d: d["counts"]["a/python/encrypt/64"].update(per_call=NAN), "it holds NaN", id="nan"),
    pytest.param(lambda d: d["counts"]["a/python/encrypt/64"].update(code_path=None), "code_path must be a string",
                 id="code_path"),
])
def test_malformed_instruction_counts_are_refused(tmp_path, capsys, spoil, needle):
    doc = copy.deepcopy(_COUNTS)
    spoil(doc)
    bad, good = tmp_path / "bad.json", tmp_path / "good.json"
    bad.write_text(json.dumps(doc))
    good.write_text(json.dumps(_COUNTS))
    for argv in (["gate", str(good), str(bad)], ["gate", str(bad), str(good)]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert needle in err and len(err.splitlines()) == 1, (argv, err)


@pytest.mark.parametrize("argv_of,needle", [
    pytest.param(lambda f: ["show", f], "no values (only warmups)", id="show"),
    pytest.param(lambda f: ["gate", str(BASE), f], "no values (only warmups)", id="gate"),
])
def test_the_command_line_says_one_line_and_exits_2(tmp_path, argv_of, needle):
    """Before: show died of StatisticsError (exit 1: for the gate, "a regression"); the gate
    said "geometric mean of new/old nan ... gate passed" and exited 0."""
    doc = _doc()
    _warmups_only(doc)
    f = tmp_path / "r.json"
    f.write_text(json.dumps(doc))
    env = dict(os.environ, COLUMNS="200")
    p = subprocess.run([sys.executable, "-m", "cryptobench.cli", *argv_of(str(f))], check=False, capture_output=True,
                       text=True, env=env, timeout=120)
    assert p.returncode == 2 and p.stdout == "", p.stdout + p.stderr
    assert p.stderr.count("\n") == 1 and needle in p.stderr and str(f) in p.stderr, p.stderr
