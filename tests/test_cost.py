"""The cost model against hand computations, the fleet file's bad-input
contract, the CSV export, and the workbook recalculated by LibreOffice."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from conftest import require_tool
from cryptobench import cost
from cryptobench.cost import MeasuredCosts, Series
from cryptobench.cost_cli import compute
from cryptobench.fleet import FleetError, example_fleet_text, parse_fleet, perturbed

DATA = Path(__file__).parent / "data" / "cost"
RESULTS = DATA / "results"


# ------------------------------------------------------------------ pure model, by hand


def test_record_plan():
    assert cost.record_plan(40000, 16384) == [(16384.0, 2), (40000 - 32768, 1)]
    assert cost.record_plan(16384, 16384) == [(16384.0, 1), (0, 0)]
    assert cost.record_plan(900, 16384) == [(16384.0, 0), (900, 1)]
    assert cost.record_plan(0, 16384) == [(16384.0, 0), (0, 0)]


def test_interpolation_by_hand():
    s = Series((100, 1000), (1e-6, 4e-6))  # 10 ns/B at 100 B, 4 ns/B at 1000 B
    # at 550 B the time per byte is halfway: 7 ns/B -> 3.85 µs
    t, flagged = cost.interpolate(s, 550)
    assert t == pytest.approx(550 * 7e-9) and not flagged
    assert cost.interpolate(s, 100) == (pytest.approx(1e-6), False)
    # outside the range: the nearest size's time per byte, flagged
    t, flagged = cost.interpolate(s, 2000)
    assert t == pytest.approx(2000 * 4e-9) and flagged
    t, flagged = cost.interpolate(s, 10)
    assert t == pytest.approx(10 * 10e-9) and flagged
    assert cost.interpolate(s, 0) == (0.0, False)


def test_npv_and_deferral_by_hand():
    # S=100, g=10%, r=5%, 2 years: 100/1.05 + 110/1.05^2
    assert cost.npv_usd(100, 0.10, 0.05, 2) == pytest.approx(100 / 1.05 + 110 / 1.05**2)
    assert cost.npv_usd(100, 0.05, 0.05, 3) == pytest.approx(300 / 1.05)
    # saving 10% of the fleet at 25% growth: ln(1/0.9)/ln(1.25) years
    assert cost.deferral_days(0.10, 0.25) == pytest.approx(math.log(1 / 0.9) / math.log(1.25) * 365)
    assert cost.deferral_days(1.0, 0.25) is None
    assert cost.deferral_days(0.10, 0.0) is None  # a flat fleet buys nothing to defer
    assert cost.npv_usd(100, 0.0, 0.05, 2) == pytest.approx(100 / 1.05 + 100 / 1.05**2)


def test_a_flat_fleet_is_priced_and_its_workbook_recalculates(tmp_path):
    # demand_growth_per_year = 0 was refused ("must be greater than 0"): a flat fleet could not be priced
    (tmp_path / "fleet.toml").write_text(_edit(example_fleet_text(), "demand_growth_per_year = 0.25",
                                               "demand_growth_per_year = 0"))
    fleet, measured, res, sens = compute(str(tmp_path / "fleet.toml"), str(RESULTS))
    r = fleet.economics.discount_rate_per_year
    H = fleet.economics.planning_horizon_years
    for c in res.comparisons:
        assert c.purchase_deferral_days is None
        assert c.npv_usd == pytest.approx(sum(c.usd_saved_per_year / (1 + r) ** t for t in range(1, H + 1)))
    assert "and defers no purchase (demand does not grow)" in res.comparisons[0].sentence()
    p = _cost_cli("--fleet", "fleet.toml", "--xlsx", "flat.xlsx", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    book = tmp_path / "flat.xlsx"
    cached = _cached_values(book)
    assert "n/a" in {v for k, v in cached.items() if k.startswith("Model!")}
    lo = _libreoffice(book)
    assert not {k: v for k, v in lo.items() if isinstance(v, dict)}  # no #DIV/0!
    bad = _mismatches(cached, lo)
    assert not bad, f"{len(bad)} cells differ, e.g. {bad[:5]}"


SMALL = """
[economics]
electricity_usd_per_kwh = 0.10
pue = 1.5
discount_rate_per_year = 0.10
demand_growth_per_year = 0.20
target_cpu_utilization = 0.5
planning_horizon_years = 2
engineer_month_usd = 10000
[traffic]
peak_requests_per_s = 1000000
average_requests_per_s = 500000
full_handshake_share = 0.1
resumed_handshake_share = 0.1
reused_connection_share = 0.8
request_bytes = 100
response_bytes = 20000
max_record_bytes = 16384
[traffic.cipher_mix]
aes-128-gcm = 1.0
aes-256-gcm = 0.0
chacha20-poly1305 = 0.0
[[generations]]
name = "g1"
servers = 1000
cores_per_server = 10
price_usd_per_server = 8000
amortization_years = 4
power_w = 400
results = "x.json"
[[scenarios]]
name = "base"
[scenarios.implementations]
aes-128-gcm = "A"
aes-256-gcm = "A"
chacha20-poly1305 = "A"
ecdsa-p256-sha256 = "A"
[[scenarios]]
name = "fast"
engineer_months = 3
[scenarios.implementations]
aes-128-gcm = "B"
aes-256-gcm = "A"
chacha20-poly1305 = "A"
ecdsa-p256-sha256 = "A"
"""


def _small():
    import tomllib

    fleet = parse_fleet(tomllib.loads(SMALL), source="small.toml")
    sizes = (100, 16384)
    series = {}
    for alg in ("aes-128-gcm", "aes-256-gcm", "chacha20-poly1305"):
        for op in ("encrypt", "decrypt"):
            series[(alg, "A", op)] = Series(sizes, (2e-6, 20e-6))
            series[(alg, "B", op)] = Series(sizes, (1e-6, 10e-6))
    per_op = {("ecdsa-p256-sha256", "A", op): t for op, t in (("sign", 30e-6), ("keygen", 10e-6), ("verify", 40e-6))}
    return fleet, {"g1": MeasuredCosts("x.json", "cpu", "today", series, per_op)}


def test_small_fleet_by_hand():
    fleet, measured = _small()
    res = cost.evaluate(fleet, measured)
    # base, per request: decrypt one 100 B record = 2 µs; response 20000 B = one 16384 B record (20 µs)
    # + one 3616 B record at an interpolated time per byte
    tpb_lo, tpb_hi = 2e-6 / 100, 20e-6 / 16384
    tpb = tpb_lo + (tpb_hi - tpb_lo) * (3616 - 100) / (16384 - 100)
    aead_a = 2e-6 + 20e-6 + 3616 * tpb
    handshake = 0.1 * (30e-6 + 10e-6 + 40e-6) + 0.1 * (10e-6 + 40e-6)  # 13 µs
    base = res.scenarios[0].generations[0]
    assert base.crypto_seconds_per_request_s == pytest.approx(aead_a + handshake)
    cores = 1e6 * (aead_a + handshake)
    assert base.cores_busy_cores == pytest.approx(cores)
    servers = cores / (10 * 0.5)
    assert base.servers_for_crypto_servers == pytest.approx(servers)
    acps = 8000 / 4 + 400 * 8760 * 0.10 * 1.5 / 1000  # 2000 + 525.6
    assert base.annual_cost_per_server_usd == pytest.approx(2525.6)
    assert base.crypto_cost_usd_per_year == pytest.approx(servers * acps)
    # candidate B halves every AEAD time
    c = res.comparisons[0]
    saved_cores = 1e6 * aead_a / 2
    assert c.cores_saved_cores == pytest.approx(saved_cores)
    assert c.servers_saved_servers == pytest.approx(saved_cores / 5)
    assert c.usd_saved_per_year == pytest.approx(saved_cores / 5 * acps)
    s = saved_cores / (1000 * 10 * 0.5)
    assert c.fleet_share_saved_fraction == pytest.approx(s)
    assert c.purchase_deferral_days == pytest.approx(math.log(1 / (1 - s)) / math.log(1.2) * 365)
    S = c.usd_saved_per_year
    assert c.npv_usd == pytest.approx(S / 1.1 + S * 1.2 / 1.1**2)
    assert c.engineer_cost_usd == 30000
    assert c.npv_net_of_work_usd == pytest.approx(S / 1.1 + S * 1.2 / 1.1**2 - 30000)
    assert c.payback_months == pytest.approx(30000 / S * 12)
    assert "saves" in c.sentence() and "aes-128-gcm: A -> B" in c.sentence()
    assert c.sentence().startswith(f"fast (aes-128-gcm: A -> B) saves {c.cores_saved_cores:,.0f} cores, "
                                   f"{c.servers_saved_servers:,.1f} servers, ${c.usd_saved_per_year:,.0f} a year, and defers")
    # across generations a scenario can save cores (on cheap servers) and still cost money (on dear
    # ones): each figure says its own sign (the sentence read "COSTS -42 cores, -0.7 servers, $963")
    mixed = dataclasses.replace(c, cores_saved_cores=41.6, servers_saved_servers=0.69, usd_saved_per_year=-963.4,
                                purchase_deferral_days=0.1)
    assert mixed.sentence() == ("fast (aes-128-gcm: A -> B) saves 42 cores, 0.7 servers but COSTS $963 a year, "
                                "and defers purchases by 0.1 days")
    zero = dataclasses.replace(c, cores_saved_cores=-0.0, servers_saved_servers=0.0, usd_saved_per_year=0.0)
    assert " saves 0.0 cores, 0.0 servers, $0 a year, and " in zero.sentence()


def test_borrowed_generation_is_scaled_and_flagged():
    import tomllib

    doc = tomllib.loads(SMALL)
    doc["generations"].append(dict(name="g0", servers=1000, cores_per_server=10, price_usd_per_server=8000,
                                   amortization_years=4, power_w=400, borrow_results_from="g1", speed_factor=0.5))
    fleet = parse_fleet(doc, source="small.toml")
    _, measured = _small()
    measured["g0"] = measured["g1"]
    res = cost.evaluate(fleet, measured)
    g1, g0 = res.scenarios[0].generations
    assert g0.estimate and not g1.estimate
    assert g0.crypto_seconds_per_request_s == pytest.approx(2 * g1.crypto_seconds_per_request_s)
    assert g0.capacity_share == pytest.approx(0.5)
    assert res.comparisons[0].estimate and "ESTIMATE" in res.comparisons[0].sentence()


def test_sensitivity_moves_the_way_it_should():
    fleet, measured = _small()
    sens = cost.sensitivity(fleet, measured)["fast"]
    base = cost.evaluate(fleet, measured).comparisons[0].usd_saved_per_year
    lo, hi, _, _ = sens["traffic.peak_requests_per_s"]
    assert lo == pytest.approx(base * 0.8) and hi == pytest.approx(base * 1.2)
    lo, hi, _, _ = sens["economics.target_cpu_utilization"]
    assert lo == pytest.approx(base / 0.8) and hi == pytest.approx(base / 1.2)
    _, _, nlo, nhi = sens["economics.discount_rate_per_year"]
    assert nlo > nhi  # a higher discount rate lowers the NPV


def _near_bounds(text: str) -> str:
    """A fleet whose PUE, CPU target and full-handshake share sit within 20% of their bounds."""
    text = _edit(text, "pue = 1.3", "pue = 1.1")
    text = _edit(text, "target_cpu_utilization = 0.60", "target_cpu_utilization = 0.90")
    text = _edit(text, "full_handshake_share = 0.04", "full_handshake_share = 0.85")
    return _edit(text, "reused_connection_share = 0.90", "reused_connection_share = 0.09")


def test_sensitivity_steps_stay_inside_each_inputs_valid_range(tmp_path):
    # 20% off a PUE of 1.1 was a PUE of 0.88, 20% on a 90% CPU target was 108%, and 20% on
    # a 0.85 full-handshake share was 1.02 (a negative reused share): figures no fleet can have
    import tomllib

    fleet = parse_fleet(tomllib.loads(_near_bounds(example_fleet_text())), source="near.toml")
    _, measured, _, _ = compute(None, str(RESULTS))
    sens = cost.sensitivity(fleet, measured)
    econ, traffic = fleet.economics, fleet.traffic

    def saving(**change):
        e = dataclasses.replace(econ, **{k: v for k, v in change.items() if hasattr(econ, k)})
        t = dataclasses.replace(traffic, **{k: v for k, v in change.items() if hasattr(traffic, k)})
        return [c.usd_saved_per_year for c in cost.evaluate(dataclasses.replace(fleet, economics=e, traffic=t),
                                                            measured).comparisons]

    scenarios = list(sens)
    want = {
        ("economics.pue", 0): saving(pue=1.0),
        ("economics.pue", 1): saving(pue=1.1 * 1.2),
        ("economics.target_cpu_utilization", 0): saving(target_cpu_utilization=0.9 * 0.8),
        ("economics.target_cpu_utilization", 1): saving(target_cpu_utilization=1.0),
        ("traffic.full_handshake_share", 1): saving(full_handshake_share=1 - traffic.resumed_handshake_share),
    }
    for (key, side), per_scenario in want.items():
        for sc, w in zip(scenarios, per_scenario):
            assert sens[sc][key][side] == pytest.approx(w, rel=1e-12), (sc, key, side)
    assert saving(pue=0.88) != pytest.approx(saving(pue=1.0), rel=1e-6)  # the bound changes the figure
    assert cost.sensitivity_held(fleet, "economics.pue") == (1.0, None)
    assert cost.sensitivity_held(fleet, "economics.target_cpu_utilization") == (None, 1.0)
    assert cost.sensitivity_held(fleet, "traffic.full_handshake_share") == (None, pytest.approx(0.94))
    assert cost.sensitivity_held(fleet, "traffic.peak_requests_per_s") == (None, None)
    # the CSV says which steps were held, and at what
    rows = cost_csv_rows(fleet, measured)
    held = {r["input"]: (r["minus_20pct_held_at"], r["plus_20pct_held_at"]) for r in rows}
    assert held["economics.pue"] == ("1.0", "")
    assert held["economics.target_cpu_utilization"] == ("", "1.0")
    assert held["generations.power_w"] == ("", "")


def cost_csv_rows(fleet, measured) -> list[dict]:
    from cryptobench.cost_cli import csv_texts

    res = cost.evaluate(fleet, measured)
    text = csv_texts(fleet, measured, res, cost.sensitivity(fleet, measured))["sensitivity.csv"]
    return list(csv.DictReader(text.splitlines()))


# ------------------------------------------------------------------ fleet file bad input


def _edit(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    "old,new,needle",
    [
        ("pue = 1.3", "", "economics.pue: missing value"),
        ("power_w = 500", "power_w = -5", "generations[gen-current].power_w: must not be negative"),
        ("aes-256-gcm = 0.15", "aes-256-gcm = 0.25", "traffic.cipher_mix: shares sum to 1.1"),
        ("aes-256-gcm = 0.15", "aes-512-gcm = 0.15", "traffic.cipher_mix.aes-512-gcm: unknown algorithm"),
        ('aes-128-gcm = "native-vaes"', 'aes-128-gcm = "quantum"', "implementations.aes-128-gcm: unknown backend 'quantum'"),
        ("full_handshake_share = 0.04", "full_handshake_share = 0.14", "not 1"),
        ('results = "newest"', 'results = "missing.json"', "generations[gen-current].results: results file missing.json not found"),
        ("peak_requests_per_s = 40000000", 'peak_requests_per_s = "lots"', "traffic.peak_requests_per_s: must be a number"),
        # these overflowed: a traceback from npv_usd (q**1e9), or $inf and NaN servers in the tables
        ("planning_horizon_years = 3", "planning_horizon_years = 1000000000", "economics.planning_horizon_years: must be at most 100"),
        ("servers = 30000", "servers = 1e308", "generations[gen-current].servers: must be at most 1e+15 (is its unit right?)"),
        ("price_usd_per_server = 18000", "price_usd_per_server = 1e300", "price_usd_per_server: must be at most 1e+15"),
        # a misspelt key fell back to its default (speed factor 1.0, no engineer cost) or was ignored, silently
        ("speed_factor = 0.8", "speedfactor = 0.8", "generations[gen-previous].speedfactor: unknown key; did you mean speed_factor?"),
        ("engineer_months = 6", "engineer_month = 6", "scenarios[native AES-GCM].engineer_month: unknown key; did you mean engineer_months?"),
        ('signature_operation = "sign"', 'signature_op = "verify"', "handshake.signature_op: unknown key; did you mean signature_operation?"),
        ("[handshake]", "[handshak]", "handshak: unknown key; did you mean handshake?"),
        ("pue = 1.3", "pue = 1.3\nwibble = 2", "economics.wibble: unknown key; valid: electricity_usd_per_kwh"),
        # names that spreadsheet formulas read as wildcards, string ends or formulas
        ('name = "native P-256"', 'name = "native*"', "scenarios[2].name: 'native*' contains *, which spreadsheet"),
        ('name = "gen-previous"', 'name = "gen \\"old\\""', 'generations[1].name: \'gen "old"\' contains "'),
        ('name = "baseline"', 'name = "=1+1"', "scenarios[0].name: '=1+1' contains a leading ="),
        ('name = "native P-256"', 'name = "native [/]"', "scenarios[2].name: 'native [/]' contains [ ], which"),
        # it silently divided measured times, still labelled as measured
        ('results = "newest"', 'results = "newest"\nspeed_factor = 2', "generations[gen-current].speed_factor: only a "
                                                                      "generation that borrows results has one"),
        # tiny divisors: ZeroDivisionError or "math domain error" tracebacks, or $nan, inf and 1e300 servers, exit 0
        ("demand_growth_per_year = 0.25", "demand_growth_per_year = 1e-300",
         "economics.demand_growth_per_year: must be 0 (a flat fleet) or at least 0.0001 (0.01% a year"),
        ("cores_per_server = 96", "cores_per_server = 5e-324",
         "generations[gen-current].cores_per_server: must be at least 1 (one core), got 5e-324"),
        ("target_cpu_utilization = 0.60", "target_cpu_utilization = 5e-324",
         "economics.target_cpu_utilization: must be at least 0.01 (a fleet planned to run at 1% CPU at peak)"),
        ("target_cpu_utilization = 0.60", "target_cpu_utilization = 1e-300", "must be at least 0.01"),
        ("servers = 30000", "servers = 5e-324", "generations[gen-current].servers: must be at least 0.01"),
        ("amortization_years = 4", "amortization_years = 5e-324",
         "generations[gen-current].amortization_years: must be at least 0.0833333 (1/12: a month), got 5e-324"),
        ("speed_factor = 0.8", "speed_factor = 5e-324", "generations[gen-previous].speed_factor: must be at least 0.01"),
        # control characters went raw into formula strings (sheet XML not well-formed) or the terminal
        ('name = "gen-previous"', 'name = "a\\u0001b"',
         "generations[1].name: 'a\\x01b' contains a control character (U+0001), which the workbook's XML"),
        ('name = "gen-previous"', 'name = "a\\u0000b"', "generations[1].name: 'a\\x00b' contains a control character (U+0000)"),
        ('name = "native P-256"', 'name = "a\\u009fb\\tc"',
         "scenarios[2].name: 'a\\x9fb\\tc' contains control characters (U+0009, U+009F)"),
        ('results = "newest"', 'results = "new\\u001best"',
         "generations[gen-current].results: 'new\\x1best' contains a control character (U+001B)"),
        # XlsxWriter read a chart series name "Sheet1!A1" as a reference: a two-line warning, a mis-named series
        ('name = "native P-256"', 'name = "Sheet1!A1"', "scenarios[2].name: 'Sheet1!A1' contains !, which spreadsheet"),
        # a quoted key with a newline split the one-line message in two
        ("pue = 1.3", 'pue = 1.3\n"a\\nb" = 1', "economics.'a\\nb': unknown key"),
        # RecursionError and ValueError tracebacks from tomllib
        pytest.param("pue = 1.3", "pue = 1.3\nx = " + "[" * 10000 + "]" * 10000,
                     "not a fleet file: arrays or inline tables nested too deeply to read", id="arrays-10000-deep"),
        pytest.param("pue = 1.3", "pue = 1.3\nx = " + "{a = " * 3000 + "1" + "}" * 3000, "nested too deeply to read",
                     id="inline-tables-3000-deep"),
        pytest.param("planning_horizon_years = 3", "planning_horizon_years = " + "9" * 4400,
                     "line 15: not a fleet file: Exceeds the limit (4300 digits) for integer string conversion",
                     id="integer-of-4400-digits"),
    ],
)
def test_bad_fleet_files_one_line_exit_2(tmp_path, old, new, needle):
    fleet = tmp_path / "fleet.toml"
    fleet.write_text(_edit(example_fleet_text(), old, new))
    out = tmp_path / "book.xlsx"
    p = subprocess.run([sys.executable, "-m", "cryptobench.cli", "cost", "--fleet", str(fleet), "--results", str(RESULTS),
                        "--xlsx", str(out), "--csv", str(tmp_path / "csv")], capture_output=True, text=True, timeout=300)
    assert p.returncode == 2, p.stdout + p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and str(fleet) in lines[0] and needle in lines[0], p.stderr
    assert not out.exists() and not (tmp_path / "csv").exists()
    assert [f.name for f in tmp_path.iterdir()] == ["fleet.toml"]  # nothing half-written


@pytest.mark.parametrize("key,value,needle", [
    ("handshake", "sign", "handshake: must be a table"),
    ("generations", [1, 2], "generations[0]: must be a table ([[...]] section), got 1"),
    ("scenarios", ["a", "b"], "scenarios[0]: must be a table ([[...]] section), got 'a'"),
])
def test_wrongly_shaped_sections_are_one_line(key, value, needle):
    # these gave AttributeError tracebacks from inside the parser
    import tomllib

    doc = dict(tomllib.loads(example_fleet_text()), **{key: value})
    with pytest.raises(FleetError) as exc:
        parse_fleet(doc, source="f.toml")
    assert str(exc.value) == f"f.toml: {needle}"


def test_a_fleet_file_that_is_not_utf8_is_one_line(tmp_path):
    fleet = tmp_path / "fleet.toml"
    fleet.write_bytes(b"# co\xfbt \x80\n" + example_fleet_text().encode())
    with pytest.raises(FleetError, match=r"fleet.toml: line 1: not UTF-8"):
        compute(str(fleet), str(RESULTS))


def test_the_largest_figures_accepted_still_give_finite_answers(tmp_path):
    """Every figure at its upper bound (MAX_FIGURE, 100 years, 10x growth a year): no inf or NaN anywhere."""
    from cryptobench.cost_cli import csv_tables
    from cryptobench.fleet import MAX_FIGURE

    big = re.sub(r"^(servers|cores_per_server|price_usd_per_server|power_w|peak_requests_per_s|average_requests_per_s"
                 r"|request_bytes|response_bytes|engineer_month_usd) = [0-9.]+", rf"\1 = {MAX_FIGURE:g}",
                 example_fleet_text(), flags=re.M)
    big = _edit(_edit(big, "planning_horizon_years = 3", "planning_horizon_years = 100"),
                "demand_growth_per_year = 0.25", "demand_growth_per_year = 10")
    assert big.count(f"= {MAX_FIGURE:g}") >= 12
    (tmp_path / "fleet.toml").write_text(big)
    tables = csv_tables(*compute(str(tmp_path / "fleet.toml"), str(RESULTS)))
    numbers = [v for rows in tables.values() for row in rows for v in row if isinstance(v, float)]
    assert len(numbers) > 50 and all(math.isfinite(v) for v in numbers)


def test_the_smallest_divisors_accepted_with_the_largest_figures_still_give_finite_answers(tmp_path):
    """Every divisor at its lower bound and every other figure at its upper bound: the
    model, the sensitivity rows (which step the utilization below its bound) and the
    safety net all pass, with finite figures everywhere."""
    from cryptobench import fleet as fleet_module
    from cryptobench.cost_cli import csv_tables

    big = re.sub(r"^(price_usd_per_server|power_w|peak_requests_per_s|average_requests_per_s|request_bytes"
                 r"|response_bytes|engineer_month_usd|engineer_months) = [0-9.]+", rf"\1 = {fleet_module.MAX_FIGURE:g}",
                 example_fleet_text(), flags=re.MULTILINE)
    for key in ("servers", "cores_per_server", "amortization_years", "speed_factor"):
        low = getattr(fleet_module, f"MIN_{key.upper()}")
        big = re.sub(rf"^{key} = [0-9.]+", f"{key} = {low!r}", big, flags=re.MULTILINE)
    for old, new in (("target_cpu_utilization = 0.60", f"target_cpu_utilization = {fleet_module.MIN_TARGET_CPU_UTILIZATION!r}"),
                     ("demand_growth_per_year = 0.25", "demand_growth_per_year = 10"),
                     ("planning_horizon_years = 3", "planning_horizon_years = 100"),
                     ("discount_rate_per_year = 0.08", "discount_rate_per_year = 0"),
                     ("pue = 1.3", "pue = 1e15"), ("electricity_usd_per_kwh = 0.10", "electricity_usd_per_kwh = 1e15")):
        big = _edit(big, old, new)
    (tmp_path / "fleet.toml").write_text(big)
    tables = csv_tables(*compute(str(tmp_path / "fleet.toml"), str(RESULTS)))
    numbers = [v for rows in tables.values() for row in rows for v in row if isinstance(v, float)]
    assert len(numbers) > 50 and all(math.isfinite(v) for v in numbers)


def test_a_figure_that_is_not_finite_is_refused_naming_it(tmp_path, monkeypatch, capsys):
    """The safety net behind the bounds: amortization_years = 5e-324 printed "$nan a year", and
    wrote nan and inf into the CSV files and the workbook, exit 0. With the bound lifted, the
    model's figure is refused in one line naming it and its inputs, and nothing is written."""
    from cryptobench import cli
    from cryptobench import fleet as fleet_module

    monkeypatch.setattr(fleet_module, "MIN_AMORTIZATION_YEARS", 0.0)
    (tmp_path / "fleet.toml").write_text(_edit(example_fleet_text(), "amortization_years = 4", "amortization_years = 5e-324"))
    rc = cli.main(["cost", "--fleet", str(tmp_path / "fleet.toml"), "--results", str(RESULTS),
                   "--xlsx", str(tmp_path / "book.xlsx"), "--csv", str(tmp_path / "csv")])
    out, err = capsys.readouterr()
    assert rc == 2 and not out, out
    assert err.strip().splitlines() == [(
        f"cryptobench cost: error: {tmp_path / 'fleet.toml'}: the model's annual_cost_per_server_usd for scenario "
        "'baseline' on generation 'gen-current' is inf, not a finite number, so nothing is printed or written; "
        "probably at fault (a value near 0, or one so large its unit must be wrong): "
        "generations[gen-current].price_usd_per_server, generations[gen-current].amortization_years, "
        "generations[gen-current].power_w, economics.electricity_usd_per_kwh, economics.pue")]
    assert [f.name for f in tmp_path.iterdir()] == ["fleet.toml"]


def test_the_safety_net_covers_the_sensitivity_rows():
    fleet, measured = _small()
    res = cost.evaluate(fleet, measured)
    sens = cost.sensitivity(fleet, measured)
    cost.check_finite(fleet, res, sens)  # all finite: no complaint
    sens["fast"]["economics.pue"] = (1.0, math.inf, 2.0, 3.0)
    with pytest.raises(FleetError, match=r"^small.toml: the model's sensitivity usd_saved_per_year for scenario 'fast' "
                                         r"with economics.pue at \+20% is inf, .*: economics.pue, "
                                         r"generations.cores_per_server"):
        cost.check_finite(fleet, res, sens)
    # and the model itself answers inf or NaN (for the net to name) rather than raising
    broken = dataclasses.replace(fleet, generations=tuple(dataclasses.replace(g, cores_per_server=5e-324)
                                                          for g in fleet.generations))
    with pytest.raises(FleetError, match=r"servers_for_crypto_servers for scenario 'base' on generation 'g1' is inf"):
        cost.check_finite(broken, cost.evaluate(broken, measured), cost.sensitivity(broken, measured))


def test_a_growth_too_small_for_ln_is_no_growth_in_python_and_the_workbook(workbook):
    # deferral_days(s, 1e-300) raised ZeroDivisionError (ln(1 + 1e-300) == 0), and the workbook's
    # deferral cells, typed the same growth, gave #DIV/0!: both now read ln(1 + g) = 0 as no growth
    assert cost.deferral_days(0.1, 1e-300) is None and cost.deferral_days(0.1, 0.0) is None
    assert cost.deferral_days(0.1, 1e-4) == pytest.approx(math.log(1 / 0.9) / math.log1p(1e-4) * 365, rel=1e-9)
    assert math.isnan(cost.deferral_days(-math.inf, 0.25))  # was "math domain error"
    book, _, _, res = workbook
    lo = _libreoffice(book, "demand_growth_per_year=1e-300")
    deferrals = [k for k, v in _cached_values(book).items() if k.startswith("Model!G") and isinstance(v, float)
                 and any(_close(v, c.purchase_deferral_days) for c in res.comparisons)]
    assert len(deferrals) == len(res.comparisons) and all(lo[k] == "n/a" for k in deferrals), {k: lo[k] for k in deferrals}
    assert not {k: v for k, v in lo.items() if isinstance(v, dict)}  # no #DIV/0! anywhere


def test_comments_and_paths_go_into_the_workbook_as_text(tmp_path):
    # a comment starting with "=" was written as a (broken) formula into the notes column, one
    # starting with "http" as a link (over 2,079 characters: a warning on stderr, the text dropped)
    from cryptobench.xlsx import export_xlsx

    text = _edit(example_fleet_text(), "pue = 1.3                           # assumption",
                 "pue = 1.3  # =SUM(1,")
    text = _edit(text, "electricity_usd_per_kwh = 0.10      # assumption", "electricity_usd_per_kwh = 0.10  # https://e.org/"
                 + "a" * 2100 + " ")
    (tmp_path / "fleet.toml").write_text(text)
    book = export_xlsx(*compute(str(tmp_path / "fleet.toml"), str(RESULTS)))
    with zipfile.ZipFile(__import__("io").BytesIO(book)) as z:
        inputs = z.read("xl/worksheets/sheet1.xml").decode()
        strings = z.read("xl/sharedStrings.xml").decode()
    assert "SUM(1," not in inputs and "<hyperlink" not in inputs
    assert "=SUM(1,: power usage effectiveness" in strings and "https://e.org/aaa" in strings


def test_results_lacking_a_benchmark(tmp_path):
    fleet = tmp_path / "fleet.toml"
    fleet.write_text(_edit(example_fleet_text(), 'aes-128-gcm = "native-vaes"', 'aes-128-gcm = "native-aesni"'))
    with pytest.raises(FleetError, match=r"lacks aes-128-gcm/native-aesni/encrypt .*not in the run"):
        compute(str(fleet), str(RESULTS))


def _derived_run(src: Path, dest: Path, *, drop_backend: str | None = None, fail: str | None = None) -> None:
    """A copy of a results file as a narrower run (without one backend's kernels)
    or a run in which one kernel FAILED its vectors (and so was never timed)."""
    doc = json.loads(src.read_text())
    kernels = doc["cryptobench"]["kernels"]
    if drop_backend:
        doc["benchmarks"] = [b for b in doc["benchmarks"] if b["metadata"]["backend"] != drop_backend]
        doc["cryptobench"]["kernels"] = {k: v for k, v in kernels.items() if k.split("/")[1] != drop_backend}
    if fail:
        doc["benchmarks"] = [b for b in doc["benchmarks"] if not b["metadata"]["name"].startswith(fail + "/")]
        kernels[fail] = dict(kernels[fail], status="failed", reason="vectors: 3 failed")
    dest.write_text(json.dumps(doc))


def test_newest_passes_over_a_newer_narrower_run_and_says_so(tmp_path):
    (fixture,) = RESULTS.glob("*.json")
    shutil.copy(fixture, tmp_path / fixture.name)
    full = compute(None, str(tmp_path))[1]["gen-current"]
    # a later run of the python backend alone: it lacks openssl, which the baseline scenario needs
    _derived_run(fixture, tmp_path / "20261128T000000Z_vm.json", drop_backend="openssl")
    _, measured, _, _ = compute(None, str(tmp_path))
    m = measured["gen-current"]
    assert m.source_file == str(tmp_path / fixture.name)
    assert m.skipped == (f"{tmp_path / '20261128T000000Z_vm.json'}, which lacks aes-128-gcm/openssl/encrypt "
                         "(that kernel was not in the run)",)
    assert m.series == full.series and m.per_op == full.per_op
    assert measured["gen-previous"] is m  # the borrower shares it, and the note is printed once
    env = dict(os.environ, COLUMNS="400")
    p = subprocess.run([sys.executable, "-m", "cryptobench.cli", "cost", "--results", str(tmp_path)],
                       capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    assert p.stdout.count('"newest" passed over') == 1
    assert f'gen-current: "newest" passed over {m.skipped[0]}; using {m.source_file}' in p.stdout
    # with nothing older to fall back on, the newest file's own error, and that no older one has it
    (tmp_path / fixture.name).unlink()
    with pytest.raises(FleetError, match=r"20261128T000000Z_vm.json lacks aes-128-gcm/openssl/encrypt "
                                         r"\(needed by scenario 'baseline'\); that kernel was not in the run$"):
        compute(None, str(tmp_path))
    shutil.copy(tmp_path / "20261128T000000Z_vm.json", tmp_path / "20261129T000000Z_vm.json")
    with pytest.raises(FleetError, match=r"20261129T000000Z_vm.json lacks .* \(nor does any of the 1 older file"):
        compute(None, str(tmp_path))


def test_newest_says_an_interrupted_run_was_interrupted(tmp_path):
    # it said "(that kernel was not in the run)" of a kernel the run had selected but not reached
    (fixture,) = RESULTS.glob("*.json")
    shutil.copy(fixture, tmp_path / fixture.name)
    cut = tmp_path / "20261128T000000Z_vm.json"
    _derived_run(fixture, cut, drop_backend="openssl")
    doc = json.loads(cut.read_text())
    doc["cryptobench"]["complete"] = False
    cut.write_text(json.dumps(doc))
    m = compute(None, str(tmp_path))[1]["gen-current"]
    assert m.skipped == (f"{cut}, which lacks aes-128-gcm/openssl/encrypt (the run was interrupted before it)",)


def test_newest_passes_over_a_newer_run_at_too_few_sizes(tmp_path):
    # `run --sizes 16,64,256` after a full run: "newest" used it and priced 16 KiB records at
    # the 256 B time per byte, a 29x larger saving, with only a footnote
    (fixture,) = RESULTS.glob("*.json")
    shutil.copy(fixture, tmp_path / fixture.name)
    doc = json.loads(fixture.read_text())
    doc["benchmarks"] = [b for b in doc["benchmarks"] if not b["metadata"].get("size") or b["metadata"]["size"] <= 256]
    small = tmp_path / "20261128T000000Z_vm.json"
    small.write_text(json.dumps(doc))
    full = compute(None, str(RESULTS))
    fleet, measured, res, _ = compute(None, str(tmp_path))
    m = measured["gen-current"]
    assert m.source_file == str(tmp_path / fixture.name)
    (note,) = m.skipped
    assert note.startswith(f"{small}, which would extrapolate aes-128-gcm/openssl/") and "(measured 16-256 B)" in note
    assert [c.usd_saved_per_year for c in res.comparisons] == [c.usd_saved_per_year for c in full[2].comparisons]
    assert not any(g.request.extrapolated for s in res.scenarios for g in s.generations)
    # with nothing that covers the sizes, the narrow file is used, and every extrapolation flagged
    (tmp_path / fixture.name).unlink()
    _, measured, res, _ = compute(None, str(tmp_path))
    assert measured["gen-current"].source_file == str(small) and measured["gen-current"].skipped == ()
    flagged = {f for s in res.scenarios for g in s.generations for f in g.request.extrapolated}
    assert "aes-128-gcm/openssl/encrypt at 16384 B (measured 16-256 B)" in flagged
    # an older file in which a kernel FAILED that passed in the newer narrow run is superseded, not an error
    _derived_run(fixture, tmp_path / "20261127T000000Z_vm.json", fail="aes-128-gcm/openssl")
    shutil.copy(fixture, tmp_path / "20261126T000000Z_vm.json")
    m = compute(None, str(tmp_path))[1]["gen-current"]
    assert m.source_file == str(tmp_path / "20261126T000000Z_vm.json")
    assert m.skipped[1] == f"{tmp_path / '20261127T000000Z_vm.json'}, in which a needed kernel failed or was unavailable"


def test_newest_stops_at_a_kernel_that_failed_in_the_newest_run(tmp_path):
    # an older measurement of a kernel that now fails its vectors must not be priced
    (fixture,) = RESULTS.glob("*.json")
    shutil.copy(fixture, tmp_path / fixture.name)
    _derived_run(fixture, tmp_path / "20261128T000000Z_vm.json", fail="aes-128-gcm/openssl")
    with pytest.raises(FleetError, match=r"20261128T000000Z_vm.json lacks aes-128-gcm/openssl/encrypt .*"
                                         r"that kernel was FAILED in the run: vectors: 3 failed"):
        compute(None, str(tmp_path))


def test_newest_passes_over_files_that_are_not_results_files(tmp_path):
    # an instruction-count file (gate --count's instructions.json), a gate report or a directory
    # named x.json in --results stopped cost with an error; history and gate pass them over
    (fixture,) = RESULTS.glob("*.json")
    shutil.copy(fixture, tmp_path / fixture.name)
    (tmp_path / "instructions.json").write_text(json.dumps({"schema": "cryptobench-icount/1", "benchmarks": []}))
    (tmp_path / "report.json").write_text(json.dumps({"verdicts": []}))
    (tmp_path / "x.json").mkdir()
    m = compute(None, str(tmp_path))[1]["gen-current"]
    assert m.source_file == str(tmp_path / fixture.name)
    assert m.skipped == (f"{tmp_path / 'x.json'}: cannot read: Is a directory",
                         f"{tmp_path / 'report.json'}: not a cryptobench results file (no 'cryptobench' section)",
                         f"{tmp_path / 'instructions.json'}: an instruction-count file (`gate --count`)")
    (tmp_path / fixture.name).unlink()
    with pytest.raises(FleetError, match=r"results: \"newest\": no results file among the 3 \*.json and \*.json.gz in .*: "
                                         r".*x.json: cannot read: Is a directory; .*report.json: not a cryptobench"):
        compute(None, str(tmp_path))


def test_no_results_at_all(tmp_path):
    with pytest.raises(FleetError, match=r"no results files in"):
        compute(None, str(tmp_path))


# ------------------------------------------------------------------ CLI and CSV


def test_example_fleet_refuses_the_options_it_would_ignore(tmp_path):
    # `cost --example-fleet --xlsx out.xlsx` printed the fleet, wrote nothing, and exited 0
    p = subprocess.run([sys.executable, "-m", "cryptobench.cli", "cost", "--example-fleet", "--xlsx", "out.xlsx",
                        "--fleet", "my.toml"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and not p.stdout and not list(tmp_path.iterdir()), p.stdout
    assert p.stderr.strip().splitlines() == [
        "cryptobench cost: error: --example-fleet prints the example fleet file and does nothing else; drop "
        "--fleet, --xlsx (or, to price it, run cost without --example-fleet)"]
    p = subprocess.run([sys.executable, "-m", "cryptobench.cli", "cost", "--example-fleet"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and p.stdout == example_fleet_text()


@pytest.mark.parametrize("columns", [50, 80, 100, 140, 250])
def test_cost_tables_never_cut_a_figure(tmp_path, columns):
    # at 100 columns "$6,740,178" was printed as "$6,740…" and "-$129,345" as "-$129,…", and
    # generation and scenario names were cut: a finance reader cannot tell a cut figure from a
    # small one. Narrower than the tables need, they are drawn transposed.
    from cryptobench.cost_cli import _nz, _usd

    env = dict(os.environ, COLUMNS=str(columns))
    p = subprocess.run([sys.executable, "-m", "cryptobench.cli", "cost", "--results", str(RESULTS)],
                       capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert "…" not in p.stdout and max(map(len, lines)) <= columns
    cells = {c.strip() for line in lines for c in line.replace("┃", "│").split("│")}
    fleet, _, res, _ = compute(None, str(RESULTS))
    want = {g.name for g in fleet.generations}
    for s in res.scenarios:
        want |= {_usd(s.crypto_cost_usd_per_year), f"{s.cores_busy_cores:,.1f}"}
        want |= {_usd(g.crypto_cost_usd_per_year) for g in s.generations}
    for c in res.comparisons:
        want |= {_usd(c.usd_saved_per_year), _usd(c.npv_usd), _usd(c.npv_net_of_work_usd),
                 _nz(f"{c.cores_saved_cores:,.1f}"), _nz(f"{c.fleet_share_saved_fraction:.4%}")}
    assert len(want) > 20 and not sorted(want - cells)


def test_cost_cli_default_fleet_and_csv(tmp_path):
    env = dict(os.environ, COLUMNS="200")
    results_dir = tmp_path / "results"
    shutil.copytree(RESULTS, results_dir)
    p = subprocess.run([sys.executable, "-m", "cryptobench.cli", "cost", "--csv", "csv"], cwd=tmp_path,
                       capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    fleet, measured, res, _ = compute(None, str(results_dir))
    c = res.comparisons[0]
    assert c.sentence() .split(" saves ")[1][:20] in p.stdout.replace("\n", " ")
    rows = (tmp_path / "csv" / "comparisons.csv").read_text().splitlines()
    assert rows[0].startswith("scenario,baseline,estimate,cores_saved_cores")
    assert f"{c.usd_saved_per_year!r}" in rows[1]
    meas = list(csv.reader((tmp_path / "csv" / "measurements.csv").open()))
    assert len(meas) > 100
    # the borrowing generation repeated its lender's rows as if it had measured them
    assert {r[0] for r in meas[1:]} == {"gen-current"}
    scen = list(csv.DictReader((tmp_path / "csv" / "scenarios.csv").open()))
    assert {(r["generation"], r["estimate"]) for r in scen} == {("gen-current", "False"), ("gen-previous", "True")}


def _cost_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cryptobench.cli", "cost", "--results", str(RESULTS), *args],
                          cwd=cwd, capture_output=True, text=True, timeout=300)


def test_a_fleet_too_small_for_its_crypto_is_flagged(tmp_path):
    # 10 servers a generation: pure Python needed 1,557 of them, shown as a -7612% share of the
    # fleet and purchases "brought forward by 7,108 days", without a word
    small = re.sub(r"^servers = \d+ ", "servers = 10 ", example_fleet_text(), flags=re.M)
    assert small.count("servers = 10 ") == 2
    (tmp_path / "fleet.toml").write_text(small)
    fleet, _, res, _ = compute(str(tmp_path / "fleet.toml"), str(RESULTS))
    from cryptobench.cost_cli import over_capacity

    warnings = over_capacity(fleet, res)
    need = {(s.scenario, g.generation) for s in res.scenarios for g in s.generations if g.servers_for_crypto_servers > 10}
    assert ("pure Python everywhere", "gen-current") in need and len(warnings) == len(need)
    assert any(w.startswith("scenario 'pure Python everywhere' needs ") and "gen-current servers for crypto alone at "
               "peak (at the 60% target CPU utilization), more than the 10 it has" in w for w in warnings)
    # figures under 10 keep a decimal: 1.08 needed against 0.5 read "needs 1 ... more than the 0 it has"
    half = re.sub(r"^servers = \d+ ", "servers = 0.5 ", example_fleet_text(), flags=re.M)
    (tmp_path / "half.toml").write_text(half)
    fleet_h, _, res_h, _ = compute(str(tmp_path / "half.toml"), str(RESULTS))
    small = [w for w in over_capacity(fleet_h, res_h) if "than the 0.5 it has" in w]
    assert small and all(re.search(r"needs (\d+\.\d|\d{2,}|[\d,]{5,}) ", w) for w in small)
    assert over_capacity(*compute(None, str(RESULTS))[::2]) == []
    p = _cost_cli("--fleet", "fleet.toml", cwd=tmp_path)
    # the warning wraps at the console's width (conftest pins it; a CI run before that split the
    # warning as "could not\ncarry" at 140 columns), so compare the words, not the lines
    assert p.returncode == 0 and "this fleet could not carry the traffic within that headroom" in " ".join(p.stdout.split()), p.stderr


def test_outputs_are_written_all_or_none(tmp_path):
    # the workbook was written before a CSV failed, and the CSVs one at a time: a half-written set
    (tmp_path / "part" / "measurements.csv").mkdir(parents=True)
    p = _cost_cli("--xlsx", "book.xlsx", "--csv", "part", cwd=tmp_path)
    assert p.returncode == 2, p.stderr
    assert p.stderr.strip().splitlines() == ["cryptobench cost: error: cannot write part/measurements.csv: Is a directory"]
    assert sorted(f.name for f in tmp_path.rglob("*")) == ["measurements.csv", "part"]
    # a directory that had to be created for the workbook is removed again
    p = _cost_cli("--xlsx", "new/dir/book.xlsx", "--csv", "part", cwd=tmp_path)
    assert p.returncode == 2 and not (tmp_path / "new").exists(), p.stderr
    p = _cost_cli("--xlsx", "ok.xlsx", "--csv", "fresh", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert sorted(f.name for f in (tmp_path / "fresh").iterdir()) == [
        "comparisons.csv", "measurements.csv", "scenarios.csv", "sensitivity.csv"]
    assert zipfile.is_zipfile(tmp_path / "ok.xlsx")


def test_xlsx_never_replaces_another_kind_of_file(tmp_path):
    # `--xlsx fleet.toml` replaced the fleet file being read with a workbook
    fleet = tmp_path / "fleet.toml"
    fleet.write_text(example_fleet_text())
    p = _cost_cli("--fleet", "fleet.toml", "--xlsx", "fleet.toml", cwd=tmp_path)
    assert p.returncode == 2 and "fleet.toml: name the workbook FILE.xlsx" in p.stderr, p.stderr
    (tmp_path / "notes.xlsx").write_text("my notes\n")
    p = _cost_cli("--xlsx", "notes.xlsx", cwd=tmp_path)
    assert p.returncode == 2 and "notes.xlsx exists and is not an .xlsx workbook; not replacing it" in p.stderr, p.stderr
    assert fleet.read_text() == example_fleet_text() and (tmp_path / "notes.xlsx").read_text() == "my notes\n"
    # an earlier workbook is replaced (the nightly re-export)
    assert _cost_cli("--xlsx", "book.xlsx", cwd=tmp_path).returncode == 0
    before = (tmp_path / "book.xlsx").stat().st_mtime_ns
    assert _cost_cli("--xlsx", "book.xlsx", cwd=tmp_path).returncode == 0
    assert (tmp_path / "book.xlsx").stat().st_mtime_ns != before


# ------------------------------------------------------------------ the workbook, recalculated by LibreOffice


def _cached_values(book: Path) -> dict[str, object]:
    """Every formula cell's cached value (what the Python model computed) from the xlsx XML."""
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
          "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships"}
    out = {}
    with zipfile.ZipFile(book) as z:
        wb = ET.fromstring(z.read("xl/workbook.xml"))
        rels = ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))
        target = {r.get("Id"): r.get("Target") for r in rels}
        for sh in wb.find("m:sheets", ns):
            name = sh.get("name")
            xml = ET.fromstring(z.read("xl/" + target[sh.get(f"{{{ns['r']}}}id")]))
            for c in xml.iter(f"{{{ns['m']}}}c"):
                if c.find("m:f", ns) is None:
                    continue
                v = c.find("m:v", ns)
                text = v.text if v is not None else ""
                out[f"{name}!{c.get('r')}"] = text if c.get("t") == "str" else float(text)
    return out


def _libreoffice(book: Path, *sets: str) -> dict[str, object]:
    soffice = require_tool("soffice")
    assert soffice
    py = "/usr/bin/python3"
    probe = subprocess.run([py, "-c", "import uno"], capture_output=True)
    if probe.returncode != 0:
        msg = "python3-uno is not installed (apt-get install python3-uno); .ci/run installs it"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    args = [py, str(Path(__file__).parent / "lo_engine.py"), str(book)]
    for s in sets:
        args += ["--set", s]
    p = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def _close(a, b) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    return a == b or abs(a - b) <= 1e-9 * max(abs(a), abs(b))


def _mismatches(cached: dict, lo: dict) -> list:
    """Formula cells whose LibreOffice value is not the Python model's (relative 1e-9)."""
    # the "change vs base" columns of Sensitivity subtract nearly equal numbers: compare
    # them at 1e-9 of the savings they are differences of, not of their own size
    scale = max(abs(v) for k, v in cached.items() if re.match(r"Sensitivity![BC]\d", k))
    return [
        (k, cached[k], lo[k]) for k in cached
        if not (_close(cached[k], lo[k])
                or (re.match(r"Sensitivity![FG]\d", k) and abs(cached[k] - lo[k]) <= 1e-9 * scale))
    ]


@pytest.fixture(scope="module")
def workbook(tmp_path_factory):
    from cryptobench._io import atomic_write_bytes
    from cryptobench.xlsx import export_xlsx

    fleet, measured, res, sens = compute(None, str(RESULTS))
    book = tmp_path_factory.mktemp("xlsx") / "cost.xlsx"
    atomic_write_bytes(book, export_xlsx(fleet, measured, res, sens))
    return book, fleet, measured, res


@pytest.fixture(scope="module")
def recalculated(workbook):
    """The workbook recalculated once by LibreOffice (shared by the tests that only read)."""
    return _libreoffice(workbook[0])


def test_workbook_recalculated_by_libreoffice_matches_python(workbook, recalculated):
    book, fleet, measured, res = workbook
    cached = _cached_values(book)
    assert len(cached) > 300  # every derived cell is a formula
    lo = recalculated
    errors = {k: v for k, v in lo.items() if isinstance(v, dict)}
    assert not errors, f"formula errors: {list(errors.items())[:5]}"
    assert set(lo) == set(cached)
    bad = _mismatches(cached, lo)
    assert not bad, f"{len(bad)} cells differ, e.g. {bad[:5]}"
    # and the cached values are the model's: spot-check the headline figures
    c = res.comparisons[0]
    summary = {k: v for k, v in lo.items() if k.startswith("Summary!B")}
    assert any(_close(v, c.usd_saved_per_year) for v in summary.values())
    assert any(_close(v, c.npv_usd) for v in summary.values())
    assert any(_close(v, c.npv_usd - c.engineer_cost_usd) for v in summary.values())


def test_names_a_spreadsheet_reads_as_comparisons_still_sum_their_own_rows(tmp_path):
    # SUMIFS took a criterion "<native AES-GCM>" for "less than": on opening (full recalculation)
    # the first scenario's saving turned into a cost; the criteria are now "="&name
    from cryptobench._io import atomic_write_bytes
    from cryptobench.xlsx import export_xlsx

    text = (example_fleet_text().replace('name = "native AES-GCM"', 'name = "<native AES-GCM>"')
            .replace('name = "gen-previous"', 'name = ">gen-previous"')
            .replace('"gen-current"', '"<>"'))
    (tmp_path / "fleet.toml").write_text(text)
    fleet, measured, res, sens = compute(str(tmp_path / "fleet.toml"), str(RESULTS))
    assert [g.name for g in fleet.generations] == ["<>", ">gen-previous"]
    book = tmp_path / "names.xlsx"
    atomic_write_bytes(book, export_xlsx(fleet, measured, res, sens))
    cached = _cached_values(book)
    bad = _mismatches(cached, _libreoffice(book))
    assert not bad, f"{len(bad)} cells differ, e.g. {bad[:5]}"


def test_changing_an_input_in_the_workbook_changes_outputs_as_the_model_predicts(workbook):
    book, fleet, measured, res = workbook
    # through the engine: peak traffic +10% and scenario 2's AES-128-GCM backend switched to python
    lo = _libreoffice(book, "peak_requests_per_s=44000000", "response_bytes=50000")
    changed = perturbed(perturbed(fleet, "traffic.peak_requests_per_s", 1.1), "traffic.response_bytes", 50000 / 24000)
    new = cost.evaluate(changed, measured)
    before = _cached_values(book)
    for i, c in enumerate(new.comparisons):
        # Summary sheet values for scenario i are in column B after its header row; find them by value
        vals = [v for k, v in lo.items() if k.startswith("Summary!B") and not isinstance(v, str)]
        for want in (c.cores_saved_cores, c.usd_saved_per_year, c.npv_usd, c.servers_saved_servers):
            assert any(_close(v, want) for v in vals), (c.scenario, want)
    # and it really changed (not the cached numbers)
    assert any(not _close(before[k], lo[k]) for k in before if k.startswith("Summary!"))


def _without_chacha(text: str, *, keep_zero_share: bool) -> str:
    text = _edit(text, "aes-128-gcm = 0.70", "aes-128-gcm = 0.85")
    text = _edit(text, "chacha20-poly1305 = 0.15\n", "chacha20-poly1305 = 0.0\n" if keep_zero_share else "")
    if not keep_zero_share:
        text = text.replace('chacha20-poly1305 = "openssl"\n', "").replace('chacha20-poly1305 = "python"\n', "")
        assert "chacha" not in text
    return text


def test_a_mix_without_an_aead_needs_no_backend_for_it(tmp_path):
    # "we don't serve ChaCha": this gave KeyError: 'chacha20-poly1305' from cost.request_cost
    without = tmp_path / "without.toml"
    without.write_text(_without_chacha(example_fleet_text(), keep_zero_share=False))
    zero = tmp_path / "zero.toml"
    zero.write_text(_without_chacha(example_fleet_text(), keep_zero_share=True))
    _, _, res_without, _ = compute(str(without), str(RESULTS))
    _, _, res_zero, _ = compute(str(zero), str(RESULTS))
    a = [(s.scenario, g.cores_busy_cores) for s in res_without.scenarios for g in s.generations]
    b = [(s.scenario, g.cores_busy_cores) for s in res_zero.scenarios for g in s.generations]
    assert a == b and all(c > 0 for _, c in a)
    book = tmp_path / "book.xlsx"
    p = subprocess.run([sys.executable, "-m", "cryptobench.cli", "cost", "--fleet", str(without), "--results", str(RESULTS),
                        "--xlsx", str(book)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    with zipfile.ZipFile(book) as z:
        assert b"chacha" not in z.read("xl/sharedStrings.xml")
    cached = _cached_values(book)
    lo = _libreoffice(book)
    assert set(lo) == set(cached)
    bad = _mismatches(cached, lo)
    assert not bad, bad[:5]


def test_sensitivity_steps_held_at_a_bound_follow_the_step_cell(tmp_path):
    # the workbook holds a step at its input's bound as the model does (columns H and I say
    # where), and only while the step, an input cell, takes the input past it
    from cryptobench._io import atomic_write_bytes
    from cryptobench.xlsx import export_xlsx

    (tmp_path / "near.toml").write_text(_near_bounds(example_fleet_text()))
    fleet, measured, res, sens = compute(str(tmp_path / "near.toml"), str(RESULTS))
    book = tmp_path / "near.xlsx"
    atomic_write_bytes(book, export_xlsx(fleet, measured, res, sens))
    cached = _cached_values(book)
    lo = _libreoffice(book)
    bad = _mismatches(cached, lo)
    assert not bad, f"{len(bad)} cells differ, e.g. {bad[:5]}"
    held = {k: v for k, v in lo.items() if re.match(r"Sensitivity![HI]\d", k)}
    assert sorted(v for v in held.values() if v != "—") == pytest.approx(sorted([1.0, 1.0, 0.94] * (len(sens))))
    # a 5% step stays inside every range: nothing held, and the PUE row is pue * 0.95 again
    small = _libreoffice(book, "sensitivity_step=0.05")
    assert held and all(small[k] == "—" for k in held)
    first = next(iter(sens))
    pue_lo = cost.evaluate(perturbed(fleet, "economics.pue", 0.95), measured).comparisons[0].usd_saved_per_year
    assert pue_lo != pytest.approx(sens[first]["economics.pue"][0], rel=1e-6)  # not what the held step gives
    assert any(_close(v, pue_lo) for k, v in small.items() if k.startswith("Sensitivity!B"))


def test_a_step_landing_on_its_bound_is_not_held(tmp_path):
    # 0.55 * 1.2 and 1 - 0.34 differ in their last bit: the CSV said "held at 0.6599999999999999"
    # and the workbook's stored value did too, where a spreadsheet's recalculation says not held
    import tomllib

    text = _edit(example_fleet_text(), "full_handshake_share = 0.04", "full_handshake_share = 0.55")
    text = _edit(text, "resumed_handshake_share = 0.06", "resumed_handshake_share = 0.34")
    text = _edit(text, "reused_connection_share = 0.90", "reused_connection_share = 0.11")
    fleet = parse_fleet(tomllib.loads(text), source="ulp.toml")
    assert 0.55 * 1.2 > 1 - 0.34  # the case: past the bound by one rounding unit
    assert cost.sensitivity_held(fleet, "traffic.full_handshake_share") == (None, None)


def test_each_backend_list_on_inputs_offers_only_what_measurements_has_for_its_algorithm(workbook):
    # every list offered every backend of every algorithm: native-adx (ECDSA only) for AES-GCM
    # turned 120 formula cells into #N/A
    from cryptobench.xlsx import offered_backends

    book, fleet, measured, _ = workbook
    offered = offered_backends(fleet, measured)
    assert "native-adx" in offered["ecdsa-p256-sha256"] and "native-adx" not in offered["aes-128-gcm"]
    assert "native-vaes" in offered["aes-128-gcm"] and "native-vaes" not in offered["chacha20-poly1305"]
    with zipfile.ZipFile(book) as z:
        xml = z.read("xl/worksheets/sheet1.xml").decode()  # Inputs
    lists = set(re.findall(r'<formula1>"([^"<]*)"</formula1>', xml)) - {"sign,verify,keygen"}
    assert lists == {",".join(v) for v in offered.values()}


def test_many_generations_make_a_workbook_excel_opens_and_it_recalculates(tmp_path):
    # each sensitivity formula restated the model per generation: 10 generations made formulas
    # over Excel's 8,192 characters, which LibreOffice reads and Excel does not. They now use a
    # scenario's factor sums, so their length does not grow with the generations
    text = example_fleet_text()
    i = text.index("[[generations]]", text.index("[[generations]]") + 1)
    j = text.index("[[scenarios]]")
    prev = text[i:j]

    def longest(n: int) -> tuple[int, Path]:
        extra = "".join(prev.replace('"gen-previous"', f'"gen-{k}"').replace("servers = 20000", f"servers = {1000 * k + 7}")
                        for k in range(n - 2))
        (tmp_path / f"g{n}.toml").write_text(text[:j] + extra + text[j:])
        p = _cost_cli("--fleet", f"g{n}.toml", "--xlsx", f"g{n}.xlsx", cwd=tmp_path)
        assert p.returncode == 0, p.stderr
        book = tmp_path / f"g{n}.xlsx"
        with zipfile.ZipFile(book) as z:
            formulas = [f.text or "" for name in z.namelist() if name.startswith("xl/worksheets/")
                        for f in ET.fromstring(z.read(name)).iter(
                            "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}f")]
        return max(len(f) + 1 for f in formulas), book

    two, _ = longest(2)
    many, book = longest(14)
    assert many <= 8192 and many < 2 * two  # was 15,247 characters at 14 generations
    cached = _cached_values(book)
    bad = _mismatches(cached, _libreoffice(book))
    assert not bad, f"{len(bad)} cells differ, e.g. {bad[:5]}"


def _sensitivity_cells(values: dict) -> list[dict[str, tuple]]:
    """Per non-baseline scenario (in order), {input key: (B, C, D, E)} of the Sensitivity sheet:
    each scenario's block is a run of len(SENSITIVITY_INPUTS) consecutive formula rows in B."""
    rows = sorted(int(k.split("!B")[1]) for k in values if re.fullmatch(r"Sensitivity!B\d+", k))
    blocks, run = [], []
    for r in rows:
        if run and r != run[-1] + 1:
            blocks.append(run)
            run = []
        run.append(r)
    blocks.append(run)
    blocks = [b for b in blocks if len(b) == len(cost.SENSITIVITY_INPUTS)]
    return [{key: tuple(values[f"Sensitivity!{c}{r}"] for c in "BCDE") for key, r in zip(cost.SENSITIVITY_INPUTS, b)}
            for b in blocks]


def test_sensitivity_cells_follow_generation_and_traffic_inputs_changed_in_the_workbook(workbook):
    # each row is written over per-generation factor columns (servers, price, power, seconds
    # saved): a factor written as a constant, or two rows swapped, kept the exported figures
    # right and went wrong as soon as an input changed. Every cell is checked, by position.
    book, fleet, measured, _ = workbook
    g1, g2 = fleet.generations
    lo = _libreoffice(book, f"gen2_servers={g2.servers * 3}", f"gen1_price_usd_per_server={g1.price_usd_per_server * 1.5}",
                      f"gen1_power_w={g1.power_w / 2}", "response_bytes=50000", "resumed_handshake_share=0.2",
                      "reused_connection_share=0.76")
    changed = dataclasses.replace(
        fleet,
        generations=(dataclasses.replace(g1, price_usd_per_server=g1.price_usd_per_server * 1.5, power_w=g1.power_w / 2),
                     dataclasses.replace(g2, servers=g2.servers * 3)),
        traffic=dataclasses.replace(fleet.traffic, response_bytes=50000, resumed_handshake_share=0.2,
                                    reused_connection_share=0.76))
    want = cost.sensitivity(changed, measured)
    got = _sensitivity_cells(lo)
    assert len(got) == len(want) == len(fleet.scenarios) - 1
    before = _sensitivity_cells(_cached_values(book))
    for (scenario, rows), cells, old in zip(want.items(), got, before):
        for key, figures in rows.items():
            for w, g in zip(figures, cells[key]):
                assert _close(g, w), (scenario, key, w, g)
        assert any(not _close(a, b) for key in rows for a, b in zip(cells[key], old[key]))  # it did move


def test_sensitivity_rows_match_the_model(workbook, recalculated):
    book, fleet, measured, res = workbook
    lo = recalculated
    sens = cost.sensitivity(fleet, measured)
    sheet = {k: v for k, v in lo.items() if k.startswith("Sensitivity!")}
    for scen, rows in sens.items():
        for key, figures in rows.items():
            for want in figures:
                assert any(_close(v, want) for v in sheet.values()), (scen, key, want)


def test_a_deferral_under_a_tenth_of_a_day_is_not_shown_as_zero():
    # the comparison table read "deferral (days) 0.0" for a positive saving whose sentence says
    # "less than a day"
    from cryptobench.cost_cli import _days

    assert _days(0.0034) == "0.0034" and _days(-0.004) == "-0.004"
    assert _days(0.0) == "0.0" and _days(-0.0) == "0.0" and _days(12.345) == "12.3" and _days(1234.5) == "1,234.5"


def test_the_example_fleet_prints_in_an_ascii_locale(tmp_path):
    # read_text() took the locale's encoding: under LC_ALL=C without UTF-8 mode the file's "§"
    # was a UnicodeDecodeError traceback
    env = dict(os.environ, LC_ALL="C", LANG="C", PYTHONUTF8="0", PYTHONCOERCECLOCALE="0")
    env.pop("PYTHONIOENCODING", None)
    p = subprocess.run([sys.executable, "-m", "cryptobench.cli", "cost", "--example-fleet"], cwd=tmp_path, env=env,
                       capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    assert b"[economics]" in p.stdout and b"Traceback" not in p.stderr
