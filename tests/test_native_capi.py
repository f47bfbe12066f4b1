"""The CPython-API entry points of the native AEADs (cryptobench._aead_fast,
csrc/_pyapi/aead_fast.c) against the cffi path they shortcut.

Each native AEAD context uses the C methods of ``_aead_fast.Sealer`` for
``encrypt``/``decrypt`` when the module is built, and hands every argument it
does not take (non-bytes buffers, keywords, wrong lengths) and every C error
to the checked cffi path. These tests build both kinds of context for the
same key (``CRYPTOBENCH_NATIVE_DISABLE=capi`` forces cffi) and require equal
outputs and equal exceptions.
"""

from __future__ import annotations

import os
import random
import re
import sys
import tracemalloc

import pytest

from cryptobench import native, registry
from cryptobench.errors import InvalidNonce, InvalidTag
from conftest import kernel_params

NATIVE_AEAD = lambda k: k.base_backend == "native" and k.kind == "aead"  # noqa: E731


def _module():
    fast = native.fast_module()
    if fast is None:
        msg = "cryptobench._aead_fast is not built (or CRYPTOBENCH_NATIVE_DISABLE names capi)"
        if os.environ.get("CRYPTOBENCH_REQUIRE_NATIVE") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    return fast


def _pair(kernel, monkeypatch, key, tag_length=16):
    """(capi context, cffi context) for one key."""
    _module()
    capi = kernel.impl.new(key, tag_length=tag_length)
    monkeypatch.setenv(native.DISABLE_ENV, native.CAPI)
    cffi = kernel.impl.new(key, tag_length=tag_length)
    monkeypatch.delenv(native.DISABLE_ENV)
    assert (capi.boundary, cffi.boundary) == ("capi", "cffi")
    return capi, cffi


def _key(kernel, rng):
    return rng.randbytes(registry.KEY_SIZES[kernel.algorithm])


def _outcome(fn, *args, **kwargs):
    try:
        return ("ok", fn(*args, **kwargs))
    except Exception as exc:  # noqa: BLE001 - the exception is what is compared
        # an arity error names the Python function that raised it: drop the name
        return ("raised", type(exc), re.sub(r"^[\w.<>]+\(\) ", "", str(exc)))


def test_ci_builds_the_module():
    if os.environ.get("CRYPTOBENCH_REQUIRE_NATIVE") != "1":
        pytest.skip("only required where the native build is (CRYPTOBENCH_REQUIRE_NATIVE=1)")
    assert native.fast_module() is not None


@pytest.mark.parametrize("kernel", kernel_params(NATIVE_AEAD))
def test_capi_equals_cffi(kernel, monkeypatch):
    rng = random.Random(kernel.name)
    key = _key(kernel, rng)
    capi, cffi = _pair(kernel, monkeypatch, key)
    # around block and chunk edges, and past the GIL-release threshold
    sizes = [0, 1, 15, 16, 17, 63, 64, 65, 255, 256, 511, 512, 1023, 4095, 4096, 4097, 16384, 70000]
    for n in sizes:
        nonce, pt, aad = rng.randbytes(12), rng.randbytes(n), rng.randbytes(rng.choice([0, 13, 40]))
        ct = capi.encrypt(nonce, pt, aad)
        assert ct == cffi.encrypt(nonce, pt, aad), n
        assert capi.decrypt(nonce, ct, aad) == pt == cffi.decrypt(nonce, ct, aad)
        # two arguments: aad defaults to empty
        assert capi.encrypt(nonce, pt) == cffi.encrypt(nonce, pt, b"")


@pytest.mark.parametrize("kernel", kernel_params(lambda k: NATIVE_AEAD(k) and k.family == "aes_gcm"))
def test_capi_gcm_iv_and_tag_lengths(kernel, monkeypatch):
    rng = random.Random(kernel.name + "iv")
    key = _key(kernel, rng)
    for t in (4, 8, 12, 13, 16):
        capi, cffi = _pair(kernel, monkeypatch, key, tag_length=t)
        for iv_len in (1, 8, 12, 16, 60):
            nonce, pt = rng.randbytes(iv_len), rng.randbytes(rng.randrange(0, 100))
            ct = capi.encrypt(nonce, pt, b"hdr")
            assert ct == cffi.encrypt(nonce, pt, b"hdr") and len(ct) == len(pt) + t
            assert capi.decrypt(nonce, ct, b"hdr") == pt


@pytest.mark.parametrize("kernel", kernel_params(NATIVE_AEAD))
def test_capi_hands_other_arguments_to_the_checked_path(kernel, monkeypatch):
    rng = random.Random(kernel.name + "fb")
    capi, cffi = _pair(kernel, monkeypatch, _key(kernel, rng))
    nonce, pt, aad = rng.randbytes(12), rng.randbytes(100), rng.randbytes(13)
    ct = cffi.encrypt(nonce, pt, aad)
    # other buffer types and keywords give the same result as bytes
    assert capi.encrypt(bytearray(nonce), memoryview(pt), bytearray(aad)) == ct
    assert capi.encrypt(nonce=nonce, plaintext=pt, aad=aad) == ct
    assert capi.decrypt(nonce, data=ct, aad=aad) == pt
    # and the errors are the checked path's, exception type and message
    bad_calls = [
        ("encrypt", (b"", pt, aad)),          # empty nonce
        ("encrypt", (nonce, "text", aad)),     # str
        ("encrypt", (nonce, pt, None)),        # None aad
        ("encrypt", (nonce, [1, 2, 3], aad)),  # a list cffi would convert
        ("encrypt", (nonce,)),                 # too few arguments
        ("decrypt", (nonce, ct[:5], aad)),     # shorter than the tag
        ("decrypt", (nonce, ct, aad + b"x")),  # wrong AAD: tag failure
    ]
    if kernel.family == "chacha20_poly1305":
        bad_calls.append(("encrypt", (nonce + b"\0", pt, aad)))  # 13-byte nonce
    for op, args in bad_calls:
        got, want = _outcome(getattr(capi, op), *args), _outcome(getattr(cffi, op), *args)
        assert got[0] == "raised" and got == want, (op, args[:1], got, want)
    assert issubclass(_outcome(capi.decrypt, nonce, ct, aad + b"x")[1], InvalidTag)
    if kernel.family == "aes_gcm":
        assert _outcome(capi.encrypt, b"", pt)[1] is InvalidNonce


@pytest.mark.parametrize("kernel", kernel_params(NATIVE_AEAD))
def test_capi_tag_failure_returns_nothing(kernel, monkeypatch):
    rng = random.Random(kernel.name + "tag")
    capi, _ = _pair(kernel, monkeypatch, _key(kernel, rng))
    for n in (0, 16, 300, 5000):
        nonce, pt = rng.randbytes(12), rng.randbytes(n)
        ct = bytearray(capi.encrypt(nonce, pt))
        ct[rng.randrange(len(ct))] ^= 1 << rng.randrange(8)
        with pytest.raises(InvalidTag):
            capi.decrypt(nonce, bytes(ct))
        # the context is unharmed
        assert capi.decrypt(nonce, capi.encrypt(nonce, pt)) == pt


@pytest.mark.parametrize("kernel", kernel_params(NATIVE_AEAD))
def test_capi_leaks_no_references_or_memory(kernel, monkeypatch):
    rng = random.Random(kernel.name + "leak")
    capi, _ = _pair(kernel, monkeypatch, _key(kernel, rng))
    nonce, pt, aad = rng.randbytes(12), rng.randbytes(64), rng.randbytes(13)
    ct = capi.encrypt(nonce, pt, aad)
    bad = bytes(ct[:-1]) + bytes([ct[-1] ^ 1])
    before = [sys.getrefcount(x) for x in (nonce, pt, aad, ct, bad)]
    tracemalloc.start()
    try:
        for _ in range(200):  # warm-up: caches, free lists
            capi.encrypt(nonce, pt, aad), capi.decrypt(nonce, ct, aad)
        base = tracemalloc.get_traced_memory()[0]
        for _ in range(5000):
            capi.encrypt(nonce, pt, aad)
            capi.decrypt(nonce, ct, aad)
        for _ in range(500):
            with pytest.raises(InvalidTag):
                capi.decrypt(nonce, bad, aad)
        grown = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert grown < 64 * 1024, f"{grown} bytes still allocated after 11,000 calls"
    assert [sys.getrefcount(x) for x in (nonce, pt, aad, ct, bad)] == before


def test_sealer_refuses_bad_construction():
    fast = _module()

    def fb(*a, **k):
        raise AssertionError("not reached")

    with pytest.raises(ValueError):
        fast.Sealer(fast.KIND_AESGCM, 99, bytes(16), 16, fb, fb)  # unknown path
    with pytest.raises(ValueError):
        fast.Sealer(fast.KIND_AESGCM, 1, bytes(15), 16, fb, fb)  # key length
    with pytest.raises(ValueError):
        fast.Sealer(fast.KIND_AESGCM, 1, bytes(16), 3, fb, fb)  # tag length
    with pytest.raises(ValueError):
        fast.Sealer(fast.KIND_CHACHA, 0, bytes(31), 16, fb, fb)
    with pytest.raises(ValueError):
        fast.Sealer(7, 0, bytes(32), 16, fb, fb)  # unknown kind
    with pytest.raises(TypeError):
        fast.Sealer(fast.KIND_CHACHA, 0, bytes(32), 16, None, fb)  # not callable
    s = fast.Sealer(fast.KIND_CHACHA, 0, bytes(32), 16, fb, fb)
    with pytest.raises(TypeError):
        s.__init__(fast.KIND_CHACHA, 0, bytes(32), 16, fb, fb)  # no re-keying in place
    # an uninitialised object falls through to nothing rather than to C
    raw = fast.Sealer.__new__(fast.Sealer)
    with pytest.raises(TypeError, match="not initialised"):
        raw.encrypt(bytes(12), b"x", b"")


def test_disable_capi_is_honoured(monkeypatch):
    _module()
    monkeypatch.setenv(native.DISABLE_ENV, "capi")
    assert native.fast_module() is None
    k = next((k for k in registry.kernels() if NATIVE_AEAD(k) and k.available), None)
    if k is None:
        pytest.skip("no native AEAD kernel available")
    assert k.impl.new(bytes(registry.KEY_SIZES[k.algorithm])).boundary == "cffi"


@pytest.mark.parametrize("kernel", kernel_params(NATIVE_AEAD))
def test_capi_concurrent_calls_on_one_context(kernel, monkeypatch):
    """The C methods release the GIL for long messages and share one
    read-only context: concurrent calls must all give the cffi results."""
    import threading

    rng = random.Random(kernel.name + "threads")
    capi, cffi = _pair(kernel, monkeypatch, _key(kernel, rng))
    jobs = [(rng.randbytes(12), rng.randbytes(rng.choice([16, 1000, 5000, 40000])), rng.randbytes(13)) for _ in range(40)]
    want = [cffi.encrypt(*j) for j in jobs]
    errors: list[str] = []

    def worker(offset: int) -> None:
        for i in range(len(jobs)):
            j = (i + offset) % len(jobs)
            ct = capi.encrypt(*jobs[j])
            if ct != want[j] or capi.decrypt(jobs[j][0], ct, jobs[j][2]) != jobs[j][1]:
                errors.append(f"job {j} in thread {offset}")

    threads = [threading.Thread(target=worker, args=(k * 7,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_results_record_how_native_aeads_were_called(monkeypatch, tmp_path):
    import json
    from pathlib import Path

    from cryptobench import machine, report, results

    _module()
    assert machine.describe()["native_aead_call"] == "capi"
    monkeypatch.setenv(native.DISABLE_ENV, "capi")
    assert machine.describe()["native_aead_call"] == "cffi"
    # and `show` says so in the header of such a run (only then)
    src = Path(__file__).parent / "data" / "noavx512" / "noavx512.json"
    doc = json.loads(src.read_text())
    doc["cryptobench"]["machine"].update(native_aead_call="cffi", native_build="gcc (test)")
    f = tmp_path / "cffi.json"
    f.write_text(json.dumps(doc))
    assert any("went through cffi" in line for line in report.header_lines(results.load(f)))
    doc["cryptobench"]["machine"]["native_aead_call"] = "capi"
    f.write_text(json.dumps(doc))
    assert not any("went through cffi" in line for line in report.header_lines(results.load(f)))
