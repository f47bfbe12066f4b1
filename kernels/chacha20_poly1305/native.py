"""ChaCha20-Poly1305 (RFC 8439 §2.8) in C with intrinsics, through cffi.

The C code is csrc/chacha20_poly1305/. Three separately registered paths:

``native-avx2`` (path ``avx2-8x``)
    ChaCha20 (§2.3-2.4) eight blocks at once in ymm registers, built with
    ``__attribute__((target("avx2")))``; messages of at most 64 bytes use a
    two-block xmm routine (block 0 is the Poly1305 key), tails a four-block one.
``native-ssse3`` (path ``ssse3-4x``)
    ChaCha20 four blocks at once in xmm registers, pshufb rotations
    (``target("ssse3")``).
``native-portable`` (path ``portable``)
    scalar C, one block at a time.

Poly1305 (§2.5) is scalar on every path: 64-bit limbs, 128-bit products
(``unsigned __int128``), partial reduction modulo 2^130 - 5 using 2^130 = 5.
On the two vector paths the AEAD interleaves it with the ChaCha20 rounds of
the next chunk ("stitching": the integer multiplier works while the vector
units run ChaCha20), which hides it behind ChaCha20 on AVX2. Where nothing
can be stitched (the ``poly1305`` hot path, the tag check before a short
decrypt, long AAD, the last chunk) the AVX2 path also has a four-way vector
Poly1305 (radix 2^26, vpmuludq) for inputs of 256 bytes and more: it pays
there, about 0.4 cycles/byte against 0.7 for the scalar code.

The module is built for baseline x86-64; every C entry point checks cpuid
(cached) itself and returns an error code for a path the CPU lacks, so a
forced path can never raise SIGILL. Availability here comes from
:func:`cryptobench.native.missing`, so ``CRYPTOBENCH_NATIVE_DISABLE=avx2,ssse3``
makes the upper rows unavailable.

Constant-time: yes. No branch or memory index depends on the key, the data,
the keystream or the tag (final reduction by mask, tag comparison an OR of
XORs, both in C); only lengths are public. Decrypt never returns plaintext
on a wrong tag: the C code checks the tag before decrypting, or (one-pass
vector paths on longer messages) zeroes its output, and the wrapper raises
:class:`cryptobench.InvalidTag`. Lengths beyond the 32-bit block counter
(2^32 - 1 blocks from counter 1) are refused arithmetically in Python and in C.

When ``cryptobench._aead_fast`` is built (csrc/_pyapi/), ``encrypt`` and
``decrypt`` are its C methods: exact ``bytes`` go straight to the same C code
without cffi (whose argument conversion and ``ffi.unpack`` cost more than a
16-byte record's ChaCha20-Poly1305), anything else and every error go to the
checked cffi path described next (``boundary`` says which; force cffi with
``CRYPTOBENCH_NATIVE_DISABLE=capi``).

The key lives in a C struct allocated once per context by ``new()``; the C
side never allocates. The wrappers are thin because at 16-64 bytes the call
overhead is most of the time: one C call per operation, bytes passed to C
directly (cffi hands over the buffer), other bytes-like objects through
``ffi.from_buffer``, and the output written into a per-thread scratch buffer
(up to 64 KiB) then copied out once with ``ffi.unpack``.
"""

from __future__ import annotations

import threading

from cryptobench import native as _native
from cryptobench.errors import InvalidInput, InvalidKey, InvalidLength, InvalidNonce, InvalidTag
from cryptobench.kernels._aead_common import ChaCha20Poly1305Parameters, check_bytes
from cryptobench.registry import CPU_LACKS, Kernel

_ffi, _lib = _native.load()
_HAVE = _lib is not None and hasattr(_lib, "cb_chacha_aead_encrypt")

#: Longest plaintext: 2^32 - 1 blocks of 64 bytes from block counter 1 (§2.8).
MAX_LENGTH = (2**32 - 1) * 64
_TAG = 16
_SCRATCH = 64 * 1024 + 16  # outputs up to this size use the per-thread scratch buffer

# (backend, C path constant, recorded path, CPU features needed)
_PATHS = (
    ("native-avx2", "CB_CHACHA_PATH_AVX2", "avx2-8x", ("avx2",)),
    ("native-ssse3", "CB_CHACHA_PATH_SSSE3", "ssse3-4x", ("ssse3",)),
    ("native-portable", "CB_CHACHA_PATH_PORTABLE", "portable", ()),
)

_tls = threading.local()


def _scratch():
    """This thread's output buffer (``_SCRATCH`` bytes): (uint8_t *, char * view).

    Per thread, so concurrent callers never share it; the result is copied out
    with ``ffi.unpack`` before the wrapper returns."""
    p = _ffi.new_allocator(should_clear_after_alloc=False)("uint8_t[]", _SCRATCH)
    s = (p, _ffi.cast("char *", p))
    _tls.s = s
    return s


def _raise_for(rc: int):
    if rc == _lib.CB_CHACHA_ERR_TAG:
        raise InvalidTag("tag check failed")
    if rc == _lib.CB_CHACHA_ERR_TOO_LONG:
        raise InvalidLength("message longer than the ChaCha20 block counter allows")
    if rc == _lib.CB_CHACHA_ERR_CPU:
        raise RuntimeError("this CPU lacks the instructions of the selected ChaCha20 path")
    raise InvalidInput(f"native ChaCha20-Poly1305 rejected its arguments (code {rc})")


def _buf(name: str, value):
    """bytes pass straight to C; other bytes-like objects go through from_buffer
    (which does not read the data, so lengths can be checked first)."""
    if type(value) is bytes:
        return value
    check_bytes(**{name: value})
    try:
        return _ffi.from_buffer(value)
    except (BufferError, ValueError) as exc:
        raise TypeError(f"{name} must be a C-contiguous bytes-like buffer: {exc}") from None


def _new_ctx(path: int, key):
    check_bytes(key=key)
    if len(key) != 32:
        raise InvalidKey(f"key must be 32 bytes, got {len(key)}")
    ctx = _ffi.gc(_ffi.new("cb_chacha_ctx *"), _lib.cb_chacha_ctx_wipe)
    rc = _lib.cb_chacha_ctx_init(ctx, path, _ffi.from_buffer(key), 32)
    if rc:
        _raise_for(rc)
    return ctx


class _Context:
    """One key. ``encrypt``/``decrypt``/``encrypt_into`` are closures over the
    C context (no bound-method creation, everything in fast locals).

    Fast path: exact ``bytes`` arguments (cffi hands a bytes object's buffer
    straight to C), nonce length checked here, output of at most 64 KiB in the
    per-thread scratch buffer. Anything else (bytearray, memoryview, wrong
    types, wrong nonce length, long messages) takes the slow path, which
    validates every argument before calling C. (The type checks cannot be left
    to cffi: it would turn a list of ints into a temporary array.)
    """

    __slots__ = ("encrypt", "decrypt", "encrypt_into", "_ctx", "boundary")

    def __init__(self, path: int, key) -> None:
        ctx = self._ctx = _new_ctx(path, key)
        enc = _lib.cb_chacha_aead_encrypt
        dec = _lib.cb_chacha_aead_decrypt
        unpack = _ffi.unpack
        cast = _ffi.cast
        from_buffer = _ffi.from_buffer
        new_nozero = _ffi.new_allocator(should_clear_after_alloc=False)
        tls = _tls
        raise_for = _raise_for
        SMAX = _SCRATCH
        B = bytes

        def out_buffer(need):
            if need <= SMAX:
                try:
                    return tls.s
                except AttributeError:
                    return _scratch()
            p = new_nozero("uint8_t[]", need)
            return p, cast("char *", p)

        def encrypt_slow(nonce, plaintext, aad=b""):
            nonce, plaintext, aad = _buf("nonce", nonce), _buf("plaintext", plaintext), _buf("aad", aad)
            if len(nonce) != 12:
                raise InvalidNonce("ChaCha20-Poly1305 takes a 12-byte nonce")
            n = len(plaintext)
            if n > MAX_LENGTH:
                raise InvalidLength(f"plaintext longer than {MAX_LENGTH} bytes")
            p, cp = out_buffer(n + _TAG)
            rc = enc(ctx, nonce, 12, aad, len(aad), plaintext, n, p, n + _TAG)
            if rc:
                raise_for(rc)
            return unpack(cp, n + _TAG)

        def decrypt_slow(nonce, data, aad=b""):
            nonce, data, aad = _buf("nonce", nonce), _buf("data", data), _buf("aad", aad)
            if len(nonce) != 12:
                raise InvalidNonce("ChaCha20-Poly1305 takes a 12-byte nonce")
            m = len(data)
            if m < _TAG:
                raise InvalidTag("ciphertext shorter than the 16-byte tag")
            n = m - _TAG
            if n > MAX_LENGTH:
                raise InvalidLength(f"ciphertext longer than {MAX_LENGTH} bytes")
            p, cp = out_buffer(n)
            rc = dec(ctx, nonce, 12, aad, len(aad), data, m, p, n)
            if rc:
                raise_for(rc)
            return unpack(cp, n)

        def encrypt(nonce, plaintext, aad=b""):
            if type(plaintext) is B and type(nonce) is B and type(aad) is B:
                n = len(plaintext)
                need = n + 16
                if need <= SMAX and len(nonce) == 12:
                    try:
                        p, cp = tls.s
                    except AttributeError:
                        p, cp = _scratch()
                    rc = enc(ctx, nonce, 12, aad, len(aad), plaintext, n, p, need)
                    if rc:
                        raise_for(rc)
                    return unpack(cp, need)
            return encrypt_slow(nonce, plaintext, aad)

        def decrypt(nonce, data, aad=b""):
            if type(data) is B and type(nonce) is B and type(aad) is B:
                m = len(data)
                n = m - 16
                if 0 <= n and m <= SMAX and len(nonce) == 12:
                    try:
                        p, cp = tls.s
                    except AttributeError:
                        p, cp = _scratch()
                    rc = dec(ctx, nonce, 12, aad, len(aad), data, m, p, n)
                    if rc:
                        raise_for(rc)
                    return unpack(cp, n)
            return decrypt_slow(nonce, data, aad)

        def encrypt_into(nonce, plaintext, aad, out) -> int:
            """Write ciphertext || tag into ``out`` (writable, exactly
            len(plaintext) + 16 bytes); returns the number of bytes written.
            ``out`` may start at the plaintext (in place) or be the AAD's buffer."""
            nonce, plaintext, aad = _buf("nonce", nonce), _buf("plaintext", plaintext), _buf("aad", aad)
            if len(nonce) != 12:
                raise InvalidNonce("ChaCha20-Poly1305 takes a 12-byte nonce")
            n = len(plaintext)
            if n > MAX_LENGTH:
                raise InvalidLength(f"plaintext longer than {MAX_LENGTH} bytes")
            check_bytes(out=out)
            try:
                o = from_buffer(out, require_writable=True)
            except (TypeError, BufferError) as exc:
                raise TypeError(f"out must be a writable buffer: {exc}") from None
            if len(o) != n + _TAG:
                raise InvalidLength(f"out must be exactly {n + _TAG} bytes, got {len(o)}")
            rc = enc(ctx, nonce, 12, aad, len(aad), plaintext, n, o, n + _TAG)
            if rc:
                raise_for(rc)
            return n + _TAG

        self.encrypt_into = encrypt_into
        fast = _native.fast_module()
        if fast is not None:
            # C methods for exact bytes; anything else and every error go to
            # the checked cffi path (*_slow)
            sealer = fast.Sealer(fast.KIND_CHACHA, path, key, _TAG, encrypt_slow, decrypt_slow)
            self.encrypt, self.decrypt, self.boundary = sealer.encrypt, sealer.decrypt, "capi"
        else:
            self.encrypt, self.decrypt, self.boundary = encrypt, decrypt, "cffi"


class ChaCha20Poly1305(ChaCha20Poly1305Parameters):
    """The AEAD object of docs/kernels.md for one native path."""


    def __init__(self, path: int, label: str) -> None:
        self._path = path
        self.path = label

    def new(self, key, tag_length: int = 16) -> _Context:
        return _Context(self._path, self.checked(key, tag_length))


def _chacha20_setup(path: int):
    """Hot path ``chacha20``: setup(key32) -> f(nonce12, counter, data) (RFC 8439 §2.4)."""

    def setup(key):
        ctx = _new_ctx(path, key)
        xor = _lib.cb_chacha20_xor
        unpack = _ffi.unpack
        cast = _ffi.cast
        tls = _tls
        new_nozero = _ffi.new_allocator(should_clear_after_alloc=False)
        buf = _buf

        def chacha20(nonce, counter, data):
            if type(nonce) is not bytes or type(data) is not bytes:
                nonce, data = buf("nonce", nonce), buf("data", data)
            if len(nonce) != 12:
                raise InvalidNonce("ChaCha20 takes a 12-byte nonce")
            if type(counter) is not int:
                raise TypeError(f"counter must be an int, not {type(counter).__name__}")
            if not 0 <= counter <= 0xFFFFFFFF:
                raise InvalidInput("counter must be in 0..2^32-1")
            n = len(data)
            if (n + 63) // 64 > 2**32 - counter:
                raise InvalidLength("data runs past block counter 2^32 - 1")
            if n <= _SCRATCH:
                try:
                    out, cout = tls.s
                except AttributeError:
                    out, cout = _scratch()
            else:
                out = new_nozero("uint8_t[]", n)
                cout = cast("char *", out)
            rc = xor(ctx, nonce, 12, counter, data, out, n)
            if rc:
                _raise_for(rc)
            return unpack(cout, n)

        return chacha20

    return setup


def _poly1305_setup(path: int):
    """Hot path ``poly1305``: setup() -> f(key32, data) -> tag16 (RFC 8439 §2.5)."""

    def setup():
        mac = _lib.cb_poly1305_mac
        unpack = _ffi.unpack
        tls = threading.local()  # the tag buffer, one per thread
        buf = _buf

        def poly1305(key, data):
            if type(key) is not bytes or type(data) is not bytes:
                key, data = buf("key", key), buf("data", data)
            if len(key) != 32:
                raise InvalidKey(f"Poly1305 key must be 32 bytes, got {len(key)}")
            try:
                t, ct = tls.t
            except AttributeError:
                t = _ffi.new("uint8_t[16]")
                ct = _ffi.cast("char *", t)
                tls.t = (t, ct)
            rc = mac(path, key, 32, data, len(data), t, 16)
            if rc:
                _raise_for(rc)
            return unpack(ct, 16)

        return poly1305

    return setup


def _kernel(backend: str, label: str, available: bool, reason: str, path: int | None) -> Kernel:
    common = dict(
        algorithm="chacha20-poly1305",
        backend=backend,
        constant_time=True,
        path=label,
        description=(
            f"C intrinsics: ChaCha20 {label}, scalar 2^64-radix Poly1305"
            + (" stitched into the ChaCha20 rounds" if label != "portable" else "")
            + (", 4-way 2^26-radix AVX2 Poly1305 where unstitched" if label == "avx2-8x" else "")
            + " (RFC 8439)"
        ),
    )
    if not available:
        return Kernel(available=False, reason=reason, **common)
    return Kernel(
        available=True,
        impl=ChaCha20Poly1305(path, label),
        hot_paths={"chacha20": _chacha20_setup(path), "poly1305": _poly1305_setup(path)},
        **common,
    )


def register(reg) -> None:
    if not _HAVE:
        why = _native.unavailable_reason() or "native extension built without csrc/chacha20_poly1305"
        for backend, _, label, _ in _PATHS:
            reg.add(_kernel(backend, label, False, why, None))
        return
    for backend, const, label, feats in _PATHS:
        path = getattr(_lib, const)
        reason = _native.missing(*feats) if feats else None
        if reason is None and _lib.cb_chacha_path_supported(path) != 1:
            # a CPU-feature reason like native.missing's: the gate tells the runner's from the code's by it
            reason = f"{CPU_LACKS}what the {label} path needs (the library's own check refused it)"
        reg.add(_kernel(backend, label, reason is None, reason or "", path))
