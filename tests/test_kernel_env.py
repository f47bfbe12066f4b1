"""Kernels with their own environment (``Kernel.env``) and the ``openssl-noavx512``
rows that need one: registration, selection, the worker environment, a worker
refusing to time without it, verification in a child process started with it,
the report's ratio tables, and OPENSSL_ia32cap in the machine description."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from rich.console import Console

from cryptobench import gate, machine, native, registry, report, results
from cryptobench import vectors as V
from cryptobench.kernels._openssl_noavx512 import ENV, IA32CAP_NO_AVX512
from cryptobench.registry import Kernel, Registry
from cryptobench.run import PROFILES, run, worker_env
from cryptobench.verify import CheckResult, check_aead_vectors, verify_kernel

DATA = Path(__file__).parent / "data" / "results"
NOAVX_FILE = Path(__file__).parent / "data" / "noavx512" / "noavx512.json"  # tests/data/make_results_fixtures.py
NOAVX = "openssl-noavx512"
HAS_AVX512 = "avx512f" in native.detected_features()
needs_avx512 = pytest.mark.skipif(not HAS_AVX512, reason="this CPU has no AVX-512F: openssl-noavx512 is unavailable")


def _render(table) -> str:
    con = Console(width=140, record=True, file=open(os.devnull, "w"))
    con.print(table)
    return con.export_text()


# ------------------------------------------------------------------ registration


@pytest.mark.parametrize("algorithm", list(registry.ALGORITHMS))
def test_noavx512_row_is_the_openssl_objects_with_the_mask(algorithm):
    k, ref = registry.get(algorithm, NOAVX), registry.get(algorithm, "openssl")
    assert k.impl is ref.impl and k.impl is not None
    assert set(k.hot_paths) == set(ref.hot_paths)
    assert all(k.hot_paths[n] is ref.hot_paths[n] for n in ref.hot_paths)
    assert dict(k.lacks) == dict(ref.lacks)
    assert dict(k.env) == {"OPENSSL_ia32cap": ":~0x5842DC230000"} == ENV
    assert k.path == "evp-noavx512" and k.constant_time
    assert "no AVX-512" in k.description and "OPENSSL_ia32cap" in k.description
    assert k.available is HAS_AVX512
    assert not ref.env  # the reference itself runs in the caller's environment


def test_mask_clears_exactly_the_avx512_bits():
    word = int(IA32CAP_NO_AVX512.split(":~")[1], 16)
    ebx, ecx = word & 0xFFFFFFFF, word >> 32
    assert sorted(b for b in range(32) if ebx >> b & 1) == [16, 17, 21, 26, 27, 28, 30, 31]
    assert sorted(b for b in range(32) if ecx >> b & 1) == [1, 6, 11, 12, 14]
    assert not ecx >> 9 & 1 and not ecx >> 10 & 1 and not ebx >> 5 & 1  # VAES, VPCLMULQDQ, AVX2 stay on
    assert IA32CAP_NO_AVX512.startswith(":")  # the first word (AES-NI, PCLMULQDQ) is left as detected


@pytest.mark.parametrize("features,available", [
    (frozenset({"aesni", "pclmulqdq", "avx2", "vaes", "vpclmulqdq"}), False),
    (frozenset({"aesni", "pclmulqdq", "avx2", "vaes", "vpclmulqdq", "avx512f"}), True),
])
def test_available_only_on_a_cpu_with_avx512f(monkeypatch, features, available):
    monkeypatch.setattr(native, "detected_features", lambda: features)
    reg = Registry()
    for fam in ("aes_gcm", "chacha20_poly1305", "ecdsa_p256"):
        registry._load_module(reg, f"cryptobench.kernels.{fam}.openssl")
    for algorithm in registry.ALGORITHMS:
        k = reg.get(algorithm, NOAVX)
        assert k.available is available
        assert reg.get(algorithm, "openssl").available
        if not available:
            assert k.reason == "this CPU has no AVX-512: the openssl row already runs without it"
        assert reg.origin(k.name) == f"cryptobench.kernels.{registry.ALGORITHMS[algorithm]}.openssl"


def test_cpu_features_without_the_extension_come_from_proc_cpuinfo(monkeypatch):
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        pytest.skip("no /proc/cpuinfo")
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    monkeypatch.setattr(native, "load", lambda: (None, None))
    native.detected_features.cache_clear()
    try:
        assert ("avx512f" in native.detected_features()) is ("avx512f" in flags)
        assert ("aesni" in native.detected_features()) is ("aes" in flags)
    finally:
        monkeypatch.undo()
        native.detected_features.cache_clear()


def test_unavailable_row_still_listed_with_its_reason(monkeypatch):
    from cryptobench.display import kernels_table

    monkeypatch.setattr(native, "detected_features", lambda: frozenset({"aesni", "avx2"}))
    reg = Registry()
    registry._load_module(reg, "cryptobench.kernels.chacha20_poly1305.openssl")
    text = "".join(_render(part) for part in kernels_table(reg.all()))
    assert NOAVX in text and "this CPU has no AVX-512" in text


def test_registry_refuses_an_empty_env_value():
    impl = registry.get("aes-128-gcm", "openssl").impl
    with pytest.raises(ValueError, match="non-empty"):
        Registry().add(Kernel("aes-128-gcm", "x", True, impl=impl, env={"OPENSSL_ia32cap": ""}))


def test_env_mismatch_names_the_variable_and_what_the_process_has():
    k = Kernel("aes-128-gcm", "x", True, env={"OPENSSL_ia32cap": ":~0x1"})
    assert registry.env_mismatch(k, {"OPENSSL_ia32cap": ":~0x1", "OTHER": "1"}) is None
    unset = registry.env_mismatch(k, {})
    assert "OPENSSL_ia32cap=':~0x1'" in unset and "unset" in unset and "aes-128-gcm/x" in unset
    assert "'~0x2'" in registry.env_mismatch(k, {"OPENSSL_ia32cap": "~0x2"})
    assert registry.env_mismatch(Kernel("aes-128-gcm", "y", True), {}) is None


def test_openssl_selects_the_reference_alone():
    assert {k.backend for k in registry.select("aes-128-gcm", "openssl")} == {"openssl"}
    assert {k.backend for k in registry.select("aes-128-gcm", "openssl*")} == {"openssl", NOAVX}
    assert {k.backend for k in registry.select("aes-128-gcm", NOAVX)} == {NOAVX}
    natives = {k.backend for k in registry.select("aes-128-gcm", "native")}
    assert natives and all(b.startswith("native-") for b in natives)


# ------------------------------------------------------------------ workers


def test_worker_env_merges_the_kernel_env_over_the_users(monkeypatch):
    monkeypatch.setenv("OPENSSL_ia32cap", "~0x200000200000000")
    monkeypatch.setenv("CB_TEST_KEPT", "kept")
    k = Kernel("aes-128-gcm", "x", True, env={"OPENSSL_ia32cap": ":~0x1", "CB_TEST_ADDED": "yes"})
    env = worker_env(k)
    assert env["OPENSSL_ia32cap"] == ":~0x1" and env["CB_TEST_ADDED"] == "yes"
    assert env["CB_TEST_KEPT"] == "kept" and env["PYTHONHASHSEED"] == "0"
    assert os.environ["OPENSSL_ia32cap"] == "~0x200000200000000"  # this process is left alone
    plain = worker_env(registry.get("aes-128-gcm", "openssl"))
    assert plain["OPENSSL_ia32cap"] == "~0x200000200000000" and "CB_TEST_ADDED" not in plain


def _worker(tmp_path, kernel: str, env: dict[str, str]):
    out = tmp_path / "w.json"
    name = f"{kernel}/encrypt/64"
    cmd = [sys.executable, "-P", "-m", "cryptobench._worker", "--worker", "--loops=1", "--values=1", "--warmups=0",
           "--output", str(out), "--quiet", "--kernel", kernel, "--cb-min-time=0.001", "--bench", name]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env), out


def test_worker_refuses_to_time_an_env_kernel_without_its_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "OPENSSL_ia32cap"}
    p, out = _worker(tmp_path, f"chacha20-poly1305/{NOAVX}", env)
    assert p.returncode == 2, p.stdout + p.stderr
    assert "refusing to time chacha20-poly1305/openssl-noavx512" in p.stderr
    assert "OPENSSL_ia32cap=':~0x5842DC230000' (here it is unset)" in p.stderr
    assert "CB-DONE" not in p.stdout and not out.exists()
    p, out = _worker(tmp_path, f"chacha20-poly1305/{NOAVX}", dict(env, OPENSSL_ia32cap="~0x0"))
    assert p.returncode == 2 and "here it is '~0x0'" in p.stderr and not out.exists()


@needs_avx512
def test_worker_times_an_env_kernel_started_with_its_env(tmp_path):
    p, out = _worker(tmp_path, f"chacha20-poly1305/{NOAVX}", worker_env(registry.get("chacha20-poly1305", NOAVX)))
    assert p.returncode == 0, p.stderr
    assert out.exists() and f"CB-DONE chacha20-poly1305/{NOAVX}/encrypt/64" in p.stdout


@needs_avx512
def test_run_verifies_and_times_the_row_with_its_env(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENSSL_ia32cap", raising=False)  # only the row's own env may bring it
    path, info = run(backends=f"openssl,{NOAVX}", algorithms="chacha20-poly1305", sizes=(64,), hot_paths=False,
                     profile=PROFILES["fast"], output=tmp_path / "r.json", pattern="*encrypt*")
    res = results.load(path)
    o = res.kernels[f"chacha20-poly1305/{NOAVX}"]
    assert o["status"] == "passed", o  # a worker without the env would have refused: status "error"
    assert o["env"] == ENV and o["verification"]["status"] == "passed" and o["verification"]["in_child"]
    m = res.find("chacha20-poly1305", NOAVX, "encrypt", 64)
    assert m is not None and m.code_path == "evp-noavx512"
    assert res.kernels["chacha20-poly1305/openssl"]["env"] == {}


# ------------------------------------------------------------------ verification in a child

PROBE_VAR = "CRYPTOBENCH_TEST_ENV_PROBE"

PROBE_MODULE = f'''
"""Test kernels that behave according to {PROBE_VAR} in their process."""
import os

from cryptobench.registry import Kernel

VAR = "{PROBE_VAR}"


class Flipping:
    """openssl's AES-128-GCM, with the last tag bit flipped when flip() says so."""

    def __init__(self, inner, flip):
        self.inner, self.flip, self.key_size = inner, flip, inner.key_size

    def supports(self, nonce_len, tag_len):
        return self.inner.supports(nonce_len, tag_len)

    def new(self, key, tag_length=16):
        ctx, flip = self.inner.new(key, tag_length), self.flip

        class Ctx:
            def encrypt(self, nonce, pt, aad=b""):
                out = bytearray(ctx.encrypt(nonce, pt, aad))
                if flip():
                    out[-1] ^= 1
                return bytes(out)

            def decrypt(self, nonce, data, aad=b""):
                return ctx.decrypt(nonce, data, aad)

        return Ctx()


def register(reg):
    inner = reg.get("aes-128-gcm", "openssl").impl
    env = {{VAR: "on"}}
    # right only where the variable is set: it must be checked in a child
    reg.add(Kernel("aes-128-gcm", "envprobe", True, impl=Flipping(inner, lambda: os.environ.get(VAR) != "on"), env=env))
    # wrong exactly where the variable is set: its child must report the failures
    reg.add(Kernel("aes-128-gcm", "envbroken", True, impl=Flipping(inner, lambda: os.environ.get(VAR) == "on"), env=env))
    if os.environ.get(VAR) != "on":  # absent from the child: the child cannot load it
        reg.add(Kernel("aes-128-gcm", "envgone", True, impl=inner, env=env))
'''


@pytest.fixture
def probe_registry(tmp_path, monkeypatch):
    pkg = tmp_path / "envprobepkg"
    (pkg / "aes_gcm").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "aes_gcm" / "__init__.py").write_text("")
    (pkg / "aes_gcm" / "envprobe.py").write_text(textwrap.dedent(PROBE_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    monkeypatch.delenv(PROBE_VAR, raising=False)
    reg = Registry()
    registry._load_module(reg, "cryptobench.kernels.aes_gcm.openssl")
    registry._load_module(reg, "envprobepkg.aes_gcm.envprobe")
    return reg


def test_child_verification_sees_the_kernel_env(probe_registry):
    k = probe_registry.get("aes-128-gcm", "envprobe")
    # in this process (no variable) the kernel is wrong: checked here, it would fail
    here = check_aead_vectors(k, V.aead_vectors("aes-128-gcm")[:20], CheckResult("here"))
    assert here.failed > 0
    labels = []
    rep = verify_kernel(k, quick=True, registry=probe_registry, on_check=labels.append)
    assert rep.in_child and rep.env == {PROBE_VAR: "on"}
    assert rep.status == "passed" and rep.failed == 0 and rep.passed > 20, rep.to_dict()
    assert any(c.name == "differential vs openssl" and c.passed for c in rep.checks)
    assert labels and all(label.startswith("aes-128-gcm/envprobe: ") for label in labels)
    assert PROBE_VAR not in os.environ


def test_failing_child_result_is_a_failed_report(probe_registry):
    rep = verify_kernel(probe_registry.get("aes-128-gcm", "envbroken"), quick=True, registry=probe_registry)
    assert rep.in_child and rep.status == "failed" and rep.failed > 0
    assert any("encrypt gave" in f or "differs from openssl" in f for c in rep.checks for f in c.failures)


def test_child_that_cannot_load_the_kernel_is_a_failed_report(probe_registry):
    rep = verify_kernel(probe_registry.get("aes-128-gcm", "envgone"), quick=True, registry=probe_registry)
    assert rep.status == "failed" and rep.passed == 0
    (check,) = rep.checks
    assert check.name.startswith("child process with CRYPTOBENCH_TEST_ENV_PROBE=on")
    assert "exited with status 1" in check.failures[0] and "no report" in check.failures[0]


def test_env_kernel_added_by_hand_cannot_be_verified_and_fails(probe_registry):
    inner = probe_registry.get("aes-128-gcm", "openssl").impl
    k = Kernel("aes-128-gcm", "byhand", True, impl=inner, env={PROBE_VAR: "on"})
    probe_registry.add(k)
    rep = verify_kernel(k, quick=True, registry=probe_registry)
    assert rep.status == "failed" and "not registered from a module" in rep.checks[0].failures[0]


def test_env_kernel_is_checked_in_process_when_the_env_is_there(probe_registry, monkeypatch):
    monkeypatch.setenv(PROBE_VAR, "on")
    rep = verify_kernel(probe_registry.get("aes-128-gcm", "envprobe"), quick=True, registry=probe_registry)
    assert not rep.in_child and rep.env == {PROBE_VAR: "on"} and rep.status == "passed"


def test_report_roundtrips_through_json(probe_registry):
    rep = verify_kernel(probe_registry.get("aes-128-gcm", "envbroken"), quick=True, registry=probe_registry)
    again = type(rep).from_dict(json.loads(json.dumps(rep.to_dict())))
    assert again.to_dict() == rep.to_dict()


@needs_avx512
def test_verify_cli_checks_the_row_in_a_child(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "OPENSSL_ia32cap"}
    env["COLUMNS"] = "200"
    p = subprocess.run([sys.executable, "-P", "-m", "cryptobench.cli", "verify", "-b", NOAVX, "-a", "aes-128-gcm",
                        "--quick", "--json", str(tmp_path / "v.json")], capture_output=True, text=True, env=env,
                       timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "checked in a child process with OPENSSL_ia32cap=:~0x5842DC230000" in p.stdout
    (doc,) = json.loads((tmp_path / "v.json").read_text())["kernels"]
    assert doc["status"] == "passed" and doc["in_child"] and doc["env"] == ENV and doc["passed"] > 0
    # OpenSSL's non-AVX-512 code, compared in the child with an implementation that shares none of it
    (diff,) = [c for c in doc["checks"] if c["name"].startswith("differential")]
    assert diff["name"] == "differential vs python" and diff["passed"] > 0 and not diff["failed"]


# ------------------------------------------------------------------ reports


def _tables(path: Path, algorithm: str) -> dict[str, str]:
    res = results.load(path)
    return {str(t.title): _render(t) for t in report.algorithm_tables(res, algorithm)}


def _row(text: str, backend: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(f"│ {backend} "))


def test_aead_ratios_against_the_noavx512_row():
    tables = _tables(NOAVX_FILE, "aes-128-gcm")
    (title,) = [t for t in tables if NOAVX in t and "encrypt" in t]
    text = tables[title]
    assert "OPENSSL_ia32cap=:~0x5842DC230000" in text
    # times: openssl 0.6 µs / 1.5 µs (16 B / 16 KiB), noavx512 0.6 / 3.75, native-vaes 0.2 / 2.5; decrypt 1.6, 4.0, 2.0
    assert _row(text, "openssl").split("│")[3:6] == [" 1.00× ", "   2.50× ", "       2.50× "]
    assert [c.strip() for c in _row(text, "native-vaes").split("│")[3:6]] == ["3.00×", "1.50×", "2.00×"]
    assert [c.strip() for c in _row(text, NOAVX).split("│")[3:6]] == ["1.00×", "1.00×", "1.00×"]
    # the main table keeps ×openssl against openssl, and shows the row's full name
    main = tables["aes-128-gcm: encrypt throughput, MB/s, AAD 13 bytes"]
    assert [c.strip() for c in _row(main, "native-vaes").split("│")[-3:-1]] == ["3.00×", "0.60×"]
    assert [c.strip() for c in _row(main, NOAVX).split("│")[-3:-1]] == ["1.00×", "0.40×"]
    hot = tables["aes-128-gcm: hot paths (largest size measured)"]
    assert "×openssl-noavx512" in hot
    assert [c.strip() for c in next(l for l in hot.splitlines() if "native-vaes" in l).split("│")[-3:-1]] == ["4.00×", "5.00×"]


def test_signature_ratios_against_the_noavx512_row():
    tables = _tables(NOAVX_FILE, "ecdsa-p256-sha256")
    (title,) = [t for t in tables if NOAVX in t]
    assert [c.strip() for c in _row(tables[title], "native-adx").split("│")[3:6]] == ["1.25×", "1.25×", "0.83×"]
    main = tables["ecdsa-p256-sha256: operations per second"]
    assert [c.strip() for c in _row(main, "native-adx").split("│")[-3:-1]] == ["1.12×", "1.12×"]


def test_no_noavx512_table_without_the_row():
    for algorithm in ("aes-128-gcm",):
        tables = _tables(DATA / "base.json", algorithm)
        assert not any("noAVX512" in t or NOAVX in t for t in tables.values())
        assert not any(NOAVX in title for title in tables)


def test_show_fits_140_columns_with_the_row(tmp_path):
    env = dict(os.environ, COLUMNS="140")
    p = subprocess.run([sys.executable, "-P", "-m", "cryptobench.cli", "show", str(NOAVX_FILE)],
                       capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    assert max(map(len, p.stdout.splitlines())) <= 140
    assert "│ openssl-noavx512 │" in p.stdout and "openssl-noav…" not in p.stdout


def test_gate_normalizes_the_row_by_openssl_and_never_by_itself():
    run_ = gate.load_run(NOAVX_FILE)
    sample = run_.samples[f"aes-128-gcm/{NOAVX}/encrypt/16384"]
    assert gate.find_reference(sample, run_).backend == "openssl"
    rep = gate.wall_gate(baseline=[run_], current=run_)
    names = {v.name for v in rep.verdicts}
    assert f"aes-128-gcm/{NOAVX}/encrypt/16384" in names
    assert not any("/openssl/" in n for n in names)


# ------------------------------------------------------------------ OPENSSL_ia32cap in the environment


def test_describe_records_openssl_ia32cap_only_when_set(monkeypatch):
    monkeypatch.delenv("OPENSSL_ia32cap", raising=False)
    assert "openssl_ia32cap" not in machine.describe()
    monkeypatch.setenv("OPENSSL_ia32cap", ":~0x20")
    assert machine.describe()["openssl_ia32cap"] == ":~0x20"
    monkeypatch.setenv("OPENSSL_ia32cap", "")
    assert machine.describe()["openssl_ia32cap"] == ""


@pytest.mark.parametrize("cap,needle", [(":~0x20", "OPENSSL_ia32cap=':~0x20' was set"), ("", "EMPTY")])
def test_header_and_compare_show_openssl_ia32cap(tmp_path, cap, needle):
    doc = json.loads((NOAVX_FILE).read_text())
    doc["cryptobench"]["machine"]["openssl_ia32cap"] = cap
    f = tmp_path / "cap.json"
    f.write_text(json.dumps(doc))
    res = results.load(f)
    assert any(needle in line for line in report.header_lines(res))
    assert not any("OPENSSL_ia32cap" in line for line in report.header_lines(results.load(NOAVX_FILE)))
    _, warnings = report.compare(results.load(NOAVX_FILE), res)
    assert any("OPENSSL_ia32cap" in w for w in warnings)
    g = gate.wall_gate(baseline=[gate.load_run(NOAVX_FILE)], current=gate.load_run(f))
    assert any("OPENSSL_ia32cap" in w for w in g.warnings)


# ------------------------------------------------- the twin's differential check


def _twin_registry(family: str) -> Registry:
    """openssl and python for one family, plus a kernel sharing openssl's
    objects (as openssl-noavx512 does), in this process."""
    reg = Registry()
    registry._load_module(reg, f"cryptobench.kernels.{family}.openssl")
    registry._load_module(reg, f"cryptobench.kernels.{family}.python")
    return reg


@pytest.mark.parametrize("algorithm,family", [("aes-128-gcm", "aes_gcm"), ("chacha20-poly1305", "chacha20_poly1305"),
                                              ("ecdsa-p256-sha256", "ecdsa_p256")])
def test_openssl_twin_is_compared_with_the_python_backend(algorithm, family):
    reg = _twin_registry(family)
    twin = Kernel(algorithm, "twin", True, impl=reg.get(algorithm, "openssl").impl)
    reg.add(twin)
    rep = verify_kernel(twin, quick=True, registry=reg)
    (diff,) = [c for c in rep.checks if c.name.startswith("differential")]
    assert diff.name == "differential vs python" and diff.passed >= 4 and not diff.failed and not diff.skipped


def test_openssl_twin_disagreeing_with_python_fails():
    from test_registry import _TagFlipper  # flips one tag bit on encrypt

    reg = Registry()
    registry._load_module(reg, "cryptobench.kernels.aes_gcm.openssl")
    from cryptobench.kernels.aes_gcm import python as py_gcm

    inner = Registry()
    py_gcm.register(inner)
    reg.add(Kernel("aes-128-gcm", "python", True, impl=_TagFlipper(inner.get("aes-128-gcm", "python").impl)))
    twin = Kernel("aes-128-gcm", "twin", True, impl=reg.get("aes-128-gcm", "openssl").impl)
    reg.add(twin)
    rep = verify_kernel(twin, quick=True, registry=reg)
    (diff,) = [c for c in rep.checks if c.name.startswith("differential")]
    assert diff.name == "differential vs python" and diff.failed > 0 and rep.status == "failed"
    assert any("ciphertext||tag differs from python" in f for f in diff.failures)


def test_openssl_twin_without_the_python_backend_is_skipped_with_the_reason():
    reg = Registry()
    registry._load_module(reg, "cryptobench.kernels.aes_gcm.openssl")
    twin = Kernel("aes-128-gcm", "twin", True, impl=reg.get("aes-128-gcm", "openssl").impl)
    reg.add(twin)
    rep = verify_kernel(twin, quick=True, registry=reg)
    (diff,) = [c for c in rep.checks if c.name.startswith("differential")]
    assert diff.skipped and not diff.passed and "python backend" in " ".join(diff.skip_reasons)
