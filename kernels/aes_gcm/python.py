"""AES-128/256-GCM in pure Python (standard library only).

Follows FIPS 197 (AES: S-box §5.1.1, ShiftRows §5.1.2, MixColumns §5.1.3,
KeyExpansion §5.2) and NIST SP 800-38D (inc32 §6.2, GF(2^128) multiplication
§6.3, GHASH §6.4, GCTR §6.5, GCM-AE §7.1 and GCM-AD §7.2), with any IV length
of 1 byte or more (a 96-bit IV takes the J0 = IV || 0^31 || 1 fast path; other
lengths derive J0 through GHASH) and tags of 4 to 16 bytes.

**Not constant-time.** Both halves use tables indexed by secret data, which
leaks through the CPU caches, and CPython's big-integer arithmetic takes time
that depends on the values:

* AES runs *byte-sliced* over all counter blocks of a message at once. The
  state is kept as 16 "lanes", lane ``i`` holding state byte ``i`` of every
  block (one byte per block). SubBytes is one ``bytes.translate`` per lane
  through a 256-byte table into which the preceding round key byte is folded
  (``T[x] = S(x ^ k)``); ShiftRows is free (lanes are renamed); MixColumns
  XORs whole lanes as Python integers, with xtime done for every byte of a
  lane by shifts and masks. The cost per round is a few dozen C-level
  operations on ``n``-byte buffers for ``n`` blocks, whatever ``n`` is, which
  is why a long message is cheap per byte.
* Up to 16 blocks (``_SMALL_MAX_BLOCKS``, measured crossover) the fixed cost
  of 16 lanes dominates, so those blocks stay one block-major integer instead:
  SubBytes is one ``translate``, ShiftRows one ``itemgetter``, MixColumns
  rotates the 32-bit column words with shifts and masks, AddRoundKey XORs the
  round key repeated over the blocks. Both paths give the same bytes (tested);
  the choice depends only on the number of blocks, never on the data.
* GHASH multiplies by H with sixteen per-key tables of 256 entries
  (``T_k[b] = (b · x^(8k)) · H``), so ``Y · H`` is sixteen lookups and XORs
  of 128-bit integers per block (Shoup's table method, 8-bit digits).

Per-key work (key expansion, 160 or 224 S-box tables of 256 bytes, H and the
4096 GHASH table entries) happens in :meth:`AESGCM.new` and in the hot-path
setup functions, never per message.
"""

from __future__ import annotations

import hmac
import sys
from array import array
from operator import itemgetter

from cryptobench.errors import InvalidKey, InvalidLength, InvalidNonce, InvalidTag
from cryptobench.kernels._aead_common import GCMParameters, check_aes_key, check_bytes, check_sized
from cryptobench.registry import Kernel

__all__ = ["AESGCM", "register"]

_fb = int.from_bytes

# --------------------------------------------------------------------------
# GF(2^8) and the S-box (FIPS 197 §4.2, §5.1.1)


def _xtime(b: int) -> int:
    """b · x in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1 (FIPS 197 §4.2.1)."""
    b <<= 1
    return b ^ 0x11B if b & 0x100 else b


def _make_sbox() -> bytes:
    # exp/log tables for the generator 0x03, then the inverse and the affine map.
    exp = [0] * 255
    log = [0] * 256
    x = 1
    for i in range(255):
        exp[i] = x
        log[x] = i
        x ^= _xtime(x)  # x · 3
    sbox = bytearray(256)
    for a in range(256):
        inv = exp[(255 - log[a]) % 255] if a else 0
        s = inv
        for shift in range(1, 5):
            s ^= ((inv << shift) | (inv >> (8 - shift))) & 0xFF
        sbox[a] = s ^ 0x63
    return bytes(sbox)


_SBOX = _make_sbox()

# ShiftRows (FIPS 197 §5.1.2) as a lane renaming: output byte j = r + 4c comes
# from input byte SR_SRC[j] = r + 4((c + r) mod 4).
_SR_SRC = tuple(r + 4 * ((c + r) % 4) for c in range(4) for r in range(4))

_XOR_PERMS: list[bytes] = []  # _XOR_PERMS[k][x] = x ^ k, built on first key setup


def _xor_perms() -> list[bytes]:
    if not _XOR_PERMS:
        ident = _fb(bytes(range(256)), "big")
        ones = _fb(b"\x01" * 256, "big")
        # one slice assignment, so racing threads write the same 256 entries
        _XOR_PERMS[:] = [(ident ^ (k * ones)).to_bytes(256, "big") for k in range(256)]
    return _XOR_PERMS


# --------------------------------------------------------------------------
# Key expansion (FIPS 197 §5.2) and the per-key translate tables


def _expand_round_keys(key: bytes) -> list[bytes]:
    """The Nr + 1 round keys of FIPS 197 §5.2, each as 16 bytes."""
    nk = len(key) // 4
    nr = nk + 6
    w = [list(key[4 * i : 4 * i + 4]) for i in range(nk)]
    rcon = 1
    sbox = _SBOX
    for i in range(nk, 4 * (nr + 1)):
        t = list(w[i - 1])
        if i % nk == 0:
            t = [sbox[t[1]] ^ rcon, sbox[t[2]], sbox[t[3]], sbox[t[0]]]  # SubWord(RotWord) ^ Rcon
            rcon = _xtime(rcon)
        elif nk > 6 and i % nk == 4:
            t = [sbox[b] for b in t]
        w.append([a ^ b for a, b in zip(w[i - nk], t)])
    return [bytes(w[4 * r] + w[4 * r + 1] + w[4 * r + 2] + w[4 * r + 3]) for r in range(nr + 1)]


class _Schedule:
    """An expanded AES key: round keys plus, per round and state byte, the
    256-byte table ``x -> S(x ^ k)`` (AddRoundKey folded into SubBytes), and for
    the last round ``x -> S(x ^ k_(Nr-1)) ^ k_Nr`` in ShiftRows order."""

    __slots__ = ("nr", "round_keys", "tables", "final", "small")

    def __init__(self, key: bytes) -> None:
        perms = _xor_perms()
        sbox = _SBOX
        rks = _expand_round_keys(key)
        nr = len(rks) - 1
        self.nr = nr
        self.round_keys = rks
        self.tables = [[perms[k].translate(sbox) for k in rks[r]] for r in range(nr - 1)]
        before, last = rks[nr - 1], rks[nr]
        self.final = [
            perms[before[_SR_SRC[j]]].translate(sbox).translate(perms[last[j]]) for j in range(16)
        ]
        self.small: dict[int, list[int]] = {}  # n -> round keys repeated over n blocks

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _Schedule):
            return NotImplemented
        return (self.round_keys, self.tables, self.final) == (
            other.round_keys,
            other.tables,
            other.final,
        )

    __hash__ = None  # type: ignore[assignment]


_U32 = "I" if array("I").itemsize == 4 else "L"
_LITTLE = sys.byteorder == "little"
_REP_CACHE: dict[int, int] = {}


def _rep01(n: int) -> int:
    """The integer whose n bytes are all 0x01."""
    r = _REP_CACHE.get(n)
    if r is None:
        r = _fb(b"\x01" * n, "big")
        if len(_REP_CACHE) < 64:
            _REP_CACHE[n] = r
    return r


#: Up to this many blocks, _keystream_small (whole state as one integer) is
#: faster than the byte-sliced lanes; above it the lanes win.
_SMALL_MAX_BLOCKS = 16
_SMALL_MASKS: dict[int, tuple] = {}


def _small_masks(n: int) -> tuple:
    m = _SMALL_MASKS.get(n)
    if m is None:
        sr = itemgetter(*[16 * b + _SR_SRC[j] for b in range(n) for j in range(16)])
        rep = _fb(b"\x01" * (16 * n), "big")
        m = (
            sr,
            rep,
            rep * 0xFE,
            _fb(b"\xff\xff\xff\x00" * (4 * n), "big"),
            _fb(b"\x00\x00\x00\xff" * (4 * n), "big"),
            _fb(b"\xff\xff\x00\x00" * (4 * n), "big"),
            _fb(b"\x00\x00\xff\xff" * (4 * n), "big"),
        )
        _SMALL_MASKS[n] = m
    return m


def _keystream_small(sched: _Schedule, cb: bytes, n: int) -> bytes:
    """Like _keystream for a few blocks: the n blocks stay one block-major
    integer; SubBytes is one translate, ShiftRows one itemgetter, MixColumns
    rotates 32-bit column words with shifts and masks, and AddRoundKey XORs the
    round key repeated n times."""
    sr, rep, mfe, m24, m8, m16h, m16l = _small_masks(n)
    rks = sched.small.get(n)
    if rks is None:
        rks = sched.small[n] = [_fb(rk * n, "big") for rk in sched.round_keys]
    c0 = _fb(cb[12:16], "big")
    prefix = cb[:12]
    blocks = b"".join([prefix + ((c0 + i) & 0xFFFFFFFF).to_bytes(4, "big") for i in range(n)])
    nb = 16 * n
    sbox = _SBOX
    s = _fb(blocks, "big") ^ rks[0]
    for rk in rks[1:-1]:
        a = _fb(bytes(sr(s.to_bytes(nb, "big").translate(sbox))), "big")
        t = a ^ (((a << 8) & m24) | ((a >> 24) & m8))  # s_r ^ s_(r+1)
        s = (
            a
            ^ t
            ^ (((t << 16) & m16h) | ((t >> 16) & m16l))  # t ^ rot2(t) = s0^s1^s2^s3
            ^ ((t << 1) & mfe)
            ^ (((t >> 7) & rep) * 27)  # xtime(t)
            ^ rk
        )
    s = _fb(bytes(sr(s.to_bytes(nb, "big").translate(sbox))), "big") ^ rks[-1]
    return s.to_bytes(nb, "big")


def _keystream(sched: _Schedule, cb: bytes, n: int) -> bytearray | bytes:
    """E_K(CB), E_K(inc32(CB)), ... for n >= 1 blocks (SP 800-38D §6.2, §6.5),
    concatenated; cb must be 16 bytes. Byte-sliced AES over all n counter
    blocks at once (or _keystream_small for a few blocks)."""
    if n <= _SMALL_MAX_BLOCKS:
        return _keystream_small(sched, cb, n)
    rep = _rep01(n)
    mfe = rep * 0xFE
    c0 = _fb(cb[12:16], "big")
    end = c0 + n
    if end <= 1 << 32:
        ctrs = array(_U32, range(c0, end))
    else:  # inc32 wraps modulo 2^32
        ctrs = array(_U32, range(c0, 1 << 32))
        ctrs.extend(range(0, end - (1 << 32)))
    if _LITTLE:
        ctrs.byteswap()
    packed = ctrs.tobytes()

    tabs = sched.tables
    t0 = tabs[0]
    # Round 1 input: bytes 0..11 are the same in every block, bytes 12..15 count.
    u = [t0[i][cb[i]] * rep for i in range(12)]
    u += [_fb(packed[j::4].translate(t0[12 + j]), "big") for j in range(4)]
    nr = sched.nr
    r = 1
    while True:
        # ShiftRows (renaming) then MixColumns (FIPS 197 §5.1.3): for a column
        # s0..s3, out_r = s_r ^ (s0^s1^s2^s3) ^ xtime(s_r ^ s_(r+1)).
        lanes = []
        for a0, a1, a2, a3 in ((0, 5, 10, 15), (4, 9, 14, 3), (8, 13, 2, 7), (12, 1, 6, 11)):
            s0 = u[a0]
            s1 = u[a1]
            s2 = u[a2]
            s3 = u[a3]
            d0 = s0 ^ s1
            d1 = s1 ^ s2
            d2 = s2 ^ s3
            tot = d0 ^ d2
            x0 = ((d0 << 1) & mfe) ^ (((d0 >> 7) & rep) * 27)
            x1 = ((d1 << 1) & mfe) ^ (((d1 >> 7) & rep) * 27)
            x2 = ((d2 << 1) & mfe) ^ (((d2 >> 7) & rep) * 27)
            tot0 = tot ^ s0
            lanes.append(tot0 ^ x0)
            lanes.append(tot ^ s1 ^ x1)
            lanes.append(tot ^ s2 ^ x2)
            lanes.append(tot ^ s3 ^ x0 ^ x1 ^ x2)  # xtime(s3 ^ s0) = x0 ^ x1 ^ x2
        if r == nr - 1:
            break
        tab = tabs[r]
        u = [_fb(lane.to_bytes(n, "big").translate(t), "big") for lane, t in zip(lanes, tab)]
        r += 1
    # Last round: SubBytes, ShiftRows, AddRoundKey, written block-major.
    out = bytearray(16 * n)
    final = sched.final
    for j in range(16):
        out[j::16] = lanes[_SR_SRC[j]].to_bytes(n, "big").translate(final[j])
    return out


def _encrypt_block(sched: _Schedule, block: bytes) -> bytes:
    """E_K(block) for one 16-byte block (FIPS 197 §5.1 Cipher)."""
    return bytes(_keystream(sched, block, 1))


# --------------------------------------------------------------------------
# GHASH (SP 800-38D §6.3, §6.4)

_R = 0xE1 << 120


def _ghash_tables(h: bytes) -> list[list[int]]:
    """Sixteen tables T_k with T_k[b] = (b placed at byte k) · H.

    In GCM's bit order the leftmost bit of a block is the coefficient of x^0,
    so multiplying by x is a right shift with reduction by R = 0xE1 || 0^120.
    """
    v = _fb(h, "big")
    powers = []
    for _ in range(128):
        powers.append(v)  # x^i · H
        v = (v >> 1) ^ _R if v & 1 else v >> 1
    tables = []
    for k in range(16):
        t = [0]
        for j in range(8):  # bit j (from the right) of byte k is x^(8k + 7 - j)
            p = powers[8 * k + 7 - j]
            t += [e ^ p for e in t]
        tables.append(t)
    return tables


def _ghash_update(tables: list[list[int]], y: int, data: bytes) -> int:
    """Fold data (zero-padded to whole blocks) into the GHASH state y."""
    t0, t1, t2, t3, t4, t5, t6, t7, t8, t9, t10, t11, t12, t13, t14, t15 = tables
    full = len(data) & ~15
    blocks = [data[i : i + 16] for i in range(0, full, 16)]
    if full != len(data):
        blocks.append(bytes(data[full:]) + bytes(16 - (len(data) - full)))
    for x in map(_fb, blocks):  # int.from_bytes is big-endian by default (3.11+)
        b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12, b13, b14, b15 = (y ^ x).to_bytes(
            16, "big"
        )
        y = (
            t0[b0] ^ t1[b1] ^ t2[b2] ^ t3[b3] ^ t4[b4] ^ t5[b5] ^ t6[b6] ^ t7[b7]
            ^ t8[b8] ^ t9[b9] ^ t10[b10] ^ t11[b11] ^ t12[b12] ^ t13[b13] ^ t14[b14] ^ t15[b15]
        )
    return y


def _ghash_mul(tables: list[list[int]], y: int) -> int:
    """y · H for one 128-bit value."""
    b = y.to_bytes(16, "big")
    t = tables
    return (
        t[0][b[0]] ^ t[1][b[1]] ^ t[2][b[2]] ^ t[3][b[3]] ^ t[4][b[4]] ^ t[5][b[5]]
        ^ t[6][b[6]] ^ t[7][b[7]] ^ t[8][b[8]] ^ t[9][b[9]] ^ t[10][b[10]] ^ t[11][b[11]]
        ^ t[12][b[12]] ^ t[13][b[13]] ^ t[14][b[14]] ^ t[15][b[15]]
    )


# --------------------------------------------------------------------------
# GCM (SP 800-38D §7.1, §7.2)

_MAX_TEXT = (1 << 36) - 32  # 2^39 - 256 bits (§5.2.1.1)
_MAX_AAD_IV = (1 << 61) - 1  # 2^64 - 1 bits


def _as_bytes(b) -> bytes:
    return b if type(b) is bytes else bytes(b)


class _Context:
    __slots__ = ("_sched", "_htab", "_tag_length")

    def __init__(self, key: bytes, tag_length: int) -> None:
        self._sched = _Schedule(key)
        self._htab = _ghash_tables(_encrypt_block(self._sched, bytes(16)))
        self._tag_length = tag_length

    def _j0(self, nonce: bytes) -> bytes:
        if len(nonce) == 12:
            return nonce + b"\x00\x00\x00\x01"
        if not nonce:
            raise InvalidNonce("GCM IV must be at least 1 byte")
        if len(nonce) > _MAX_AAD_IV:
            raise InvalidNonce("GCM IV longer than 2^64 - 1 bits")
        y = _ghash_update(self._htab, 0, nonce)
        return _ghash_mul(self._htab, y ^ (len(nonce) * 8)).to_bytes(16, "big")

    def _tag_hash(self, aad: bytes, ct: bytes) -> int:
        htab = self._htab
        y = _ghash_update(htab, 0, aad) if aad else 0
        if ct:
            y = _ghash_update(htab, y, ct)
        return _ghash_mul(htab, y ^ ((len(aad) * 8) << 64) ^ (len(ct) * 8))

    def encrypt(self, nonce, plaintext, aad=b"") -> bytes:
        check_bytes(nonce=nonce, plaintext=plaintext, aad=aad)
        if len(plaintext) > _MAX_TEXT:  # before any copy
            raise InvalidLength("GCM plaintext longer than 2^39 - 256 bits")
        nonce = _as_bytes(nonce)
        plaintext = _as_bytes(plaintext)
        aad = _as_bytes(aad)
        n = len(plaintext)
        if n > _MAX_TEXT:
            raise InvalidLength("GCM plaintext longer than 2^39 - 256 bits")
        if len(aad) > _MAX_AAD_IV:
            raise InvalidLength("GCM AAD longer than 2^64 - 1 bits")
        j0 = self._j0(nonce)
        ks = _keystream(self._sched, j0, ((n + 15) >> 4) + 1)  # E(J0), then GCTR from inc32(J0)
        ct = b""
        if n:
            ct = _fb(plaintext, "big") ^ _fb(memoryview(ks)[16 : 16 + n], "big")
            ct = ct.to_bytes(n, "big")
        s = self._tag_hash(aad, ct) ^ _fb(memoryview(ks)[:16], "big")
        return ct + s.to_bytes(16, "big")[: self._tag_length]

    def decrypt(self, nonce, data, aad=b"") -> bytes:
        check_bytes(nonce=nonce, data=data, aad=aad)
        if len(data) - self._tag_length > _MAX_TEXT:  # before any copy
            raise InvalidLength("GCM ciphertext longer than 2^39 - 256 bits")
        nonce = _as_bytes(nonce)
        data = _as_bytes(data)
        aad = _as_bytes(aad)
        t = self._tag_length
        if len(data) < t:
            raise InvalidTag("ciphertext shorter than the tag")
        n = len(data) - t
        if n > _MAX_TEXT:
            raise InvalidLength("GCM ciphertext longer than 2^39 - 256 bits")
        if len(aad) > _MAX_AAD_IV:
            raise InvalidLength("GCM AAD longer than 2^64 - 1 bits")
        ct = data[:n]
        j0 = self._j0(nonce)
        s = self._tag_hash(aad, ct)
        ks = _keystream(self._sched, j0, ((n + 15) >> 4) + 1)
        s ^= _fb(memoryview(ks)[:16], "big")
        if not hmac.compare_digest(s.to_bytes(16, "big")[:t], data[n:]):
            raise InvalidTag("tag check failed")
        if not n:
            return b""
        return (_fb(ct, "big") ^ _fb(memoryview(ks)[16 : 16 + n], "big")).to_bytes(n, "big")


class AESGCM(GCMParameters):
    """The AEAD object of docs/kernels.md: AES-GCM for one key size."""

    def new(self, key, tag_length: int = 16) -> _Context:
        key, tag_length = self.checked(key, tag_length)
        return _Context(key, tag_length)


# --------------------------------------------------------------------------
# Hot paths (docs/kernels.md)


def _setup_key_expansion():
    def key_expansion(key):
        """FIPS 197 §5.2 round keys plus this kernel's per-round S-box tables."""
        return _Schedule(check_aes_key(key))

    return key_expansion


def _setup_ctr(key):
    sched = _Schedule(check_aes_key(key))

    def aes_ctr(counter_block, data):
        counter_block = check_sized("counter block", counter_block, 16)
        check_bytes(data=data)
        data = _as_bytes(data)
        n = len(data)
        if not n:
            return b""
        ks = _keystream(sched, counter_block, (n + 15) >> 4)
        return (_fb(data, "big") ^ _fb(memoryview(ks)[:n], "big")).to_bytes(n, "big")

    return aes_ctr


def _setup_ghash(h):
    tables = _ghash_tables(check_sized("H", h, 16, InvalidKey))

    def ghash(data):
        check_bytes(data=data)
        if len(data) % 16:
            raise InvalidLength("GHASH input must be a multiple of 16 bytes")
        return _ghash_update(tables, 0, _as_bytes(data)).to_bytes(16, "big")

    return ghash


def register(reg) -> None:
    for algorithm, size in (("aes-128-gcm", 16), ("aes-256-gcm", 32)):
        reg.add(
            Kernel(
                algorithm=algorithm,
                backend="python",
                available=True,
                constant_time=False,
                path="byteslice-translate",
                impl=AESGCM(size),
                hot_paths={
                    "key-expansion": _setup_key_expansion,
                    "aes-ctr": _setup_ctr,
                    "ghash": _setup_ghash,
                },
                description=(
                    "pure Python: byte-sliced AES over all blocks with bytes.translate "
                    "S-boxes, 8-bit-table GHASH (variable-time)"
                ),
            )
        )
