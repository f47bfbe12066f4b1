"""Comparison libraries for AES-GCM: pyaes (pure-Python AES, FIPS 197).

pyaes has no GCM, so ``aes-128-gcm/peer-pyaes`` and ``aes-256-gcm/peer-pyaes``
offer only the ``aes-ctr`` hot path (no AEAD object, ``impl=None``): the
yardstick the pure-Python kernel is measured against. pyaes computes the AES
rounds with 32-bit T-table lookups indexed by secret data, so it is **not
constant-time**.

Counter semantics: ``pyaes.Counter`` increments the whole 128-bit block, while
the hot-path shape (docs/kernels.md) is SP 800-38D §6.2 inc32, which wraps the
last 4 bytes modulo 2^32 and leaves the first 12 alone. The two agree unless
the low 32 bits wrap inside the data; this wrapper splits the data at that
block and restarts pyaes with the low word at zero, so the results always
match inc32 (the split costs nothing measurable and never happens in
practice).

Key expansion happens once in the setup function (``pyaes.AES(key)``); each
call then builds a CTR mode object around that expanded key, mirroring
``pyaes.AESModeOfOperationCTR.__init__`` without repeating the key schedule.
That relies on the attribute names of pyaes 1.6.1 (``_aes``, ``_counter``,
``_remaining_counter``); ``cryptobench verify`` checks the output against
OpenSSL, so a change there would show as a failure, not as a wrong number.
"""

from __future__ import annotations

from cryptobench.kernels._aead_common import check_aes_key, check_bytes, check_sized
from cryptobench.registry import Kernel

try:
    import pyaes as _pyaes
except ImportError:  # pragma: no cover - depends on the environment
    _pyaes = None

_MISSING = "pyaes is not installed (pip install cryptobench[peers])"
_LACKS = {
    "key-expansion": "pyaes does not return its key schedule on its own",
    "ghash": "pyaes has no GCM or GHASH",
}
_WRAP = 1 << 32


def _setup_ctr(key):
    aes = _pyaes.AES(check_aes_key(key))
    counter_cls = _pyaes.Counter
    base = _pyaes.AESModeOfOperationCTR

    class _PreparedCTR(base):
        def __init__(self, initial: int) -> None:  # noqa: D401 - mirrors pyaes
            self._aes = aes
            self._counter = counter_cls(initial)
            self._remaining_counter = []

    def aes_ctr(counter_block, data):
        cb = int.from_bytes(check_sized("counter block", counter_block, 16), "big")
        check_bytes(data=data)
        low = cb & 0xFFFFFFFF
        room = 16 * (_WRAP - low)  # bytes before the low 32 bits wrap
        if len(data) <= room:
            return _PreparedCTR(cb).encrypt(bytes(data))
        data = bytes(data)
        head = _PreparedCTR(cb).encrypt(data[:room])
        return head + _PreparedCTR(cb - low).encrypt(data[room:])

    return aes_ctr


def register(reg) -> None:
    for algorithm in ("aes-128-gcm", "aes-256-gcm"):
        if _pyaes is None:
            reg.add(
                Kernel(algorithm=algorithm, backend="peer-pyaes", available=False, reason=_MISSING)
            )
            continue
        reg.add(
            Kernel(
                algorithm=algorithm,
                backend="peer-pyaes",
                available=True,
                constant_time=False,
                path="pyaes",
                impl=None,
                hot_paths={"aes-ctr": _setup_ctr},
                lacks=_LACKS,
                description="pyaes 1.6 pure-Python AES-CTR (the yardstick)",
            )
        )
