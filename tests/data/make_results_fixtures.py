"""Regenerate tests/data/results/*.json: small synthetic results files.

The structure is what `cryptobench run` writes (a pyperf suite plus the
'cryptobench' section); the values are synthetic and fixed so that compare's
verdicts are known in advance:

- base.json: three benchmarks, 10 values each, about 1% noise;
- same.json: the same medians with different noise (no significant change);
- slower.json: encrypt/16384 20% slower, tightly (significant), the rest unchanged.

Run: python tests/data/make_results_fixtures.py
"""

import random
from pathlib import Path

import pyperf

from cryptobench import results

OUT = Path(__file__).parent / "results"
MACHINE = {
    "host": "fixture", "cpu_model": "Fixture CPU", "cpu_count": 2, "tsc_mhz": 2000.0,
    "cpu_features": ["aesni", "avx2"], "perf_counters": False, "os": "Linux", "python": "3.11.7",
    "openssl": "OpenSSL 3.0.0 (fixture)", "native_build": "gcc (fixture)",
}
BENCHES = [
    ("aes-128-gcm", "openssl", "encrypt", 16384, 4.0e-6),
    ("aes-128-gcm", "python", "encrypt", 16384, 2.0e-2),
    ("aes-128-gcm", "openssl", "encrypt", 16, 5.0e-7),
]


def make(name, seed, factors):
    rng = random.Random(seed)
    benches = []
    for alg, backend, op, size, t in BENCHES:
        f = factors.get((backend, op, size), 1.0)
        runs = []
        for _ in range(2):
            values = [t * f * (1 + rng.gauss(0, 0.01)) for _ in range(5)]
            md = {"name": f"{alg}/{backend}/{op}/{size}", "algorithm": alg, "backend": backend, "operation": op,
                  "size": size, "aad": 13, "kind": "operation", "code_path": "evp" if backend == "openssl" else "ttable",
                  "inner_loops": 10}
            runs.append(pyperf.Run(values, warmups=[(1, values[0])], metadata=md, collect_metadata=False))
        benches.append(pyperf.Benchmark(runs))
    suite = pyperf.BenchmarkSuite(benches)
    info = {
        "created": "2026-11-27T00:00:00+00:00", "complete": True, "machine": MACHINE,
        "settings": {"profile": "fixture", "parallel": 1},
        "kernels": {
            "aes-128-gcm/openssl": {"status": "passed", "path": "evp"},
            "aes-128-gcm/python": {"status": "passed", "path": "ttable"},
            "aes-128-gcm/broken": {"status": "failed", "reason": "failed 3 verification check(s)"},
        },
        "overhead_s": 5e-8,
    }
    results.save(OUT / name, suite, info)


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    make("base.json", 1, {})
    make("same.json", 2, {})
    make("slower.json", 3, {("openssl", "encrypt", 16384): 1.2})
