"""The fleet file (TOML): hardware, money, traffic and scenarios for the cost model.

:func:`load_fleet` parses and validates; every problem is one
:class:`FleetError` naming the file, the key and what is wrong. The bundled
example (``cryptobench/data/fleet.toml``) is the default.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import UsageError
from .registry import ALGORITHMS, KINDS

AEADS = tuple(a for a in ALGORITHMS if KINDS[a] == "aead")
SIGNATURE = "ecdsa-p256-sha256"
SHARE_TOLERANCE = 1e-9
#: No fleet figure is larger (a request rate, a byte count, a price, a server
#: count): beyond it a unit is wrong, and products of such figures overflow to
#: inf or NaN in the model instead of giving an answer.
MAX_FIGURE = 1e15
#: The lower bounds of the figures the model divides by (or whose logarithm it
#: takes). Each is far below any real fleet and far above 0: a value nearer 0 is
#: a wrong unit or a typo, and the model would divide by (nearly) nothing,
#: giving 1e300 servers, inf or NaN instead of an answer.
#: A server has at least one core.
MIN_CORES_PER_SERVER = 1.0
#: No fleet is planned to run at under 1% CPU at peak.
MIN_TARGET_CPU_UTILIZATION = 0.01
#: Hardware is not written off in less than a month.
MIN_AMORTIZATION_YEARS = 1 / 12
#: A generation 100 times slower per core than the one measured is not a server one prices.
MIN_SPEED_FACTOR = 0.01
#: Fractions of a server are allowed (a small or shared fleet), but not less than a hundredth of one.
MIN_SERVERS = 0.01
#: Demand growth is 0 (a flat fleet) or at least 0.01% a year: below that the deferral,
#: ln(1/(1-s)) / ln(1+g), runs to thousands of years, and 1 + g loses g's digits in
#: floating point (under about 1e-16, ln(1 + g) is 0 in Python and the workbook alike).
MIN_DEMAND_GROWTH_PER_YEAR = 1e-4
#: Demand cannot be planned to grow more than elevenfold in a year.
MAX_DEMAND_GROWTH_PER_YEAR = 10.0


class FleetError(UsageError):
    """A fleet file problem: '<file>: <key>: <what is wrong>'."""


@dataclass(frozen=True)
class Economics:
    electricity_usd_per_kwh: float
    pue: float
    discount_rate_per_year: float
    demand_growth_per_year: float
    target_cpu_utilization: float
    planning_horizon_years: int
    engineer_month_usd: float


@dataclass(frozen=True)
class Traffic:
    peak_requests_per_s: float
    average_requests_per_s: float
    full_handshake_share: float
    resumed_handshake_share: float
    reused_connection_share: float
    request_bytes: float
    response_bytes: float
    max_record_bytes: int
    cipher_mix: dict[str, float]


@dataclass(frozen=True)
class Handshake:
    signature_operation: str = "sign"
    fixed_base_operation: str = "keygen"
    variable_base_operation: str = "verify"


@dataclass(frozen=True)
class Generation:
    name: str
    servers: float
    cores_per_server: float
    price_usd_per_server: float
    amortization_years: float
    power_w: float
    results: str | None = None
    borrow_results_from: str | None = None
    speed_factor: float = 1.0

    @property
    def estimate(self) -> bool:
        """Borrowed measurements: flagged as an estimate everywhere."""
        return self.borrow_results_from is not None


@dataclass(frozen=True)
class Scenario:
    name: str
    implementations: dict[str, str]
    engineer_months: float = 0.0


@dataclass(frozen=True)
class Fleet:
    economics: Economics
    traffic: Traffic
    handshake: Handshake
    generations: tuple[Generation, ...]
    scenarios: tuple[Scenario, ...]
    source: str = "<fleet>"
    notes: dict[str, str] = field(default_factory=dict)  # key -> the comment beside it (source/assumption)

    @property
    def aeads(self) -> tuple[str, ...]:
        """The AEADs the model prices: those the cipher mix names (a share of 0
        included), in registry order. Scenarios must name a backend for each."""
        return tuple(a for a in AEADS if a in self.traffic.cipher_mix)

    def generation(self, name: str) -> Generation:
        return next(g for g in self.generations if g.name == name)


#: How messages and the workbook name the default fleet file.
BUNDLED = "the bundled example fleet (cryptobench cost --example-fleet)"


def example_fleet_path() -> Path:
    return Path(str(resources.files("cryptobench") / "data" / "fleet.toml"))


def example_fleet_text() -> str:
    return example_fleet_path().read_text(encoding="utf-8")  # it holds a "§": an ASCII locale failed


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, problem: str) -> FleetError:
        return FleetError(f"{self.source}: {key}: {problem}")

    def table(self, doc: dict, key: str) -> dict:
        v = doc.get(key)
        if not isinstance(v, dict):
            raise self.fail(key, "missing section" if v is None else "must be a table")
        return v

    def number(self, tab: dict, key: str, where: str, *, positive: bool = False, lo: float | None = None,
               hi: float | None = None, integer: bool = False, why: str = "") -> float:
        """A number >= 0 (> 0 with ``positive``), within [lo, hi] and MAX_FIGURE;
        ``why`` says what the lower bound stands for in its message."""
        full = f"{where}.{key}" if where else key
        if key not in tab:
            raise self.fail(full, "missing value")
        v = tab[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise self.fail(full, f"must be a number, got {v!r}")
        if not math.isfinite(v):
            raise self.fail(full, f"must be finite, got {v!r}")
        if v < 0:
            raise self.fail(full, f"must not be negative, got {v!r}")
        if positive and v <= 0:
            raise self.fail(full, f"must be greater than 0, got {v!r}")
        if lo is not None and v < lo:
            raise self.fail(full, f"must be at least {lo:g}{f' ({why})' if why else ''}, got {v!r}")
        if hi is not None and v > hi:
            raise self.fail(full, f"must be at most {hi}, got {v!r}")
        if v > MAX_FIGURE:
            raise self.fail(full, f"must be at most {MAX_FIGURE:g} (is its unit right?), got {v!r}")
        if integer and int(v) != v:
            raise self.fail(full, f"must be a whole number, got {v!r}")
        return int(v) if integer else float(v)

    def item(self, v: Any, where: str) -> dict:
        """One entry of an array of tables ([[generations]], [[scenarios]])."""
        if not isinstance(v, dict):
            raise self.fail(where, f"must be a table ([[...]] section), got {v!r}")
        return v

    def known(self, tab: dict, where: str, keys: tuple[str, ...]) -> None:
        """A misspelt key would silently fall back to a default or be ignored: refuse it."""
        for k in tab:
            if k not in keys:
                close = difflib.get_close_matches(k, keys, n=1)
                hint = f"did you mean {close[0]}?" if close else f"valid: {', '.join(keys)}"
                full = f"{where}.{_shown(k)}" if where else _shown(k)
                raise self.fail(full, f"unknown key; {hint}")

    def name(self, tab: dict, where: str) -> str:
        """A generation or scenario name: also a spreadsheet criterion, a formula's string,
        a chart's series name and a cell of text in the workbook, so no wildcard, quote,
        '!' or leading '=' (and, as every string, no control character: :meth:`text`)."""
        v = self.text(tab, "name", where)
        if v is None:
            raise self.fail(f"{where}.name", "missing value")
        bad = sorted(set(v) & set(_NAME_FORBIDDEN))
        if bad or v.startswith("="):
            what = " ".join(bad) if bad else "a leading ="
            raise self.fail(f"{where}.name", f"{v!r} contains {what}, which spreadsheet formulas and charts (or the "
                                             "terminal's markup) read as wildcards or syntax; use letters, digits, "
                                             "spaces and - _ . ( ) / +")
        return v

    def text(self, tab: dict, key: str, where: str, default: str | None = None) -> str | None:
        v = tab.get(key, default)
        if v is None:
            return None
        if not isinstance(v, str) or not v.strip():
            raise self.fail(f"{where}.{key}", f"must be a non-empty string, got {v!r}")
        bad = _unprintable(v)
        if bad:
            raise self.fail(f"{where}.{key}", f"{v!r} contains {bad}, which the workbook's XML cannot hold (or "
                                              "holds as a garbled cell) and a terminal would act on; use printable "
                                              "characters")
        return v


def _unprintable(text: str) -> str:
    """'' when ``text`` is fit for a workbook cell, a formula's string and a terminal line; else what
    is not: a control character (C0, DEL, C1: the workbook's XML cannot hold most of them in a formula,
    and a terminal acts on them), a line or paragraph separator, a lone surrogate or U+FFFE/U+FFFF
    (not XML characters)."""
    bad = sorted({c for c in text if unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp") or c in "\ufffe\uffff"})
    if not bad:
        return ""
    codes = ", ".join(f"U+{ord(c):04X}" for c in bad)
    kind = "control" if all(unicodedata.category(c) == "Cc" for c in bad) else "non-printing"
    return f"a {kind} character ({codes})" if len(bad) == 1 else f"{kind} characters ({codes})"


def _shown(key: str) -> str:
    """A key from the file as a message shows it: as written when printable, else quoted and
    escaped (a key "a\\nb" would otherwise split the one-line message in two)."""
    return key if key.isprintable() else repr(key)


#: Characters a name may not hold: * ? ~ are SUMIFS/MATCH wildcards, " ends a formula string,
#: [ ] open and close the terminal's (rich) markup, and ! makes a chart's series name such as
#: "Sheet1!A1" a cell reference to XlsxWriter (which warns on stderr and mis-names the series).
_NAME_FORBIDDEN = '*?~"[]!'

_TOP_KEYS = ("economics", "traffic", "handshake", "generations", "scenarios")
_GEN_KEYS = ("name", "servers", "cores_per_server", "price_usd_per_server", "amortization_years", "power_w",
             "results", "borrow_results_from", "speed_factor")
_SCEN_KEYS = ("name", "engineer_months", "implementations")


def _comments(text: str) -> dict[str, str]:
    """``key = value  # comment`` -> {key: comment}, for the workbook's notes column."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if "=" in line and "#" in line and not line.lstrip().startswith("#"):
            key = line.split("=", 1)[0].strip()
            out.setdefault(key, line.split("#", 1)[1].strip())
    return out


def load_fleet(path: str | Path | None = None, *, known_backends: set[str] | None = None) -> Fleet:
    """Parse and validate a fleet file (the bundled example when ``path`` is None)."""
    p = Path(path) if path is not None else example_fleet_path()
    # messages and the workbook name the bundled file by what it is, not by its path inside site-packages
    source = str(p) if path is not None else BUNDLED
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FleetError(f"{source}: no such fleet file") from None
    except OSError as exc:
        raise FleetError(f"{source}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        line = p.read_bytes()[: exc.start].count(b"\n") + 1
        raise FleetError(f"{source}: line {line}: not UTF-8 (TOML files are UTF-8; re-save it as UTF-8)") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FleetError(f"{source}: not valid TOML: {exc}") from None
    except RecursionError:  # tomllib recurses once per level of nested arrays or inline tables
        raise FleetError(f"{source}: not a fleet file: arrays or inline tables nested too deeply to read") from None
    except ValueError as exc:  # an integer literal over sys.get_int_max_str_digits() (4,300) digits
        long = re.search(r"[0-9][0-9_]{4000,}", text)
        where = f"line {text[: long.start()].count(chr(10)) + 1}: " if long else ""
        raise FleetError(f"{source}: {where}not a fleet file: {str(exc).split(';')[0]}") from None
    return parse_fleet(doc, source=source, notes=_comments(text), known_backends=known_backends)


def _growth(r: _Reader, e: dict) -> float:
    """demand_growth_per_year: 0 (a flat fleet), or from MIN_DEMAND_GROWTH_PER_YEAR to 10."""
    g = r.number(e, "demand_growth_per_year", "economics", hi=MAX_DEMAND_GROWTH_PER_YEAR)
    if 0 < g < MIN_DEMAND_GROWTH_PER_YEAR:
        raise r.fail("economics.demand_growth_per_year",
                     f"must be 0 (a flat fleet) or at least {MIN_DEMAND_GROWTH_PER_YEAR:g} (0.01% a year: slower "
                     f"growth defers purchases by thousands of years, and 1 + growth loses its digits), got {g!r}")
    return g


def parse_fleet(doc: dict[str, Any], *, source: str = "<fleet>", notes: dict[str, str] | None = None,
                known_backends: set[str] | None = None) -> Fleet:
    r = _Reader(source)
    r.known(doc, "", _TOP_KEYS)
    e = r.table(doc, "economics")
    r.known(e, "economics", tuple(f.name for f in fields(Economics)))
    econ = Economics(
        electricity_usd_per_kwh=r.number(e, "electricity_usd_per_kwh", "economics"),
        pue=r.number(e, "pue", "economics", lo=1.0),
        discount_rate_per_year=r.number(e, "discount_rate_per_year", "economics", hi=1.0),
        demand_growth_per_year=_growth(r, e),  # 0: a flat fleet
        target_cpu_utilization=r.number(e, "target_cpu_utilization", "economics", lo=MIN_TARGET_CPU_UTILIZATION,
                                        hi=1.0, why="a fleet planned to run at 1% CPU at peak"),
        planning_horizon_years=int(r.number(e, "planning_horizon_years", "economics", positive=True, hi=100, integer=True)),
        engineer_month_usd=r.number(e, "engineer_month_usd", "economics"),
    )
    t = r.table(doc, "traffic")
    r.known(t, "traffic", tuple(f.name for f in fields(Traffic)))
    mix_raw = t.get("cipher_mix")
    if not isinstance(mix_raw, dict):
        raise r.fail("traffic.cipher_mix", "missing table of AEAD shares")
    mix = {}
    for alg, share in mix_raw.items():
        if alg not in AEADS:
            raise r.fail(f"traffic.cipher_mix.{_shown(alg)}", f"unknown algorithm; valid: {', '.join(AEADS)}")
        mix[alg] = r.number(mix_raw, alg, "traffic.cipher_mix", hi=1.0)
    if abs(sum(mix.values()) - 1.0) > SHARE_TOLERANCE:
        raise r.fail("traffic.cipher_mix", f"shares sum to {sum(mix.values()):.6g}, not 1")
    traffic = Traffic(
        peak_requests_per_s=r.number(t, "peak_requests_per_s", "traffic", positive=True),
        average_requests_per_s=r.number(t, "average_requests_per_s", "traffic"),
        full_handshake_share=r.number(t, "full_handshake_share", "traffic", hi=1.0),
        resumed_handshake_share=r.number(t, "resumed_handshake_share", "traffic", hi=1.0),
        reused_connection_share=r.number(t, "reused_connection_share", "traffic", hi=1.0),
        request_bytes=r.number(t, "request_bytes", "traffic"),
        response_bytes=r.number(t, "response_bytes", "traffic"),
        max_record_bytes=int(r.number(t, "max_record_bytes", "traffic", positive=True, integer=True, hi=16384)),
        cipher_mix=mix,
    )
    shares = traffic.full_handshake_share + traffic.resumed_handshake_share + traffic.reused_connection_share
    if abs(shares - 1.0) > SHARE_TOLERANCE:
        raise r.fail("traffic", f"full_handshake_share + resumed_handshake_share + reused_connection_share = {shares:.6g}, not 1")
    if traffic.average_requests_per_s > traffic.peak_requests_per_s:
        raise r.fail("traffic.average_requests_per_s", "is above peak_requests_per_s")
    h = r.table(doc, "handshake") if "handshake" in doc else {}
    r.known(h, "handshake", tuple(f.name for f in fields(Handshake)))
    ops = ("sign", "verify", "keygen")
    hs = Handshake(*(r.text(h, k, "handshake", d) for k, d in (
        ("signature_operation", "sign"), ("fixed_base_operation", "keygen"), ("variable_base_operation", "verify"))))
    for k, v in (("signature_operation", hs.signature_operation), ("fixed_base_operation", hs.fixed_base_operation),
                 ("variable_base_operation", hs.variable_base_operation)):
        if v not in ops:
            raise r.fail(f"handshake.{k}", f"unknown operation {v!r}; valid: {', '.join(ops)}")

    gens_raw = doc.get("generations")
    if not isinstance(gens_raw, list) or not gens_raw:
        raise r.fail("generations", "missing: list at least one [[generations]]")
    gens = []
    for i, g in enumerate(gens_raw):
        where = f"generations[{i}]"
        g = r.item(g, where)
        name = r.name(g, where)
        where = f"generations[{name}]"
        r.known(g, where, _GEN_KEYS)
        borrow = r.text(g, "borrow_results_from", where)
        res = r.text(g, "results", where)
        if borrow and res:
            raise r.fail(where, "give either results or borrow_results_from, not both")
        if not borrow and not res:
            raise r.fail(f"{where}.results", "missing: a results file (or \"newest\"), or borrow_results_from")
        if res and "speed_factor" in g:
            raise r.fail(f"{where}.speed_factor", "only a generation that borrows results has one (it scales the "
                                                 "borrowed times); this one has its own measurements")
        gens.append(Generation(
            name=name,
            servers=r.number(g, "servers", where, lo=MIN_SERVERS, why="a hundredth of a server"),
            cores_per_server=r.number(g, "cores_per_server", where, lo=MIN_CORES_PER_SERVER, why="one core"),
            price_usd_per_server=r.number(g, "price_usd_per_server", where),
            amortization_years=r.number(g, "amortization_years", where, lo=MIN_AMORTIZATION_YEARS,
                                        why="1/12: a month"),
            power_w=r.number(g, "power_w", where),
            results=res,
            borrow_results_from=borrow,
            speed_factor=(r.number(g, "speed_factor", where, lo=MIN_SPEED_FACTOR, why="100 times slower per core")
                          if "speed_factor" in g else 1.0),
        ))
    names = [g.name for g in gens]
    if len(set(names)) != len(names):
        raise r.fail("generations", "generation names must be unique")
    for g in gens:
        if g.borrow_results_from:
            target = next((x for x in gens if x.name == g.borrow_results_from), None)
            if target is None:
                raise r.fail(f"generations[{g.name}].borrow_results_from", f"no generation named {g.borrow_results_from!r}")
            if target.borrow_results_from:
                raise r.fail(f"generations[{g.name}].borrow_results_from", "must name a generation with its own results")

    sc_raw = doc.get("scenarios")
    if not isinstance(sc_raw, list) or len(sc_raw) < 2:
        raise r.fail("scenarios", "list at least two [[scenarios]]: a baseline and a candidate")
    scenarios = []
    for i, s in enumerate(sc_raw):
        s = r.item(s, f"scenarios[{i}]")
        name = r.name(s, f"scenarios[{i}]")
        where = f"scenarios[{name}]"
        r.known(s, where, _SCEN_KEYS)
        impl = s.get("implementations")
        if not isinstance(impl, dict):
            raise r.fail(f"{where}.implementations", "missing table algorithm = backend")
        for alg in list(mix) + [SIGNATURE]:
            if alg not in impl:
                raise r.fail(f"{where}.implementations.{alg}", "missing: which backend serves it")
        for alg, backend in impl.items():
            if alg not in ALGORITHMS:
                raise r.fail(f"{where}.implementations.{_shown(alg)}", f"unknown algorithm; valid: {', '.join(ALGORITHMS)}")
            if not isinstance(backend, str) or (known_backends is not None and backend not in known_backends):
                valid = f"; valid: {', '.join(sorted(known_backends))}" if known_backends else ""
                hint = " (a backend of your own: name its module in CRYPTOBENCH_BACKENDS)" if isinstance(backend, str) else ""
                raise r.fail(f"{where}.implementations.{alg}", f"unknown backend {backend!r}{valid}{hint}")
        em = r.number(s, "engineer_months", where) if "engineer_months" in s else 0.0
        scenarios.append(Scenario(name, dict(impl), em))
    if len({s.name for s in scenarios}) != len(scenarios):
        raise r.fail("scenarios", "scenario names must be unique")
    return Fleet(econ, traffic, hs, tuple(gens), tuple(scenarios), source, notes or {})


#: The sensitivity steps hold an input inside the range the fleet file allows it:
#: 20% off a PUE of 1.1 is not a PUE of 0.88, and 20% on a 90% CPU target is not
#: 108%. Each bound is (constant, name): the constant minus that input of the same
#: section (None for none), so the full-handshake share stays at most
#: 1 - resumed_handshake_share. Demand growth keeps no lower bound here: a step
#: from 0.01% a year is 0.008%, far from where its bound matters (the deferral's
#: logarithm), and the sensitivity rows give savings and NPV only.
STEP_BOUNDS: dict[str, tuple[tuple[float, str | None] | None, tuple[float, str | None] | None]] = {
    "economics.pue": ((1.0, None), None),
    "economics.target_cpu_utilization": ((MIN_TARGET_CPU_UTILIZATION, None), (1.0, None)),
    "economics.discount_rate_per_year": (None, (1.0, None)),
    "economics.demand_growth_per_year": (None, (MAX_DEMAND_GROWTH_PER_YEAR, None)),
    "traffic.full_handshake_share": (None, (1.0, "resumed_handshake_share")),
    "traffic.resumed_handshake_share": (None, (1.0, "full_handshake_share")),
}


def step_bounds(fleet: Fleet, key: str) -> tuple[float | None, float | None]:
    """The (lowest, highest) value a sensitivity step may give ``key`` in this fleet (None: no bound)."""
    section, _ = key.split(".", 1)
    inputs = getattr(fleet, section, None)

    def value(bound):
        if bound is None:
            return None
        const, minus = bound
        return const - getattr(inputs, minus) if minus else const

    lo, hi = STEP_BOUNDS.get(key, (None, None))
    return value(lo), value(hi)


#: A step is "held" only when it passes its bound by more than this (relative): 0.55 * 1.2
#: and 1 - 0.34 differ in their last bit, and a spreadsheet compares them as equal.
STEP_BOUND_SLACK = 1e-12


def stepped(fleet: Fleet, key: str, factor: float) -> tuple[float, float | None]:
    """``key`` (an economics or traffic input) multiplied by ``factor`` and held
    within step_bounds: (the value, the bound it was held at or None)."""
    section, name = key.split(".", 1)
    v = getattr(getattr(fleet, section), name) * factor
    lo, hi = step_bounds(fleet, key)
    if lo is not None and v < lo:
        return lo, (lo if v < lo * (1 - STEP_BOUND_SLACK) else None)
    if hi is not None and v > hi:
        return hi, (hi if v > hi * (1 + STEP_BOUND_SLACK) else None)
    return v, None


def perturbed(fleet: Fleet, key: str, factor: float) -> Fleet:
    """A copy of the fleet with one input multiplied by ``factor`` (for sensitivity),
    held within STEP_BOUNDS.

    ``key`` is ``economics.X``, ``traffic.X`` or ``generations.X`` (every
    generation). Raising the full-handshake share takes the difference from the
    reused-connection share, so the shares still sum to 1.
    """
    section, name = key.split(".", 1)
    if section == "economics":
        v, _ = stepped(fleet, key, factor)
        return replace(fleet, economics=replace(fleet.economics, **{name: v}))
    if section == "traffic":
        v, _ = stepped(fleet, key, factor)
        new = replace(fleet.traffic, **{name: v})
        if name in ("full_handshake_share", "resumed_handshake_share"):
            new = replace(new, reused_connection_share=1.0 - new.full_handshake_share - new.resumed_handshake_share)
        return replace(fleet, traffic=new)
    if section == "generations":
        gens = tuple(replace(g, **{name: getattr(g, name) * factor}) for g in fleet.generations)
        return replace(fleet, generations=gens)
    raise KeyError(key)
