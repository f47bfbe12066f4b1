"""Regenerate tests/data/results/*.json: small synthetic results files.

The structure is what `cryptobench run` writes (a pyperf suite plus the
'cryptobench' section); the values are synthetic and fixed so that compare's
verdicts are known in advance:

- base.json: three benchmarks, 10 values each, about 1% noise;
- same.json: the same medians with different noise (no significant change);
- slower.json: encrypt/16384 20% slower, tightly (significant), the rest unchanged;
- ../noavx512/noavx512.json (apart, so the history of results/ stays three
  runs): openssl, openssl-noavx512, a native row and python for
  AES-128-GCM (encrypt and decrypt at 16 B and 16 KiB, the aes-ctr hot path)
  and ECDSA, without noise, so every ratio against openssl-noavx512 is exact.

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


def make_cost_fixture():
    """tests/data/cost/results/20261127T000000Z_fixture.json: every benchmark the
    bundled example fleet needs, for backends openssl, native-vaes and python,
    with made-up but plausible times (the cost tests check arithmetic, not speed)."""
    rng = random.Random(11)
    per_byte = {"openssl": 0.25e-9, "native-vaes": 0.2e-9, "python": 60e-9}
    fixed = {"openssl": 0.3e-6, "native-vaes": 0.1e-6, "python": 15e-6}
    ecdsa = {"openssl": {"sign": 20e-6, "verify": 50e-6, "keygen": 10e-6},
             "native-vaes": {"sign": 18e-6, "verify": 45e-6, "keygen": 9e-6},
             "python": {"sign": 300e-6, "verify": 900e-6, "keygen": 250e-6},
             "native-adx": {"sign": 17e-6, "verify": 44e-6, "keygen": 12e-6}}
    benches = []
    kernels = {}
    for backend in per_byte:
        for alg in ("aes-128-gcm", "aes-256-gcm", "chacha20-poly1305"):
            kernels[f"{alg}/{backend}"] = {"status": "passed", "path": backend}
            for op in ("encrypt", "decrypt"):
                for size in (16, 64, 256, 1024, 8192, 16384):
                    t = fixed[backend] + size * per_byte[backend] * (1.3 if alg == "aes-256-gcm" else 1.0)
                    values = [t * (1 + rng.gauss(0, 0.005)) for _ in range(3)]
                    md = {"name": f"{alg}/{backend}/{op}/{size}", "algorithm": alg, "backend": backend,
                          "operation": op, "size": size, "aad": 13, "kind": "operation", "code_path": backend,
                          "inner_loops": 10}
                    benches.append(pyperf.Benchmark([pyperf.Run(values, warmups=[(1, t)], metadata=md, collect_metadata=False)]))
    for backend in ecdsa:
        kernels[f"ecdsa-p256-sha256/{backend}"] = {"status": "passed", "path": backend}
        for op, t in ecdsa[backend].items():
            values = [t * (1 + rng.gauss(0, 0.005)) for _ in range(3)]
            md = {"name": f"ecdsa-p256-sha256/{backend}/{op}", "algorithm": "ecdsa-p256-sha256", "backend": backend,
                  "operation": op, "kind": "operation", "code_path": backend, "inner_loops": 10}
            benches.append(pyperf.Benchmark([pyperf.Run(values, warmups=[(1, t)], metadata=md, collect_metadata=False)]))
    info = {"created": "2026-11-27T00:00:00+00:00", "complete": True, "machine": MACHINE,
            "settings": {"profile": "fixture", "parallel": 1}, "kernels": kernels, "overhead_s": 5e-8}
    out = OUT.parent / "cost" / "results"
    out.mkdir(parents=True, exist_ok=True)
    results.save(out / "20261127T000000Z_fixture.json", pyperf.BenchmarkSuite(benches), info)


#: (algorithm, backend, operation, size or None, seconds); kind "hot-path" for aes-ctr
NOAVX512_BENCHES = [
    ("aes-128-gcm", "openssl", "encrypt", 16, 6.0e-7),
    ("aes-128-gcm", "openssl", "encrypt", 16384, 1.5e-6),
    ("aes-128-gcm", "openssl", "decrypt", 16384, 1.6e-6),
    ("aes-128-gcm", "openssl-noavx512", "encrypt", 16, 6.0e-7),
    ("aes-128-gcm", "openssl-noavx512", "encrypt", 16384, 3.75e-6),
    ("aes-128-gcm", "openssl-noavx512", "decrypt", 16384, 4.0e-6),
    ("aes-128-gcm", "native-vaes", "encrypt", 16, 2.0e-7),
    ("aes-128-gcm", "native-vaes", "encrypt", 16384, 2.5e-6),
    ("aes-128-gcm", "native-vaes", "decrypt", 16384, 2.0e-6),
    ("aes-128-gcm", "python", "encrypt", 16, 2.0e-5),
    ("aes-128-gcm", "python", "encrypt", 16384, 1.0e-3),
    ("aes-128-gcm", "openssl", "aes-ctr", 16384, 4.0e-6),
    ("aes-128-gcm", "openssl-noavx512", "aes-ctr", 16384, 5.0e-6),
    ("aes-128-gcm", "native-vaes", "aes-ctr", 16384, 1.0e-6),
    ("ecdsa-p256-sha256", "openssl", "sign", None, 18e-6),
    ("ecdsa-p256-sha256", "openssl", "verify", None, 45e-6),
    ("ecdsa-p256-sha256", "openssl", "keygen", None, 9e-6),
    ("ecdsa-p256-sha256", "openssl-noavx512", "sign", None, 20e-6),
    ("ecdsa-p256-sha256", "openssl-noavx512", "verify", None, 50e-6),
    ("ecdsa-p256-sha256", "openssl-noavx512", "keygen", None, 10e-6),
    ("ecdsa-p256-sha256", "native-adx", "sign", None, 16e-6),
    ("ecdsa-p256-sha256", "native-adx", "verify", None, 40e-6),
    ("ecdsa-p256-sha256", "native-adx", "keygen", None, 12e-6),
]
PATHS = {"openssl": "evp", "openssl-noavx512": "evp-noavx512", "native-vaes": "vaes-avx2", "native-adx": "mulx-adx-asm",
         "python": "byteslice-ttable"}


def make_noavx512_fixture():
    """tests/data/noavx512/noavx512.json: see the module docstring."""
    benches = []
    kernels = {}
    for alg, backend, op, size, t in NOAVX512_BENCHES:
        kernels[f"{alg}/{backend}"] = {"status": "passed", "path": PATHS[backend]}
        if backend == "openssl-noavx512":
            kernels[f"{alg}/{backend}"]["env"] = {"OPENSSL_ia32cap": ":~0x5842DC230000"}
        name = f"{alg}/{backend}/{op}" + (f"/{size}" if size else "")
        md = {"name": name, "algorithm": alg, "backend": backend, "operation": op,
              "kind": "hot-path" if op == "aes-ctr" else "operation", "code_path": PATHS[backend], "inner_loops": 10}
        if size:
            md["size"] = size
        if op in ("encrypt", "decrypt"):
            md["aad"] = 13
        values = [t] * 3
        benches.append(pyperf.Benchmark([pyperf.Run(values, warmups=[(1, t)], metadata=md, collect_metadata=False)]))
    info = {"created": "2026-11-27T00:00:00+00:00", "complete": True, "machine": MACHINE,
            "settings": {"profile": "fixture", "parallel": 1}, "kernels": kernels, "overhead_s": 5e-8}
    out = OUT.parent / "noavx512"
    out.mkdir(exist_ok=True)
    results.save(out / "noavx512.json", pyperf.BenchmarkSuite(benches), info)


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    make("base.json", 1, {})
    make("same.json", 2, {})
    make("slower.json", 3, {("openssl", "encrypt", 16384): 1.2})
    make_cost_fixture()
    make_noavx512_fixture()
