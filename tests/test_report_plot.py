"""Number formatting at unit boundaries, `show --details` through a pipe, and
`plot`: all-or-none writes and the same --parallel aggregate as the tables."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cryptobench import plot, report, results

ROOT = Path(__file__).parent.parent
RESULTS = sorted((ROOT / "results").glob("*.json"))
#: A committed full run (every algorithm, hot paths): the newest one.
FULL = RESULTS[-1] if RESULTS else None

# mantissas near the rounding edges of 3 (and 2) significant figures
MANTISSAS = (1.0, 1.5, 2.5, 9.94, 9.949, 9.95, 9.951, 9.994, 9.995, 9.996, 9.9994, 9.9996, 9.99999)
VALUES = sorted(m * 10.0**k for k in range(-15, 17) for m in MANTISSAS)


def cli(args, cwd, columns=None):
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    if columns:
        env["COLUMNS"] = columns
    return subprocess.run([sys.executable, "-m", "cryptobench.cli", *args], check=False, cwd=cwd, capture_output=True,
                          text=True, env=env, timeout=600)


def _split(text: str, units: dict[str, float]) -> tuple[float, float]:
    """(number shown, its unit's scale) of a formatted figure."""
    m = re.fullmatch(r"(-?[0-9]+(?:\.[0-9]+)?) ?(\D*)", text)
    assert m, text
    assert m.group(2) in units, text
    return float(m.group(1)), units[m.group(2)]


# ------------------------------------------------------------------ formatters


def test_formatters_at_the_reported_boundaries():
    assert report.fmt_num(999_600) == "1M"
    assert report.fmt_num(2.5e9) == "2.5G"
    assert report.fmt_num(9_999.6) == "10k" and report.fmt_num(9_999.4) == "9999"
    assert report.fmt_num(99_960) == "100k" and report.fmt_num(99.96) == "100"
    assert report.fmt_time(0.9999e-6) == "1 µs"
    assert report.fmt_time(999.95e-6) == "1 ms"
    assert report.fmt_time(0.99996) == "1 s"
    assert report.fmt_time(1500.0) == "1500 s"
    # 100× and above are whole numbers: 99.996 rounds to 100, so it is 100× (not 100.00×)
    assert report.fmt_ratio(99.996).plain == "100×" and report.fmt_ratio(99.994).plain == "99.99×"
    assert report.fmt_ratio(0.0999).plain == "0.10×" and report.fmt_ratio(0.0994).plain == "0.099×"


def test_fmt_num_never_writes_an_exponent_and_steps_units_after_rounding():
    units = {"": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
    for x in VALUES:
        text = report.fmt_num(x)
        assert "e" not in text, (x, text)
        n, scale = _split(text, units)
        assert abs(n * scale - x) <= 0.005001 * x, (x, text)
        if scale == 1.0:
            assert n < 1e4, (x, text)
            if n >= 100:
                assert "." not in text, (x, text)
        elif scale == 1e3:
            assert 10 <= n < 1000, (x, text)
        elif scale < 1e12:
            assert 1 <= n < 1000, (x, text)
        if 1.0 < scale and n < 1000:
            assert len(text.rstrip("kMGT").replace(".", "").lstrip("0")) <= 3, (x, text)
    assert report.fmt_num(-2.5e6) == "-2.5M" and report.fmt_num(None) == "-"


def test_fmt_time_never_writes_an_exponent_and_steps_units_after_rounding():
    units = {"ns": 1e-9, "µs": 1e-6, "ms": 1e-3, "s": 1.0}
    for x in VALUES:
        text = report.fmt_time(x)
        assert "e" not in text, (x, text)
        n, scale = _split(text, units)
        assert abs(n * scale - x) <= 0.005001 * x, (x, text)
        if scale == 1e-9:
            assert n < 1000, (x, text)
        else:
            assert n >= 1 and (scale == 1.0 or n < 1000), (x, text)


def test_fmt_ratio_never_writes_an_exponent_and_chooses_its_format_after_rounding():
    for x in VALUES:
        text = report.fmt_ratio(x).plain
        assert text.endswith("×") and "e" not in text, (x, text)
        n = float(text[:-1])
        if n >= 100:
            assert "." not in text and abs(n - x) <= 0.5, (x, text)
        elif n >= 0.1:
            assert re.fullmatch(r"[0-9]+\.[0-9]{2}×", text) and abs(n - x) <= 0.005001, (x, text)
        else:
            assert len(text[:-1].replace(".", "").lstrip("0")) <= 2 and abs(n - x) <= 0.05 * x, (x, text)


# ------------------------------------------------------------------ show --details through a pipe


@pytest.mark.parametrize("columns", [None, "80"])
def test_show_details_through_a_pipe_prints_every_benchmark_name_in_full(tmp_path, columns):
    assert FULL is not None, "no committed results file in results/"
    p = cli(["show", str(FULL), "--details"], tmp_path, columns)
    assert p.returncode == 0, p.stderr
    cells = {c.strip() for line in p.stdout.splitlines() for c in line.split("│")}
    names = [m.name for m in results.load(FULL).measurements]
    assert names and not [n for n in names if n not in cells]
    if columns is None:  # 140 columns: nothing is cut, the code paths fold
        assert "…" not in p.stdout
        assert max(map(len, p.stdout.splitlines())) <= 140


# ------------------------------------------------------------------ plot


@pytest.mark.parametrize("blocked", ["throughput-aes-128-gcm.png", "ecdsa.png"])
def test_plot_writes_all_or_nothing(tmp_path, blocked):
    assert FULL is not None, "no committed results file in results/"
    out = tmp_path / "plots"
    (out / blocked).mkdir(parents=True)
    p = cli(["plot", str(FULL), "--out", str(out)], tmp_path)
    assert p.returncode == 2, p.stdout + p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr
    assert blocked in p.stderr
    assert sorted(x.name for x in out.iterdir()) == [blocked]  # no PNG, no temporary file
    (out / blocked).rmdir()
    p = cli(["plot", str(FULL), "--out", str(out)], tmp_path)
    assert p.returncode == 0, p.stderr
    assert {"ecdsa.png", "throughput-aes-128-gcm.png"} <= {x.name for x in out.iterdir()}


def test_plot_names_charts_an_earlier_plot_left_in_the_directory(tmp_path):
    # a second plot into the same directory replaced 2 of 7 charts; the other 5 stayed and
    # passed for this file's
    out = tmp_path / "plots"
    out.mkdir()
    (out / "hotpaths-aes-128-gcm.png").write_bytes(b"old")
    p = cli(["plot", str(Path(__file__).parent / "data" / "noavx512" / "noavx512.json"), "--out", str(out)], tmp_path)
    assert p.returncode == 0, p.stderr
    text = " ".join(p.stdout.split())
    assert "note: " + str(out) + " also holds 1 chart(s) this file did not make (an earlier plot's): " \
           "hotpaths-aes-128-gcm.png" in text, text
    p = cli(["plot", str(Path(__file__).parent / "data" / "noavx512" / "noavx512.json"), "--out", str(tmp_path / "new")],
            tmp_path)
    assert p.returncode == 0 and "note:" not in p.stdout, p.stdout


def test_plot_shows_the_parallel_aggregate_as_the_tables_do(tmp_path, monkeypatch):
    assert FULL is not None, "no committed results file in results/"
    doc = json.loads(FULL.read_text())
    assert doc["cryptobench"]["settings"].get("parallel", 1) == 1
    doc["cryptobench"]["settings"]["parallel"] = 2
    (tmp_path / "par2.json").write_text(json.dumps(doc))
    one, two = results.load(FULL), results.load(tmp_path / "par2.json")

    alg = "aes-128-gcm"
    s1, s2 = plot.throughput_series(one, alg), plot.throughput_series(two, alg)
    assert s1 and s1.keys() == s2.keys()
    for b in s1:
        assert s2[b] == [(n, 2 * v) for n, v in s1[b]]
    # the plotted 16 KiB openssl point is the figure the table shows
    (table, *_) = report.algorithm_tables(two, alg)
    assert "aggregate of 2 parallel copies" in str(table.title)
    big = max(n for n, _ in s2["openssl"])
    col = [str(c.header) for c in table.columns].index(f"{big // 1024}K")
    row = [str(c) for c in table.columns[0]._cells].index("openssl")
    assert table.columns[col]._cells[row] == report.fmt_num(dict(s2["openssl"])[big])

    r1, r2 = plot.signature_rows(one, "ecdsa-p256-sha256"), plot.signature_rows(two, "ecdsa-p256-sha256")
    assert r1 and r2 == [(b, 2 * s, 2 * v) for b, s, v in r1]

    titles = []  # in the order the charts are rendered, which is the order they are written in
    real_png = plot._png

    def spy(plt, fig):
        titles.append(fig.axes[0].get_title())
        return real_png(plt, fig)

    monkeypatch.setattr(plot, "_png", spy)
    named = dict(zip((p.name for p in plot.plot(two, tmp_path / "plots")), titles))
    assert len(named) == len(titles) == 7
    assert "aggregate of 2 copies" in named[f"throughput-{alg}.png"]
    assert "aggregate of 2 copies" in named["ecdsa.png"]
    titles.clear()
    assert plot.plot(one, tmp_path / "plots1") and titles
    assert not any("aggregate" in t for t in titles)


def test_charts_say_which_run_and_keep_each_backends_colour(tmp_path, monkeypatch):
    # two runs' charts had the same title ("... — AMD EPYC"), colours went by position in each chart
    # (python grey in one, blue in the next), and ECDSA bars on a log axis carried no figures
    assert FULL is not None, "no committed results file in results/"
    res = results.load(FULL)
    figs = []
    real_png = plot._png

    def spy(plt, fig):
        ax = fig.axes[0]
        figs.append((ax.get_title(), {ln.get_label(): (ln.get_color(), ln.get_linestyle()) for ln in ax.get_lines()},
                     [t.get_text() for t in ax.texts]))
        return real_png(plt, fig)

    monkeypatch.setattr(plot, "_png", spy)
    names = [p.name for p in plot.plot(res, tmp_path / "plots")]
    charts = dict(zip(names, figs))
    commit, created = res.machine["git_commit"][:10], res.info["created"][:10]
    for name, (title, _, _) in charts.items():
        assert commit in title and created in title and FULL.name in title, (name, title)
    colours = {}
    for name in names:
        if name.startswith("throughput-"):
            for backend, (colour, style) in charts[name][1].items():
                assert colours.setdefault(backend, colour) == colour, (name, backend)  # one colour on every chart
                assert (style == "--") == backend.startswith("openssl"), (backend, style)
    assert {"python", "openssl", "native-portable"} <= colours.keys()
    sign = plot.signature_rows(res, "ecdsa-p256-sha256")
    assert {plot._si(s) for _, s, _ in sign} <= set(charts["ecdsa.png"][2])  # each bar's figure is written on it
