"""The figures `cryptobench show` prints, recomputed independently from the raw pyperf data.

The expected values come from the results file's JSON (``json`` and ``statistics``
only, not cryptobench's readers): a benchmark's median is that of every run's values,
warmups excluded; MB/s is size / median / 1e6; TSC cycles are median * tsc_mhz * 1e6;
a ratio is the reference's median over the row's. Each printed cell must agree with
that value within its display rounding, so a change to the report that moves a
number (not just its formatting) fails here.
"""

from __future__ import annotations

import json
import math
import re
import statistics
from pathlib import Path

import pytest

from cryptobench import report, results

RUN = Path(__file__).resolve().parent.parent / "results" / "20261127T204800Z_vm.json"
DOC = json.loads(RUN.read_text())
TSC = DOC["cryptobench"]["machine"]["tsc_mhz"]


def _raw(name: str) -> tuple[list[float], list[float]]:
    """The values (warmups excluded) and the per-run setup_s of one benchmark."""
    (b,) = [b for b in DOC["benchmarks"] if b["metadata"]["name"] == name]
    values = [v for r in b["runs"] for v in r.get("values", [])]
    setups = [r["metadata"]["setup_s"] for r in b["runs"] if "setup_s" in r.get("metadata", {})]
    return values, setups


def med(name: str) -> float:
    return statistics.median(_raw(name)[0])


def mbps(name: str) -> float:
    return int(name.rsplit("/", 1)[1]) / med(name) / 1e6


def agrees(text: str, value: float) -> bool:
    """``text`` (3 significant figures, k/M suffixes, ×, time units) is ``value`` rounded."""
    t = text.strip()
    sig, scale = 3, 1.0
    if t.endswith("×"):
        t, sig = t[:-1], 2
    elif " " in t:
        t, unit = t.split(" ")
        scale = {"s": 1, "ms": 1e-3, "µs": 1e-6, "ns": 1e-9}[unit]
    elif t[-1] in "kMG":
        t, scale = t[:-1], {"k": 1e3, "M": 1e6, "G": 1e9}[t[-1]]
    p = float(t)
    dec_ulp = 10.0 ** -(len(t.split(".")[1]) if "." in t else 0)
    sig_ulp = 10.0 ** (math.floor(math.log10(p)) - (sig - 1))
    return abs(p * scale - value) <= 0.5 * min(dec_ulp, sig_ulp) * scale * (1 + 1e-9)


@pytest.fixture(scope="module")
def res():
    return results.load(RUN)


def cells(table) -> dict[tuple[str, str], str]:
    """(row key, column header) -> printed text; the row key is the first column
    (plus the second for the hot-path table: hot path and backend)."""
    cols = [(c.header, [str(x) for x in c._cells]) for c in table.columns]
    hot = cols[0][0] == "hot path"
    out = {}
    for i in range(len(cols[0][1])):
        key = f"{cols[0][1][i]}|{cols[1][1][i]}" if hot else cols[0][1][i]
        for header, col in cols:
            out[key, header] = col[i]
    return out


def table(tables, title_part):
    (t,) = [t for t in tables if title_part in str(t.title)]
    return cells(t)


A = "aes-128-gcm"
C = "chacha20-poly1305"
E = "ecdsa-p256-sha256"


def test_aead_throughput_table(res):
    t = table(report.algorithm_tables(res, A), "encrypt throughput")
    e = f"{A}/%s/encrypt/%d"
    expect = {
        ("native-vaes", "16B"): mbps(e % ("native-vaes", 16)),
        ("openssl", "16K"): mbps(e % ("openssl", 16384)),
        ("python", "1K"): mbps(e % ("python", 1024)),
        ("numba-hw", "decrypt 16K"): mbps(f"{A}/numba-hw/decrypt/16384"),
        ("native-aesni", "cyc/B 16K (TSC)"): med(e % ("native-aesni", 16384)) * TSC * 1e6 / 16384,
        ("numba-portable", "×python 16K"): med(e % ("python", 16384)) / med(e % ("numba-portable", 16384)),
        ("native-vaes", "×openssl 16B"): med(e % ("openssl", 16)) / med(e % ("native-vaes", 16)),
        ("python", "×openssl 16K"): med(e % ("openssl", 16384)) / med(e % ("python", 16384)),
    }
    for key, value in expect.items():
        assert agrees(t[key], value), (key, t[key], value)


def test_noavx512_tables(res):
    t = table(report.algorithm_tables(res, C), "encrypt ×openssl-noavx512")
    ref = f"{C}/openssl-noavx512/encrypt/%d"
    assert agrees(t["native-avx2", "16K"], med(ref % 16384) / med(f"{C}/native-avx2/encrypt/16384"))
    assert agrees(t["openssl", "64B"], med(ref % 64) / med(f"{C}/openssl/encrypt/64"))
    assert agrees(t["python", "decrypt 16K"],
                  med(f"{C}/openssl-noavx512/decrypt/16384") / med(f"{C}/python/decrypt/16384"))
    t = table(report.algorithm_tables(res, E), "operations ×openssl-noavx512")
    assert agrees(t["native-adx", "verify"], med(f"{E}/openssl-noavx512/verify") / med(f"{E}/native-adx/verify"))


def test_signature_table(res):
    t = table(report.algorithm_tables(res, E), "operations per second")
    assert agrees(t["native-adx", "sign/s"], 1 / med(f"{E}/native-adx/sign"))
    assert agrees(t["python", "verify/s"], 1 / med(f"{E}/python/verify"))
    assert agrees(t["numba-hw", "keygen/s"], 1 / med(f"{E}/numba-hw/keygen"))
    assert agrees(t["openssl", "sign kcyc (TSC)"], med(f"{E}/openssl/sign") * TSC * 1e6 / 1e3)
    assert agrees(t["numba-portable", "×python verify"], med(f"{E}/python/verify") / med(f"{E}/numba-portable/verify"))
    assert agrees(t["native-portable", "×openssl sign"], med(f"{E}/openssl/sign") / med(f"{E}/native-portable/sign"))


def test_hot_path_table(res):
    t = table(report.algorithm_tables(res, A), "hot paths")
    ctr = f"{A}/%s/aes-ctr/16384"
    assert t["aes-ctr|native-vaes", "size"] == "16384"  # the largest size measured
    assert agrees(t["aes-ctr|native-vaes", "time/op"], med(ctr % "native-vaes"))
    assert agrees(t["aes-ctr|numba-hw", "MB/s or ops/s"], mbps(ctr % "numba-hw"))
    assert agrees(t["ghash|python", "cyc/B or cyc/op (TSC)"], med(f"{A}/python/ghash/16384") * TSC * 1e6 / 16384)
    assert agrees(t["key-expansion|python", "MB/s or ops/s"], 1 / med(f"{A}/python/key-expansion/16"))  # ops/s
    assert agrees(t["aes-ctr|peer-pyaes", "×python"], med(ctr % "python") / med(ctr % "peer-pyaes"))
    assert agrees(t["aes-ctr|native-aesni", "×openssl"], med(ctr % "openssl") / med(ctr % "native-aesni"))
    assert agrees(t["aes-ctr|openssl", "×openssl-noavx512"], med(ctr % "openssl-noavx512") / med(ctr % "openssl"))
    t = table(report.algorithm_tables(res, E), "hot paths")
    assert agrees(t["field-mul (per mul)|python", "cyc/B or cyc/op (TSC)"], med(f"{E}/python/field-mul") * TSC * 1e6)


def test_peers_table(res):
    t = cells(report.peers_table(res))
    key = f"{A} encrypt 16K"
    assert t[key, "peer"] == "peer-pyaes aes-ctr 16K (keystream only)"
    assert agrees(t[key, "peer figure"].removesuffix(" MB/s"), mbps(f"{A}/peer-pyaes/aes-ctr/16384"))
    assert agrees(t[key, "×"], med(f"{A}/peer-pyaes/aes-ctr/16384") / med(f"{A}/python/encrypt/16384"))
    assert agrees(t[f"{C} encrypt 16K", "×"],
                  med(f"{C}/peer-chacha20poly1305/encrypt/16384") / med(f"{C}/python/encrypt/16384"))
    assert agrees(t[f"{E} sign", "figure"].removesuffix("/s"), 1 / med(f"{E}/python/sign"))
    assert agrees(t[f"{E} verify", "×"], med(f"{E}/peer-ecdsa/verify") / med(f"{E}/python/verify"))


def test_one_time_costs_worker_median(res):
    """The worker prepare column is the median of the workers' times: with two
    workers their mean (it once printed the slower of the two)."""
    t = cells(report.one_time_costs_table(res))
    for kernel in (f"{E}/python", f"{E}/numba-portable", f"{A}/numba-hw"):
        o = DOC["cryptobench"]["kernels"][kernel]
        assert len(o["worker_prepare_s"]) == 2
        assert agrees(t[kernel, "first prepare (compile or cache load)"], o["cold_prepare_s"])
        assert agrees(t[kernel, "worker prepare (median)"], statistics.median(o["worker_prepare_s"])), kernel


def test_details_table(res):
    """median, stdev, values count and setup of show --details; setup_s is recorded by
    each worker run, so it differs between runs (it once printed "-" everywhere)."""
    t = cells(report.details_table(res))
    for name in (f"{A}/python/encrypt/8192", f"{C}/native-avx2/decrypt/64", f"{E}/openssl/sign"):
        values, setups = _raw(name)
        assert t[name, "values"] == str(len(values)) == "6"
        assert agrees(t[name, "median"], statistics.median(values))
        assert agrees(t[name, "±stdev"], statistics.stdev(values))
        assert agrees(t[name, "TSC cyc/op"], statistics.median(values) * TSC * 1e6)
        assert len(setups) == 2
        assert t[name, "setup"] != "-" and agrees(t[name, "setup"], statistics.median(setups)), (name, t[name, "setup"])
    name = f"{A}/openssl/encrypt/16384"
    assert agrees(t[name, "MB/s"], mbps(name)) and agrees(t[name, "TSC cyc/B"], med(name) * TSC * 1e6 / 16384)


def test_agrees_rejects_a_wrong_figure():
    assert agrees("12.8k", 12_840) and not agrees("12.8k", 12_900)
    assert agrees("0.0016×", 0.00164) and not agrees("0.04×", 0.0406)
    assert agrees("3M", 3.004e6) and not agrees("3M", 3.006e6)
    assert agrees("1.24 µs", 1.2449e-6) and not agrees("5917", 5918)
    assert re.fullmatch(r"[0-9.]+[kMG]?", "12.8k")


def test_a_parallel_run_says_which_figures_are_per_copy(tmp_path):
    # with --parallel 2 the main tables show aggregate throughput (twice one copy's), but the
    # cycles, the hot paths, the peers and --details are one copy's: that was nowhere said, so
    # the ChaCha20 keystream alone looked slower than the whole AEAD
    doc = json.loads(RUN.read_text())
    doc["cryptobench"]["settings"]["parallel"] = 2
    (tmp_path / "par.json").write_text(json.dumps(doc))
    par = results.load(tmp_path / "par.json")
    aead = [t for t in report.algorithm_tables(par, C) if "encrypt throughput" in str(t.title)][0]
    assert "aggregate of 2 parallel copies" in str(aead.title)
    headers = [str(c.header) for c in aead.columns]
    assert "cyc/B 16K (TSC, per copy)" in headers
    agg = cells(aead)[("openssl", "16K")]
    assert agrees(agg, 2 * mbps(f"{C}/openssl/encrypt/16384"))  # aggregate: both copies
    assert agrees(cells(aead)[("openssl", "cyc/B 16K (TSC, per copy)")],
                  med(f"{C}/openssl/encrypt/16384") * TSC * 1e6 / 16384)  # one copy's cycles
    hot = [t for t in report.algorithm_tables(par, C) if "hot paths" in str(t.title)][0]
    assert "per copy, of 2 parallel copies" in str(hot.title)
    sig = [t for t in report.algorithm_tables(par, E) if "operations per second" in str(t.title)][0]
    assert "sign kcyc (TSC, per copy)" in [str(c.header) for c in sig.columns]
    assert "per copy, of 2 parallel copies" in str(report.details_table(par).title)
    assert "figures per copy" in str(report.peers_table(par).title)
    # and a run of one copy says none of it
    one = report.algorithm_tables(results.load(RUN), C)
    assert not any("copy" in str(t.title) or any("copy" in str(c.header) for c in t.columns) for t in one)


def test_a_backend_not_measured_at_the_largest_size_keeps_its_row(tmp_path):
    # `run --filter` can leave a backend without the largest size: its row vanished from the
    # throughput table, and ×python read "-" everywhere, without a word
    doc = json.loads(RUN.read_text())
    doc["benchmarks"] = [b for b in doc["benchmarks"]
                         if not b["metadata"]["name"].startswith(f"{C}/python/encrypt/16384")]
    (tmp_path / "cut.json").write_text(json.dumps(doc))
    cut = results.load(tmp_path / "cut.json")
    aead = [t for t in report.algorithm_tables(cut, C) if "encrypt throughput" in str(t.title)][0]
    t = cells(aead)
    assert t[("python", "16K")] == "-" and t[("python", "cyc/B 16K (TSC)")] == "-"
    assert agrees(t[("python", "1K")], mbps(f"{C}/python/encrypt/1024"))
    assert list(dict.fromkeys(k for k, _ in t))[-1] == "python"  # after the rows measured at 16K
