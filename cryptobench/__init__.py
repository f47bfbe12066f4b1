"""cryptobench: how fast is each implementation of a crypto hot path, and
what is making it faster worth?

Public surface (everything else is an implementation detail):

- :mod:`cryptobench.registry` -- every kernel, available or not (``kernels()``, ``select()``)
- the exceptions kernels raise: :class:`InvalidTag`, :class:`InvalidSignature`,
  :class:`InvalidKey`, :class:`InvalidNonce`, :class:`InvalidLength`,
  :class:`InvalidPoint`

Importing this package is cheap and never raises because a backend is missing:
backends are loaded on first use of the registry.
"""

from .errors import (
    CryptobenchError,
    InvalidInput,
    InvalidKey,
    InvalidLength,
    InvalidNonce,
    InvalidPoint,
    InvalidSignature,
    InvalidTag,
    UsageError,
)

__version__ = "0.1.0"

__all__ = [
    "CryptobenchError",
    "InvalidInput",
    "InvalidKey",
    "InvalidLength",
    "InvalidNonce",
    "InvalidPoint",
    "InvalidSignature",
    "InvalidTag",
    "UsageError",
    "__version__",
]
