"""Coverage-guided differential fuzzing of the AEAD kernels (and ECDSA DER parsing) with atheris.

For long runs; the default test run has the seeded hypothesis version
(tests/test_fuzz_differential.py). Each input is split by atheris'
FuzzedDataProvider into a kernel choice, key, nonce, tag length, plaintext,
AAD and a forged ciphertext; the kernel must agree with the openssl backend
byte for byte, refuse every tampering openssl refuses, and raise only the
contract's exceptions (docs/bad-input.md) on garbage. Any other exception, a
mismatch or a crash is a finding: atheris stops and writes the input to
``crash-<sha1>``.

    pip install atheris          # 2.3+ / 3.x; wheels for CPython 3.8-3.12 on Linux x86-64
    python fuzz/atheris_aead.py -max_total_time=3600 -jobs=1 corpus/
    CRYPTOBENCH_FUZZ_BACKEND=native python fuzz/atheris_aead.py -runs=1000000
    CRYPTOBENCH_FUZZ_MODE=der python fuzz/atheris_aead.py        # ECDSA verify on arbitrary DER

Python code (the python and numba wrappers, the DER codec) is instrumented
for coverage; the C kernels are exercised but not coverage-guided unless the
extension is built with ``CRYPTOBENCH_CFLAGS=-fsanitize=fuzzer-no-link`` under
clang. With the ASan build of .ci/sanitize.sh, memory errors in C surface as
ASan reports (run with LD_PRELOAD of libasan, as that script does).
"""

from __future__ import annotations

import os
import sys

try:
    import atheris
except ImportError:  # pragma: no cover - optional tool
    sys.exit("atheris is not installed: pip install atheris (CPython 3.8-3.12, Linux or macOS)")

# Numba compiles Python bytecode: instrumented bytecode would not compile.
_NOT_INSTRUMENTED = [
    "numba", "numpy", "llvmlite", "cryptobench.kernels._numba_common", "cryptobench.kernels.aes_gcm.numba",
    "cryptobench.kernels.chacha20_poly1305.numba", "cryptobench.kernels.ecdsa_p256.numba",
    "cryptobench.kernels.ecdsa_p256._numba_p256",
]

with atheris.instrument_imports(exclude=_NOT_INSTRUMENTED):
    from cryptobench import registry
    from cryptobench.errors import InvalidInput, InvalidSignature, InvalidTag
    from cryptobench.kernels import _ecdsa_common

    registry.default_registry()  # imports every backend module, inside the instrumented block

_BACKEND = os.environ.get("CRYPTOBENCH_FUZZ_BACKEND")  # e.g. "native", "numba-hw", "python"
_MODE = os.environ.get("CRYPTOBENCH_FUZZ_MODE", "aead")

_AEADS = [
    k for k in registry.select(backends=_BACKEND, available_only=True)
    if k.kind == "aead" and k.impl is not None and k.backend != "openssl"
]
_SIGS = [
    k for k in registry.select(algorithms="ecdsa-p256-sha256", backends=_BACKEND, available_only=True)
    if k.impl is not None and k.backend != "openssl"
]
if not (_AEADS if _MODE == "aead" else _SIGS):
    sys.exit(f"no available kernel matches CRYPTOBENCH_FUZZ_BACKEND={_BACKEND!r} for mode {_MODE!r}")

_REF = {a: registry.get(a, "openssl").impl for a in registry.KEY_SIZES}
_CTX_CACHE: dict = {}


def _aead_one(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    kernel = _AEADS[fdp.ConsumeIntInRange(0, len(_AEADS) - 1)]
    impl, ref = kernel.impl, _REF[kernel.algorithm]
    gcm = kernel.family == "aes_gcm"
    key = fdp.ConsumeBytes(impl.key_size).ljust(impl.key_size, b"\0")
    nonce_len = fdp.ConsumeIntInRange(1, 64) if gcm and fdp.ConsumeBool() else 12
    tag_len = fdp.ConsumeIntInRange(4, 16) if gcm and fdp.ConsumeBool() else 16
    if impl.supports(nonce_len, tag_len) or ref.supports(nonce_len, tag_len):
        nonce_len, tag_len = 12, 16
    nonce = fdp.ConsumeBytes(nonce_len).ljust(nonce_len, b"\0")
    aad = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 80))
    pt = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 4096))
    forged = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 200))

    ctx, rctx = impl.new(key, tag_len), ref.new(key, tag_len)
    ct = ctx.encrypt(nonce, pt, aad)
    want = rctx.encrypt(nonce, pt, aad)
    if ct != want:
        raise AssertionError(f"{kernel.name}: ciphertext differs from openssl (n={len(pt)}, iv={nonce_len}, t={tag_len})")
    if ctx.decrypt(nonce, ct, aad) != pt:
        raise AssertionError(f"{kernel.name}: decrypt(encrypt(x)) != x")
    # arbitrary bytes as ciphertext: refused exactly when openssl refuses
    for candidate in (forged, ct[:-1] + forged[:1] if forged else ct[:-1]):
        got = want_pt = None
        try:
            got = ctx.decrypt(nonce, candidate, aad)
        except InvalidTag:
            pass
        try:
            want_pt = rctx.decrypt(nonce, candidate, aad)
        except InvalidTag:
            pass
        if got != want_pt:
            raise AssertionError(f"{kernel.name}: decrypt of forged data disagrees with openssl")


def _der_one(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    kernel = _SIGS[fdp.ConsumeIntInRange(0, len(_SIGS) - 1)]
    d = 1 + fdp.ConsumeIntInRange(0, 2**64) % (_ecdsa_common.N - 1)
    msg = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 64))
    sig = fdp.ConsumeBytes(fdp.remaining_bytes())
    key = _CTX_CACHE.get((kernel.name, d))
    if key is None:
        ref = registry.get("ecdsa-p256-sha256", "openssl").impl
        key = _CTX_CACHE[(kernel.name, d)] = (kernel.impl.private_key(d).public_key(), ref.private_key(d).public_key())
        if len(_CTX_CACHE) > 256:
            _CTX_CACHE.clear()
    pub, rpub = key
    outcome = []
    for p in (pub, rpub):
        try:
            p.verify(msg, sig)
            outcome.append(True)
        except InvalidSignature:
            outcome.append(False)
    if outcome[0] != outcome[1]:
        raise AssertionError(f"{kernel.name}: verify({sig.hex()}) = {outcome[0]}, openssl says {outcome[1]}")


def test_one_input(data: bytes) -> None:
    try:
        (_aead_one if _MODE == "aead" else _der_one)(data)
    except (InvalidTag, InvalidSignature, InvalidInput):
        raise AssertionError("a contract exception escaped a case that should not raise one")


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
