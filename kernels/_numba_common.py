"""Numba plumbing shared by the ``numba-portable`` and ``numba-hw`` kernels.

This module imports numba at its top, so it is imported *lazily*: the backend
modules (``kernels/aes_gcm/numba.py``, ``kernels/chacha20_poly1305/numba.py``)
only check ``importlib.util.find_spec("numba")`` at registration (no import)
and pull this module in on first use. Nothing here compiles at import; intrinsics
are IR generators that run when a kernel that uses them is compiled.

What lives here:

* :func:`jit_module_functions` turns the plain Python functions a backend
  module lists into ``@njit(cache=True, nogil=True)`` dispatchers in place, so
  they call each other through the dispatchers and the compiled code is cached
  in ``__pycache__`` next to the source (the second process loads it), else in
  ``~/.cache/numba``, else (a read-only install, no writable home; see
  :func:`ensure_cache_dir`) in a private ``$TMPDIR/cryptobench-numba-<uid>``.
  :func:`compile_stats` sums the dispatchers' cache hits and misses for
  ``Kernel.prepare``; :func:`entry_point` hands contexts the compiled entry
  point of their one argument signature (no per-call type resolution).

* LLVM intrinsics written with ``numba.extending.intrinsic`` and llvmlite IR,
  used only by the ``numba-hw`` tier:

  - ``m128``: a Numba type whose LLVM value is ``<2 x i64>`` (one XMM
    register); loads/stores, XOR, byte reversal, 64-bit lane moves;
  - ``aesenc`` / ``aesenclast`` (``llvm.x86.aesni.*``, FIPS 197 §5.1 rounds
    as the AES-NI instructions perform them) and AES-128/256 key expansion
    with ``llvm.x86.aesni.aeskeygenassist`` (FIPS 197 §5.2);
  - ``clmul_*`` (``llvm.x86.pclmulqdq``) for GHASH (SP 800-38D §6.4);
  - ``chacha20_x8``: eight ChaCha20 blocks (RFC 8439 §2.3) at once on
    ``<8 x i32>`` vectors (AVX2 width), generic LLVM vector IR
    (add / xor / ``llvm.fshl`` rotates / shufflevector transpose);
  - ``m256`` (``<4 x i64>``) with ``aesenc256`` / ``aesenclast256``
    (``llvm.x86.aesni.aesenc.256``: VAES) and ``clmul256_*``
    (``llvm.x86.pclmulqdq.256``: VPCLMULQDQ), two blocks per instruction,
    used only where the CPU has VAES, VPCLMULQDQ and AVX2;
  - ``poly1305_mulmod``: one Poly1305 multiply-and-partial-reduce step
    (RFC 8439 §2.5) in radix 2^64 using LLVM ``i128`` arithmetic;
  - ``load_le64`` / ``load_be64`` / ``load_le32``: unaligned scalar loads.

All of them are branch-free and free of secret-dependent memory indices.
The x86 intrinsics only compile on a CPU that has AES-NI and PCLMULQDQ; the
backends register ``numba-hw`` as unavailable elsewhere and never compile them.
Numba compiles for the host CPU (``-mcpu=host``), so LLVM may also pick wider
encodings (VEX/EVEX) for the generic vector IR on a CPU that has them.

Caching caveat: Numba's cache is keyed on the source file of each jitted
function, not on this module, so after editing an intrinsic here delete the
stale caches (``kernels/*/__pycache__/numba.*``) or touch the backend module.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from typing import Any, Iterable

import numba
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, models, register_model


# ------------------------------------------------------------------ jit plumbing

#: The kernel folders whose ``__pycache__`` Numba caches into by default.
_KERNEL_DIRS = ("aes_gcm", "chacha20_poly1305", "ecdsa_p256")


def _writable_dir(path: Path) -> bool:
    """Numba's own test for a cache directory: create it, then a temporary file in it."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError:
        return False
    return True


def _private_dir(path: Path) -> bool:
    """``path`` exists or was made as a directory of this user's alone (mode 0700, not a
    symlink): cache files are pickles, so a shared temporary directory is not trusted."""
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        pass
    except OSError:
        return False
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return (stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o077
            and _writable_dir(path))


def ensure_cache_dir() -> str | None:
    """Give ``cache=True`` somewhere to write when Numba would find nowhere.

    Numba caches beside the source (``kernels/*/__pycache__``), else in the
    user's cache directory (``~/.cache/numba``); when neither is writable (an
    install in read-only site-packages run by a user without a writable home)
    it refuses to create any cached function ("cannot cache function ...: no
    locator available"), which would fail every Numba kernel. Then this points
    ``NUMBA_CACHE_DIR`` at a private per-user directory under the system's
    temporary directory (the same in every process, so pyperf workers and
    verification children share it), or, when that name is taken by a directory
    that is not this user's alone, at a new private one that this process's
    children inherit. Returns that directory, or None when nothing needed
    changing (or nothing could be found: Numba then reports it).
    """
    if numba.config.CACHE_DIR:  # the user's NUMBA_CACHE_DIR
        return None
    here = Path(__file__).resolve().parent
    if all(_writable_dir(here / d / "__pycache__") for d in _KERNEL_DIRS):
        return None
    try:
        from numba.misc.appdirs import AppDirs

        user = Path(AppDirs(appname="numba", appauthor=False).user_cache_dir)
        # with no HOME and no passwd entry, "~" stays unexpanded: a relative "~/.cache/numba"
        # was made inside the current directory (a directory named "~" invites `rm -rf ~`)
        if user.is_absolute() and _writable_dir(user):
            return None
    except Exception:  # noqa: BLE001 - an unexpected numba layout: try the fallback
        pass
    d = Path(tempfile.gettempdir()) / f"cryptobench-numba-{os.getuid()}"
    if not _private_dir(d):
        # someone else's, or not private (made by hand): a new private one for this run, which
        # its workers and children inherit through the environment. Returning None here left
        # Numba with nowhere to cache, and every Numba kernel FAILED its vectors
        try:
            d = Path(tempfile.mkdtemp(prefix=f"cryptobench-numba-{os.getuid()}-"))
        except OSError:
            return None
    os.environ["NUMBA_CACHE_DIR"] = str(d)
    numba.core.config.reload_config()
    return str(d)


ensure_cache_dir()


def jit_module_functions(namespace: dict, names: Iterable[str], inline: Iterable[str] = ()) -> list:
    """Replace ``namespace[name]`` by ``njit(cache=True, nogil=True)(fn)``.

    The functions are resolved by global name when compiled, so after this the
    jitted functions call each other's dispatchers. Names in ``inline`` are
    small helpers compiled with ``inline="always"`` (inlined at the Numba IR
    level instead of being compiled once per literal argument, which keeps cold
    compiles short). Returns the dispatchers.
    """
    inline = set(inline)
    out = []
    for name in names:
        fn = namespace[name]
        if not isinstance(fn, numba.core.dispatcher.Dispatcher):
            opts = {"inline": "always"} if name in inline else {}
            fn = numba.njit(cache=True, nogil=True, **opts)(fn)
            namespace[name] = fn
        out.append(fn)
    return out


def compile_stats(dispatchers: Iterable[Any]) -> dict[str, int]:
    """``{"cache_hits": h, "cache_misses": m}`` summed over the dispatchers."""
    hits = misses = 0
    for d in dispatchers:
        st = d.stats
        hits += sum(st.cache_hits.values())
        misses += sum(st.cache_misses.values())
    return {"cache_hits": hits, "cache_misses": misses}


def dispatcher_asm(dispatchers: Iterable[Any]) -> str:
    """All generated assembly of the dispatchers (for checking instruction use)."""
    parts = []
    for d in dispatchers:
        for asm in d.inspect_asm().values():
            parts.append(asm)
    return "\n".join(parts)


# ------------------------------------------------------------------ the m128 type

_I8 = ir.IntType(8)
_I32 = ir.IntType(32)
_I64 = ir.IntType(64)
_I128 = ir.IntType(128)
_V2 = ir.VectorType(_I64, 2)
_V16B = ir.VectorType(_I8, 16)
_V8 = ir.VectorType(_I32, 8)


class M128Type(types.Type):
    """A 128-bit SIMD value (``<2 x i64>``); lane 0 is the low 64 bits."""

    def __init__(self) -> None:
        super().__init__(name="m128")


m128 = M128Type()


@register_model(M128Type)
class _M128Model(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _V2)


def _byte_ptr(context, builder, aty, aval, off, offty):
    ary = context.make_array(aty)(context, builder, aval)
    off = context.cast(builder, off, offty, types.intp)
    data = builder.bitcast(ary.data, _I8.as_pointer())
    return builder.gep(data, [off])


def _is_u8_array(t) -> bool:
    """A 1-d uint8 buffer: a NumPy array or ``bytes`` (read-only ``Bytes``)."""
    return isinstance(t, types.Buffer) and t.dtype == types.uint8 and t.ndim == 1


def _decl(builder, name, ret, args):
    fnty = ir.FunctionType(ret, args)
    return cgutils.get_or_insert_function(builder.module, fnty, name)


def _bswap16(builder, v):
    b = builder.bitcast(v, _V16B)
    rev = builder.shuffle_vector(b, b, ir.Constant(ir.VectorType(_I32, 16), list(range(15, -1, -1))))
    return builder.bitcast(rev, _V2)


def _load16(builder, ptr):
    return builder.load(builder.bitcast(ptr, _V2.as_pointer()), align=1)


def _store16(builder, v, ptr):
    builder.store(v, builder.bitcast(ptr, _V2.as_pointer()), align=1)


@intrinsic
def m128_load(typingctx, arr, off):
    """16 bytes of a uint8 array at byte offset ``off`` (unaligned)."""
    if not (_is_u8_array(arr) and isinstance(off, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        return _load16(builder, _byte_ptr(context, builder, sig.args[0], args[0], args[1], sig.args[1]))

    return m128(arr, off), codegen


@intrinsic
def m128_load_be(typingctx, arr, off):
    """16 bytes read as one big-endian 128-bit integer (GCM's bit order)."""
    if not (_is_u8_array(arr) and isinstance(off, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        v = _load16(builder, _byte_ptr(context, builder, sig.args[0], args[0], args[1], sig.args[1]))
        return _bswap16(builder, v)

    return m128(arr, off), codegen


@intrinsic
def m128_store(typingctx, arr, off, v):
    if not (_is_u8_array(arr) and isinstance(off, types.Integer) and v == m128):
        return None

    def codegen(context, builder, sig, args):
        _store16(builder, args[2], _byte_ptr(context, builder, sig.args[0], args[0], args[1], sig.args[1]))
        return context.get_dummy_value()

    return types.none(arr, off, v), codegen


@intrinsic
def m128_store_be(typingctx, arr, off, v):
    if not (_is_u8_array(arr) and isinstance(off, types.Integer) and v == m128):
        return None

    def codegen(context, builder, sig, args):
        ptr = _byte_ptr(context, builder, sig.args[0], args[0], args[1], sig.args[1])
        _store16(builder, _bswap16(builder, args[2]), ptr)
        return context.get_dummy_value()

    return types.none(arr, off, v), codegen


@intrinsic
def m128_xor(typingctx, a, b):
    if not (a == m128 and b == m128):
        return None

    def codegen(context, builder, sig, args):
        return builder.xor(args[0], args[1])

    return m128(a, b), codegen


@intrinsic
def m128_make(typingctx, lo, hi):
    """The value with lane 0 = ``lo`` and lane 1 = ``hi`` (uint64 each)."""
    if not (isinstance(lo, types.Integer) and isinstance(hi, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        lo_ = context.cast(builder, args[0], sig.args[0], types.uint64)
        hi_ = context.cast(builder, args[1], sig.args[1], types.uint64)
        v = ir.Constant(_V2, None)
        v = builder.insert_element(v, lo_, ir.Constant(_I32, 0))
        return builder.insert_element(v, hi_, ir.Constant(_I32, 1))

    return m128(lo, hi), codegen


def _lane(idx):
    @intrinsic
    def lane(typingctx, v):
        if v != m128:
            return None

        def codegen(context, builder, sig, args):
            return builder.extract_element(args[0], ir.Constant(_I32, idx))

        return types.uint64(v), codegen

    return lane


m128_lo = _lane(0)
m128_hi = _lane(1)


def _shuffle2(mask):
    @intrinsic
    def shuf(typingctx, v):
        if v != m128:
            return None

        def codegen(context, builder, sig, args):
            zero = ir.Constant(_V2, None)
            return builder.shuffle_vector(args[0], zero, ir.Constant(ir.VectorType(_I32, 2), mask))

        return m128(v), codegen

    return shuf


#: swap the two 64-bit lanes
m128_swap = _shuffle2([1, 0])
#: the 128-bit value shifted left by 64 bits (lane 1 = old lane 0, lane 0 = 0)
m128_shl64 = _shuffle2([2, 0])
#: the 128-bit value shifted right by 64 bits (lane 0 = old lane 1, lane 1 = 0)
m128_shr64 = _shuffle2([1, 2])


def _aes_op(llname):
    @intrinsic
    def op(typingctx, state, rkey):
        if not (state == m128 and rkey == m128):
            return None

        def codegen(context, builder, sig, args):
            fn = _decl(builder, llname, _V2, [_V2, _V2])
            return builder.call(fn, [args[0], args[1]])

        return m128(state, rkey), codegen

    return op


#: one AES round (ShiftRows, SubBytes, MixColumns, AddRoundKey) — FIPS 197 §5.1
aesenc = _aes_op("llvm.x86.aesni.aesenc")
#: the last AES round (no MixColumns)
aesenclast = _aes_op("llvm.x86.aesni.aesenclast")


def _clmul(imm):
    @intrinsic
    def op(typingctx, a, b):
        if not (a == m128 and b == m128):
            return None

        def codegen(context, builder, sig, args):
            fn = _decl(builder, "llvm.x86.pclmulqdq", _V2, [_V2, _V2, _I8])
            return builder.call(fn, [args[0], args[1], ir.Constant(_I8, imm)])

        return m128(a, b), codegen

    return op


#: carry-less products of the selected 64-bit lanes: a.lo*b.lo, a.hi*b.lo, a.lo*b.hi, a.hi*b.hi
clmul_ll = _clmul(0x00)
clmul_hl = _clmul(0x01)
clmul_lh = _clmul(0x10)
clmul_hh = _clmul(0x11)


def _v4(builder, v):
    return builder.bitcast(v, ir.VectorType(_I32, 4))


def _pslldq4(builder, v4):
    zero = ir.Constant(ir.VectorType(_I32, 4), None)
    return builder.shuffle_vector(v4, zero, ir.Constant(ir.VectorType(_I32, 4), [4, 0, 1, 2]))


def _bcast(builder, v4, i):
    return builder.shuffle_vector(v4, v4, ir.Constant(ir.VectorType(_I32, 4), [i] * 4))


def _expand_step(builder, prev4, assist4, lane):
    """prev ^ (prev<<32) ^ (prev<<64) ^ (prev<<96) ^ broadcast(assist[lane])."""
    t = prev4
    s = prev4
    for _ in range(3):
        s = _pslldq4(builder, s)
        t = builder.xor(t, s)
    return builder.xor(t, _bcast(builder, assist4, lane))


_RCON = (0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x1B, 0x36)


@intrinsic
def aes_expand_key_ni(typingctx, key, rk):
    """AES key expansion (FIPS 197 §5.2) with AESKEYGENASSIST.

    ``key`` is 16 or 32 bytes (decided at run time by its length: both
    schedules are emitted and one is selected by a branch on the *public* key
    length); ``rk`` receives 11 or 15 round keys of 16 bytes.
    """
    if not (_is_u8_array(key) and _is_u8_array(rk)):
        return None

    def codegen(context, builder, sig, args):
        kty, rty = sig.args
        kary = context.make_array(kty)(context, builder, args[0])
        klen = builder.extract_value(kary.shape, 0)
        assist = _decl(builder, "llvm.x86.aesni.aeskeygenassist", _V2, [_V2, _I8])
        zero = ir.Constant(ir.IntType(types.intp.bitwidth), 0)

        def kptr(off):
            return _byte_ptr(context, builder, kty, args[0], ir.Constant(zero.type, off), types.intp)

        def rptr(i):
            return _byte_ptr(context, builder, rty, args[1], ir.Constant(zero.type, 16 * i), types.intp)

        is256 = builder.icmp_unsigned("==", klen, ir.Constant(klen.type, 32))
        with builder.if_else(is256) as (then256, then128):
            with then256:
                a = _load16(builder, kptr(0))
                b = _load16(builder, kptr(16))
                _store16(builder, a, rptr(0))
                _store16(builder, b, rptr(1))
                i = 2
                for r in range(7):
                    t = _v4(builder, builder.call(assist, [b, ir.Constant(_I8, _RCON[r])]))
                    a = builder.bitcast(_expand_step(builder, _v4(builder, a), t, 3), _V2)
                    _store16(builder, a, rptr(i))
                    i += 1
                    if r == 6:
                        break
                    t = _v4(builder, builder.call(assist, [a, ir.Constant(_I8, 0)]))
                    b = builder.bitcast(_expand_step(builder, _v4(builder, b), t, 2), _V2)
                    _store16(builder, b, rptr(i))
                    i += 1
            with then128:
                a = _load16(builder, kptr(0))
                _store16(builder, a, rptr(0))
                for r in range(10):
                    t = _v4(builder, builder.call(assist, [a, ir.Constant(_I8, _RCON[r])]))
                    a = builder.bitcast(_expand_step(builder, _v4(builder, a), t, 3), _V2)
                    _store16(builder, a, rptr(r + 1))
        return context.get_dummy_value()

    return types.none(key, rk), codegen


# ------------------------------------------------------------------ ChaCha20 x8


def _splat8(builder, scalar):
    v = ir.Constant(_V8, None)
    v = builder.insert_element(v, scalar, ir.Constant(_I32, 0))
    return builder.shuffle_vector(v, v, ir.Constant(_V8, [0] * 8))


@intrinsic
def chacha20_x8(typingctx, state, src, soff, dst, doff):
    """dst[doff:doff+512] = src[soff:soff+512] XOR eight ChaCha20 blocks.

    ``state`` is the 16-word initial state (uint32, RFC 8439 §2.3); block j
    uses counter ``state[12] + j`` (mod 2^32). The blocks are computed side by
    side in ``<8 x i32>`` vectors (lane j = block j), 10 double rounds
    unrolled, then transposed with shuffles and XORed 32 bytes at a time.
    """
    if not (
        isinstance(state, types.Array)
        and state.dtype == types.uint32
        and _is_u8_array(src)
        and _is_u8_array(dst)
        and isinstance(soff, types.Integer)
        and isinstance(doff, types.Integer)
    ):
        return None

    def codegen(context, builder, sig, args):
        sty, srcty, soty, dty, doty = sig.args
        sary = context.make_array(sty)(context, builder, args[0])
        sdata = builder.bitcast(sary.data, _I32.as_pointer())
        fshl = _decl(builder, "llvm.fshl.v8i32", _V8, [_V8, _V8, _V8])
        init = []
        for i in range(16):
            w = builder.load(builder.gep(sdata, [ir.Constant(_I32, i)]))
            init.append(_splat8(builder, w))
        init[12] = builder.add(init[12], ir.Constant(_V8, list(range(8))))
        x = list(init)

        def rotl(v, n):
            return builder.call(fshl, [v, v, ir.Constant(_V8, [n] * 8)])

        def qr(a, b, c, d):
            x[a] = builder.add(x[a], x[b])
            x[d] = rotl(builder.xor(x[d], x[a]), 16)
            x[c] = builder.add(x[c], x[d])
            x[b] = rotl(builder.xor(x[b], x[c]), 12)
            x[a] = builder.add(x[a], x[b])
            x[d] = rotl(builder.xor(x[d], x[a]), 8)
            x[c] = builder.add(x[c], x[d])
            x[b] = rotl(builder.xor(x[b], x[c]), 7)

        for _ in range(10):
            qr(0, 4, 8, 12)
            qr(1, 5, 9, 13)
            qr(2, 6, 10, 14)
            qr(3, 7, 11, 15)
            qr(0, 5, 10, 15)
            qr(1, 6, 11, 12)
            qr(2, 7, 8, 13)
            qr(3, 4, 9, 14)
        x = [builder.add(x[i], init[i]) for i in range(16)]

        # transpose each 8x8 half (rows = words, columns = blocks) by three
        # butterfly stages of two-input shuffles
        def transpose(rows):
            rows = list(rows)
            for d in (1, 2, 4):
                out = list(rows)
                for i in range(8):
                    if i & d:
                        continue
                    m_lo = [c if not (c & d) else 8 + c - d for c in range(8)]
                    m_hi = [c + d if not (c & d) else 8 + c for c in range(8)]
                    out[i] = builder.shuffle_vector(rows[i], rows[i + d], ir.Constant(_V8, m_lo))
                    out[i + d] = builder.shuffle_vector(rows[i], rows[i + d], ir.Constant(_V8, m_hi))
                rows = out
            return rows

        lo = transpose(x[:8])
        hi = transpose(x[8:])
        ip = ir.IntType(types.intp.bitwidth)
        sbase = _byte_ptr(context, builder, srcty, args[1], args[2], soty)
        dbase = _byte_ptr(context, builder, dty, args[3], args[4], doty)
        for j in range(8):
            for half, rows in ((0, lo), (1, hi)):
                off = ir.Constant(ip, 64 * j + 32 * half)
                sp = builder.bitcast(builder.gep(sbase, [off]), _V8.as_pointer())
                dp = builder.bitcast(builder.gep(dbase, [off]), _V8.as_pointer())
                v = builder.xor(builder.load(sp, align=1), rows[j])
                builder.store(v, dp, align=1)
        return context.get_dummy_value()

    return types.none(state, src, soff, dst, doff), codegen


# ------------------------------------------------------------------ Poly1305 radix 2^64


@intrinsic
def poly1305_mulmod(typingctx, h0, h1, h2, r0, r1, s1):
    """(h0 + h1·2^64 + h2·2^128) · r, partially reduced mod 2^130 - 5.

    RFC 8439 §2.5 arithmetic in radix 2^64 (the clamped r has r1 ≡ 0 mod 4,
    so 2^128·r1 ≡ s1 = r1 + r1/4). Products are LLVM ``i128`` multiplies
    (MUL/MULX on x86-64). Needs h2 < 8; returns (h0, h1, h2) with h2 <= 4.
    """
    if not all(isinstance(t, types.Integer) for t in (h0, h1, h2, r0, r1, s1)):
        return None
    rty = types.UniTuple(types.uint64, 3)

    def codegen(context, builder, sig, args):
        vals = [context.cast(builder, a, t, types.uint64) for a, t in zip(args, sig.args)]
        h0, h1, h2, r0, r1, s1 = vals
        w = [builder.zext(v, _I128) for v in (h0, h1, r0, r1, s1)]
        h0w, h1w, r0w, r1w, s1w = w
        mul, add = builder.mul, builder.add
        c64 = ir.Constant(_I128, 64)
        # d0 = h0 r0 + h1 s1 ; d1 = h0 r1 + h1 r0 + h2 s1 ; d2 = h2 r0   (each < 2^127)
        d0 = add(mul(h0w, r0w), mul(h1w, s1w))
        d1 = add(add(mul(h0w, r1w), mul(h1w, r0w)), builder.zext(builder.mul(h2, s1), _I128))
        d1 = add(d1, builder.lshr(d0, c64))
        o0 = builder.trunc(d0, _I64)
        o1 = builder.trunc(d1, _I64)
        d2 = builder.add(builder.mul(h2, r0), builder.trunc(builder.lshr(d1, c64), _I64))
        # fold 2^130 = 5: c = (d2 >> 2)·5 = (d2 & ~3) + (d2 >> 2)  (< 2^64 for h2 < 8)
        o2 = builder.and_(d2, ir.Constant(_I64, 3))
        c = builder.add(builder.and_(d2, ir.Constant(_I64, -4)), builder.lshr(d2, ir.Constant(_I64, 2)))
        base = builder.or_(builder.zext(o0, _I128), builder.shl(builder.zext(o1, _I128), c64))
        t = add(base, builder.zext(c, _I128))
        carry = builder.zext(builder.icmp_unsigned("<", t, base), _I64)  # carry out of 2^128
        o0 = builder.trunc(t, _I64)
        o1 = builder.trunc(builder.lshr(t, c64), _I64)
        o2 = builder.add(o2, carry)
        return context.make_tuple(builder, rty, [o0, o1, o2])

    return rty(h0, h1, h2, r0, r1, s1), codegen


# ------------------------------------------------------------------ constant time


@intrinsic
def value_barrier(typingctx, x):
    """``x`` unchanged, passed through an empty inline-asm statement that LLVM
    cannot look into, so nothing after it is specialised on how ``x`` was made.

    A tag check ORs the byte differences together and branches once on the
    result. Without the barrier LLVM may see that the OR is zero exactly when
    every byte matches and split it into one early-exit branch per byte: it did
    so for ChaCha20-Poly1305's 16-byte compare (found by tests/test_ctgrind_numba.py),
    and the time of a failed decrypt then tells how many leading bytes of a
    forged tag were right. The asm emits no instruction.
    """
    if not isinstance(x, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        ty = context.get_value_type(sig.args[0])
        return builder.asm(ir.FunctionType(ty, [ty]), "", "=r,0", [args[0]], side_effect=True)

    return x(x), codegen


__all__ = [
    "jit_module_functions",
    "compile_stats",
    "dispatcher_asm",
    "m128",
    "m128_load",
    "m128_load_be",
    "m128_store",
    "m128_store_be",
    "m128_xor",
    "m128_make",
    "m128_lo",
    "m128_hi",
    "m128_swap",
    "m128_shl64",
    "m128_shr64",
    "aesenc",
    "aesenclast",
    "clmul_ll",
    "clmul_hl",
    "clmul_lh",
    "clmul_hh",
    "aes_expand_key_ni",
    "chacha20_x8",
    "poly1305_mulmod",
    "value_barrier",
]



# ------------------------------------------------------------------ GHASH pieces (SP 800-38D §6.3-6.4)
#
# Field elements are held as the block read as a big-endian 128-bit integer
# (bit 127 = coefficient of x^0). In that "reflected" form a carry-less
# product of a and b is y^254·A(1/y)·B(1/y), and the field product is
# a·b·y^-127 mod g with g = y^128 + y^127 + y^126 + y^121 + 1. With the
# multiplier twisted once, H' = h·y mod g, each multiplication is a
# Montgomery product a·H'·y^-128 mod g, reduced 64 bits at a time by
# carry-less multiplications with 0xC200000000000000 (g's middle terms).
# The reduction is linear, so several unreduced products can be summed and
# reduced once (aggregated GHASH with H'^1..H'^8).


def _clmul_ir(builder, a, b, imm):
    fn = _decl(builder, "llvm.x86.pclmulqdq", _V2, [_V2, _V2, _I8])
    return builder.call(fn, [a, b, ir.Constant(_I8, imm)])


def _reduce_ir(builder, lo, hi, mid):
    """Reduce the 256-bit (hi·2^128 ^ mid·2^64 ^ lo) by y^-128 mod g."""
    zero = ir.Constant(_V2, None)
    mask2 = ir.VectorType(_I32, 2)
    lo = builder.xor(lo, builder.shuffle_vector(mid, zero, ir.Constant(mask2, [2, 0])))
    hi = builder.xor(hi, builder.shuffle_vector(mid, zero, ir.Constant(mask2, [1, 2])))
    poly = ir.Constant(_V2, [0xC200000000000000 - (1 << 64), 0])
    for _ in range(2):
        t = _clmul_ir(builder, lo, poly, 0x00)
        lo = builder.xor(builder.shuffle_vector(lo, lo, ir.Constant(mask2, [1, 0])), t)
    return builder.xor(hi, lo)


@intrinsic
def gf_reduce(typingctx, lo, hi, mid):
    """Montgomery-reduce an unreduced GHASH product sum (see above)."""
    if not (lo == m128 and hi == m128 and mid == m128):
        return None

    def codegen(context, builder, sig, args):
        return _reduce_ir(builder, *args)

    return m128(lo, hi, mid), codegen


@intrinsic
def gf_mul(typingctx, a, h):
    """a·H'·y^-128 mod g: one GHASH multiplication by a twisted H'."""
    if not (a == m128 and h == m128):
        return None

    def codegen(context, builder, sig, args):
        x, y = args
        lo = _clmul_ir(builder, x, y, 0x00)
        hi = _clmul_ir(builder, x, y, 0x11)
        mid = builder.xor(_clmul_ir(builder, x, y, 0x01), _clmul_ir(builder, x, y, 0x10))
        return _reduce_ir(builder, lo, hi, mid)

    return m128(a, h), codegen


@intrinsic
def m128_bswap(typingctx, v):
    """Byte-reverse a 128-bit value (little-endian bytes <-> big-endian integer)."""
    if v != m128:
        return None

    def codegen(context, builder, sig, args):
        return _bswap16(builder, args[0])

    return m128(v), codegen


__all__ += ["gf_reduce", "gf_mul", "m128_bswap"]


# ------------------------------------------------------------------ scalar loads (hw tier helpers)


def _scalar_load(bits, swap):
    ity = ir.IntType(bits)
    nty = types.uint64 if bits == 64 else types.uint32

    @intrinsic
    def load(typingctx, arr, off):
        if not (_is_u8_array(arr) and isinstance(off, types.Integer)):
            return None

        def codegen(context, builder, sig, args):
            ptr = _byte_ptr(context, builder, sig.args[0], args[0], args[1], sig.args[1])
            v = builder.load(builder.bitcast(ptr, ity.as_pointer()), align=1)
            if swap:
                fn = _decl(builder, f"llvm.bswap.i{bits}", ity, [ity])
                v = builder.call(fn, [v])
            return v

        return nty(arr, off), codegen

    return load


#: unaligned little-/big-endian loads of 64 and 32 bits (no reference counting,
#: unlike passing the array to a helper function inlined at the Numba IR level)
load_le64 = _scalar_load(64, False)
load_be64 = _scalar_load(64, True)
load_le32 = _scalar_load(32, False)

__all__ += ["load_le64", "load_be64", "load_le32"]


# ------------------------------------------------------------------ the m256 type (VAES / VPCLMULQDQ, 256-bit)

_V4 = ir.VectorType(_I64, 4)
_V32B = ir.VectorType(_I8, 32)


class M256Type(types.Type):
    """A 256-bit SIMD value (``<4 x i64>``): two 128-bit lanes, lane 0 low."""

    def __init__(self) -> None:
        super().__init__(name="m256")


m256 = M256Type()


@register_model(M256Type)
class _M256Model(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _V4)


def _bswap_lanes32(builder, v):
    b = builder.bitcast(v, _V32B)
    mask = [15 - i for i in range(16)] + [31 - i for i in range(16)]
    rev = builder.shuffle_vector(b, b, ir.Constant(ir.VectorType(_I32, 32), mask))
    return builder.bitcast(rev, _V4)


def _load32(builder, ptr):
    return builder.load(builder.bitcast(ptr, _V4.as_pointer()), align=1)


@intrinsic
def m256_load(typingctx, arr, off):
    """32 bytes at byte offset ``off`` (two blocks)."""
    if not (_is_u8_array(arr) and isinstance(off, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        return _load32(builder, _byte_ptr(context, builder, sig.args[0], args[0], args[1], sig.args[1]))

    return m256(arr, off), codegen


@intrinsic
def m256_load_be(typingctx, arr, off):
    """Two blocks, each read as a big-endian 128-bit integer (GCM bit order)."""
    if not (_is_u8_array(arr) and isinstance(off, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        v = _load32(builder, _byte_ptr(context, builder, sig.args[0], args[0], args[1], sig.args[1]))
        return _bswap_lanes32(builder, v)

    return m256(arr, off), codegen


@intrinsic
def m256_store(typingctx, arr, off, v):
    if not (_is_u8_array(arr) and isinstance(off, types.Integer) and v == m256):
        return None

    def codegen(context, builder, sig, args):
        ptr = _byte_ptr(context, builder, sig.args[0], args[0], args[1], sig.args[1])
        builder.store(args[2], builder.bitcast(ptr, _V4.as_pointer()), align=1)
        return context.get_dummy_value()

    return types.none(arr, off, v), codegen


@intrinsic
def m256_xor(typingctx, a, b):
    if not (a == m256 and b == m256):
        return None

    def codegen(context, builder, sig, args):
        return builder.xor(args[0], args[1])

    return m256(a, b), codegen


@intrinsic
def m256_bswap(typingctx, v):
    """Byte-reverse each 128-bit lane."""
    if v != m256:
        return None

    def codegen(context, builder, sig, args):
        return _bswap_lanes32(builder, args[0])

    return m256(v), codegen


@intrinsic
def m256_make(typingctx, lo, hi):
    """The 256-bit value with 128-bit lane 0 = ``lo`` and lane 1 = ``hi``."""
    if not (lo == m128 and hi == m128):
        return None

    def codegen(context, builder, sig, args):
        return builder.shuffle_vector(args[0], args[1], ir.Constant(ir.VectorType(_I32, 4), [0, 1, 2, 3]))

    return m256(lo, hi), codegen


@intrinsic
def m256_bcast(typingctx, v):
    """Both 128-bit lanes = ``v`` (round keys)."""
    if v != m128:
        return None

    def codegen(context, builder, sig, args):
        return builder.shuffle_vector(args[0], args[0], ir.Constant(ir.VectorType(_I32, 4), [0, 1, 0, 1]))

    return m256(v), codegen


def _lane128(idx):
    @intrinsic
    def lane(typingctx, v):
        if v != m256:
            return None

        def codegen(context, builder, sig, args):
            m = [2 * idx, 2 * idx + 1]
            return builder.shuffle_vector(args[0], args[0], ir.Constant(ir.VectorType(_I32, 2), m))

        return m128(v), codegen

    return lane


m256_lane0 = _lane128(0)
m256_lane1 = _lane128(1)


def _aes_op256(llname):
    @intrinsic
    def op(typingctx, state, rkey):
        if not (state == m256 and rkey == m256):
            return None

        def codegen(context, builder, sig, args):
            fn = _decl(builder, llname, _V4, [_V4, _V4])
            return builder.call(fn, [args[0], args[1]])

        return m256(state, rkey), codegen

    return op


#: VAES: one AES round on each of the two 128-bit lanes
aesenc256 = _aes_op256("llvm.x86.aesni.aesenc.256")
aesenclast256 = _aes_op256("llvm.x86.aesni.aesenclast.256")


def _clmul256(imm):
    @intrinsic
    def op(typingctx, a, b):
        if not (a == m256 and b == m256):
            return None

        def codegen(context, builder, sig, args):
            fn = _decl(builder, "llvm.x86.pclmulqdq.256", _V4, [_V4, _V4, _I8])
            return builder.call(fn, [args[0], args[1], ir.Constant(_I8, imm)])

        return m256(a, b), codegen

    return op


#: VPCLMULQDQ: the carry-less products of the selected 64-bit halves, per 128-bit lane
clmul256_ll = _clmul256(0x00)
clmul256_hl = _clmul256(0x01)
clmul256_lh = _clmul256(0x10)
clmul256_hh = _clmul256(0x11)

__all__ += [
    "m256", "m256_load", "m256_load_be", "m256_store", "m256_xor", "m256_bswap", "m256_make",
    "m256_bcast", "m256_lane0", "m256_lane1", "aesenc256", "aesenclast256",
    "clmul256_ll", "clmul256_hl", "clmul256_lh", "clmul256_hh",
]  # fmt: skip


def entry_point(dispatcher: Any, *example_args: Any) -> Any:
    """The compiled entry point of ``dispatcher`` for the Numba types of
    ``example_args`` (compiled, or loaded from the cache, now).

    Calling it skips the dispatcher's per-call type resolution (about half a
    microsecond for eight arguments). It performs no type check of its own, so
    callers must always pass arguments of exactly these types.
    """
    sig = tuple(numba.typeof(a) for a in example_args)
    return dispatcher.compile(sig)


@intrinsic
def m256_swap64(typingctx, v):
    """Swap the two 64-bit halves inside each 128-bit lane (Karatsuba middle terms)."""
    if v != m256:
        return None

    def codegen(context, builder, sig, args):
        return builder.shuffle_vector(args[0], args[0], ir.Constant(ir.VectorType(_I32, 4), [1, 0, 3, 2]))

    return m256(v), codegen


__all__ += ["m256_swap64"]

