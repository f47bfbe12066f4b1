"""ChaCha20-Poly1305 (RFC 8439 §2.8) through OpenSSL, via ``cryptography``.

The reference for the other ChaCha20-Poly1305 kernels. OpenSSL's ChaCha20 and
Poly1305 are constant-time. Hot paths: ChaCha20 through ``Cipher(ChaCha20)``
(whose 16-byte nonce is the little-endian 32-bit counter followed by the
96-bit nonce) and ``Poly1305``.

On a CPU with AVX-512 the same objects are also registered as
``openssl-noavx512``: OpenSSL started with ``OPENSSL_ia32cap`` clearing its
AVX-512 bits, the ISA of the team's target machines (kernels/_openssl_noavx512.py).
"""

from __future__ import annotations

import struct

from cryptography.exceptions import InvalidTag as _CInvalidTag
from cryptography.hazmat.primitives import poly1305
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305 as _C20P

from cryptobench.errors import InvalidKey, InvalidLength, InvalidNonce, InvalidTag
from cryptobench.kernels._aead_common import (
    CHACHA20_POLY1305_MAX_TEXT,
    ChaCha20Poly1305Parameters,
    check_block_counter,
    check_bytes,
    check_sized,
    retype,
    check_text_length,
)
from cryptobench.kernels._openssl_noavx512 import restricted
from cryptobench.registry import Kernel


class _Context:
    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        self._aead = _C20P(key)

    def encrypt(self, nonce, plaintext, aad=b""):
        if type(plaintext) is not bytes or type(aad) is not bytes:  # bytes: cryptography checks the rest
            check_bytes(nonce=nonce, plaintext=plaintext, aad=aad)
        check_text_length(len(plaintext), CHACHA20_POLY1305_MAX_TEXT)
        try:
            if len(nonce) != 12:
                check_bytes(nonce=nonce)
                raise InvalidNonce("ChaCha20-Poly1305 takes a 12-byte nonce")
            return self._aead.encrypt(nonce, plaintext, aad or None)
        except OverflowError as exc:  # cryptography takes at most 2^31 - 1 bytes per call
            raise InvalidLength(str(exc)) from None
        except TypeError as exc:  # the nonce (only plaintext and aad were checked on this path)
            raise retype(exc, nonce=nonce, plaintext=plaintext, aad=aad) from None

    def decrypt(self, nonce, data, aad=b""):
        if type(data) is not bytes or type(aad) is not bytes:
            check_bytes(nonce=nonce, data=data, aad=aad)
        check_text_length(len(data) - 16, CHACHA20_POLY1305_MAX_TEXT, "ciphertext")
        try:
            if len(nonce) != 12:
                check_bytes(nonce=nonce)
                raise InvalidNonce("ChaCha20-Poly1305 takes a 12-byte nonce")
            return self._aead.decrypt(nonce, data, aad or None)
        except _CInvalidTag:
            raise InvalidTag("tag check failed") from None
        except OverflowError as exc:
            raise InvalidLength(str(exc)) from None
        except TypeError as exc:
            raise retype(exc, nonce=nonce, data=data, aad=aad) from None


class ChaCha20Poly1305(ChaCha20Poly1305Parameters):

    def new(self, key, tag_length: int = 16) -> _Context:
        return _Context(self.checked(key, tag_length))


def _setup_chacha20(key):
    key = check_sized("key", key, 32, InvalidKey)
    # one context, given each call's counter and nonce with reset_nonce (cryptography
    # 43+): a new Cipher(...).encryptor() per call cost about 2.5 us, more than OpenSSL's
    # ChaCha20 of a whole 16 KiB record, and every x-openssl of this hot path was
    # mostly that set-up. So the callable is one per thread: shared, calls would re-key
    # each other's context (docs/kernels.md, "Threads")
    enc = Cipher(algorithms.ChaCha20(key, bytes(16)), mode=None).encryptor()

    def chacha20(nonce, counter, data):
        # cryptography checks the types; its errors for a bad counter (struct.error) or
        # nonce (ValueError) become the contract's here, off the timed path of a valid call
        try:
            enc.reset_nonce(struct.pack("<I", counter) + nonce)
        except (struct.error, ValueError, TypeError):
            check_block_counter(counter)
            if not isinstance(nonce, (bytes, bytearray, memoryview)):
                raise TypeError(f"nonce must be bytes-like, got {type(nonce).__name__}") from None
            raise InvalidNonce(f"nonce must be 12 bytes, got {len(nonce)}") from None
        try:
            return enc.update(data)
        except TypeError as exc:
            raise retype(exc, data=data) from None
        except ValueError:  # cryptography refuses data past block counter 2^32 - 1
            check_bytes(data=data)  # a 2-D memoryview: len() below would count rows
            check_block_counter(counter, len(data))
            raise

    return chacha20


def _setup_poly1305():
    tag = poly1305.Poly1305.generate_tag

    def poly1305_tag(key, data):
        try:
            return tag(key, data)
        except ValueError:
            raise InvalidKey(f"Poly1305 key must be 32 bytes, got {len(key)}") from None
        except TypeError as exc:
            raise retype(exc, key=key, data=data) from None

    return poly1305_tag


def register(reg) -> None:
    kernel = Kernel(
        algorithm="chacha20-poly1305",
        backend="openssl",
        available=True,
        constant_time=True,
        path="evp",
        impl=ChaCha20Poly1305(),
        hot_paths={"chacha20": _setup_chacha20, "poly1305": _setup_poly1305},
        description="OpenSSL EVP through cryptography (the reference)",
    )
    reg.add(kernel)
    reg.add(restricted(kernel))
