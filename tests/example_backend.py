"""An out-of-tree backend, as a library maintainer would write one (docs/kernels.md,
"A backend outside this repository"): ChaCha20-Poly1305 from the ``cryptography``
package under the backend name ``example``.

    CRYPTOBENCH_BACKENDS=example_backend PYTHONPATH=tests cryptobench verify -b example

tests/test_registry.py drives it through list, verify, run, compare and the
error cases.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag as _LibraryInvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305 as _C20P

from cryptobench.errors import InvalidNonce, InvalidTag
from cryptobench.kernels._aead_common import (
    CHACHA20_POLY1305_MAX_TEXT,
    ChaCha20Poly1305Parameters,
    check_bytes,
    check_text_length,
)
from cryptobench.registry import Kernel


class _Context:
    def __init__(self, key: bytes) -> None:
        self._aead = _C20P(key)

    def encrypt(self, nonce, plaintext, aad=b""):
        check_bytes(nonce=nonce, plaintext=plaintext, aad=aad)  # types first, then lengths, before any copy
        check_text_length(len(plaintext), CHACHA20_POLY1305_MAX_TEXT)
        if len(nonce) != 12:
            raise InvalidNonce(f"nonce must be 12 bytes, got {len(nonce)}")
        return self._aead.encrypt(bytes(nonce), bytes(plaintext), bytes(aad) or None)

    def decrypt(self, nonce, data, aad=b""):
        check_bytes(nonce=nonce, data=data, aad=aad)
        check_text_length(len(data) - 16, CHACHA20_POLY1305_MAX_TEXT, "ciphertext")
        if len(nonce) != 12:
            raise InvalidNonce(f"nonce must be 12 bytes, got {len(nonce)}")
        try:
            return self._aead.decrypt(bytes(nonce), bytes(data), bytes(aad) or None)
        except _LibraryInvalidTag:
            raise InvalidTag("tag check failed") from None  # the harness's InvalidTag, never the library's


class ExampleChaCha20Poly1305(ChaCha20Poly1305Parameters):
    """supports() and checked() (key and tag length) come from the shared parameters class."""

    def new(self, key, tag_length: int = 16) -> _Context:
        return _Context(self.checked(key, tag_length))


def register(reg) -> None:
    reg.add(Kernel(
        algorithm="chacha20-poly1305",
        backend="example",
        available=True,
        impl=ExampleChaCha20Poly1305(),
        path="cryptography-aead",
        constant_time=True,
        lacks={"chacha20": "the example wraps the AEAD only", "poly1305": "the example wraps the AEAD only"},
        description="out-of-tree example backend (tests/example_backend.py)",
    ))
