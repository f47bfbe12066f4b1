"""The pyperf worker entry point: ``python -m cryptobench._worker --worker ...``.

``cryptobench run`` starts this module in pyperf's worker mode (``--worker``,
``--loops=1``, ``--values``, ``--warmups``, ``--output FILE``) once per kernel
and process, with ``--kernel algorithm/backend`` and the benchmark names to run.
It registers each benchmark with ``pyperf.Runner.bench_time_func`` after
building its inputs; pyperf writes one run per benchmark to the output file.

Why one process per kernel and not pyperf's usual one per benchmark: a full
run has hundreds of benchmarks, and a fresh interpreter that imports
cryptography (and Numba for the Numba kernels) costs 0.2-1 s, which alone would
exceed the 3-minute budget. Runs of several worker processes are still merged
per benchmark, so pyperf's statistics see process-to-process variation.

Each value times ``inner_loops`` calls (calibrated here to last ``--min-time``
seconds); pyperf divides by ``inner_loops``, so values are seconds per call (or
per field multiplication for ``field-mul``).

After each benchmark a line ``CB-DONE <name>`` goes to stdout for the progress
bar; ``CB-META <json>`` reports the kernel's one-time costs, and ``CB-CAL
<name>=<calls>`` the calibration that later workers receive with ``--calls``.

A kernel that needs environment variables (``Kernel.env``: ``OPENSSL_ia32cap``
for ``openssl-noavx512``) is timed only in a worker started with them (``run``
does so): without them the worker refuses, exit status 2 and one line on
stderr, rather than time other code under the kernel's name.
"""

from __future__ import annotations

import json
import sys
import time


def _emit(tag: str, payload: str) -> None:
    sys.stdout.write(f"{tag} {payload}\n")
    sys.stdout.flush()


def _time_func_factory(call):
    def time_func(loops: int) -> float:
        rng = range(loops * time_func.inner)
        c = call
        t0 = time.perf_counter()
        for _ in rng:
            c()
        return time.perf_counter() - t0

    time_func.inner = 1
    return time_func


def main() -> None:
    import pyperf

    from . import bench
    from .registry import default_registry, env_mismatch

    runner = pyperf.Runner(program_args=(sys.executable, "-P", "-m", "cryptobench._worker"))
    ap = runner.argparser
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--bench", action="append", default=[], help="benchmark name (repeatable)")
    ap.add_argument("--cb-min-time", type=float, default=0.01)
    ap.add_argument("--calls", action="append", default=[], metavar="NAME=N",
                    help="calls per value, calibrated by the first worker (pyperf needs equal inner_loops across runs)")
    args = runner.parse_args()

    wanted = list(args.bench)
    fixed_calls = dict((c.rsplit("=", 1)[0], int(c.rsplit("=", 1)[1])) for c in args.calls)
    if args.kernel == "harness/noop":
        _bench_noop(runner, args.cb_min_time)
        return
    algorithm, backend = args.kernel.split("/", 1)
    kernel = default_registry().get(algorithm, backend)
    why = env_mismatch(kernel)
    if why is not None:
        sys.stderr.write(f"cryptobench worker: refusing to time {kernel.name}: {why}\n")
        sys.exit(2)
    meta: dict = {}
    if kernel.prepare is not None:
        t0 = time.perf_counter()
        info = bench.prepare_details(kernel.prepare())
        meta["prepare_s"] = time.perf_counter() - t0
        meta.update({f"prepare_{k}": v for k, v in info.items()})
    _emit("CB-META", json.dumps(meta))

    specs = {s.name: s for s in bench.specs_for(kernel, sizes=_sizes(wanted), aads=(0, bench.TLS_AAD))}
    for name in wanted:
        spec = specs[name]
        prepared = bench.prepare(kernel, spec)
        if name in fixed_calls:
            calls = fixed_calls[name]
            prepared.call()  # the same first call a calibration makes
        else:
            calls = bench.calibrate(prepared.call, args.cb_min_time)
            _emit("CB-CAL", f"{name}={calls}")
        tf = _time_func_factory(prepared.call)
        tf.inner = calls
        md = spec.metadata()
        md["setup_s"] = prepared.setup_s
        md["code_path"] = kernel.path or kernel.backend
        md["cb_min_time"] = args.cb_min_time
        md.update({k: v for k, v in meta.items() if isinstance(v, (int, float, str))})
        runner.bench_time_func(name, tf, inner_loops=calls * prepared.per_call_units, metadata=md)
        why = prepared.check() if prepared.check is not None else None
        if why is not None:  # right in the parent's vectors, wrong here or after these calls: not a figure
            sys.stderr.write(f"after timing {name}: {why}\n")
            sys.exit(3)
        _emit("CB-DONE", name)


def _sizes(names: list[str]) -> tuple[int, ...]:
    out = set()
    for n in names:
        last = n.rsplit("/", 1)[-1]
        if last.isdigit():
            out.add(int(last))
    return tuple(sorted(out)) or (16,)


def _bench_noop(runner, min_time: float) -> None:
    from . import bench

    nonce, data, aad = bytes(12), bytes(16), bytes(13)
    f = bench.noop

    def call():
        return f(nonce, data, aad)

    calls = bench.calibrate(call, min_time)
    tf = _time_func_factory(call)
    tf.inner = calls
    md = {"algorithm": "harness", "backend": "noop", "operation": "call", "kind": "overhead", "code_path": "python"}
    _emit("CB-META", "{}")
    runner.bench_time_func("harness/noop/call", tf, inner_loops=calls, metadata=md)
    _emit("CB-DONE", "harness/noop/call")


if __name__ == "__main__":
    main()
