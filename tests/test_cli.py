"""The command line as a user meets it: from any directory, one-line errors, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


def run(args, cwd):
    env = dict(os.environ, COLUMNS="160")
    return subprocess.run(
        [sys.executable, "-m", "cryptobench.cli", *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=600
    )


def test_help_teaches(tmp_path):
    p = run(["--help"], tmp_path)
    assert p.returncode == 0
    for word in ("verify", "list", "examples:", "--backend native"):
        assert word in p.stdout


def test_every_command_describes_itself_and_its_arguments():
    """`cryptobench COMMAND --help` says what the command does, and what each positional argument is."""
    import argparse

    from cryptobench.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) >= {"list", "verify", "run", "show", "compare", "plot", "cost", "leakcheck", "gate", "history"}
    for name, parser in sub.choices.items():
        assert parser.description, f"cryptobench {name} --help has no description"
        for action in parser._actions:
            if not action.option_strings:
                assert action.help, f"cryptobench {name}: positional argument {action.dest!r} has no help"


def test_list_from_any_directory(tmp_path):
    p = run(["list"], tmp_path)
    assert p.returncode == 0, p.stderr
    assert "openssl" in p.stdout and "CPU features:" in p.stdout


def test_verify_json_from_any_directory(tmp_path):
    p = run(["verify", "--backend", "openssl", "--json", "out.json", "--wycheproof", str(DATA / "wycheproof")], tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    doc = json.loads((tmp_path / "out.json").read_text())
    assert doc["schema"] == "cryptobench-verify/1"
    by_name = {f"{k['algorithm']}/{k['backend']}": k for k in doc["kernels"]}
    aes = by_name["aes-128-gcm/openssl"]
    assert aes["status"] == "passed" and aes["failed"] == 0 and aes["passed"] > 10000
    # IVs of 1 byte are outside what cryptography accepts: skipped, with the reason
    reasons = {r for c in aes["checks"] for r in c["skip_reasons"]}
    assert any("8 to 128 bytes" in r for r in reasons)
    assert any(c["name"].startswith("vectors wycheproof") for c in aes["checks"])


@pytest.mark.parametrize(
    "args,needle",
    [
        (["verify", "--algorithm", "aes-512-gcm"], "unknown algorithm 'aes-512-gcm'; valid:"),
        (["verify", "--backend", "gpu"], "unknown backend 'gpu'; valid:"),
        (["verify", "--wycheproof", "/no/such/dir"], "is not a directory"),
        (["list", "--backend", "gpu"], "unknown backend"),
        (["verify", "--frobnicate"], "unrecognized arguments"),
    ],
)
def test_bad_arguments_one_line_exit_2(tmp_path, args, needle):
    p = run(args, tmp_path)
    assert p.returncode == 2
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, p.stderr
    assert needle in lines[0]
    assert "Traceback" not in p.stderr
    assert not list(tmp_path.iterdir())  # nothing written
