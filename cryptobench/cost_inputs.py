"""Reading the measurements a fleet file needs from results files (the I/O half
of the cost model; :mod:`cryptobench.cost` stays pure)."""

from __future__ import annotations

from pathlib import Path

from . import results
from .cost import MeasuredCosts, Series
from .errors import ResultsFileError
from .fleet import AEADS, SIGNATURE, Fleet, FleetError, Generation

#: The AAD of the AEAD measurements the model uses (a TLS 1.2 record header).
MODEL_AAD = 13


def _resolve(fleet: Fleet, gen: Generation, results_dir: Path) -> Path:
    key = f"generations[{gen.name}].results"
    if gen.results == "newest":
        try:
            return results.newest(results_dir)
        except ResultsFileError as exc:
            raise FleetError(f"{fleet.source}: {key}: \"newest\": {exc}") from None
    p = Path(gen.results)
    if not p.is_absolute():
        beside = Path(fleet.source).parent / p
        p = beside if beside.exists() else p
    if not p.exists():
        raise FleetError(f"{fleet.source}: {key}: results file {gen.results} not found")
    return p


def _costs(fleet: Fleet, gen: Generation, res: results.Results) -> MeasuredCosts:
    key = f"generations[{gen.name}].results"
    series: dict[tuple[str, str, str], Series] = {}
    per_op: dict[tuple[str, str, str], float] = {}
    for sc in fleet.scenarios:
        for alg in AEADS:
            if fleet.traffic.cipher_mix.get(alg, 0.0) == 0.0 and alg not in sc.implementations:
                continue
            backend = sc.implementations[alg]
            for op in ("encrypt", "decrypt"):
                pts = sorted(
                    (m.size, m.median) for m in res.measurements
                    if (m.algorithm, m.backend, m.operation) == (alg, backend, op)
                    and m.size and m.metadata.get("aad", MODEL_AAD) == MODEL_AAD
                )
                if not pts:
                    raise FleetError(f"{fleet.source}: {key}: {res.path} lacks {alg}/{backend}/{op} "
                                     f"(needed by scenario {sc.name!r}){_why(res, alg, backend)}")
                series[(alg, backend, op)] = Series(tuple(p[0] for p in pts), tuple(p[1] for p in pts))
        backend = sc.implementations[SIGNATURE]
        hs = fleet.handshake
        for op in {hs.signature_operation, hs.fixed_base_operation, hs.variable_base_operation}:
            m = res.find(SIGNATURE, backend, op)
            if m is None:
                raise FleetError(f"{fleet.source}: {key}: {res.path} lacks {SIGNATURE}/{backend}/{op} "
                                 f"(needed by scenario {sc.name!r}){_why(res, SIGNATURE, backend)}")
            per_op[(SIGNATURE, backend, op)] = m.median
    machine = res.machine.get("cpu_model") or "?"
    return MeasuredCosts(str(res.path), machine, str(res.info.get("created", "?")), series, per_op)


def _why(res: results.Results, alg: str, backend: str) -> str:
    k = res.kernels.get(f"{alg}/{backend}")
    if k is None:
        return "; that kernel was not in the run"
    if k.get("status") != "passed":
        return f"; that kernel was {k.get('status', '?').upper()} in the run: {k.get('reason', '')}"
    return ""


def measured_costs(fleet: Fleet, results_dir: str | Path = "results") -> dict[str, MeasuredCosts]:
    """Each generation's measurements (borrowers share their lender's)."""
    out: dict[str, MeasuredCosts] = {}
    for gen in fleet.generations:
        if gen.borrow_results_from:
            continue
        path = _resolve(fleet, gen, Path(results_dir))
        try:
            res = results.load(path)
        except ResultsFileError as exc:
            raise FleetError(f"{fleet.source}: generations[{gen.name}].results: {exc}") from None
        out[gen.name] = _costs(fleet, gen, res)
    for gen in fleet.generations:
        if gen.borrow_results_from:
            out[gen.name] = out[gen.borrow_results_from]
    return out
