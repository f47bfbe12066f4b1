"""Argument checks every AEAD backend applies before doing any work.

Keeping them in one place keeps the bad-input contract identical across
backends: the same exception class and message for the same mistake.
"""

from __future__ import annotations

from cryptobench.errors import InvalidInput, InvalidKey, InvalidLength

_BYTES = (bytes, bytearray, memoryview)

#: SP 800-38D §5.2.1.1: len(P) <= 2^39 - 256 bits.
GCM_MAX_TEXT = (1 << 36) - 32
#: RFC 8439 §2.8: the 32-bit block counter starts at 1 for the plaintext.
CHACHA20_POLY1305_MAX_TEXT = ((1 << 32) - 1) * 64


def check_text_length(n: int, limit: int, what: str = "plaintext") -> None:
    """InvalidLength when a message is over the algorithm's limit (checked on
    len(), before any byte is read or copied)."""
    if n > limit:
        raise InvalidLength(f"{what} of {n} bytes is over the algorithm's limit of {limit} bytes")


def check_bytes(**named: object) -> None:
    """TypeError naming the first argument that is not bytes-like."""
    for name, value in named.items():
        if not isinstance(value, _BYTES):
            raise TypeError(f"{name} must be bytes-like, not {type(value).__name__}")
        if type(value) is memoryview:  # len() must count bytes: not items wider than one, not rows
            if value.itemsize != 1:
                raise TypeError(f"{name} must be a byte buffer, not a memoryview of {value.format!r} items")
            if value.ndim != 1:
                raise TypeError(f"{name} must be a one-dimensional byte buffer, not a {value.ndim}-dimensional memoryview")


def retype(exc: TypeError, **named: object) -> TypeError:
    """The contract's TypeError for one a library raised on these arguments:
    check_bytes's (naming the argument) when one is not bytes-like, else the
    library's own message cut to one line (cryptography's spans two)."""
    check_bytes(**named)
    first = (str(exc).strip().splitlines() or ["not a buffer this backend reads"])[0]
    return TypeError(f"{' or '.join(named)}: {first}")


def check_tag_length(tag_length: object, lo: int, hi: int) -> int:
    if isinstance(tag_length, bool) or not isinstance(tag_length, int):
        raise TypeError(f"tag_length must be an int, not {type(tag_length).__name__}")
    if not lo <= tag_length <= hi:
        raise InvalidLength(f"tag length must be {lo}..{hi} bytes, got {tag_length}")
    return tag_length


def check_key(key: object, size: int) -> bytes:
    """The key as bytes; TypeError or InvalidKey otherwise."""
    return check_sized("key", key, size, InvalidKey)


def check_aes_key(key: object) -> bytes:
    """An AES key for the hot paths (key expansion, AES-CTR): 16 or 32 bytes."""
    check_bytes(key=key)
    if len(key) not in (16, 32):  # type: ignore[arg-type]
        raise InvalidKey(f"AES key must be 16 or 32 bytes, got {len(key)}")  # type: ignore[arg-type]
    return bytes(key)  # type: ignore[arg-type]


def check_sized(name: str, value: object, size: int, exc: type[InvalidInput] = InvalidLength) -> bytes:
    """``value`` as bytes when it is bytes-like of exactly ``size`` bytes;
    TypeError or ``exc`` otherwise (a counter block, a nonce, a hash key)."""
    if type(value) is bytes and len(value) == size:  # the common case, inside timed hot paths
        return value
    check_bytes(**{name: value})
    if len(value) != size:  # type: ignore[arg-type]
        raise exc(f"{name} must be {size} bytes, got {len(value)}")  # type: ignore[arg-type]
    return bytes(value)  # type: ignore[arg-type]


def check_block_counter(counter: object, length: int = 0) -> int:
    """ChaCha20's 32-bit block counter (RFC 8439 §2.3): an int in 0..2^32-1, and
    ``length`` bytes of data from it must not run past block 2^32 - 1 (the counter
    cannot wrap: InvalidLength)."""
    if type(counter) is int and 0 <= counter < 1 << 32 and counter + ((length + 63) >> 6) <= 1 << 32:
        return counter  # the common case, inside timed hot paths
    if isinstance(counter, bool) or not isinstance(counter, int):
        raise TypeError(f"counter must be an int, not {type(counter).__name__}")
    if not 0 <= counter < 1 << 32:
        raise InvalidInput(f"counter must be in 0..2^32-1, got {counter}")
    raise InvalidLength(f"data runs past block counter 2^32 - 1 ({(length + 63) >> 6} blocks from {counter})")


class GCMParameters:
    """What every AES-GCM backend that takes any IV length accepts (SP 800-38D
    §5.2.1.1: IVs of at least 1 byte; tags of 4..16 bytes as the CAVP files use).
    Backends subclass it and build their context from :meth:`checked`."""

    def __init__(self, key_size: int) -> None:
        self.key_size = key_size

    def supports(self, nonce_len: int, tag_len: int) -> str | None:
        if nonce_len < 1:
            return "GCM needs an IV of at least 1 byte (SP 800-38D §5.2.1.1)"
        if not 4 <= tag_len <= 16:
            return "tag length outside 4..16 bytes"
        return None

    def checked(self, key: object, tag_length: object) -> tuple[bytes, int]:
        """(key as bytes, tag length) after the contract's checks."""
        return check_key(key, self.key_size), check_tag_length(tag_length, 4, 16)


class ChaCha20Poly1305Parameters:
    """What every ChaCha20-Poly1305 backend accepts (RFC 8439 §2.8): a 32-byte
    key, 12-byte nonces, 16-byte tags."""

    key_size = 32

    def supports(self, nonce_len: int, tag_len: int) -> str | None:
        if nonce_len != 12:
            return "ChaCha20-Poly1305 (RFC 8439) takes 12-byte nonces only"
        if tag_len != 16:
            return "ChaCha20-Poly1305 has 16-byte tags only"
        return None

    def checked(self, key: object, tag_length: object) -> bytes:
        """The key as bytes after the contract's checks."""
        check_tag_length(tag_length, 16, 16)
        return check_key(key, 32)
