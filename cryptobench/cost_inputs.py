"""Reading the measurements a fleet file needs from results files (the I/O half
of the cost model; :mod:`cryptobench.cost` stays pure)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from . import results
from .cost import MeasuredCosts, Series, extrapolations
from .errors import ResultsFileError
from .fleet import BUNDLED, SIGNATURE, Fleet, FleetError, Generation

#: The AAD of the AEAD measurements the model uses (a TLS 1.2 record header).
MODEL_AAD = 13


class _Lacking(FleetError):
    """A results file lacks a measurement because its run did not make it (the
    kernel, operation or size was not selected, or the run was interrupted),
    not because the kernel failed or was unavailable."""

    def __init__(self, message: str, short: str) -> None:
        super().__init__(message)
        self.short = short


def _resolve(fleet: Fleet, gen: Generation, results_dir: Path) -> Path:
    key = f"generations[{gen.name}].results"
    p = Path(gen.results)
    if not p.is_absolute() and fleet.source != BUNDLED:
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
        for alg in fleet.aeads:
            backend = sc.implementations[alg]
            for op in ("encrypt", "decrypt"):
                pts = sorted(
                    (m.size, m.median) for m in res.measurements
                    if (m.algorithm, m.backend, m.operation) == (alg, backend, op)
                    and m.size and m.metadata.get("aad", MODEL_AAD) == MODEL_AAD
                )
                if not pts:
                    raise _lacks(fleet, key, res, sc.name, alg, backend, op)
                series[(alg, backend, op)] = Series(tuple(p[0] for p in pts), tuple(p[1] for p in pts))
        backend = sc.implementations[SIGNATURE]
        hs = fleet.handshake
        for op in {hs.signature_operation, hs.fixed_base_operation, hs.variable_base_operation}:
            m = res.find(SIGNATURE, backend, op)
            if m is None:
                raise _lacks(fleet, key, res, sc.name, SIGNATURE, backend, op)
            per_op[(SIGNATURE, backend, op)] = m.median
    machine = res.machine.get("cpu_model") or "?"
    return MeasuredCosts(str(res.path), machine, str(res.info.get("created", "?")), series, per_op)


def _lacks(fleet: Fleet, key: str, res: results.Results, scenario: str, alg: str, backend: str,
           op: str) -> FleetError:
    """The error for a missing measurement: a :class:`_Lacking` when the run did
    not make it, a plain FleetError when the kernel failed or was unavailable."""
    what = f"{alg}/{backend}/{op}"
    k = res.kernels.get(f"{alg}/{backend}")
    if k is None and not res.info.get("complete", True):
        why = "the run was interrupted before it"
    elif k is None:
        why = "that kernel was not in the run"
    elif k.get("status") != "passed":
        return FleetError(f"{fleet.source}: {key}: {res.path} lacks {what} (needed by scenario {scenario!r}); "
                          f"that kernel was {k.get('status', '?').upper()} in the run: {k.get('reason', '')}")
    else:
        why = "the run did not measure it"
    return _Lacking(f"{fleet.source}: {key}: {res.path} lacks {what} (needed by scenario {scenario!r}); {why}",
                    f"{res.path}, which lacks {what} ({why})")


def _load(fleet: Fleet, gen: Generation, path: Path) -> results.Results:
    try:
        return results.load(path)
    except ResultsFileError as exc:
        raise FleetError(f"{fleet.source}: generations[{gen.name}].results: {exc}") from None


def _results_or_why_not(path: Path) -> results.Results | str:
    """The results file at ``path``, or why "newest" passes it over, as ``history`` and
    ``gate`` pass over such files in a directory: an instruction-count file (``gate
    --count``), pytest-benchmark JSON, a gate report, a directory named ``*.json``, a
    damaged or unreadable file."""
    from .gate import ICOUNT_SCHEMA

    try:
        doc = results.read_json(path, allow_nan=False)
        if isinstance(doc, dict) and doc.get("schema") == ICOUNT_SCHEMA:
            return "an instruction-count file (`gate --count`)"
        if isinstance(doc, dict) and "machine_info" in doc and "cryptobench" not in doc:
            return "pytest-benchmark JSON"
        return results.load(path, doc)
    except ResultsFileError as exc:
        return str(exc).removeprefix(f"{path}: ")


def _newest_usable(fleet: Fleet, gen: Generation, results_dir: Path) -> MeasuredCosts:
    """\"newest\": the most recent results file in results_dir that has every
    measurement the fleet needs, at sizes that cover the traffic's records. A
    newer file whose run did not make one (a narrower or interrupted run) or
    measured too few sizes (``run --sizes 16,64``) is passed over and named in
    ``skipped``; one in which a needed kernel FAILED or was unavailable stops
    with that error. A ``*.json`` that is not a results file (an instruction-count
    file, a gate report, a damaged file) is passed over and named too. When no
    file covers the sizes, the newest complete one is used and its extrapolations
    are flagged as usual."""
    key = f"generations[{gen.name}].results"
    try:
        paths = results.newest_first(results_dir)
    except ResultsFileError as exc:
        raise FleetError(f"{fleet.source}: {key}: \"newest\": {exc}") from None
    skipped: list[str] = []
    unreadable: list[str] = []
    first: _Lacking | None = None
    narrow: tuple[MeasuredCosts, int] | None = None  # the newest complete file that would extrapolate
    for path in paths:
        res = _results_or_why_not(path)
        if isinstance(res, str):
            unreadable.append(f"{path}: {res}")
            skipped.append(unreadable[-1])
            continue
        try:
            costs = _costs(fleet, gen, res)
        except _Lacking as exc:
            first = first or exc
            skipped.append(exc.short)
            continue
        except FleetError:
            if narrow is None:
                raise
            # a kernel that passed in the newer (narrow) run failed in this older one: superseded
            skipped.append(f"{path}, in which a needed kernel failed or was unavailable")
            continue
        outside = extrapolations(fleet, costs)
        if outside:
            narrow = narrow or (costs, len(skipped))
            skipped.append(f"{path}, which would extrapolate {outside[0]}"
                           + (f" and {len(outside) - 1} more" if len(outside) > 1 else ""))
            continue
        return dataclasses.replace(costs, skipped=tuple(skipped))
    if narrow is not None:
        costs, before = narrow
        return dataclasses.replace(costs, skipped=tuple(skipped[:before]))
    if first is None:
        raise FleetError(f"{fleet.source}: {key}: \"newest\": no results file among the {len(paths)} *.json and *.json.gz in "
                         f"{results_dir}/: " + "; ".join(unreadable)) from None
    older = len(paths) - 1 - len(unreadable)
    more = f" (nor does any of the {older} older file(s) in {results_dir}/)" if older > 0 else ""
    passed = f"; passed over {len(unreadable)} file(s) that are not results files" if unreadable else ""
    raise FleetError(f"{first}{more}{passed}") from None


def measured_costs(fleet: Fleet, results_dir: str | Path = "results") -> dict[str, MeasuredCosts]:
    """Each generation's measurements (borrowers share their lender's)."""
    out: dict[str, MeasuredCosts] = {}
    for gen in fleet.generations:
        if gen.borrow_results_from:
            continue
        if gen.results == "newest":
            out[gen.name] = _newest_usable(fleet, gen, Path(results_dir))
        else:
            out[gen.name] = _costs(fleet, gen, _load(fleet, gen, _resolve(fleet, gen, Path(results_dir))))
    for gen in fleet.generations:
        if gen.borrow_results_from:
            out[gen.name] = out[gen.borrow_results_from]
    return out
