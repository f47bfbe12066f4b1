"""PNG charts from a results file (matplotlib, Agg backend; no display needed).

- ``throughput-<algorithm>.png``: encrypt throughput against message size,
  log-log, a line per backend;
- ``hotpaths-<algorithm>.png``: per backend, the share of an encrypt's time
  spent in each hot path at the largest size both were measured at (AES-CTR vs
  GHASH, ChaCha20 vs Poly1305), the rest shown as "other" (glue, tag,
  allocation, call overhead);
- ``ecdsa.png``: sign and verify operations per second per backend.

Throughput and operations per second are, like the terminal tables, the
aggregate of the run's ``--parallel`` copies (the title says so). Every chart is
rendered in memory first, then all are written at once (all or none).
"""

from __future__ import annotations

import io
from pathlib import Path

from ._io import atomic_write_many
from .registry import KINDS
from .report import _parallel
from .results import Results

HOT_PARTS = {"aes_gcm": ("aes-ctr", "ghash"), "chacha20_poly1305": ("chacha20", "poly1305")}


def _copies(res: Results) -> str:
    """The title's note on ``--parallel``: what the tables' titles say."""
    par = _parallel(res)
    return f" (aggregate of {par} copies)" if par > 1 else ""


def _identity(res: Results) -> str:
    """Which run a chart shows, for its title: two runs' charts looked the same."""
    created = str(res.info.get("created", ""))[:16].replace("T", " ")
    commit = str(res.machine.get("git_commit") or "")[:10]
    parts = [res.machine.get("cpu_model", ""), f"{created} UTC" if created else "", f"commit {commit}" if commit else "",
             res.path.name if getattr(res, "path", None) else ""]
    return literal_text(" · ".join(str(p) for p in parts if p))


#: One colour per backend on every chart of every run (they were assigned by position in
#: each chart: python was grey in one and blue in the next). The references are black and
#: grey and dashed, peers dotted.
_COLOURS = {
    "python": "tab:blue", "numba-hw": "tab:orange", "numba-portable": "tab:brown", "native-aesni": "tab:green",
    "native-avx2": "tab:green", "native-adx": "tab:green", "native-vaes": "tab:red", "native-ssse3": "tab:red",
    "native-portable": "tab:purple", "openssl": "black", "openssl-noavx512": "dimgrey", "peer-pyaes": "tab:pink",
    "peer-chacha20poly1305": "tab:pink", "peer-ecdsa": "tab:pink",
}
_OTHERS = ("tab:olive", "tab:cyan", "tab:gray", "gold", "navy", "teal", "maroon", "lime")


def backend_style(backend: str) -> dict[str, str]:
    """matplotlib keyword arguments (colour, line style, marker) for a backend's series."""
    import zlib

    colour = _COLOURS.get(backend) or _OTHERS[zlib.crc32(backend.encode()) % len(_OTHERS)]
    if backend.startswith("openssl"):
        return {"color": colour, "linestyle": "--", "marker": "s"}
    if backend.startswith("peer"):
        return {"color": colour, "linestyle": ":", "marker": "x"}
    return {"color": colour, "linestyle": "-", "marker": "o"}


def _si(x: float) -> str:
    return f"{x / 1e3:.3g}k" if x >= 1e3 else f"{x:.3g}"


def throughput_series(res: Results, algorithm: str) -> dict[str, list[tuple[int, float]]]:
    """Per backend, (size, encrypt MB/s) with AAD 13 bytes, by size; the
    aggregate of the run's ``--parallel`` copies, as the tables show it."""
    par = _parallel(res)
    enc = [m for m in res.measurements
           if m.algorithm == algorithm and m.operation == "encrypt" and m.metadata.get("aad", 13) == 13]
    return {b: sorted((m.size, m.mb_per_s * par) for m in enc if m.backend == b) for b in sorted({m.backend for m in enc})}


def signature_rows(res: Results, algorithm: str) -> list[tuple[str, float, float]]:
    """Per backend, (backend, sign/s, verify/s) (0 when not measured); the
    aggregate of the run's ``--parallel`` copies, as the tables show it."""
    par = _parallel(res)
    rows = []
    for backend in sorted({m.backend for m in res.measurements if m.algorithm == algorithm}):
        s = res.find(algorithm, backend, "sign")
        v = res.find(algorithm, backend, "verify")
        if s or v:
            rows.append((backend, s.ops_per_s * par if s else 0, v.ops_per_s * par if v else 0))
    return rows


def literal_text(value: object) -> str:
    """``value`` for a chart's title, label, legend entry or tick label, shown as it is.

    matplotlib reads text between two ``$`` as mathtext: a CPU model or backend
    name from a file holding ``$\\frac$`` stopped the chart with a ParseException
    traceback, and one holding ``$x$`` was typeset. Every ``$`` is escaped
    (``\\$``, which matplotlib shows as ``$``); text without one is unchanged."""
    return str(value).replace("$", r"\$")


def stale_charts(out_dir: str | Path, written: list[Path], pattern: str = "*.png") -> list[Path]:
    """Charts in ``out_dir`` matching ``pattern`` that this command did not write (an
    earlier one's): they must not pass for this run's."""
    return sorted(set(Path(out_dir).glob(pattern)) - {Path(p) for p in written})


def _png(plt, fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def plot(res: Results, out_dir: str | Path) -> list[Path]:
    """Write the charts into ``out_dir``, all or none (OutputError when one
    cannot be written: nothing is then changed); the paths written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .registry import ALGORITHMS

    out = Path(out_dir)
    files: list[tuple[Path, bytes]] = []
    for algorithm in ALGORITHMS:
        ms = [m for m in res.measurements if m.algorithm == algorithm]
        if not ms:
            continue
        if KINDS[algorithm] == "aead":
            series = throughput_series(res, algorithm)
            if series:
                fig, ax = plt.subplots(figsize=(8, 5))
                # the legend in the order of the lines at their largest size, fastest first
                for backend, pts in sorted(series.items(), key=lambda kv: (-kv[1][-1][1], kv[0])):
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], label=literal_text(backend), **backend_style(backend))
                ax.set_xscale("log", base=2)
                ax.set_yscale("log")
                ax.set_xlabel("message size (bytes)")
                ax.set_ylabel("encrypt throughput (MB/s)")
                ax.set_title(f"{algorithm} encrypt, AAD 13 bytes{_copies(res)}\n{_identity(res)}", fontsize=10)
                ax.grid(True, which="both", alpha=0.3)
                ax.legend(fontsize=8)
                files.append((out / f"throughput-{algorithm}.png", _png(plt, fig)))
            png = _hot_path_breakdown(plt, algorithm, ms, _identity(res))
            if png:
                files.append((out / f"hotpaths-{algorithm}.png", png))
        else:
            rows = signature_rows(res, algorithm)
            if rows:
                fig, ax = plt.subplots(figsize=(8, 5))
                xs = range(len(rows))
                ax.bar([x - 0.2 for x in xs], [r[1] for r in rows], width=0.4, label="sign")
                ax.bar([x + 0.2 for x in xs], [r[2] for r in rows], width=0.4, label="verify")
                # on a log axis a bar's length is not its value: each bar carries its figure
                for x, r in zip(xs, rows):
                    for dx, v in ((-0.2, r[1]), (0.2, r[2])):
                        ax.annotate(_si(v) if v else "not\nmeasured", (x + dx, v if v else 1), ha="center",
                                    va="bottom", fontsize=7)
                ax.set_xticks(list(xs), [literal_text(r[0]) for r in rows], rotation=30, ha="right")
                ax.set_yscale("log")
                top = max(max(r[1], r[2]) for r in rows)
                low = min([v for r in rows for v in r[1:] if v] + [1.0])
                ax.set_ylim(low / 2 if low < 1 else 1, 4 * top)  # room for the top bar's figure
                ax.set_ylabel("operations per second (log scale)")
                ax.set_title(f"{algorithm}{_copies(res)}\n{_identity(res)}", fontsize=10)
                ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
                files.append((out / "ecdsa.png", _png(plt, fig)))
    return atomic_write_many(files) if files else []


def _hot_path_breakdown(plt, algorithm: str, ms, identity: str = "") -> bytes | None:
    from .registry import ALGORITHMS

    parts = HOT_PARTS[ALGORITHMS[algorithm]]
    rows = []
    for backend in sorted({m.backend for m in ms}):
        encs = {m.size: m for m in ms if m.backend == backend and m.operation == "encrypt" and m.metadata.get("aad", 13) == 13}
        hp = {(m.operation, m.size): m for m in ms if m.backend == backend and m.operation in parts}
        common = [n for n in sorted(encs, reverse=True) if all((p, n) in hp for p in parts)]
        if not common:
            continue
        n = common[0]
        total = encs[n].median
        shares = [hp[(p, n)].median / total for p in parts]
        rows.append((backend, n, shares, max(0.0, 1.0 - sum(shares))))
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(8, 5))
    labels = [f"{literal_text(r[0])}\n({r[1]} B)" for r in rows]
    bottom = [0.0] * len(rows)
    for i, p in enumerate(parts):
        vals = [r[2][i] * 100 for r in rows]
        ax.bar(labels, vals, bottom=bottom, label=p)
        bottom = [b + v for b, v in zip(bottom, vals)]
    ax.bar(labels, [r[3] * 100 for r in rows], bottom=bottom, label="other (glue, tag, call overhead)", color="lightgrey")
    ax.axhline(100, color="black", linestyle="--", linewidth=0.8)
    ax.set_ylim(0, max(110.0, max(sum(r[2]) * 100 for r in rows) * 1.1))
    for x, r in enumerate(rows):
        total = sum(r[2]) * 100
        if total > 100:  # the AEAD runs its hot paths fused or interleaved: cheaper than apart
            ax.annotate(f"{total:.0f}%", (x, total), ha="center", va="bottom", fontsize=8)
    ax.set_ylabel("hot paths timed apart, % of one encrypt")
    # above 100%: timed apart, the hot paths cost more than the whole encrypt, because the AEAD fuses or
    # interleaves them, or, at small sizes, because each pays its own call overhead once more
    ax.set_title(f"{algorithm}: where an encrypt's time goes\n{identity}\n(above the dashed line: the hot paths "
                 "fused or interleaved in the AEAD, or each one's own call overhead at small sizes)", fontsize=9)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    plt.setp(ax.get_xticklabels(), rotation=30, ha="right", fontsize=8)
    return _png(plt, fig)
