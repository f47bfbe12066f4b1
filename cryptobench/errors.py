"""Exceptions raised by kernels and by the harness.

Kernels raise these so that every backend fails the same way on the same bad
input (the bad-input contract in docs/bad-input.md).
"""

from __future__ import annotations


class CryptobenchError(Exception):
    """Base class of every error cryptobench raises on purpose."""


class InvalidTag(CryptobenchError):
    """An AEAD tag did not authenticate the ciphertext and AAD.

    No plaintext is returned or written when this is raised.
    """


class InvalidSignature(CryptobenchError):
    """A signature did not verify (bad encoding, out-of-range r or s, or wrong)."""


class InvalidInput(CryptobenchError, ValueError):
    """A parameter has the right type but an unacceptable value."""


class InvalidKey(InvalidInput):
    """Wrong key length, or a private scalar outside [1, n-1]."""


class InvalidNonce(InvalidInput):
    """A nonce (IV) length the kernel does not support."""


class InvalidLength(InvalidInput):
    """A tag length out of range, data shorter than the tag, or a message over
    the algorithm's limit."""


class InvalidPoint(InvalidInput):
    """A public point that is malformed, not on the curve, or the point at infinity."""


class UsageError(CryptobenchError):
    """Bad command-line or API usage (unknown algorithm, backend, size, file).

    The CLI prints the message on one line and exits with status 2.
    """


class ResultsFileError(UsageError):
    """A results file is missing, truncated, not JSON, of another schema version or of the wrong shape."""


class OutputError(UsageError):
    """An output file or directory could not be written (a directory in the
    way, no permission, a full disk). Whatever was there before is untouched."""
