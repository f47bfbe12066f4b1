"""AES-128/256-GCM through OpenSSL, via the ``cryptography`` package.

This is the reference every other AES-GCM kernel is checked and measured
against. OpenSSL's EVP AES-GCM (AES-NI/VAES + PCLMULQDQ assembly where the CPU
has it) is constant-time. The 96-bit-nonce, 16-byte-tag case goes through
``AESGCM`` (one call per operation); other IV and tag lengths go through the
streaming ``Cipher(AES, GCM)`` interface, which accepts IVs of 8 to 128 bytes
and truncated tags of 4 or more bytes (SP 800-38D §5.2.1.2).

On a CPU with AVX-512 the same objects are also registered as
``openssl-noavx512``: OpenSSL started with ``OPENSSL_ia32cap`` clearing its
AVX-512 bits, the ISA of the team's target machines (kernels/_openssl_noavx512.py).
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag as _CInvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM as _AESGCM

from cryptobench.errors import InvalidKey, InvalidLength, InvalidNonce, InvalidTag
from cryptobench.kernels._aead_common import (
    GCM_MAX_TEXT,
    check_aes_key,
    check_bytes,
    retype,
    check_tag_length,
    check_text_length,
)
from cryptobench.kernels._openssl_noavx512 import restricted
from cryptobench.registry import Kernel


class _Context:
    __slots__ = ("_key", "_tag_length", "_aead")

    def __init__(self, key: bytes, tag_length: int) -> None:
        self._key = key
        self._tag_length = tag_length
        self._aead = _AESGCM(key)

    def encrypt(self, nonce, plaintext, aad=b""):
        if type(plaintext) is not bytes or type(aad) is not bytes:  # bytes: cryptography checks the rest
            check_bytes(nonce=nonce, plaintext=plaintext, aad=aad)
        check_text_length(len(plaintext), GCM_MAX_TEXT)
        try:
            if self._tag_length == 16 and len(nonce) == 12:
                return self._aead.encrypt(nonce, plaintext, aad or None)
            check_bytes(nonce=nonce)
            _check_nonce(nonce)
            enc = Cipher(algorithms.AES(self._key), modes.GCM(bytes(nonce))).encryptor()
            if aad:
                enc.authenticate_additional_data(aad)
            ct = enc.update(plaintext) + enc.finalize()
        except OverflowError as exc:  # cryptography takes at most 2^31 - 1 bytes per call
            raise InvalidLength(str(exc)) from None
        except TypeError as exc:  # the nonce (only plaintext and aad were checked on this path)
            raise retype(exc, nonce=nonce, plaintext=plaintext, aad=aad) from None
        return ct + enc.tag[: self._tag_length]

    def decrypt(self, nonce, data, aad=b""):
        if type(data) is not bytes or type(aad) is not bytes:
            check_bytes(nonce=nonce, data=data, aad=aad)
        t = self._tag_length
        check_text_length(len(data) - t, GCM_MAX_TEXT, "ciphertext")
        try:
            if t == 16 and len(nonce) == 12:
                try:
                    return self._aead.decrypt(nonce, data, aad or None)
                except _CInvalidTag:
                    raise InvalidTag("tag check failed") from None
            check_bytes(nonce=nonce)
            _check_nonce(nonce)
            if len(data) < t:
                raise InvalidTag("ciphertext shorter than the tag")
            data = bytes(data)
            dec = Cipher(
                algorithms.AES(self._key), modes.GCM(bytes(nonce), data[-t:], min_tag_length=t)
            ).decryptor()
            if aad:
                dec.authenticate_additional_data(aad)
            pt = dec.update(data[:-t])
            try:
                dec.finalize()
            except _CInvalidTag:
                raise InvalidTag("tag check failed") from None
            return pt
        except OverflowError as exc:
            raise InvalidLength(str(exc)) from None
        except TypeError as exc:
            raise retype(exc, nonce=nonce, data=data, aad=aad) from None


def _check_nonce(nonce) -> None:
    if not 8 <= len(nonce) <= 128:
        raise InvalidNonce("OpenSSL through cryptography takes GCM IVs of 8 to 128 bytes")


class AESGCM:
    """The AEAD object of docs/kernels.md."""

    def __init__(self, key_size: int) -> None:
        self.key_size = key_size

    def supports(self, nonce_len: int, tag_len: int) -> str | None:
        if not 8 <= nonce_len <= 128:
            return "cryptography accepts GCM IVs of 8 to 128 bytes only"
        if not 4 <= tag_len <= 16:
            return "tag length outside 4..16 bytes"
        return None

    def new(self, key, tag_length: int = 16) -> _Context:
        check_bytes(key=key)
        if len(key) != self.key_size:
            raise InvalidKey(f"key must be {self.key_size} bytes, got {len(key)}")
        check_tag_length(tag_length, 4, 16)
        return _Context(bytes(key), tag_length)


_WRAP = 1 << 32


def _setup_ctr(key):
    alg = algorithms.AES(check_aes_key(key))
    # one context, given each call's counter block with reset_nonce (cryptography 43+): a
    # new Cipher(...).encryptor() per call cost about 2.5 us (the key schedule and an EVP
    # context), 4.2 us against 1.6 us at 16 KiB, so x-openssl of this hot path was mostly
    # that set-up, which OpenSSL's own GCM (AESGCM caches its key) never pays. So the
    # callable is one per thread: shared, calls would re-key each other's context
    # (docs/kernels.md, "Threads")
    ctx = Cipher(alg, modes.CTR(bytes(16))).encryptor()

    def aes_ctr(counter_block, data):
        # cryptography checks the types (TypeError) and the block's size (ValueError, made
        # InvalidLength here)
        try:
            ctx.reset_nonce(counter_block)
        except ValueError:
            raise InvalidLength(f"counter block must be 16 bytes, got {len(counter_block)}") from None
        except TypeError as exc:
            raise retype(exc, counter_block=counter_block) from None
        # OpenSSL's CTR mode increments all 128 bits; the hot path is GCM's inc32, which
        # wraps the last 4 bytes alone. They differ only if those wrap inside the data,
        # which needs the counter's top byte at 0xff unless the data is 256 MiB or more:
        # one index and compare on the timed path (about 1% of a 16-byte call)
        try:
            top = counter_block[12]
        except (NotImplementedError, TypeError):  # a 2-D memoryview (cryptography took it): the contract's TypeError
            check_bytes(counter_block=counter_block)
            raise
        if top == 255 or len(data) >= 1 << 28:
            check_bytes(data=data)  # off the timed path: len() below must count bytes
            low = int.from_bytes(counter_block[12:], "big")
            room = 16 * (_WRAP - low)
            if len(data) > room:
                data = bytes(data)
                restart = Cipher(alg, modes.CTR(bytes(counter_block[:12]) + bytes(4))).encryptor()
                return ctx.update(data[:room]) + restart.update(data[room:])
        try:
            return ctx.update(data)
        except TypeError as exc:
            raise retype(exc, data=data) from None

    return aes_ctr


_LACKS = {
    "key-expansion": "cryptography does not expose AES key expansion on its own",
    "ghash": "cryptography does not expose GHASH on its own",
}


def register(reg) -> None:
    for algorithm, size in (("aes-128-gcm", 16), ("aes-256-gcm", 32)):
        kernel = Kernel(
            algorithm=algorithm,
            backend="openssl",
            available=True,
            constant_time=True,
            path="evp",
            impl=AESGCM(size),
            hot_paths={"aes-ctr": _setup_ctr},
            lacks=_LACKS,
            description="OpenSSL EVP through cryptography (the reference)",
        )
        reg.add(kernel)
        reg.add(restricted(kernel))


