"""Tables and comparisons built from results files. Builders only: no printing.

Speedups are ratios of medians measured in the same run: ``×openssl`` is
openssl's time divided by the kernel's (above 1 = faster than OpenSSL),
``×python`` likewise against the pure-Python backend.

When the run has ``openssl-noavx512`` rows (OpenSSL restricted to the target
machines' ISA, kernels/_openssl_noavx512.py), each algorithm gets one more
small table of ratios against that row (:data:`NOAVX512`), and the hot-path
table one more column; ``×openssl`` stays against the ``openssl`` row, as in
the cost model, the gate and history.
"""

from __future__ import annotations

import math
import statistics
import sys
from dataclasses import dataclass
from decimal import Decimal
from typing import Callable, Collection, Iterable, Sequence

from rich.table import Table
from rich.text import Text

from ._text import printable
from .display import literal
from .registry import ALGORITHMS, KINDS, OPERATIONS
from .results import Measurement, Results, geometric_mean, settings_notes


def _sig(x: float, digits: int = 3) -> str:
    """``x`` to ``digits`` significant figures in plain decimal: ``.3g`` alone
    writes 1000 as 1e+03 and 0.00001 as 1e-05."""
    text = f"{x:.{digits}g}"
    return format(Decimal(text), "f") if "e" in text else text


def fmt_time(s: float | None) -> str:
    """Seconds in ns, µs, ms or s, three significant figures; the unit is
    chosen after rounding (999.96 µs is 1 ms, not 1e+03 µs)."""
    if s is None or math.isnan(s):
        return "-"
    r = float(f"{s:.3g}")
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if abs(r) >= scale:
            return f"{_sig(r / scale)} {unit}"
    return f"{_sig(r / 1e-9)} ns"


def fmt_num(x: float | None, digits: int = 3) -> str:
    """``digits`` significant figures below 100, whole numbers below 10 000,
    then k, M, G, T; the unit is chosen after rounding (999 600 is 1M, not 1e+03k)."""
    if x is None or math.isnan(x):
        return "-"
    if x < 0:
        return "-" + fmt_num(-x, digits)
    r = float(f"{x:.{digits}g}")
    if r < 100:
        return _sig(x, digits)
    if float(f"{x:.0f}") < 1e4:
        return f"{x:.0f}"
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6)):
        if r >= scale:
            return _sig(r / scale, digits) + unit
    return _sig(r / 1e3, digits) + "k"


def fmt_ratio(x: float | None) -> Text:
    """Two decimals from 0.10×, whole numbers from 100×, two significant
    figures below 0.1×; the format is chosen after rounding (99.996 is 100×)."""
    if x is None or math.isnan(x):
        return Text("-")
    style = "green" if x >= 1.0 else "red" if x < 0.5 else ""
    text = _sig(x, 2)
    if float(text) >= 0.1:
        text = f"{x:.2f}"
    if float(text) >= 100:
        text = f"{x:.0f}"
    return Text(text + "×", style=style)


def _ratio(ref: Measurement | None, m: Measurement | None) -> float | None:
    if ref is None or m is None:
        return None
    return ref.median / m.median


#: The restricted reference (no AVX-512) that gets its own ratio table.
NOAVX512 = "openssl-noavx512"


def _by_backend(res: Results, algorithm: str) -> dict[str, list[Measurement]]:
    out: dict[str, list[Measurement]] = {}
    for m in res.measurements:
        if m.algorithm == algorithm:
            out.setdefault(m.backend, []).append(m)
    return out


def _parallel(res: Results) -> int:
    return int(res.info.get("settings", {}).get("parallel", 1) or 1)


def algorithm_tables(res: Results, algorithm: str) -> list[Table]:
    """The summary table of an algorithm (fastest first), the ratios against
    ``openssl-noavx512`` when the run has that row, then its hot paths."""
    tables = []
    backends = _by_backend(res, algorithm)
    if KINDS[algorithm] == "aead":
        t = _aead_table(res, algorithm, backends)
        nt = _aead_noavx512_table(res, algorithm, backends)
        na = _aead_table(res, algorithm, backends, aad=0)  # run --no-aad
    else:
        t = _signature_table(res, algorithm, backends)
        nt = _signature_noavx512_table(res, algorithm, backends)
        na = None
    for table in (t, nt, na):
        if table is not None:
            tables.append(table)
    hp = _hot_path_table(res, algorithm, backends)
    if hp is not None:
        tables.append(hp)
    return tables


def _aad(m: Measurement) -> int:
    """The AAD length of an AEAD benchmark (files without the key measured 13 bytes only)."""
    return m.metadata.get("aad", 13)


def _aead_table(res: Results, algorithm: str, backends: dict[str, list[Measurement]], aad: int = 13) -> Table | None:
    """Encrypt throughput at each size with the TLS AAD (13 bytes), or with ``aad=0`` the
    empty-AAD benchmarks of ``run --no-aad``; None when the run has none."""
    sizes = sorted({m.size for ms in backends.values() for m in ms
                    if m.operation == "encrypt" and m.size and _aad(m) == aad})
    if not sizes:
        return None
    big, small = sizes[-1], sizes[0]
    par = _parallel(res)
    tsc = res.tsc_mhz

    def enc(b, n):
        return res.find(algorithm, b, "encrypt", n, aad=aad)

    # a backend not measured at the largest size (a --filter) is still a row, after the others
    rows = [b for b in backends if any(enc(b, n) for n in sizes)]
    rows.sort(key=lambda b: (enc(b, big) is None, enc(b, big).median if enc(b, big) else 0.0))
    title = (f"{algorithm}: encrypt throughput, MB/s" + (f" (aggregate of {par} parallel copies)" if par > 1 else "")
             + (f", AAD {aad} bytes" if aad else ", empty AAD (run --no-aad)"))
    t = Table(title=title, title_justify="left")
    t.add_column("backend", no_wrap=True, min_width=max(map(len, rows), default=0))
    t.add_column("path", style="dim", overflow="fold")
    for n in sizes:
        t.add_column(_size_label(n), justify="right")
    # cycles are one copy's: a per-byte cost, which the copies do not share
    t.add_column(f"cyc/B {_size_label(big)} (TSC{', per copy' if par > 1 else ''})", justify="right")
    t.add_column(f"decrypt {_size_label(big)}", justify="right")
    t.add_column(f"×python {_size_label(big)}", justify="right")
    if small != big:  # one size measured: one ×openssl column, not the same one twice
        t.add_column(f"×openssl {_size_label(small)}", justify="right")
    t.add_column(f"×openssl {_size_label(big)}", justify="right")
    for b in rows:
        cells = []
        for n in sizes:
            m = enc(b, n)
            cells.append(fmt_num(m.mb_per_s * par) if m else "-")
        m_big = enc(b, big)
        dec = res.find(algorithm, b, "decrypt", big, aad=aad)
        t.add_row(
            literal(b), literal((m_big or next(m for n in sizes if (m := enc(b, n)))).code_path), *cells,
            fmt_num(m_big.cycles_per_byte(tsc)) if m_big else "-",
            fmt_num(dec.mb_per_s * par) if dec else "-",
            fmt_ratio(_ratio(enc("python", big), m_big)),
            *([fmt_ratio(_ratio(enc("openssl", small), enc(b, small)))] if small != big else []),
            fmt_ratio(_ratio(enc("openssl", big), m_big)),
        )
    return t


def _signature_table(res: Results, algorithm: str, backends: dict[str, list[Measurement]]) -> Table | None:
    def get(b, op):
        return res.find(algorithm, b, op)

    rows = [b for b in backends if get(b, "sign") or get(b, "verify")]
    if not rows:
        return None
    rows.sort(key=lambda b: (get(b, "sign") or get(b, "verify")).median)
    tsc = res.tsc_mhz
    par = _parallel(res)
    t = Table(title=f"{algorithm}: operations per second" + (f" (aggregate of {par} copies)" if par > 1 else ""), title_justify="left")
    kcyc = "sign kcyc (TSC, per copy)" if par > 1 else "sign kcyc (TSC)"
    for col in ("backend", "path", "sign/s", "verify/s", "keygen/s", kcyc, "×python sign", "×python verify", "×openssl sign", "×openssl verify"):
        t.add_column(col, justify="left" if col in ("backend", "path") else "right", style="dim" if col == "path" else None,
                     overflow="fold" if col == "path" else "ellipsis",
                     no_wrap=col == "backend", min_width=max(map(len, rows)) if col == "backend" else None)
    for b in rows:
        s, v, k = get(b, "sign"), get(b, "verify"), get(b, "keygen")
        c = s.cycles(tsc) if s else None
        t.add_row(
            literal(b), literal((s or v).code_path),
            fmt_num(s.ops_per_s * par) if s else "-",
            fmt_num(v.ops_per_s * par) if v else "-",
            fmt_num(k.ops_per_s * par) if k else "-",
            fmt_num(c / 1e3) if c else "-",
            fmt_ratio(_ratio(get("python", "sign"), s)),
            fmt_ratio(_ratio(get("python", "verify"), v)),
            fmt_ratio(_ratio(get("openssl", "sign"), s)),
            fmt_ratio(_ratio(get("openssl", "verify"), v)),
        )
    return t


def _noavx512_table_shell(res: Results, algorithm: str, what: str) -> Table:
    cap = (res.kernels.get(f"{algorithm}/{NOAVX512}") or {}).get("env", {}).get("OPENSSL_ia32cap")
    return Table(
        title=f"{algorithm}: {what} ×{NOAVX512}", title_justify="left",
        # cap comes from the file: text, not markup (a Text caption takes no style of its own: give it the str's)
        caption=literal(f"×{NOAVX512}: against OpenSSL without AVX-512, the target machines' ISA"
                        + (f" (OPENSSL_ia32cap={cap})" if cap else ""), style="table.caption"),
        caption_justify="left",
    )


def _aead_noavx512_table(res: Results, algorithm: str, backends: dict[str, list[Measurement]]) -> Table | None:
    """×openssl-noavx512 of every row's encrypt at every size, and decrypt at the largest."""
    if NOAVX512 not in backends:
        return None
    sizes = sorted({m.size for ms in backends.values() for m in ms
                    if m.operation == "encrypt" and m.size and _aad(m) == 13})
    if not sizes:
        return None
    big = sizes[-1]

    def find(b, op, n):
        return res.find(algorithm, b, op, n, aad=13)

    if find(NOAVX512, "encrypt", big) is None:
        return None
    rows = [b for b in backends if find(b, "encrypt", big)]
    rows.sort(key=lambda b: find(b, "encrypt", big).median)
    t = _noavx512_table_shell(res, algorithm, "encrypt")
    t.add_column("backend", no_wrap=True)
    t.add_column("path", style="dim", overflow="fold")
    for n in sizes:
        t.add_column(_size_label(n), justify="right")
    t.add_column(f"decrypt {_size_label(big)}", justify="right")
    for b in rows:
        t.add_row(
            literal(b), literal(find(b, "encrypt", big).code_path),
            *(fmt_ratio(_ratio(find(NOAVX512, "encrypt", n), find(b, "encrypt", n))) for n in sizes),
            fmt_ratio(_ratio(find(NOAVX512, "decrypt", big), find(b, "decrypt", big))),
        )
    return t


def _signature_noavx512_table(res: Results, algorithm: str, backends: dict[str, list[Measurement]]) -> Table | None:
    """×openssl-noavx512 of every row's sign, verify and keygen."""
    if NOAVX512 not in backends:
        return None

    def get(b, op):
        return res.find(algorithm, b, op)

    if not (get(NOAVX512, "sign") or get(NOAVX512, "verify")):
        return None
    rows = [b for b in backends if get(b, "sign") or get(b, "verify")]
    rows.sort(key=lambda b: (get(b, "sign") or get(b, "verify")).median)
    t = _noavx512_table_shell(res, algorithm, "operations")
    t.add_column("backend", no_wrap=True)
    t.add_column("path", style="dim", overflow="fold")
    for op in ("sign", "verify", "keygen"):
        t.add_column(op, justify="right")
    for b in rows:
        t.add_row(literal(b), literal((get(b, "sign") or get(b, "verify")).code_path),
                  *(fmt_ratio(_ratio(get(NOAVX512, op), get(b, op))) for op in ("sign", "verify", "keygen")))
    return t


def _hot_path_table(res: Results, algorithm: str, backends: dict[str, list[Measurement]]) -> Table | None:
    hot = [m for ms in backends.values() for m in ms if m.kind == "hot-path"]
    if not hot:
        return None
    tsc = res.tsc_mhz
    par = _parallel(res)
    t = Table(title=f"{algorithm}: hot paths (largest size measured"
                    + (f"; per copy, of {par} parallel copies" if par > 1 else "") + ")", title_justify="left")
    noavx = any(m.backend == NOAVX512 for m in hot)
    cols = ("hot path", "backend", "size", "time/op", "MB/s or ops/s", "cyc/B or cyc/op (TSC)", "×python", "×openssl")
    for col in cols + ((f"×{NOAVX512}",) if noavx else ()):
        names = col in ("hot path", "backend")  # the row's identity: never cut, repeated when the table is split
        t.add_column(col, justify="left" if names else "right", no_wrap=names)
    ops = []
    for m in hot:
        if m.operation not in ops:
            ops.append(m.operation)
    for op in ops:
        ms = [m for m in hot if m.operation == op]
        size = max((m.size or 0) for m in ms) or None
        chosen = [m for m in ms if (m.size or None) == size]
        chosen.sort(key=lambda m: m.median)
        refs = {m.backend: m for m in chosen}
        for m in chosen:
            rate = m.mb_per_s if m.mb_per_s is not None else m.ops_per_s
            cyc = m.cycles_per_byte(tsc) if m.mb_per_s is not None else m.cycles(tsc)
            unit = "" if m.operation != "field-mul" else " (per mul)"
            t.add_row(
                literal(op + unit), literal(m.backend), str(m.size) if m.size else "-", fmt_time(m.median), fmt_num(rate), fmt_num(cyc),
                fmt_ratio(_ratio(refs.get("python"), m)), fmt_ratio(_ratio(refs.get("openssl"), m)),
                *((fmt_ratio(_ratio(refs.get(NOAVX512), m)),) if noavx else ()),
            )
    return t


def _wanted(algorithm: str | Collection[str] | None) -> Collection[str] | None:
    """An algorithm filter as a collection of names (None: every algorithm)."""
    return (algorithm,) if isinstance(algorithm, str) else (algorithm or None)


def peers_table(res: Results, algorithm: str | Collection[str] | None = None) -> Table | None:
    """The python backend against the pure-Python libraries it is measured
    against (``peer-*``), in this run: its AEAD encrypt against a peer's encrypt,
    or against pyaes's AES-CTR keystream where a peer has no AEAD (at 16 KiB, or
    the largest size both have), and ECDSA sign and verify. The ratio is the
    peer's time over python's: above 1, python is faster."""
    rows = []
    wanted = _wanted(algorithm)
    for alg in algorithms_in(res):
        if wanted and alg not in wanted:
            continue
        backends = _by_backend(res, alg)
        if "python" not in backends:
            continue
        for peer in sorted(b for b in backends if b.startswith("peer-")):
            if KINDS[alg] == "signature":
                for op in ("sign", "verify"):
                    ours, theirs = res.find(alg, "python", op), res.find(alg, peer, op)
                    if ours and theirs:
                        rows.append((f"{alg} {op}", fmt_num(1 / ours.median) + "/s", f"{peer} {op}",
                                     fmt_num(1 / theirs.median) + "/s", _ratio(theirs, ours)))
                continue
            peer_op = "encrypt" if any(m.operation == "encrypt" for m in backends[peer]) else "aes-ctr"
            ours_by = {m.size: m for m in backends["python"] if m.operation == "encrypt" and m.metadata.get("aad", 13) == 13}
            theirs_by = {m.size: m for m in backends[peer] if m.operation == peer_op and m.metadata.get("aad", 13) in (13, None)}
            common = sorted(set(ours_by) & set(theirs_by) - {None})
            if not common:
                continue
            n = 16384 if 16384 in common else common[-1]
            ours, theirs = ours_by[n], theirs_by[n]
            what = f"{peer} {peer_op} {_size_label(n)}" + (" (keystream only)" if peer_op == "aes-ctr" else "")
            rows.append((f"{alg} encrypt {_size_label(n)}", f"{fmt_num(ours.mb_per_s)} MB/s", what,
                         f"{fmt_num(theirs.mb_per_s)} MB/s", _ratio(theirs, ours)))
    if not rows:
        return None
    par = _parallel(res)
    t = Table(title="python against the pure-Python libraries (same run; ×: the peer's time over python's"
                    + (f"; figures per copy, of {par} parallel copies" if par > 1 else "") + ")", title_justify="left")
    for col in ("python", "figure", "peer", "peer figure", "×"):
        t.add_column(col, justify="left" if col in ("python", "peer") else "right")
    for ours_label, ours_fig, peer_label, peer_fig, ratio in rows:
        t.add_row(ours_label, ours_fig, literal(peer_label), peer_fig, fmt_ratio(ratio))
    return t


def _size_label(n: int) -> str:
    return f"{n // 1024}K" if n >= 1024 and n % 1024 == 0 else f"{n}B"


def not_timed_table(res: Results, algorithm: str | None = None) -> Table | None:
    rows = [
        (name, o) for name, o in res.kernels.items()
        if o.get("status") != "passed" and (algorithm is None or name.startswith(algorithm + "/"))
    ]
    if not rows:
        return None
    t = Table(title="Not timed" + (f" ({algorithm})" if algorithm else ""), title_justify="left")
    t.add_column("kernel")
    t.add_column("status")
    t.add_column("reason", overflow="fold")
    for name, o in rows:
        st = o.get("status", "?")
        style = "bold red" if st in ("failed", "error") else "yellow"
        t.add_row(literal(name), Text(str(st).upper(), style=style), literal(o.get("reason", "")))
    return t


def one_time_costs_table(res: Results, algorithm: str | Collection[str] | None = None) -> Table | None:
    wanted = _wanted(algorithm)
    rows = [(n, o) for n, o in res.kernels.items()
            if o.get("cold_prepare_s") is not None and (not wanted or n.split("/")[0] in wanted)]
    if not rows:
        return None
    t = Table(title="One-time costs (not in per-operation times)", title_justify="left")
    for col in ("kernel", "first prepare (compile or cache load)", "details", "worker prepare (median)"):
        t.add_column(col)
    for n, o in rows:
        ws = o.get("worker_prepare_s") or []
        det = ", ".join(f"{k}={v}" for k, v in (o.get("cold_prepare") or {}).items())
        # statistics.median: of two workers (the default), their mean, not the slower one
        t.add_row(literal(n), fmt_time(o["cold_prepare_s"]), literal(det or "-"), fmt_time(statistics.median(ws)) if ws else "-")
    return t


def details_table(res: Results, algorithm: str | Collection[str] | None = None) -> Table:
    tsc = res.tsc_mhz
    par = _parallel(res)
    t = Table(title="All benchmarks" + (f" (per copy, of {par} parallel copies)" if par > 1 else ""),
              title_justify="left")
    wanted = _wanted(algorithm)
    ms = [m for m in res.measurements if not wanted or m.algorithm in wanted]
    # the benchmark name is never cut (it is what one greps for); the path folds
    name_width = max((len(m.name) for m in ms), default=0)
    for col in ("benchmark", "path", "median", "±stdev", "values", "MB/s", "ops/s", "TSC cyc/B", "TSC cyc/op", "setup"):
        t.add_column(col, justify="left" if col in ("benchmark", "path") else "right",
                     no_wrap=col == "benchmark", min_width=name_width if col == "benchmark" else None,
                     overflow="fold" if col == "path" else "ellipsis")
    for m in ms:
        t.add_row(
            literal(m.name), literal(m.code_path), fmt_time(m.median), fmt_time(m.stdev), str(len(m.values)),
            fmt_num(m.mb_per_s), fmt_num(m.ops_per_s), fmt_num(m.cycles_per_byte(tsc)), fmt_num(m.cycles(tsc)),
            fmt_time(m.metadata.get("setup_s")),
        )
    return t


def header_lines(res: Results) -> list[str]:
    mach = res.machine
    lines = [
        f"{printable(str(res.path), limit=sys.maxsize)}: {res.info.get('created', '?')}"
        + ("" if res.info.get("complete") else "  [INCOMPLETE: interrupted; holds what finished]"),
        f"CPU {mach.get('cpu_model')} ({mach.get('cpu_count')} logical CPUs), "
        + (f"TSC {mach['tsc_mhz']} MHz; " if mach.get("tsc_mhz")
           else "TSC not measured (no native extension); " if mach.get("native_unavailable")
           else "no TSC; ")
        + f"{mach.get('os')}; Python {mach.get('python')}; {mach.get('openssl')}",
    ]
    if "openssl_ia32cap" in mach:
        cap = mach["openssl_ia32cap"]
        lines.append(
            f"OPENSSL_ia32cap={cap!r} was set in the environment: every openssl figure ran with it"
            + (" — EMPTY, so OpenSSL used no CPU extension at all (no AES-NI)" if not cap else "")
        )
    if mach.get("native_aead_call") == "cffi" and mach.get("native_build"):
        lines.append("native AEAD encrypt/decrypt went through cffi (the CPython-API module "
                     "cryptobench._aead_fast was not built, or CRYPTOBENCH_NATIVE_DISABLE named capi)")
    ov = res.info.get("overhead_s")
    if ov:
        lines.append(
            f"harness overhead: {fmt_time(ov)} per call (a do-nothing kernel through the same loop) — "
            "included in every figure below"
        )
    if not mach.get("perf_counters"):
        lines.append("cycles are TSC cycles (no hardware performance counters on this machine)")
    busy = busy_note(res)
    if busy:
        lines.append(busy)
    return lines


#: A benchmark whose values vary by more than this fraction of their median is noisy.
NOISY_SPREAD = 0.10


def busy_note(res: Results) -> str | None:
    """A warning when the machine was busy during the run: pyperf saw a load
    average above the run's own worker processes plus half of the CPUs left to
    others, or more than 5% of the benchmarks vary by more than 10% of their
    median (a run beside another busy process on a 2-core VM showed 253 of 650,
    load 2.6, and ratios off by 2x; quiet runs show under 1% and load 1.2);
    None on a quiet run."""
    ms = [m for m in res.measurements if len(m.values) > 1 and m.median > 0]
    if not ms:
        return None
    noisy = sum(m.stdev > NOISY_SPREAD * m.median for m in ms)
    loads = [m.load_avg_max for m in ms if m.load_avg_max is not None]
    cpus = res.machine.get("cpu_count") or 1
    own = _parallel(res)  # the run's own workers: one per copy
    load = max(loads, default=0.0)
    if noisy <= 0.05 * len(ms) and load <= own + 0.5 * max(cpus - own, 1):
        return None
    return (f"WARNING: the machine was busy during this run (load average up to {load:.1f} on {cpus} CPUs; "
            f"{noisy} of {len(ms)} benchmarks vary by more than {NOISY_SPREAD:.0%} of their median): figures and "
            "ratios may be far off; measure again on a quiet machine (see show --details for each spread)")


def algorithms_in(res: Results) -> list[str]:
    present = {m.algorithm for m in res.measurements} | {n.split("/")[0] for n in res.kernels}
    return [a for a in ALGORITHMS if a in present]


def unknown_operations(res: Results) -> dict[str, int]:
    """Benchmarks per ``algorithm/operation`` of a known algorithm whose whole operation
    this cryptobench does not know (a newer version's file, a hand edit): the algorithm's
    tables show its whole operations and every hot path, so no table shows these."""
    out: dict[str, int] = {}
    for m in res.measurements:
        if m.algorithm in ALGORITHMS and m.kind != "hot-path":
            if m.operation not in OPERATIONS[KINDS[m.algorithm]]:
                key = f"{m.algorithm}/{m.operation}"
                out[key] = out.get(key, 0) + 1
    return out


def unknown_algorithms(res: Results) -> dict[str, int]:
    """Benchmarks per ``algorithm`` metadata this cryptobench does not know
    (a newer version's file, a hand edit): no table shows them."""
    out: dict[str, int] = {}
    for m in res.measurements:
        if m.algorithm not in ALGORITHMS:
            out[m.algorithm] = out.get(m.algorithm, 0) + 1
    return out


# ---------------------------------------------------------------- compare


@dataclass
class Change:
    name: str
    old: float
    new: float
    significant: bool
    t_score: float

    @property
    def ratio(self) -> float:
        """new / old time: above 1 is slower."""
        return self.new / self.old

    @property
    def percent(self) -> float:
        return (self.ratio - 1.0) * 100.0


def significant(old: Sequence[float], new: Sequence[float]) -> tuple[bool, float]:
    """Whether two benchmarks' values differ at the 95% level, and the t score.

    pyperf's test (Student's, two-sided, 95%) where it applies: the same number of
    values on both sides. Given different numbers (runs of other profiles, or one
    with --parallel) pyperf answers (True, None), "could not test", which read as
    significant: every benchmark of such a pair was. Then Welch's t-test, the same
    level. One value on a side: nothing can be significant."""
    from pyperf._utils import is_significant as student  # what pyperf compare_to uses

    from .gate import t_two_sided_p

    if len(old) < 2 or len(new) < 2:
        return False, 0.0
    if len(old) == len(new):
        try:
            sig, t = student(list(old), list(new))
            return bool(sig), float(t)
        except ZeroDivisionError:  # no variance on either side: pyperf's answer, "significant" when they differ
            return statistics.fmean(old) != statistics.fmean(new), 0.0
    va, vb = statistics.variance(old) / len(old), statistics.variance(new) / len(new)
    if va + vb == 0:
        return statistics.fmean(old) != statistics.fmean(new), 0.0
    t = (statistics.fmean(old) - statistics.fmean(new)) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va * va / (len(old) - 1) + vb * vb / (len(new) - 1))
    return t_two_sided_p(t, df) < 0.05, t


def compare(old: Results, new: Results,
            include: Callable[[str], bool] | None = None) -> tuple[list[Change], list[str]]:
    """Per-benchmark changes (pyperf's t-test for significance) and warnings;
    ``include`` (the caller's selection) decides which changes the warnings
    are about."""
    old_suite, new_suite = old.pyperf_suite(), new.pyperf_suite()
    old_b = {b.get_name(): b for b in old_suite.get_benchmarks()}
    changes = []
    for b in new_suite.get_benchmarks():
        name = b.get_name()
        if name not in old_b or b.get_metadata().get("kind") == "overhead":
            continue
        ob = old_b[name]
        sig, t = significant(ob.get_values(), b.get_values())
        changes.append(Change(name, statistics.median(ob.get_values()), statistics.median(b.get_values()), sig, t))
    warnings = []
    for key, label in (("cpu_model", "CPU"), ("native_build", "native build"), ("openssl", "OpenSSL"),
                       ("openssl_ia32cap", "OPENSSL_ia32cap"), ("python", "Python")):
        a, b = old.machine.get(key), new.machine.get(key)
        if a != b:
            warnings.append(f"WARNING: different {label}: {a!r} vs {b!r} — absolute times are not comparable")
    ecdsa = any(c.name.startswith("ecdsa") and (include is None or include(c.name)) for c in changes)
    warnings += settings_notes(old.info.get("settings") or {}, new.info.get("settings") or {}, ecdsa=ecdsa)
    return changes, warnings


def compare_table(changes: Iterable[Change], threshold: float) -> Table:
    t = Table(title="Changes (new vs old median time; + is slower)", title_justify="left")
    for col in ("benchmark", "old", "new", "change", "significant", "verdict"):
        # the name folds rather than end in "…" (which hid which benchmark changed); print the
        # table through display.fit_to_width, which never cuts a figure either
        if col == "benchmark":
            t.add_column(col, justify="left", overflow="fold")
        else:  # a figure stays on one line ("94.8 µs" wrapped at its space)
            t.add_column(col, justify="right", no_wrap=True)
    for c in changes:
        if c.significant and c.percent > threshold:
            verdict = Text("SLOWER", style="bold red")
        elif c.significant and c.percent < -threshold:
            verdict = Text("faster", style="green")
        else:
            verdict = Text("same", style="dim")
        t.add_row(literal(c.name), fmt_time(c.old), fmt_time(c.new), f"{c.percent:+.1f}%", "yes" if c.significant else "no", verdict)
    return t


def geomean_change(changes: Iterable[Change]) -> float:
    return geometric_mean(c.ratio for c in changes)
