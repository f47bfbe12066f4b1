"""A test-only kernel with a slowdown knob, for showing that the gate catches
an injected slowdown (docs/nightly.md).

``chacha20-poly1305/test-slowdown`` wraps the openssl ChaCha20-Poly1305 backend:
each encrypt or decrypt runs the wrapped operation ``round(10 * factor)`` times
and returns the last result. ``factor`` is read from the environment variable
``CRYPTOBENCH_TEST_SLOWDOWN`` (default 1.0) when a context is made, so
``CRYPTOBENCH_TEST_SLOWDOWN=1.10`` makes the kernel do exactly 11 operations
where it did 10: 10% more work, in wall time and in instructions alike.

It is never registered by the product: tests build it with :func:`make_kernel`,
``cryptobench gate --count --register slow_kernel`` adds it in the callgrind
child (with this folder on PYTHONPATH), and the pytest-benchmark suite adds it
when the variable is set. The outputs are real ChaCha20-Poly1305 (RFC 8439)
outputs; constant-time as far as openssl's backend is (the repetition count
does not depend on secrets).
"""

from __future__ import annotations

import os

from cryptobench.registry import Kernel

ENV = "CRYPTOBENCH_TEST_SLOWDOWN"
BACKEND = "test-slowdown"
BASE_REPS = 10


def factor_from_env() -> float:
    raw = os.environ.get(ENV, "1.0")
    try:
        f = float(raw)
    except ValueError:
        raise ValueError(f"{ENV}={raw!r} is not a number (e.g. 1.10)") from None
    if not 0.1 <= f <= 100:
        raise ValueError(f"{ENV}={raw!r} out of range 0.1..100")
    return f


class _Ctx:
    def __init__(self, inner, reps: int) -> None:
        self._inner = inner
        self._reps = range(reps)

    def encrypt(self, nonce, data, aad=b""):
        enc = self._inner.encrypt
        for _ in self._reps:
            out = enc(nonce, data, aad)
        return out

    def decrypt(self, nonce, data, aad=b""):
        dec = self._inner.decrypt
        for _ in self._reps:
            out = dec(nonce, data, aad)
        return out


class SlowAEAD:
    """The AEAD interface of docs/kernels.md, ``reps`` times over."""

    def __init__(self, base_impl, factor: float | None = None) -> None:
        self._base = base_impl
        self._factor = factor

    def new(self, key: bytes, tag_length: int = 16) -> _Ctx:  # the AEAD interface of docs/kernels.md
        f = factor_from_env() if self._factor is None else self._factor
        return _Ctx(self._base.new(key, tag_length), max(1, round(BASE_REPS * f)))

    def __getattr__(self, name):  # key_size, nonce sizes, ... of the wrapped backend
        return getattr(self._base, name)


def make_kernel(base: Kernel, factor: float | None = None) -> Kernel:
    """The test kernel around ``base`` (an AEAD kernel); ``factor`` None reads the env."""
    return Kernel(
        algorithm=base.algorithm, backend=BACKEND, available=base.available, reason=base.reason,
        constant_time=base.constant_time, path=f"{base.path}-x{BASE_REPS}", impl=SlowAEAD(base.impl, factor),
        description=f"test-only: {base.name} run round({BASE_REPS} x ${ENV}) times per call",
    )


def register(reg) -> None:
    """Add the test kernel to ``reg`` (a Registry that holds, or can load, openssl)."""
    import importlib

    try:
        base = reg.get("chacha20-poly1305", "openssl")
    except Exception:  # noqa: BLE001 - not loaded in this registry yet
        from cryptobench.registry import Registry

        tmp = Registry()
        importlib.import_module("cryptobench.kernels.chacha20_poly1305.openssl").register(tmp)
        base = tmp.get("chacha20-poly1305", "openssl")
    reg.add(make_kernel(base))
