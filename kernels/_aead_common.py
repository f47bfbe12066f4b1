"""Argument checks every AEAD backend applies before doing any work.

Keeping them in one place keeps the bad-input contract identical across
backends: the same exception class and message for the same mistake.
"""

from __future__ import annotations

from cryptobench.errors import InvalidLength

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
        if type(value) is memoryview and value.itemsize != 1:  # len() would count items, not bytes
            raise TypeError(f"{name} must be a byte buffer, not a memoryview of {value.format!r} items")


def check_tag_length(tag_length: object, lo: int, hi: int) -> int:
    if isinstance(tag_length, bool) or not isinstance(tag_length, int):
        raise TypeError(f"tag_length must be an int, not {type(tag_length).__name__}")
    if not lo <= tag_length <= hi:
        raise InvalidLength(f"tag length must be {lo}..{hi} bytes, got {tag_length}")
    return tag_length
