"""The cost model: measured CPU time per operation -> cores, servers and dollars.

Pure functions over plain data: :class:`~cryptobench.fleet.Fleet`
and :class:`MeasuredCosts` in, :class:`ModelResult` out; no I/O, no printing.
Every output field carries its unit in its name. The spreadsheet export
(:mod:`cryptobench.xlsx`) writes the same computation as live formulas.

Definitions (docs/cost-model.md; the README has a worked example):

- Records: a message of B bytes is floor(B / max_record) full records plus
  one record of the remainder (none when the remainder is 0).
- Time of a record of b bytes: time per byte interpolated linearly between the
  two measured sizes around b, times b; outside the measured range the time
  per byte of the nearest measured size is used and the figure is flagged as
  extrapolated.
- Crypto seconds per request = sum over the AEADs of the mix of their share x (decrypt of the
  request's records + encrypt of the response's records)
  + full-handshake share x (signature + fixed-base + variable-base multiplication)
  + resumed-handshake share x (fixed-base + variable-base multiplication),
  each measured time divided by the generation's speed factor.
- Each generation carries peak traffic in proportion to its share of fleet
  cores (servers x cores per server).
- Cores busy = peak requests/s x share x crypto seconds per request.
- Servers for crypto = cores busy / (cores per server x target utilization).
- Annual cost per server = price / amortization years
  + power W x 8,760 h x $/kWh x PUE / 1,000.
- Between a scenario and the baseline: cores, servers and dollars a year
  saved; s = cores saved / fleet cores in use at peak (all cores x target
  utilization); purchase deferral = ln(1 / (1 - s)) / ln(1 + g) years (none
  when s >= 1 or ln(1 + g) = 0: no growth, no purchase to defer).
- NPV (timing convention): the saving of year t (t = 1..H) is the first
  year's saving grown by demand, S x (1 + g)^(t-1), received at the END of
  year t and discounted by (1 + r)^t.
- NPV net of the work = that NPV - engineer-months x cost of an
  engineer-month (the work is paid for now, at t = 0).
- Simple payback = engineer-months x cost of an engineer-month / first-year saving, in months.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .fleet import SIGNATURE, Fleet, Generation, Scenario

HOURS_PER_YEAR = 8760.0


@dataclass(frozen=True)
class Series:
    """Seconds per operation at each measured size (ascending)."""

    sizes: tuple[int, ...]
    seconds: tuple[float, ...]


@dataclass(frozen=True)
class MeasuredCosts:
    """One results file's per-operation costs, as the model needs them."""

    source_file: str
    machine: str
    date: str
    series: dict[tuple[str, str, str], Series]  # (algorithm, backend, encrypt|decrypt)
    per_op: dict[tuple[str, str, str], float]  # (ecdsa algorithm, backend, sign|verify|keygen)
    #: Newer results files that "newest" passed over, each with what it lacked.
    skipped: tuple[str, ...] = ()


def record_plan(total_bytes: float, max_record_bytes: int) -> list[tuple[float, int]]:
    """[(full record size, count), (remainder size, 0 or 1)]."""
    full = math.floor(total_bytes / max_record_bytes)
    rem = total_bytes - full * max_record_bytes
    return [(float(max_record_bytes), full), (rem, 1 if rem > 0 else 0)]


def interpolate(series: Series, size: float) -> tuple[float, bool]:
    """(seconds for one record of ``size`` bytes, extrapolated?)."""
    if size <= 0:
        return 0.0, False
    sizes, secs = series.sizes, series.seconds
    lo, hi = sizes[0], sizes[-1]
    clamped = min(max(size, lo), hi)
    extrapolated = size < lo or size > hi
    i = max(j for j, s in enumerate(sizes) if s <= clamped)
    tpb_i = secs[i] / sizes[i]
    if sizes[i] == clamped:
        tpb = tpb_i
    else:
        tpb_next = secs[i + 1] / sizes[i + 1]
        tpb = tpb_i + (tpb_next - tpb_i) * (clamped - sizes[i]) / (sizes[i + 1] - sizes[i])
    return size * tpb, extrapolated


def _div(a: float, b: float) -> float:
    """a / b, with IEEE's answer (inf or NaN) instead of ZeroDivisionError when b is 0:
    :func:`check_finite` then names the figure, where a traceback would name a line."""
    try:
        return a / b
    except ZeroDivisionError:
        return math.nan if a == 0 or math.isnan(a) else math.copysign(math.inf, a)


def annual_cost_per_server_usd(gen: Generation, fleet: Fleet) -> float:
    e = fleet.economics
    energy = gen.power_w * HOURS_PER_YEAR * e.electricity_usd_per_kwh * e.pue / 1000.0
    return _div(gen.price_usd_per_server, gen.amortization_years) + energy


@dataclass
class RequestCost:
    """Crypto seconds per request on one generation under one scenario."""

    aead_s: dict[str, float]  # per algorithm, already weighted by its mix share
    signature_s: float  # one signature
    fixed_base_s: float
    variable_base_s: float
    handshake_s: float  # weighted by full and resumed shares
    total_s: float
    extrapolated: list[str] = field(default_factory=list)


def request_cost(fleet: Fleet, costs: MeasuredCosts, scenario: Scenario, speed_factor: float) -> RequestCost:
    t = fleet.traffic
    aead: dict[str, float] = {}
    flagged: list[str] = []
    for alg in fleet.aeads:
        share = t.cipher_mix[alg]
        backend = scenario.implementations[alg]
        total = 0.0
        for op, nbytes in (("decrypt", t.request_bytes), ("encrypt", t.response_bytes)):
            series = costs.series[(alg, backend, op)]
            for size, count in record_plan(nbytes, t.max_record_bytes):
                if not count:
                    continue
                secs, extra = interpolate(series, size)
                if extra:
                    flagged.append(f"{alg}/{backend}/{op} at {size:g} B "
                                   f"(measured {series.sizes[0]}-{series.sizes[-1]} B)")
                total += count * secs
        aead[alg] = _div(share * total, speed_factor)
    hs = fleet.handshake
    backend = scenario.implementations[SIGNATURE]
    sig = _div(costs.per_op[(SIGNATURE, backend, hs.signature_operation)], speed_factor)
    fixed = _div(costs.per_op[(SIGNATURE, backend, hs.fixed_base_operation)], speed_factor)
    var = _div(costs.per_op[(SIGNATURE, backend, hs.variable_base_operation)], speed_factor)
    handshake = t.full_handshake_share * (sig + fixed + var) + t.resumed_handshake_share * (fixed + var)
    return RequestCost(aead, sig, fixed, var, handshake, sum(aead.values()) + handshake, flagged)


def extrapolations(fleet: Fleet, costs: MeasuredCosts) -> list[str]:
    """The record sizes the traffic needs that lie outside what ``costs``
    measured, over every scenario (empty when the measurements cover them)."""
    out: list[str] = []
    for sc in fleet.scenarios:
        for f in request_cost(fleet, costs, sc, 1.0).extrapolated:
            if f not in out:
                out.append(f)
    return out


@dataclass
class GenerationResult:
    generation: str
    estimate: bool
    capacity_share: float
    crypto_seconds_per_request_s: float
    cores_busy_cores: float
    servers_for_crypto_servers: float
    annual_cost_per_server_usd: float
    crypto_cost_usd_per_year: float
    request: RequestCost


@dataclass
class ScenarioResult:
    scenario: str
    generations: list[GenerationResult]

    @property
    def cores_busy_cores(self) -> float:
        return sum(g.cores_busy_cores for g in self.generations)

    @property
    def servers_for_crypto_servers(self) -> float:
        return sum(g.servers_for_crypto_servers for g in self.generations)

    @property
    def crypto_cost_usd_per_year(self) -> float:
        return sum(g.crypto_cost_usd_per_year for g in self.generations)


@dataclass
class Comparison:
    """A scenario against the baseline (positive = saved)."""

    scenario: str
    baseline: str
    cores_saved_by_generation_cores: dict[str, float]
    servers_saved_by_generation_servers: dict[str, float]
    usd_saved_by_generation_per_year: dict[str, float]
    cores_saved_cores: float
    servers_saved_servers: float
    usd_saved_per_year: float
    fleet_cores_in_use_at_peak_cores: float
    fleet_share_saved_fraction: float
    purchase_deferral_days: float | None  # None when s >= 1, or when demand does not grow (ln(1 + g) = 0)
    npv_usd: float  # of the saving alone
    engineer_cost_usd: float
    payback_months: float | None  # None when nothing is saved
    estimate: bool
    changes: list[str]

    @property
    def npv_net_of_work_usd(self) -> float:
        """NPV of the saving minus the cost of the work (spent now, undiscounted)."""
        return self.npv_usd - self.engineer_cost_usd

    def sentence(self) -> str:
        """One line for a reader of the summary: what the scenario saves (or COSTS) in
        cores, servers and dollars a year, and what it does to the next purchase.

        Each figure is worded by its own sign: with several generations, a scenario can
        free cores on cheap servers while taking them on dear ones, and save cores yet
        cost money ("saves 42 cores, 0.7 servers but COSTS $963 a year")."""
        what = ", ".join(self.changes) or "nothing"
        d = self.purchase_deferral_days
        defer = (
            f"defers purchases by {_days(d)}" if d is not None and d >= 0
            else f"brings purchases forward by {_days(-d)}" if d is not None
            else "saves more cores than the whole fleet has in use at peak (the baseline could not fit in it)"
            if self.fleet_share_saved_fraction >= 1
            else "defers no purchase (demand does not grow)"
        )
        c, sv, usd = self.cores_saved_cores, self.servers_saved_servers, self.usd_saved_per_year
        figures = [
            (c < 0, (f"{abs(c):,.0f}" if abs(c) >= 10 else f"{abs(c):.1f}") + " cores"),  # not "1 cores" for half a core
            (sv < 0, f"{abs(sv):,.1f} servers"),
            (usd < 0, f"${abs(usd):,.0f} a year"),
        ]
        said = ""
        for i, (costs, text) in enumerate(figures):
            if i == 0 or costs != figures[i - 1][0]:
                said += ("" if i == 0 else " but ") + ("COSTS " if costs else "saves ")
            else:
                said += ", "
            said += text
        return (
            f"{self.scenario} ({what}) {said}, and {defer}"
            + (" [ESTIMATE: uses borrowed measurements]" if self.estimate else "")
        )


def _days(d: float) -> str:
    return f"{d:,.0f} days" if d >= 10 else f"{d:.1f} days" if d >= 0.05 else "less than a day"


@dataclass
class ModelResult:
    scenarios: list[ScenarioResult]
    comparisons: list[Comparison]


#: Units of the outputs (for the terminal, CSV and workbook headers).
UNITS = {
    "crypto_seconds_per_request_s": "s/request",
    "cores_busy_cores": "cores",
    "servers_for_crypto_servers": "servers",
    "annual_cost_per_server_usd": "USD/server/year",
    "crypto_cost_usd_per_year": "USD/year",
    "cores_saved_cores": "cores",
    "servers_saved_servers": "servers",
    "usd_saved_per_year": "USD/year",
    "fleet_share_saved_fraction": "fraction of fleet cores in use at peak",
    "purchase_deferral_days": "days",
    "npv_usd": "USD",
    "npv_net_of_work_usd": "USD",
    "payback_months": "months",
    "capacity_share": "fraction of fleet cores",
}


def capacity_shares(fleet: Fleet) -> dict[str, float]:
    cores = {g.name: g.servers * g.cores_per_server for g in fleet.generations}
    total = sum(cores.values())
    return {n: _div(c, total) for n, c in cores.items()}


def npv_usd(first_year_saving: float, growth: float, discount: float, years: int) -> float:
    """Sum for t=1..H of S (1+g)^(t-1) / (1+r)^t (end-of-year convention)."""
    q = (1 + growth) / (1 + discount)
    if q == 1:
        return first_year_saving * years / (1 + discount)
    try:
        qh = q**years
    except OverflowError:  # float ** int raises where float * float gives inf
        qh = math.inf
    return first_year_saving / (1 + discount) * (1 - qh) / (1 - q)


def deferral_days(s: float, growth: float) -> float | None:
    """How long a saving of ``s`` of the fleet in use puts off the next purchase, in days;
    None when it cannot be said: s >= 1 (the baseline did not fit), or demand that
    does not grow (no purchase to defer): ln(1 + g) = 0, which is g = 0 and also any g
    so small that 1 + g rounds to 1 (below about 1e-16), as in the workbook's formula
    IF(AND(s<1,LN(1+MAX(g,0))>0), ..., "n/a"). NaN (for :func:`check_finite` to name) when s
    is not a finite number."""
    if s >= 1:
        return None
    rate = math.log(1 + max(growth, 0.0))  # the workbook's LN(1+MAX(g,0))
    if not rate > 0:
        return None
    if not math.isfinite(s):
        return math.nan
    return math.log(1 / (1 - s)) / rate * 365.0


def evaluate(fleet: Fleet, measured: dict[str, MeasuredCosts]) -> ModelResult:
    """Run the model. ``measured`` maps each generation name to its own (or
    borrowed) measurements; borrowed ones are scaled by the speed factor."""
    shares = capacity_shares(fleet)
    e, t = fleet.economics, fleet.traffic
    scen_results = []
    for sc in fleet.scenarios:
        gens = []
        for g in fleet.generations:
            rc = request_cost(fleet, measured[g.name], sc, g.speed_factor)
            cores = t.peak_requests_per_s * shares[g.name] * rc.total_s
            servers = _div(cores, g.cores_per_server * e.target_cpu_utilization)
            acps = annual_cost_per_server_usd(g, fleet)
            gens.append(GenerationResult(g.name, g.estimate, shares[g.name], rc.total_s, cores, servers, acps, servers * acps, rc))
        scen_results.append(ScenarioResult(sc.name, gens))
    base = scen_results[0]
    fleet_in_use = sum(g.servers * g.cores_per_server for g in fleet.generations) * e.target_cpu_utilization
    comparisons = []
    for sc, res in zip(fleet.scenarios[1:], scen_results[1:]):
        cores = {b.generation: b.cores_busy_cores - r.cores_busy_cores for b, r in zip(base.generations, res.generations)}
        servers = {b.generation: b.servers_for_crypto_servers - r.servers_for_crypto_servers for b, r in zip(base.generations, res.generations)}
        usd = {b.generation: b.crypto_cost_usd_per_year - r.crypto_cost_usd_per_year for b, r in zip(base.generations, res.generations)}
        saved = sum(usd.values())
        s = _div(sum(cores.values()), fleet_in_use)
        eng = sc.engineer_months * e.engineer_month_usd
        changes = [f"{alg}: {fleet.scenarios[0].implementations[alg]} -> {b}" for alg, b in sc.implementations.items()
                   if fleet.scenarios[0].implementations.get(alg) != b]
        comparisons.append(Comparison(
            scenario=sc.name,
            baseline=fleet.scenarios[0].name,
            cores_saved_by_generation_cores=cores,
            servers_saved_by_generation_servers=servers,
            usd_saved_by_generation_per_year=usd,
            cores_saved_cores=sum(cores.values()),
            servers_saved_servers=sum(servers.values()),
            usd_saved_per_year=saved,
            fleet_cores_in_use_at_peak_cores=fleet_in_use,
            fleet_share_saved_fraction=s,
            purchase_deferral_days=deferral_days(s, e.demand_growth_per_year),
            npv_usd=npv_usd(saved, e.demand_growth_per_year, e.discount_rate_per_year, e.planning_horizon_years),
            engineer_cost_usd=eng,
            payback_months=_div(eng, saved) * 12.0 if saved > 0 else None,
            estimate=any(g.estimate for g in fleet.generations),
            changes=changes,
        ))
    return ModelResult(scen_results, comparisons)


#: The inputs the sensitivity analysis varies by -20% and +20%.
SENSITIVITY_INPUTS = (
    "traffic.peak_requests_per_s",
    "economics.target_cpu_utilization",
    "traffic.full_handshake_share",
    "generations.price_usd_per_server",
    "generations.power_w",
    "economics.electricity_usd_per_kwh",
    "economics.pue",
    "economics.demand_growth_per_year",
    "economics.discount_rate_per_year",
)
SENSITIVITY_STEP = 0.20


def sensitivity(fleet: Fleet, measured: dict[str, MeasuredCosts]) -> dict[str, dict[str, tuple[float, float, float, float]]]:
    """{scenario: {input: (saving at -20%, saving at +20%, NPV at -20%, NPV at +20%)}}."""
    from .fleet import perturbed

    out: dict[str, dict[str, tuple[float, float, float, float]]] = {}
    for key in SENSITIVITY_INPUTS:
        low = evaluate(perturbed(fleet, key, 1 - SENSITIVITY_STEP), measured)
        high = evaluate(perturbed(fleet, key, 1 + SENSITIVITY_STEP), measured)
        for cl, ch in zip(low.comparisons, high.comparisons):
            out.setdefault(cl.scenario, {})[key] = (cl.usd_saved_per_year, ch.usd_saved_per_year, cl.npv_usd, ch.npv_usd)
    return out


def sensitivity_held(fleet: Fleet, key: str) -> tuple[float | None, float | None]:
    """The values ``key`` was held at in the -step and +step rows (None where the
    step stayed inside the input's valid range: fleet.STEP_BOUNDS)."""
    from .fleet import stepped

    if key.startswith("generations."):
        return None, None  # prices and power have no upper bound and a step never makes them negative
    return stepped(fleet, key, 1 - SENSITIVITY_STEP)[1], stepped(fleet, key, 1 + SENSITIVITY_STEP)[1]


#: The inputs probably at fault when a figure is not a finite number. check_finite looks at
#: the figures in the order they are computed, so the first that is not finite was made from
#: finite ones: the culprit is among the inputs its own step adds (a divisor near 0, or a
#: figure so large, in a wrong unit, that a product overflows). The measurements are not
#: suspects: results.load keeps them within 1e-15 .. 1e6 s. "generations.X" is the
#: generation's own X when the figure is one generation's.
_PER_REQUEST = ("generations.speed_factor", "traffic.request_bytes", "traffic.response_bytes")
_SERVERS = ("generations.cores_per_server", "economics.target_cpu_utilization")
_PER_SERVER = ("generations.price_usd_per_server", "generations.amortization_years", "generations.power_w",
               "economics.electricity_usd_per_kwh", "economics.pue")
_WORK = ("scenarios.engineer_months", "economics.engineer_month_usd")
_NPV = ("economics.demand_growth_per_year", "economics.discount_rate_per_year", "economics.planning_horizon_years")
_INPUTS_OF = {
    "crypto_seconds_per_request_s": _PER_REQUEST,
    "capacity_share": ("generations.servers", "generations.cores_per_server"),
    "cores_busy_cores": ("traffic.peak_requests_per_s",) + _PER_REQUEST,
    "servers_for_crypto_servers": _SERVERS,
    "annual_cost_per_server_usd": _PER_SERVER,
    "crypto_cost_usd_per_year": _SERVERS + _PER_SERVER,
    "cores_saved_cores": ("traffic.peak_requests_per_s",) + _PER_REQUEST,
    "servers_saved_servers": _SERVERS,
    "usd_saved_per_year": _SERVERS + _PER_SERVER,
    "fleet_cores_in_use_at_peak_cores": ("generations.servers",) + _SERVERS,
    "fleet_share_saved_fraction": ("generations.servers",) + _SERVERS,
    "purchase_deferral_days": ("economics.demand_growth_per_year",),
    "npv_usd": _NPV,
    "engineer_cost_usd": _WORK,
    "npv_net_of_work_usd": _NPV + _WORK,
    "payback_months": _WORK,
}


def check_finite(fleet: Fleet, result: ModelResult, sens: dict[str, dict[str, tuple[float, float, float, float]]]) -> None:
    """The safety net behind the fleet file's bounds: every figure the model hands to the
    terminal, the CSV files or the workbook (per-request seconds, capacity, servers,
    dollars, comparisons, sensitivity rows) must be a finite number. The first that is
    not is a FleetError naming it and the inputs it depends on; nothing is printed or
    written (a workbook cell of inf or NaN is one Excel calls corrupt)."""
    from .fleet import FleetError

    def refuse(figure: str, value: float, where: str, inputs: tuple[str, ...], gen: str | None = None) -> FleetError:
        keys = ", ".join(dict.fromkeys(
            (f"generations[{gen}].{k.split('.', 1)[1]}" if gen and k.startswith("generations.") else k) for k in inputs))
        return FleetError(f"{fleet.source}: the model's {figure} {where} is {value!r}, not a finite number, so nothing "
                          f"is printed or written; probably at fault (a value near 0, or one so large its unit must be "
                          f"wrong): {keys}")

    for s in result.scenarios:
        for g in s.generations:
            where = f"for scenario {s.scenario!r} on generation {g.generation!r}"
            rc = g.request
            parts = [(f"seconds of {alg} per request", v) for alg, v in rc.aead_s.items()] + [
                ("signature seconds", rc.signature_s), ("fixed-base seconds", rc.fixed_base_s),
                ("variable-base seconds", rc.variable_base_s), ("handshake seconds per request", rc.handshake_s)]
            for label, v in parts:
                if not math.isfinite(v):
                    raise refuse(label, v, where, _PER_REQUEST, g.generation)
            for attr in ("crypto_seconds_per_request_s", "capacity_share", "cores_busy_cores",
                         "servers_for_crypto_servers", "annual_cost_per_server_usd", "crypto_cost_usd_per_year"):
                v = getattr(g, attr)
                if not math.isfinite(v):
                    raise refuse(attr, v, where, _INPUTS_OF[attr], g.generation)
        for attr in ("cores_busy_cores", "servers_for_crypto_servers", "crypto_cost_usd_per_year"):
            v = getattr(s, attr)
            if not math.isfinite(v):
                raise refuse(f"total {attr}", v, f"for scenario {s.scenario!r}", _INPUTS_OF[attr])
    for c in result.comparisons:
        where = f"for scenario {c.scenario!r} against {c.baseline!r}"
        for attr, by_gen in (("cores_saved_cores", c.cores_saved_by_generation_cores),
                             ("servers_saved_servers", c.servers_saved_by_generation_servers),
                             ("usd_saved_per_year", c.usd_saved_by_generation_per_year)):
            for gen, v in by_gen.items():
                if not math.isfinite(v):
                    raise refuse(attr, v, f"{where} on generation {gen!r}", _INPUTS_OF[attr], gen)
        for attr in ("cores_saved_cores", "servers_saved_servers", "usd_saved_per_year",
                     "fleet_cores_in_use_at_peak_cores", "fleet_share_saved_fraction", "purchase_deferral_days",
                     "npv_usd", "engineer_cost_usd", "npv_net_of_work_usd", "payback_months"):
            v = getattr(c, attr)
            if v is not None and not math.isfinite(v):
                raise refuse(attr, v, where, _INPUTS_OF[attr])
    base = {c.scenario: c.usd_saved_per_year for c in result.comparisons}
    for scenario, rows in sens.items():
        for key, (lo, hi, npv_lo, npv_hi) in rows.items():
            figures = [("usd_saved_per_year", "-", lo), ("usd_saved_per_year", "+", hi), ("npv_usd", "-", npv_lo),
                       ("npv_usd", "+", npv_hi)]
            if scenario in base:  # the workbook's tornado columns: the change from the base saving
                figures += [("usd_saved_per_year change", "-", lo - base[scenario]),
                            ("usd_saved_per_year change", "+", hi - base[scenario])]
            for label, sign, v in figures:
                if not math.isfinite(v):
                    raise refuse(f"sensitivity {label}", v,
                                 f"for scenario {scenario!r} with {key} at {sign}{SENSITIVITY_STEP:.0%}",
                                 (key,) + _INPUTS_OF[label.split()[0]])
