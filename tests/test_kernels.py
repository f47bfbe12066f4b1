"""Every registered kernel against every vector, the differential check against
openssl, and its hot paths (every correctness test runs on every
implementation)."""

from __future__ import annotations

import pytest

from cryptobench import InvalidTag, registry, verify
from conftest import kernel_params


def _assert_clean(rep: verify.KernelReport) -> None:
    failures = [f"{c.name}: {f}" for c in rep.checks for f in c.failures]
    assert rep.failed == 0, "\n".join(failures)
    assert rep.passed > 0, f"{rep.name}: no check applied"


@pytest.mark.parametrize("kernel", kernel_params())
def test_vectors_differential_and_hot_paths(kernel):
    _assert_clean(verify.verify_kernel(kernel))


@pytest.mark.parametrize("kernel", kernel_params(lambda k: k.kind == "aead" and k.impl is not None))
def test_aead_never_returns_plaintext_on_bad_tag(kernel):
    key = bytes(range(registry.KEY_SIZES[kernel.algorithm]))
    ctx = kernel.impl.new(key)
    nonce = bytes(12)
    ct = bytearray(ctx.encrypt(nonce, b"attack at dawn" * 5, b"hdr"))
    ct[-1] ^= 0x40
    with pytest.raises(InvalidTag):
        ctx.decrypt(nonce, bytes(ct), b"hdr")
    with pytest.raises(InvalidTag):
        ctx.decrypt(nonce, bytes(ct[:10]), b"hdr")  # shorter than the tag


def test_registry_refuses_hot_paths_the_family_does_not_name():
    reg = registry.Registry()
    with pytest.raises(ValueError, match="unknown hot paths"):
        reg.add(registry.Kernel("aes-128-gcm", "x", True, hot_paths={"chacha20": lambda: None}))
    with pytest.raises(ValueError, match="unknown hot paths"):
        reg.add(registry.Kernel("aes-128-gcm", "y", True, lacks={"poly1305": "no"}))
    with pytest.raises(ValueError, match="both offered and lacked"):
        reg.add(registry.Kernel("aes-128-gcm", "z", True, hot_paths={"ghash": lambda h: None}, lacks={"ghash": "no"}))
