"""Mutation tests of the verifier: each builds a kernel that is wrong in one
narrow way, as a wrapper around a correct backend (openssl, or python where
openssl does not offer the thing), and asserts that ``verify_kernel`` FAILS
it in the check meant to catch it, while the same wrapper without the mutation
PASSES (so each test proves the check, not the wrapper).

Quick mode (what ``cryptobench run`` uses) is used throughout: every check
here must hold there too.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import pytest
from cryptobench.kernels._ecdsa_common import N, P, decode_point, encode_point

from cryptobench import registry, verify
from cryptobench import vectors as V
from cryptobench.errors import InvalidKey, InvalidPoint, InvalidSignature, InvalidTag
from cryptobench.registry import Kernel, Registry

DEFAULT = registry.default_registry()


def _kernel(algorithm: str, backend: str) -> Kernel:
    k = DEFAULT.get(algorithm, backend)
    if not k.available or registry.env_mismatch(k):
        pytest.skip(f"{k.name} unavailable here: {k.reason}")
    return k


def _verify(kernel: Kernel) -> verify.KernelReport:
    """verify_kernel in quick mode, against a private registry holding the
    real openssl (the differential reference) and python kernels."""
    reg = Registry()
    for backend in ("openssl", "python"):
        k = DEFAULT.get(kernel.algorithm, backend)
        if k.available:
            reg.add(k)
    reg.add(kernel)
    return verify.verify_kernel(kernel, quick=True, registry=reg)


def _failures(rep: verify.KernelReport) -> list[str]:
    return [f"{c.name}: {f}" for c in rep.checks for f in c.failures]


def _assert_caught(algorithm: str, good: Kernel, bad: Kernel, check: str) -> None:
    """``good`` (the plain wrapper) passes; ``bad`` (the mutant) fails, in a check named ``check``."""
    rep = _verify(good)
    assert rep.status == "passed", "\n".join(_failures(rep))
    rep = _verify(bad)
    assert rep.status == "failed", f"{bad.name}: the mutant passed verify"
    assert any(c.failed for c in rep.checks if check in c.name), (
        f"{bad.name} failed, but not in {check!r}: " + "\n".join(_failures(rep)))


# ---------------------------------------------------------------- AEAD wrappers


class AEADWrap:
    """An AEAD impl around ``inner`` whose contexts are ``ctx_cls(inner_ctx, tag_length)``."""

    def __init__(self, inner: Any, ctx_cls: type, supports: Callable[[int, int], str | None] | None = None) -> None:
        self.inner, self.ctx_cls, self.key_size = inner, ctx_cls, inner.key_size
        self._supports = supports

    def supports(self, nonce_len: int, tag_len: int) -> str | None:
        return self._supports(nonce_len, tag_len) if self._supports else self.inner.supports(nonce_len, tag_len)

    def new(self, key: bytes, tag_length: int = 16) -> Any:
        return self.ctx_cls(self.inner.new(key, tag_length=tag_length), tag_length, key)


class Ctx:
    """The unmutated context: every call goes to the inner one."""

    def __init__(self, inner: Any, tag_length: int, key: bytes) -> None:
        self.inner, self.tag_length, self.key = inner, tag_length, key
        self.calls = 0

    def encrypt(self, nonce: bytes, plaintext: bytes, aad: bytes = b"") -> bytes:
        self.calls += 1
        return self.inner.encrypt(nonce, plaintext, aad)

    def decrypt(self, nonce: bytes, data: bytes, aad: bytes = b"") -> bytes:
        return self.inner.decrypt(nonce, data, aad)


def _aead_pair(algorithm: str, ctx_cls: type, backend: str = "openssl", **kw: Any) -> tuple[Kernel, Kernel]:
    inner = _kernel(algorithm, backend)
    good = Kernel(algorithm, "wrap-good", True, impl=AEADWrap(inner.impl, Ctx, kw.get("supports")))
    bad = Kernel(algorithm, "wrap-mutant", True, impl=AEADWrap(inner.impl, ctx_cls, kw.get("supports")))
    return good, bad


class CachingCtx(Ctx):
    """Caches ciphertext||tag by (nonce, length, AAD): right for one call per
    context (CAVP, the old differential), wrong for run's thousands."""

    def __init__(self, *a: Any) -> None:
        super().__init__(*a)
        self.cache: dict = {}

    def encrypt(self, nonce, plaintext, aad=b""):
        k = (bytes(nonce), len(plaintext), bytes(aad))
        if k not in self.cache:
            self.cache[k] = super().encrypt(nonce, plaintext, aad)
        return self.cache[k]


class StaleAfterFirstCtx(Ctx):
    """Right on its first encrypt, then every tag is off by one bit."""

    def encrypt(self, nonce, plaintext, aad=b""):
        out = bytearray(super().encrypt(nonce, plaintext, aad))
        if self.calls > 1:
            out[-1] ^= 1
        return bytes(out)


class LargeWrongCtx(Ctx):
    """Wrong only past 16 KiB (a native buffer boundary): the last ciphertext byte."""

    def encrypt(self, nonce, plaintext, aad=b""):
        out = bytearray(super().encrypt(nonce, plaintext, aad))
        if len(plaintext) > 16384:
            out[-1 - self.tag_length] ^= 1
        return bytes(out)


def _lenient_tag(position: int) -> type:
    class LenientTagCtx(Ctx):
        """decrypt ignores one tag byte (position 0 or -1): tries all 256 values there."""

        def decrypt(self, nonce, data, aad=b""):
            data = bytes(data)
            if len(data) < self.tag_length:
                raise InvalidTag("short")
            i = len(data) - self.tag_length if position == 0 else len(data) - 1
            for b in range(256):
                try:
                    return self.inner.decrypt(nonce, data[:i] + bytes([b]) + data[i + 1:], aad)
                except InvalidTag:
                    continue
            raise InvalidTag("tag mismatch")

    return LenientTagCtx


class ShortTagLenientCtx(_lenient_tag(-1)):
    """Ignores the last tag byte only for tags shorter than 16 bytes."""

    def decrypt(self, nonce, data, aad=b""):
        if self.tag_length == 16:
            return self.inner.decrypt(nonce, data, aad)
        return super().decrypt(nonce, data, aad)


class OddIVCtx(Ctx):
    """GCM with the wrong J0 for IV lengths other than the 1, 12, 16 and 128
    bytes the vectors and the counter-wrap check use (as if it padded the IV)."""

    def encrypt(self, nonce, plaintext, aad=b""):
        if len(nonce) not in (1, 12, 16, 128):
            nonce = bytes(nonce) + b"\x00"
        return super().encrypt(nonce, plaintext, aad)

    def decrypt(self, nonce, data, aad=b""):
        if len(nonce) not in (1, 12, 16, 128):
            nonce = bytes(nonce) + b"\x00"
        return super().decrypt(nonce, data, aad)


_P1305 = 2**130 - 5


def _poly1305_h(r: int, msg: bytes) -> int:
    h = 0
    for i in range(0, len(msg), 16):
        h = (h + int.from_bytes(msg[i:i + 16] + b"\x01", "little")) * r % _P1305
    return h


class NoFinalReductionCtx(Ctx):
    """ChaCha20-Poly1305 whose Poly1305 skips the final reduction: when its
    accumulator holds p + t (t = h mod p < 5) the tag is (p + t + s) mod 2^128.
    Random inputs reach this with probability about 2^-128."""

    def encrypt(self, nonce, plaintext, aad=b""):
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

        out = super().encrypt(nonce, plaintext, aad)
        ct = bytes(out[:-16])
        block0 = Cipher(algorithms.ChaCha20(self.key, bytes(4) + bytes(nonce)), mode=None).encryptor().update(bytes(32))
        r = int.from_bytes(block0[:16], "little") & 0x0FFFFFFC0FFFFFFC0FFFFFFC0FFFFFFF
        s = int.from_bytes(block0[16:], "little")

        def pad(b: bytes) -> bytes:
            return b + bytes(-len(b) % 16)

        h = _poly1305_h(r, pad(bytes(aad)) + pad(ct) + struct.pack("<QQ", len(aad), len(ct)))
        if h < 5:
            return ct + ((h + _P1305 + s) % 2**128).to_bytes(16, "little")
        return out


def test_aead_context_caching_output_is_caught():
    _assert_caught("aes-128-gcm", *_aead_pair("aes-128-gcm", CachingCtx), "differential")


def test_aead_context_wrong_after_first_call_is_caught():
    _assert_caught("chacha20-poly1305", *_aead_pair("chacha20-poly1305", StaleAfterFirstCtx), "differential")


@pytest.mark.parametrize("algorithm", ["aes-256-gcm", "chacha20-poly1305"])
def test_aead_wrong_past_16k_is_caught_in_quick_mode(algorithm):
    _assert_caught(algorithm, *_aead_pair(algorithm, LargeWrongCtx), "differential")


@pytest.mark.parametrize("position", [0, -1])
@pytest.mark.parametrize("algorithm", ["aes-128-gcm", "chacha20-poly1305"])
def test_tag_byte_ignored_is_caught(algorithm, position):
    good, bad = _aead_pair(algorithm, _lenient_tag(position))
    _assert_caught(algorithm, good, bad, "differential")


class AADPrefixCtx(Ctx):
    """Authenticates only the first 1 KiB of the AAD (a fixed buffer): no AAD in the
    differential was longer than 64 bytes, nor in any vector file than 513."""

    def encrypt(self, nonce, plaintext, aad=b""):
        return super().encrypt(nonce, plaintext, bytes(aad)[:1024])

    def decrypt(self, nonce, data, aad=b""):
        return super().decrypt(nonce, data, bytes(aad)[:1024])


@pytest.mark.parametrize("algorithm", ["aes-128-gcm", "chacha20-poly1305"])
def test_aad_read_only_in_part_is_caught_in_quick_mode(algorithm):
    _assert_caught(algorithm, *_aead_pair(algorithm, AADPrefixCtx), "differential")


def test_short_tag_byte_ignored_is_caught():
    """Only for tags of 4..15 bytes: the CAVP vectors (tampered at both ends) and
    the differential's tag lengths catch it."""
    _assert_caught("aes-128-gcm", *_aead_pair("aes-128-gcm", ShortTagLenientCtx), "differential")


def test_gcm_odd_iv_lengths_are_caught():
    good, bad = _aead_pair("aes-128-gcm", OddIVCtx)
    _assert_caught("aes-128-gcm", good, bad, "differential")
    rep = _verify(bad)
    assert any("IV of 13 bytes" in f for f in _failures(rep)), _failures(rep)


def test_poly1305_missing_final_reduction_is_caught():
    good, bad = _aead_pair("chacha20-poly1305", NoFinalReductionCtx)
    _assert_caught("chacha20-poly1305", good, bad, "constructed edge cases")


def test_poly1305_final_reduction_vectors_are_what_they_claim():
    """The constructed ChaCha20-Poly1305 cases put h = t (mod p) for t = 0 and 4."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

    vecs = V.constructed_aead_vectors("chacha20-poly1305")
    assert len(vecs) == 2
    for v, t in zip(vecs, (0, 4)):
        block0 = Cipher(algorithms.ChaCha20(v.key, bytes(4) + v.nonce), mode=None).encryptor().update(bytes(32))
        r = int.from_bytes(block0[:16], "little") & 0x0FFFFFFC0FFFFFFC0FFFFFFC0FFFFFFF
        assert v.aad == b"" and len(v.ciphertext) == 16
        assert _poly1305_h(r, v.ciphertext + struct.pack("<QQ", 0, 16)) == t
        s = int.from_bytes(block0[16:], "little")
        assert v.tag == ((t + s) % 2**128).to_bytes(16, "little")


# ---------------------------------------------------------------- hot-path wrappers


def _hot_pair(algorithm: str, backend: str, name: str,
              mutate: Callable[[Callable[..., Any]], Callable[..., Any]]) -> tuple[Kernel, Kernel]:
    """Kernels offering only hot path ``name`` of ``backend``: as it is, and
    with each setup's callable passed through ``mutate``."""
    setup = _kernel(algorithm, backend).hot_paths[name]

    def bad_setup(*a: Any) -> Callable[..., Any]:
        return mutate(setup(*a))

    return (Kernel(algorithm, "wrap-good", True, hot_paths={name: setup}),
            Kernel(algorithm, "wrap-mutant", True, hot_paths={name: bad_setup}))


def _stale_after_first(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Right on the first call of a setup; later calls return the first answer."""
    first: list = []

    def f(*a: Any) -> Any:
        if not first:
            first.append(fn(*a))
        return first[0]

    return f


@pytest.mark.parametrize("algorithm,backend,name", [
    ("aes-128-gcm", "openssl", "aes-ctr"),
    ("aes-128-gcm", "python", "ghash"),
    ("chacha20-poly1305", "openssl", "chacha20"),
    ("chacha20-poly1305", "openssl", "poly1305"),
    ("ecdsa-p256-sha256", "python", "field-mul"),
    ("ecdsa-p256-sha256", "python", "scalar-inv"),
    ("ecdsa-p256-sha256", "openssl", "fixed-base-mul"),
    ("ecdsa-p256-sha256", "python", "double-scalar-mul"),
])
def test_hot_path_stale_after_first_call_is_caught(algorithm, backend, name):
    _assert_caught(algorithm, *_hot_pair(algorithm, backend, name, _stale_after_first), f"hot path {name}")


def _wrong_past_16k(fn):
    def f(*a):
        out = fn(*a)
        if len(a[-1]) > 16384:
            out = bytes(out[:-1]) + bytes([out[-1] ^ 1])
        return out
    return f


def _ghash_truncated(fn):
    return lambda data: fn(bytes(data)[:16368])


def _field_mul_count(bad_count: Callable[[int], int]):
    def mutate(fn):
        return lambda a, b, count: fn(a, b, bad_count(count))
    return mutate


def _chacha_counter_31_bits(fn):
    return lambda nonce, counter, data: fn(nonce, counter & 0x7FFFFFFF, data)


@pytest.mark.parametrize("algorithm,backend,name,mutate", [
    ("aes-128-gcm", "openssl", "aes-ctr", _wrong_past_16k),
    ("chacha20-poly1305", "openssl", "chacha20", _wrong_past_16k),
    ("aes-256-gcm", "python", "ghash", _ghash_truncated),
    ("ecdsa-p256-sha256", "python", "field-mul", _field_mul_count(lambda c: c - 1 if c >= 1000 else c)),
    ("ecdsa-p256-sha256", "python", "field-mul", _field_mul_count(lambda c: c or 1)),
    ("chacha20-poly1305", "openssl", "chacha20", _chacha_counter_31_bits),
], ids=["aes-ctr>16k", "chacha20>16k", "ghash-16k", "field-mul-1000", "field-mul-0", "chacha20-counter-2^31"])
def test_hot_path_large_or_edge_inputs_are_caught_in_quick_mode(algorithm, backend, name, mutate):
    _assert_caught(algorithm, *_hot_pair(algorithm, backend, name, mutate), f"hot path {name}")


def _python_schedule_bytes(s: Any) -> bytes:
    return b"".join(s.round_keys)


def _flip_last(b: bytes) -> bytes:
    return b[:-1] + bytes([b[-1] ^ 1])


@pytest.mark.parametrize("mutate", [
    lambda fn: lambda key: (bytes(key) * 15)[: 16 * (len(key) // 4 + 7)],          # the key repeated
    lambda fn: lambda key: fn(bytes(16) if len(key) == 16 else bytes(32)),          # ignores the key
    lambda fn: lambda key: _flip_last(_python_schedule_bytes(fn(key))),           # last round key, last byte
], ids=["key-repeated", "ignores-key", "last-round-key-byte"])
def test_key_expansion_mutants_are_caught(mutate):
    _assert_caught("aes-128-gcm", *_hot_pair("aes-128-gcm", "python", "key-expansion", mutate), "hot path key-expansion")
    _assert_caught("aes-256-gcm", *_hot_pair("aes-256-gcm", "python", "key-expansion", mutate), "hot path key-expansion")


# ---------------------------------------------------------------- ECDSA wrappers


class Wrap:
    """Delegates every attribute to ``inner`` unless overridden."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class PrivWrap(Wrap):
    def public_key(self):
        return PubWrap(self.inner.public_key())


class PubWrap(Wrap):
    pass


class ECDSAWrap(Wrap):
    def private_key(self, d):
        return PrivWrap(self.inner.private_key(d))

    def public_key(self, sec1):
        return PubWrap(self.inner.public_key(sec1))

    def generate(self):
        return PrivWrap(self.inner.generate())


def _ecdsa_pair(mutant_cls: type) -> tuple[Kernel, Kernel]:
    inner = _kernel("ecdsa-p256-sha256", "openssl").impl
    return (Kernel("ecdsa-p256-sha256", "wrap-good", True, impl=ECDSAWrap(inner)),
            Kernel("ecdsa-p256-sha256", "wrap-mutant", True, impl=mutant_cls(inner)))


class FirstSignatureOnly(ECDSAWrap):
    """A PrivateKey that returns its first signature for every message."""

    def private_key(self, d):
        class Priv(PrivWrap):
            first = None

            def sign(self, message):
                if self.first is None:
                    self.first = self.inner.sign(message)
                return self.first

        return Priv(self.inner.private_key(d))


class FixedGenerate(ECDSAWrap):
    """generate() always returns the same key."""

    def generate(self):
        return self.private_key(0x1234567)


class MismatchedGenerate(ECDSAWrap):
    """generate() signs with one key and reports another's public key."""

    def generate(self):
        a, b = self.inner.generate(), self.inner.generate()

        class Priv(PrivWrap):
            def public_key(self):
                return PubWrap(b.public_key())

        return Priv(a)


class ReducesRS(ECDSAWrap):
    """verify_raw reduces s mod n instead of refusing it out of range, and takes
    r = 0 or s = 0 as valid (the verifier used to refuse P1363 zeros for it)."""

    def public_key(self, sec1):
        class Pub(PubWrap):
            def verify_raw(self, message, r, s):
                if r == 0 or s == 0:
                    return None
                return self.inner.verify_raw(message, r, s % N or s)

        return Pub(self.inner.public_key(sec1))


def _ber_len(buf: bytes, i: int) -> tuple[int, int]:
    n = buf[i]
    if n < 0x80:
        return n, i + 1
    k = n & 0x7F
    return int.from_bytes(buf[i + 1:i + 1 + k], "big"), i + 1 + k


class LenientDER(ECDSAWrap):
    """verify accepts BER: long-form lengths, leading zeros, trailing bytes."""

    def public_key(self, sec1):
        class Pub(PubWrap):
            def verify(self, message, signature):
                sig = bytes(signature)
                try:
                    assert sig[0] == 0x30
                    _, i = _ber_len(sig, 1)
                    ints = []
                    for _ in range(2):
                        assert sig[i] == 0x02
                        n, i = _ber_len(sig, i + 1)
                        ints.append(int.from_bytes(sig[i:i + n], "big"))
                        i += n
                except (AssertionError, IndexError):
                    raise InvalidSignature("bad BER") from None
                return self.inner.verify_raw(message, *ints)

        return Pub(self.inner.public_key(sec1))


class ReducesX(ECDSAWrap):
    """public_key reduces the coordinates mod p (so x + p loads as x)."""

    def public_key(self, sec1):
        sec1 = bytes(sec1)
        if len(sec1) == 65 and sec1[0] == 4:
            x, y = int.from_bytes(sec1[1:33], "big") % P, int.from_bytes(sec1[33:], "big") % P
            sec1 = encode_point(x, y)
        return PubWrap(self.inner.public_key(sec1))


class AnyPrefix(ECDSAWrap):
    """public_key ignores the prefix byte of a 65-byte point."""

    def public_key(self, sec1):
        sec1 = bytes(sec1)
        if len(sec1) == 65:
            sec1 = b"\x04" + sec1[1:]
        return PubWrap(self.inner.public_key(sec1))


class ReducesD(ECDSAWrap):
    """private_key takes d mod n, 0 becoming 1: d = 0 and d = n load."""

    def private_key(self, d):
        return PrivWrap(self.inner.private_key(d % N or 1))


class TopScalarOffByOne(ECDSAWrap):
    """private_key(d) for d in [n - 2, n - 1] derives the key of d - 1 (a carry bug at the top)."""

    def private_key(self, d):
        return PrivWrap(self.inner.private_key(d - 1 if d >= N - 2 else d))


class MessagePrefix(ECDSAWrap):
    """Signs and verifies only a message's first 2 KiB: no message in the differential was
    longer than 1,032 bytes, so it passed and was timed."""

    def private_key(self, d):
        class Priv(PrivWrap):
            def sign(self, message):
                return self.inner.sign(bytes(message)[:2048])

        return Priv(self.inner.private_key(d))

    def public_key(self, sec1):
        class Pub(PubWrap):
            def verify(self, message, signature):
                return self.inner.verify(bytes(message)[:2048], signature)

        return Pub(self.inner.public_key(sec1))


@pytest.mark.parametrize("mutant,check", [
    (MessagePrefix, "differential"),
    (FirstSignatureOnly, "differential"),
    (FixedGenerate, "differential"),
    (MismatchedGenerate, "differential"),
    (ReducesRS, "constructed edge cases"),
    (LenientDER, "constructed edge cases"),
    (ReducesX, "constructed edge cases"),
    (AnyPrefix, "constructed edge cases"),
    (ReducesD, "constructed edge cases"),
    (TopScalarOffByOne, "constructed edge cases"),
], ids=lambda x: x.__name__ if isinstance(x, type) else x)
def test_ecdsa_mutants_are_caught(mutant, check):
    _assert_caught("ecdsa-p256-sha256", *_ecdsa_pair(mutant), check)


def test_p1363_zero_r_or_s_reaches_the_kernel():
    """The verifier no longer refuses r = 0 / s = 0 of a P1363 signature itself:
    a kernel that accepts them fails."""
    good, bad = _ecdsa_pair(ReducesRS)
    v = next(v for v in V.constructed_signature_vectors() if v.source == "constructed:(r, s) valid")
    cases = [V.SignatureVector("p1363 r=0", "verify", v.message, v.public, signature=bytes(32) + v.s.to_bytes(32, "big"),
                               encoding="p1363", valid=False),
             V.SignatureVector("p1363 s=0", "verify", v.message, v.public, signature=v.r.to_bytes(32, "big") + bytes(32),
                               encoding="p1363", valid=False),
             V.SignatureVector("p1363 valid", "verify", v.message, v.public,
                               signature=v.r.to_bytes(32, "big") + v.s.to_bytes(32, "big"), encoding="p1363")]
    res = verify.check_signature_vectors(good, cases, verify.CheckResult("p1363"))
    assert (res.passed, res.failed) == (3, 0), res.failures
    res = verify.check_signature_vectors(bad, cases, verify.CheckResult("p1363"))
    assert (res.passed, res.failed) == (1, 2), res.failures


def test_constructed_public_keys_and_scalars():
    """The x + p key really is x + p of a curve point; d = 0 and n are marked for InvalidKey."""
    vecs = {v.source: v for v in V.constructed_signature_vectors()}
    valid = next(v for s, v in vecs.items() if s.startswith("constructed:public key x = "))
    x, _ = decode_point(valid.public)
    high = vecs["constructed:public key x + p"].public
    assert int.from_bytes(high[1:33], "big") == x + P and high[33:] == valid.public[33:]
    assert {v.d for v in vecs.values() if v.kind == "bad-private-key"} == {0, N}
    for d in (0, N):
        with pytest.raises(InvalidKey):
            _kernel("ecdsa-p256-sha256", "openssl").impl.private_key(d)
    for prefix in (0, 2, 3, 6, 7):
        with pytest.raises(InvalidPoint):
            _kernel("ecdsa-p256-sha256", "openssl").impl.public_key(vecs[f"constructed:public key prefix {prefix:02x}"].public)
