"""AES-128/256-GCM in C (csrc/aes_gcm/), through the cffi extension.

Three code paths, each registered as its own backend so one machine can time
and test all of them (force lower ones with
``CRYPTOBENCH_NATIVE_DISABLE=vaes`` or ``=vaes,aesni``):

``native-vaes``  (path ``vaes-avx2``)
    VAES + VPCLMULQDQ on 256-bit AVX2 registers: two blocks per ymm, 16 blocks
    per iteration, GHASH of 16 blocks aggregated over H^16..H^1 with one
    reduction, interleaved with the AES rounds. No AVX-512.
``native-aesni`` (path ``aesni-pclmul``)
    AES-NI + PCLMULQDQ on xmm: 8 blocks in flight, GHASH aggregated over
    H^8..H^1 with one reduction per 8 blocks, interleaved with the AES rounds.
``native-portable`` (path ``portable-ct``)
    Plain C: the AES S-box computed by inversion in GF(2^8) (no tables), GHASH
    by integer multiplication with holes. Slow (hundreds of cycles per byte).

All three are constant-time in the key, data and tag (no secret-dependent
branches or table indices; constant-time tag comparison in C).

Specs: FIPS 197 (AES), NIST SP 800-38D §6.2 (inc32), §6.4 (GHASH), §7.1
(GCM-AE, J0 = GHASH(IV || pad || len) for IVs other than 96 bits), §7.2
(GCM-AD). Any IV length >= 1 byte, tags of 4..16 bytes.

The context keeps the expanded key and the H-power table in one C struct
allocated once by ``new()`` (no allocation in C); a call writes into a reused
scratch buffer and allocates only the bytes it returns. cffi (API mode)
releases the GIL for the duration of each C call; contexts are read-only after
``new()`` and safe to share between threads. Arguments are checked here before
any C call, and every C entry point checks them again, together with the CPU
features of its path (cached cpuid), returning an error code instead of
faulting. On a tag mismatch the C decrypt wipes its output and this module
raises :class:`InvalidTag`.

Availability: ``native-vaes`` needs VAES, VPCLMULQDQ and AVX2 and also AES-NI
and PCLMULQDQ (its tails use the xmm forms), so disabling ``aesni`` disables
it too. Without the extension every row is unavailable with the load error.

Speed on the development machine (AMD EPYC Zen 4, shared): the C code of
the VAES path runs AES-128-GCM at about 0.18 TSC cycles per byte at 16 KiB,
level with OpenSSL's AVX-512 code (both bound by AES rounds and carry-less
multiplies sharing the same vector pipes; Zen 4 executes 512-bit operations
as two 256-bit halves). Per call, the cffi call with nine arguments costs
about 0.2 us before any work and ``ffi.unpack`` another 50-70 ns, more than
the C work of a 16-byte record. So ``encrypt`` and ``decrypt`` are, when
built, methods of ``cryptobench._aead_fast.Sealer`` (csrc/_pyapi/, plain
CPython API, output written straight into the returned bytes: a 16-byte
encrypt takes 104-129 ns in a plain loop against 514-567 ns through cffi); they take exact ``bytes`` arguments only and pass anything
else, and every error, to the checked cffi path below. ``boundary`` says
which one a context uses; ``CRYPTOBENCH_NATIVE_DISABLE=capi`` forces cffi.
"""

from __future__ import annotations

from typing import Any, Callable

from cryptobench import native as _native
from cryptobench.errors import InvalidKey, InvalidLength, InvalidNonce, InvalidTag
from cryptobench.kernels._aead_common import GCMParameters, check_bytes
from cryptobench.registry import Kernel

#: backend -> (C prefix, Kernel.path, cryptobench.native feature names)
PATHS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "native-vaes": ("vaes", "vaes-avx2", ("vaes", "vpclmulqdq", "avx2", "aesni", "pclmulqdq")),
    "native-aesni": ("aesni", "aesni-pclmul", ("aesni", "pclmulqdq", "ssse3")),
    "native-portable": ("portable", "portable-ct", ()),
}

_MAX_PT = (1 << 36) - 32  # SP 800-38D §5.2.1.1: len(P) <= 2^39 - 256 bits
_EARG, _ECPU, _ETAG, _ECTX = -1, -2, -3, -4  # CB_AESGCM_E* in csrc/aes_gcm/aes_gcm.h
_BYTES = (bytes, bytearray, memoryview)


def _error(rc: int, what: str) -> Exception:
    if rc == _ETAG:
        return InvalidTag("tag check failed")
    if rc == _ECPU:
        return RuntimeError(f"{what}: the CPU lacks the instructions of this path")
    if rc == _ECTX:
        return RuntimeError(f"{what}: context not initialised for this path")
    return InvalidLength(f"{what}: argument rejected by the C code (error {rc})")


class _Lib:
    """The C functions of one path, bound once."""

    def __init__(self, ffi: Any, lib: Any, prefix: str) -> None:
        self.ffi = ffi
        self.alloc = ffi.new_allocator(should_clear_after_alloc=False)
        self.from_buffer = ffi.from_buffer
        p = f"cb_aesgcm_{prefix}_"
        self.init = getattr(lib, p + "init")
        self.encrypt = getattr(lib, p + "encrypt")
        self.decrypt = getattr(lib, p + "decrypt")
        self.ctr = getattr(lib, p + "ctr")
        self.ghash_init = getattr(lib, p + "ghash_init")
        self.ghash = getattr(lib, p + "ghash")
        self.expand_key = getattr(lib, p + "expand_key")
        self.rk_size = 480 if prefix == "vaes" else 240
        self.path_id = getattr(lib, f"CB_AESGCM_PATH_{prefix.upper()}")

    def arg(self, name: str, value: Any) -> Any:
        """bytes pass straight to C; other buffers are wrapped without copying."""
        if type(value) is bytes:
            return value
        if not isinstance(value, _BYTES):
            raise TypeError(f"{name} must be bytes-like, not {type(value).__name__}")
        try:
            return self.from_buffer("uint8_t[]", value)
        except (TypeError, ValueError, BufferError):  # e.g. a non-contiguous memoryview
            return bytes(value)


#: Scratch output buffer per context (bytes); longer outputs allocate per call.
_SCRATCH = 16384 + 64


class _Context:
    """An AES-GCM key and tag length: ``encrypt``/``decrypt`` of docs/kernels.md
    plus ``encrypt_into``.

    The methods are closures over the bound C functions and the C context, so
    a call does no attribute look-ups. The fast path takes ``bytes`` arguments
    of acceptable lengths straight to C; anything else (other buffer types,
    wrong types or lengths, a C error code) goes to the checked path, which
    converts buffers and raises the exact exception. Output goes through a
    scratch ``char[]`` taken from a per-context list with an atomic ``pop()``
    and put back with ``append()``, so concurrent calls on one context (cffi
    releases the GIL during the C call) never share a buffer; ``ffi.unpack``
    copies the result into the returned bytes. On a tag failure the C code
    has already wiped the scratch. The scratch keeps the last output until
    the next call overwrites it or the context is freed.
    """

    __slots__ = ("encrypt", "decrypt", "encrypt_into", "tag_length", "_cctx", "boundary")

    def __init__(self, c: _Lib, key: bytes, tag_length: int) -> None:
        cctx = c.ffi.new("cb_aesgcm_ctx *")
        rc = c.init(cctx, key, len(key))
        if rc:
            raise _error(rc, "key setup")
        self._cctx = cctx
        self.tag_length = t = tag_length
        enc, dec, unpack, alloc, arg = c.encrypt, c.decrypt, c.ffi.unpack, c.alloc, c.arg
        box: list = []
        pop, push = box.pop, box.append
        cap_enc, cap_dec, ETAG = _SCRATCH - t, _SCRATCH, _ETAG

        def encrypt(nonce, plaintext, aad=b""):
            """ciphertext || tag (SP 800-38D §7.1)."""
            if bytes is type(nonce) is type(plaintext) is type(aad):
                ln = len(nonce)
                n = len(plaintext)
                if ln and n <= cap_enc:
                    try:
                        sc = pop()
                    except IndexError:
                        sc = alloc("char[]", _SCRATCH)
                    if not enc(cctx, nonce, ln, aad, len(aad), plaintext, n, sc, t):
                        out = unpack(sc, n + t)
                        push(sc)
                        return out
            return checked_encrypt(nonce, plaintext, aad)

        def checked_encrypt(nonce, plaintext, aad=b""):
            nonce, plaintext, aad = arg("nonce", nonce), arg("plaintext", plaintext), arg("aad", aad)
            n = _check_lengths(len(nonce), len(plaintext))
            out = alloc("char[]", n + t)
            rc = enc(cctx, nonce, len(nonce), aad, len(aad), plaintext, n, out, t)
            if rc:
                raise _error(rc, "encrypt")
            return unpack(out, n + t)

        def decrypt(nonce, data, aad=b""):
            """Plaintext, or :class:`InvalidTag` (SP 800-38D §7.2); never both."""
            if bytes is type(nonce) is type(data) is type(aad):
                ln = len(nonce)
                dn = len(data)
                n = dn - t
                if ln and 0 <= n <= cap_dec:
                    try:
                        sc = pop()
                    except IndexError:
                        sc = alloc("char[]", _SCRATCH)
                    rc = dec(cctx, nonce, ln, aad, len(aad), data, dn, sc, t)
                    if not rc:
                        out = unpack(sc, n)
                        push(sc)
                        return out
                    push(sc)  # wiped by the C code
                    if rc == ETAG:
                        raise InvalidTag("tag check failed")
            return checked_decrypt(nonce, data, aad)

        def checked_decrypt(nonce, data, aad=b""):
            nonce, data, aad = arg("nonce", nonce), arg("data", data), arg("aad", aad)
            if len(data) < t:
                _check_lengths(len(nonce), 0)
                raise InvalidTag("ciphertext shorter than the tag")
            n = _check_lengths(len(nonce), len(data) - t)
            out = alloc("char[]", n)
            rc = dec(cctx, nonce, len(nonce), aad, len(aad), data, n + t, out, t)
            if rc:
                raise _error(rc, "decrypt")
            return unpack(out, n)

        def encrypt_into(nonce, plaintext, aad, out) -> int:
            """Write ciphertext || tag into the writable buffer ``out``; returns its length.

            ``out`` may be the plaintext buffer itself (in place) but must not
            overlap it otherwise.
            """
            nonce, plaintext, aad = arg("nonce", nonce), arg("plaintext", plaintext), arg("aad", aad)
            check_bytes(out=out)
            n = _check_lengths(len(nonce), len(plaintext))
            try:
                dst = c.from_buffer("uint8_t[]", out, require_writable=True)
            except (TypeError, ValueError, BufferError) as exc:
                raise TypeError(f"out must be a writable contiguous buffer: {exc}") from None
            if len(dst) < n + t:
                raise InvalidLength(f"out holds {len(dst)} bytes, {n + t} needed")
            rc = enc(cctx, nonce, len(nonce), aad, len(aad), plaintext, n, dst, t)
            if rc:
                raise _error(rc, "encrypt")
            return n + t

        self.encrypt_into = encrypt_into
        fast = _native.fast_module()
        if fast is not None:
            # the C methods take exact bytes straight to C and hand everything
            # else (and every error) to the checked cffi path
            sealer = fast.Sealer(fast.KIND_AESGCM, c.path_id, key, t, checked_encrypt, checked_decrypt)
            self.encrypt, self.decrypt, self.boundary = sealer.encrypt, sealer.decrypt, "capi"
        else:
            self.encrypt, self.decrypt, self.boundary = encrypt, decrypt, "cffi"


def _check_lengths(nonce_len: int, n: int) -> int:
    if not nonce_len:
        raise InvalidNonce("GCM IV must be at least 1 byte")
    if n > _MAX_PT:
        raise InvalidLength("message longer than 2^36 - 32 bytes (SP 800-38D §5.2.1.1)")
    return n


class AESGCM(GCMParameters):
    """The AEAD object of docs/kernels.md for one native path."""

    def __init__(self, key_size: int, c: _Lib) -> None:
        super().__init__(key_size)
        self._c = c

    def new(self, key, tag_length: int = 16) -> _Context:
        key, tag_length = self.checked(key, tag_length)
        return _Context(self._c, key, tag_length)


# ---- hot paths (docs/kernels.md) -------------------------------------------------


def _hot_paths(c: _Lib, key_size: int) -> dict[str, Callable[..., Callable[..., Any]]]:
    def setup_key_expansion() -> Callable[[bytes], bytes]:
        expand, size, unpack = c.expand_key, c.rk_size, c.ffi.unpack
        stride = size // 15
        used = {16: 11 * stride, 32: 15 * stride}  # bytes of schedule per key size
        box = [c.alloc("char[]", size)]
        pop, push = box.pop, box.append

        def key_expansion(key):
            """The round keys as bytes (aesni/portable: 16 per round; vaes: 32, broadcast)."""
            if type(key) is not bytes:
                key = c.arg("key", key)
            try:
                rk = pop()
            except IndexError:
                rk = c.alloc("char[]", size)
            rc = expand(rk, size, key, len(key))
            if rc:
                raise InvalidKey("key must be 16 or 32 bytes") if rc == _EARG else _error(rc, "key expansion")
            out = unpack(rk, used[len(key)])
            push(rk)
            return out

        return key_expansion

    def setup_ctr(key) -> Callable[[bytes, bytes], bytes]:
        check_bytes(key=key)
        if len(key) not in (16, 32):
            raise InvalidKey(f"key must be 16 or 32 bytes, got {len(key)}")
        ctx = c.ffi.new("cb_aesgcm_ctx *")
        rc = c.init(ctx, bytes(key), len(key))
        if rc:
            raise _error(rc, "key setup")
        fn, alloc, unpack = c.ctr, c.alloc, c.ffi.unpack
        box: list = []
        pop, push = box.pop, box.append

        def aes_ctr(counter_block, data):
            """data XOR AES-CTR keystream from counter_block, inc32 (SP 800-38D §6.2, §6.5)."""
            if type(counter_block) is not bytes or type(data) is not bytes:
                counter_block, data = c.arg("counter_block", counter_block), c.arg("data", data)
            if len(counter_block) != 16:
                raise InvalidLength("counter block must be 16 bytes")
            n = len(data)
            if n > _SCRATCH:
                out = alloc("char[]", n)
            else:
                try:
                    out = pop()
                except IndexError:
                    out = alloc("char[]", _SCRATCH)
            rc = fn(ctx, counter_block, data, n, out)
            if rc:
                raise _error(rc, "aes-ctr")
            res = unpack(out, n)
            if n <= _SCRATCH:
                push(out)
            return res

        return aes_ctr

    def setup_ghash(h16) -> Callable[[bytes], bytes]:
        check_bytes(h=h16)
        if len(h16) != 16:
            raise InvalidLength("GHASH subkey must be 16 bytes")
        ctx = c.ffi.new("cb_aesgcm_ctx *")
        rc = c.ghash_init(ctx, bytes(h16))
        if rc:
            raise _error(rc, "ghash setup")
        fn, unpack = c.ghash, c.ffi.unpack
        box = [c.alloc("char[]", 16)]
        pop, push = box.pop, box.append

        def ghash(data):
            """GHASH_H(data) from Y0 = 0 (SP 800-38D §6.4)."""
            if type(data) is not bytes:
                data = c.arg("data", data)
            n = len(data)
            if n % 16:
                raise InvalidLength("GHASH input must be a multiple of 16 bytes")
            try:
                out = pop()
            except IndexError:
                out = c.alloc("char[]", 16)
            rc = fn(ctx, data, n, out)
            if rc:
                raise _error(rc, "ghash")
            res = unpack(out, 16)
            push(out)
            return res

        return ghash

    return {"key-expansion": setup_key_expansion, "aes-ctr": setup_ctr, "ghash": setup_ghash}


def _availability(prefix: str, features: tuple[str, ...]) -> str | None:
    """None when the path can run here, else why not (never raises)."""
    ffi, lib = _native.load()
    if lib is None:
        return _native.unavailable_reason() or "native extension not loaded"
    if not hasattr(lib, f"cb_aesgcm_{prefix}_encrypt"):
        return "native extension was built without csrc/aes_gcm"
    reason = _native.missing(*features) if features else None
    if reason:
        return reason
    paths = {"vaes": lib.CB_AESGCM_PATH_VAES, "aesni": lib.CB_AESGCM_PATH_AESNI,
             "portable": lib.CB_AESGCM_PATH_PORTABLE}
    if not lib.cb_aesgcm_path_supported(paths[prefix]):
        return "the C code reports this path unsupported on this CPU"
    return None


_DESCRIPTIONS = {
    "native-vaes": "C, VAES + VPCLMULQDQ on ymm, 16 blocks/iteration, aggregated GHASH",
    "native-aesni": "C, AES-NI + PCLMULQDQ on xmm, 8 blocks/iteration, aggregated GHASH",
    "native-portable": "C, constant-time arithmetic S-box and GHASH, no tables",
}


def register(reg) -> None:
    for backend, (prefix, path, features) in PATHS.items():
        try:
            reason = _availability(prefix, features)
        except Exception as exc:  # never take the registry down
            reason = f"availability check failed: {exc!r}"
        c = None
        if reason is None:
            ffi, lib = _native.load()
            c = _Lib(ffi, lib, prefix)
        for algorithm, size in (("aes-128-gcm", 16), ("aes-256-gcm", 32)):
            reg.add(
                Kernel(
                    algorithm=algorithm,
                    backend=backend,
                    available=c is not None,
                    reason=reason or "",
                    constant_time=True,
                    path=path,
                    impl=AESGCM(size, c) if c is not None else None,
                    hot_paths=_hot_paths(c, size) if c is not None else {},
                    description=_DESCRIPTIONS[backend],
                )
            )
