"""What the harness feeds a signature benchmark (cryptobench.bench).

Signing the same message on every call would time one RFC 6979 nonce, with
the same table entries hot in cache every time; the benchmarks cycle through
DISTINCT_INPUTS distinct messages instead, and verification through
valid signatures over them.
"""

from __future__ import annotations

import dataclasses

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from cryptobench import bench, registry

ALG = "ecdsa-p256-sha256"
N_MSG = bench.DISTINCT_INPUTS


class _Recording:
    """A signature impl that records what the timed call hands the kernel."""

    def __init__(self, real):
        self.real = real
        self.signed: list[bytes] = []
        self.verified: list[tuple[bytes, bytes]] = []
        self.sec1: list[bytes] = []

    def private_key(self, d):
        priv = self.real.private_key(d)
        outer = self

        class Priv:
            def sign(self, m):
                outer.signed.append(bytes(m))
                return priv.sign(m)

            def public_key(self):
                return priv.public_key()

        return Priv()

    def public_key(self, sec1):
        self.sec1.append(bytes(sec1))
        pub = self.real.public_key(sec1)
        outer = self

        class Pub:
            def verify(self, m, sig):
                outer.verified.append((bytes(m), bytes(sig)))
                pub.verify(m, sig)

        return Pub()


def _recording_kernel():
    real = registry.get(ALG, "openssl")
    rec = _Recording(real.impl)
    return dataclasses.replace(real, impl=rec), rec


def test_sign_cycles_through_distinct_messages_in_a_fixed_order():
    k, rec = _recording_kernel()
    call = bench.prepare(k, bench.Spec(ALG, k.backend, "sign")).call
    for _ in range(2 * N_MSG + 3):
        call()
    first = rec.signed[:N_MSG]
    assert len(set(first)) == N_MSG and all(len(m) == 64 for m in first)
    assert rec.signed[N_MSG:] == first + first[:3]
    # a second process (or gate --count) times the same messages in the same order
    k2, rec2 = _recording_kernel()
    call2 = bench.prepare(k2, bench.Spec(ALG, k2.backend, "sign")).call
    for _ in range(5):
        call2()
    assert rec2.signed == first[:5]


def test_verify_cycles_through_valid_signatures_of_distinct_messages():
    k, rec = _recording_kernel()
    call = bench.prepare(k, bench.Spec(ALG, k.backend, "verify")).call
    for _ in range(N_MSG + 2):
        call()  # the real openssl verify raises on a bad signature
    pairs = rec.verified
    assert len({m for m, _ in pairs[:N_MSG]}) == N_MSG
    assert len({s for _, s in pairs[:N_MSG]}) == N_MSG
    assert pairs[N_MSG:] == pairs[:2]
    (sec1,) = rec.sec1
    pub = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), sec1)
    for m, sig in pairs[:50]:
        pub.verify(sig, m, ec.ECDSA(hashes.SHA256()))
    # deterministic signatures: another process (or gate --count) verifies the same pairs
    k2, rec2 = _recording_kernel()
    call2 = bench.prepare(k2, bench.Spec(ALG, k2.backend, "verify")).call
    for _ in range(3):
        call2()
    assert rec2.verified == pairs[:3] and rec2.sec1 == rec.sec1


def test_the_pure_python_kernel_verifies_the_pool():
    """The python kernel accepts OpenSSL's signatures in the pool (a few of them:
    verifying all 1,024 takes about a second)."""
    k = registry.get(ALG, "python")
    rec = _Recording(k.impl)
    k = dataclasses.replace(k, impl=rec)
    call = bench.prepare(k, bench.Spec(ALG, "python", "verify")).call
    for _ in range(20):
        call()
    assert len(rec.verified) == 20


def test_the_scalar_hot_paths_cycle_through_distinct_scalars():
    k = registry.get(ALG, "python")
    seen: dict[str, list] = {}

    def recording(name, setup):
        def wrapped_setup(*a):
            f = setup(*a)

            def g(*args):
                seen.setdefault(name, []).append(args)
                return f(*args)

            return g

        return wrapped_setup

    hot = {name: recording(name, s) for name, s in k.hot_paths.items()}
    k = dataclasses.replace(k, hot_paths=hot)
    for op in ("fixed-base-mul", "scalar-inv", "double-scalar-mul"):
        call = bench.prepare(k, bench.Spec(ALG, "python", op, hot_path=True)).call
        calls = N_MSG + 1 if op != "double-scalar-mul" else 40  # a ms each
        for _ in range(calls):
            call()
        args = seen[op]
        assert len(set(args[:min(calls, N_MSG)])) == min(calls, N_MSG), op
        if calls > N_MSG:
            assert args[N_MSG] == args[0], op


def test_without_rfc6979_in_openssl_the_kernel_signs_the_pool(monkeypatch):
    """cryptography on an OpenSSL older than 3.2 refuses deterministic ECDSA;
    the verify benchmark then uses the kernel's own (RFC 6979) signatures."""
    from cryptography.exceptions import UnsupportedAlgorithm

    real_ecdsa = ec.ECDSA

    def no_rfc6979(algorithm, deterministic_signing=False):
        if deterministic_signing:
            raise UnsupportedAlgorithm("no RFC 6979 in this OpenSSL")
        return real_ecdsa(algorithm)

    monkeypatch.setattr(ec, "ECDSA", no_rfc6979)
    k, rec = _recording_kernel()
    call = bench.prepare(k, bench.Spec(ALG, k.backend, "verify")).call
    for _ in range(3):
        call()
    assert len(rec.signed) == N_MSG  # the kernel signed the pool
    monkeypatch.undo()
    ref, ref_rec = _recording_kernel()
    ref_call = bench.prepare(ref, bench.Spec(ALG, ref.backend, "verify")).call
    for _ in range(3):
        ref_call()
    assert rec.verified == ref_rec.verified  # the same RFC 6979 signatures either way
