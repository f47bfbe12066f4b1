"""Every registered kernel against every vector, the differential check against
openssl, and its hot paths (rule 5: every correctness test runs on every
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


@pytest.mark.parametrize("kernel", kernel_params())
def test_hot_paths_are_named_by_the_family(kernel):
    names = set(registry.HOT_PATHS[kernel.family])
    assert set(kernel.hot_paths) <= names
    assert set(kernel.lacks) <= names
    assert not set(kernel.hot_paths) & set(kernel.lacks)
