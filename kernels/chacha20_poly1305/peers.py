"""ChaCha20-Poly1305 (RFC 8439 §2.8) from the pure-Python ``chacha20poly1305``
package (0.0.3, by Hubert Kario and Dusan Klinec), for comparison.

A peer, wrapped to the interface of docs/kernels.md: the package's own
exceptions become cryptobench ones (its ``TagInvalidException`` becomes
``InvalidTag``, and so does the ``None`` it returns for a ciphertext shorter
than the tag). It works block by block on Python integers and byte lists and
is **not constant-time** (its tag comparison is ``hmac.compare_digest``, the
rest is variable-time Python arithmetic). Hot paths: ``chacha20`` is the
package's ``ChaCha(key, nonce, counter).encrypt`` and ``poly1305`` its
``Poly1305(key).create_tag``, called directly (inputs converted to ``bytes``
first, since the package concatenates them). The package does not check the
32-bit block counter for wrap-around (RFC 8439 §2.4); nor does this wrapper.
"""

from __future__ import annotations

from cryptobench.errors import InvalidKey, InvalidNonce, InvalidTag
from cryptobench.kernels._aead_common import (
    CHACHA20_POLY1305_MAX_TEXT,
    ChaCha20Poly1305Parameters,
    check_block_counter,
    check_bytes,
    check_text_length,
)
from cryptobench.registry import Kernel

try:
    from chacha20poly1305 import ChaCha20Poly1305 as _Peer
    from chacha20poly1305 import TagInvalidException as _PeerTagInvalid
    from chacha20poly1305.chacha import ChaCha as _PeerChaCha
    from chacha20poly1305.poly1305 import Poly1305 as _PeerPoly1305
except ImportError:  # the optional [peers] extra is not installed
    _Peer = _PeerTagInvalid = _PeerChaCha = _PeerPoly1305 = None


class _Context:
    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        self._aead = _Peer(key)

    def encrypt(self, nonce, plaintext, aad=b""):
        check_bytes(nonce=nonce, plaintext=plaintext, aad=aad)
        if len(nonce) != 12:
            raise InvalidNonce("ChaCha20-Poly1305 takes a 12-byte nonce")
        check_text_length(len(plaintext), CHACHA20_POLY1305_MAX_TEXT)
        # The package concatenates its inputs: give it bytes, not memoryviews.
        return bytes(self._aead.encrypt(bytes(nonce), bytes(plaintext), bytes(aad)))

    def decrypt(self, nonce, data, aad=b""):
        check_bytes(nonce=nonce, data=data, aad=aad)
        if len(nonce) != 12:
            raise InvalidNonce("ChaCha20-Poly1305 takes a 12-byte nonce")
        if len(data) < 16:
            # the package returns None here rather than raising
            raise InvalidTag("ciphertext shorter than the tag")
        check_text_length(len(data) - 16, CHACHA20_POLY1305_MAX_TEXT, "ciphertext")
        try:
            pt = self._aead.decrypt(bytes(nonce), bytes(data), bytes(aad))
        except _PeerTagInvalid:
            raise InvalidTag("tag check failed") from None
        if pt is None:
            raise InvalidTag("tag check failed")
        return bytes(pt)


class ChaCha20Poly1305(ChaCha20Poly1305Parameters):
    """The AEAD object of docs/kernels.md around the package's ChaCha20Poly1305."""


    def new(self, key, tag_length: int = 16) -> _Context:
        return _Context(self.checked(key, tag_length))


def _setup_chacha20(key):
    """``f(nonce12, counter, data)`` (RFC 8439 §2.4) through the package's ChaCha."""
    check_bytes(key=key)
    if len(key) != 32:
        raise InvalidKey(f"key must be 32 bytes, got {len(key)}")
    key = bytes(key)

    def chacha20(nonce, counter, data):
        check_bytes(nonce=nonce, data=data)
        if len(nonce) != 12:
            raise InvalidNonce("ChaCha20 takes a 12-byte nonce")
        counter = check_block_counter(counter, len(data))  # the package would carry on past block 2^32 - 1
        return bytes(_PeerChaCha(key, bytes(nonce), counter=counter).encrypt(bytes(data)))

    return chacha20


def _setup_poly1305():
    """``f(key32, data) -> tag16`` (RFC 8439 §2.5) through the package's Poly1305."""

    def poly1305(key, data):
        check_bytes(key=key, data=data)
        if len(key) != 32:
            raise InvalidKey(f"Poly1305 key must be 32 bytes, got {len(key)}")
        return bytes(_PeerPoly1305(bytes(key)).create_tag(bytes(data)))

    return poly1305


_HOT_PATHS = {"chacha20": _setup_chacha20, "poly1305": _setup_poly1305}


def register(reg) -> None:
    available = _Peer is not None
    reg.add(
        Kernel(
            algorithm="chacha20-poly1305",
            backend="peer-chacha20poly1305",
            available=available,
            reason=""
            if available
            else "chacha20poly1305 is not installed (pip install cryptobench[peers])",
            constant_time=False,
            path="pure-python",
            impl=ChaCha20Poly1305() if available else None,
            hot_paths=_HOT_PATHS if available else {},
            description="the pure-Python chacha20poly1305 package (comparison peer)",
        )
    )
