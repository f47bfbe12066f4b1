"""pytest-benchmark suite: every available kernel from the registry, whole
operations at a few sizes and the hot paths.

    pytest tests/benchmarks --benchmark-only --benchmark-json=out.json --benchmark-save-data

Inputs are built by the harness's own recipes (``cryptobench.bench``), outside
the timed calls; one-time preparation (Numba compilation, tables) runs once per
kernel before its first benchmark. Every benchmark's ``extra_info`` carries the
cryptobench metadata (algorithm, backend, operation, size, aad, kind,
code_path, name), which ``cryptobench gate`` uses to normalize each time by
openssl's in the same file. With ``CRYPTOBENCH_TEST_SLOWDOWN`` set, the
test-only ``chacha20-poly1305/test-slowdown`` kernel (slow_kernel.py) is added.

Kernels are verified by ``cryptobench verify`` and the default test run, not
here; this suite only times.
"""

from __future__ import annotations

import os

import pytest

from cryptobench import bench, registry

import slow_kernel

#: Whole operations at these sizes; sized hot paths at the largest.
SIZES = (64, 1024, 16384)
HOT_SIZES = (16384,)


def _kernels():
    ks = list(registry.kernels())
    if os.environ.get(slow_kernel.ENV):
        base = registry.get("chacha20-poly1305", "openssl")
        ks.append(slow_kernel.make_kernel(base))
    return ks


def _params():
    out = []
    for k in _kernels():
        if not k.available:
            out.append(pytest.param(k, None, id=f"{k.name}/unavailable",
                                    marks=pytest.mark.skip(reason=f"{k.name} unavailable: {k.reason}")))
            continue
        why = registry.env_mismatch(k)
        if why:  # e.g. openssl-noavx512 without OPENSSL_ia32cap: it would time the openssl row again
            out.append(pytest.param(k, None, id=f"{k.name}/needs-env", marks=pytest.mark.skip(reason=why)))
            continue
        specs = bench.specs_for(k, sizes=SIZES, aads=(bench.TLS_AAD,), hot_paths=False)
        specs += [s for s in bench.specs_for(k, sizes=HOT_SIZES, hot_paths=True) if s.hot_path]
        out += [pytest.param(k, s, id=s.name) for s in specs]
    return out


_prepared: dict[str, bool] = {}


@pytest.mark.parametrize("kernel,spec", _params())
def test_kernel(benchmark, kernel, spec):
    if kernel.name not in _prepared:
        if kernel.prepare is not None:
            kernel.prepare()  # JIT compile or cache load: never inside a timed round
        _prepared[kernel.name] = True
    prepared = bench.prepare(kernel, spec)
    prepared.call()  # first call outside timing (lazy tables)
    benchmark.group = spec.name.split("/", 1)[0] + " " + spec.name.split("/", 2)[2]
    benchmark.extra_info.update(spec.metadata())
    benchmark.extra_info.update(name=spec.name, code_path=kernel.path or kernel.backend,
                                per_call_units=prepared.per_call_units)
    benchmark(prepared.call)
