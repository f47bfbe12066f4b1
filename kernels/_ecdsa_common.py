"""What every ECDSA P-256 backend shares and none of them times alone.

- Curve constants of P-256 (FIPS 186-4 §D.1.2.3; SEC 2 §2.4.2 secp256r1).
- A strict DER codec for ECDSA signatures (SEC 1 §C.5, X.690 DER): the decoder
  rejects every non-canonical encoding (long-form lengths below 128, leading
  zero bytes that are not needed, negative integers, trailing data).
- RFC 6979 §3.2 deterministic nonce generation with HMAC-SHA256 (written out
  on hashlib states, RFC 2104; or OpenSSL's HMAC for constant-time backends).
- SEC 1 §2.3.3/§2.3.4 uncompressed point encoding and parsing.
- The message representative e of SEC 1 §4.1.3 step 5 (SHA-256 is 256 bits,
  so e is the whole digest as an integer).

These helpers use Python's big integers and variable-time branching on public
data only (lengths, encodings); RFC 6979's HMACs are SHA-256 computations whose timing depends on
lengths, not on secret values.
"""

from __future__ import annotations

import hashlib
from hmac import digest as _hmac_one_shot

from cryptobench.errors import InvalidInput, InvalidKey, InvalidPoint, InvalidSignature

P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
A = P - 3
B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
GX = 0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296
GY = 0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5


def check_private_scalar(d: object) -> int:
    if isinstance(d, bool) or not isinstance(d, int):
        raise TypeError(f"private key must be an int, not {type(d).__name__}")
    if not 1 <= d < N:
        raise InvalidKey("private key must be in [1, n-1]")
    return d


def check_int(name: str, v: object) -> int:
    """``v`` if it is an int (not a bool); TypeError naming ``name`` otherwise."""
    if type(v) is int:  # the common case first: these run inside timed hot paths
        return v
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"{name} must be an int, not {type(v).__name__}")
    return v


def check_scalar(name: str, v: object) -> int:
    """An int in [1, n-1] (the hot paths' scalars); TypeError or InvalidInput."""
    if type(v) is int and 0 < v < N:
        return v
    if not 1 <= check_int(name, v) < N:
        raise InvalidInput(f"{name} must be in [1, n-1]")
    return v  # type: ignore[return-value]


#: field-mul's largest repetition count: the compiled kernels take a 64-bit count
#: (OverflowError beyond it), and 2^32 products already take minutes in C.
MAX_COUNT = 2**32 - 1


def check_count(count: object) -> int:
    """field-mul's repetition count: an int in [0, MAX_COUNT]."""
    if check_int("count", count) < 0:
        raise InvalidInput(f"count must be >= 0, got {count}")
    if count > MAX_COUNT:  # type: ignore[operator]
        raise InvalidInput(f"count must be at most 2^32 - 1, got {count}")
    return count  # type: ignore[return-value]


def check_q(q: object) -> tuple[int, int]:
    """double-scalar-mul's Q: an (x, y) pair of ints on the curve (TypeError,
    InvalidPoint). A triple or SEC 1 bytes gave 'too many values to unpack'."""
    if not isinstance(q, (tuple, list)) or len(q) != 2:
        raise TypeError(f"Q must be an (x, y) pair of ints, not {type(q).__name__}"
                        + (f" of {len(q)}" if isinstance(q, (tuple, list)) else ""))
    qx, qy = q
    if not on_curve(check_int("qx", qx), check_int("qy", qy)):
        raise InvalidPoint("Q is not a point on P-256")
    return qx, qy


def on_curve(x: int, y: int) -> bool:
    """y^2 = x^3 - 3x + b over GF(p), with coordinates reduced (SEC 1 §3.2.2.1)."""
    if not (0 <= x < P and 0 <= y < P):
        return False
    return (y * y - (x * x * x + A * x + B)) % P == 0


def decode_point(data: object) -> tuple[int, int]:
    """Parse an uncompressed SEC 1 point (04 || X || Y) and check it is on P-256.

    Raises InvalidPoint for the wrong length or prefix, coordinates >= p, or a
    point off the curve. (The point at infinity has no uncompressed encoding.)
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"public key must be bytes, not {type(data).__name__}")
    raw = bytes(data)
    if len(raw) != 65 or raw[0] != 4:
        raise InvalidPoint("public key must be a 65-byte uncompressed SEC 1 point (04 || X || Y)")
    x = int.from_bytes(raw[1:33], "big")
    y = int.from_bytes(raw[33:], "big")
    if not on_curve(x, y):
        raise InvalidPoint("public key is not a point on P-256")
    return x, y


def encode_point(x: int, y: int) -> bytes:
    return b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")


def message_representative(message: object) -> int:
    """e = SHA-256(message) as an integer (SEC 1 §4.1.3 step 5; bit length = 256)."""
    if not isinstance(message, (bytes, bytearray, memoryview)):
        raise TypeError(f"message must be bytes, not {type(message).__name__}")
    return int.from_bytes(hashlib.sha256(message).digest(), "big")


# RFC 6979 nonces with HMAC-SHA256 written out on hashlib states (RFC 2104:
# H((K ^ opad) || H((K ^ ipad) || m)), the 32-byte key zero-padded to the
# 64-byte block): each key's two padded states are hashed once and copied for
# its two HMACs, and the first key (all zeros) is hashed once at import. About
# 3 us faster per signature than calling hmac.new four-plus times, which
# matters to the pure-Python signer; tests/test_python_ecdsa_p256.py checks it
# against the hmac module.
_sha256 = hashlib.sha256
_IPAD = bytes(i ^ 0x36 for i in range(256))
_OPAD = bytes(i ^ 0x5C for i in range(256))
_K0_PADS = (_sha256(b"\x36" * 64), _sha256(b"\x5c" * 64))


def _hmac_pads(key: bytes):
    kp = key + bytes(32)
    return _sha256(kp.translate(_IPAD)), _sha256(kp.translate(_OPAD))


def _hmac(pads, msg: bytes) -> bytes:
    inner = pads[0].copy()
    inner.update(msg)
    outer = pads[1].copy()
    outer.update(inner.digest())
    return outer.digest()


def _hmac_ct(key: bytes, msg: bytes) -> bytes:
    return _hmac_one_shot(key, msg, "sha256")


def _same(key: bytes) -> bytes:
    return key


def rfc6979_candidates(x: bytes, e: int, *, constant_time: bool = False):
    """RFC 6979 §3.2 steps b-h for P-256/SHA-256: every candidate T of step h
    (as 32 big-endian bytes; qlen = hlen = 256, so T = V and bits2int(T) is T
    as an integer), in order. x = int2octets(d) and e the message
    representative (bits2octets(h1) = e mod n).

    The caller takes the first candidate that is in [1, n-1] and, per §3.4
    (and SEC 1 §4.1.3 step 1), the next one whenever a candidate gives r = 0
    or s = 0; asking for the next candidate runs step h.3.

    The HMACs are the hashlib-state ones above unless ``constant_time``:
    their ``bytes.translate`` indexes a table with bytes of the secret HMAC
    key, so backends that claim constant time ask for ``hmac.digest``
    (OpenSSL's HMAC; about 3 us slower per signature)."""
    if constant_time:
        setkey, mac, key = _same, _hmac_ct, bytes(32)
    else:
        setkey, mac, key = _hmac_pads, _hmac, _K0_PADS
    xh = x + (e % N).to_bytes(32, "big")
    v = b"\x01" * 32
    k = mac(key, v + b"\x00" + xh)  # step d (K = 0x00 * 32)
    key = setkey(k)
    v = mac(key, v)  # e
    k = mac(key, v + b"\x01" + xh)  # f
    key = setkey(k)
    v = mac(key, v)  # g
    while True:  # h
        v = mac(key, v)
        yield v
        k = mac(key, v + b"\x00")  # h.3
        key = setkey(k)
        v = mac(key, v)


def rfc6979_k(x: bytes, e: int) -> int:
    """The first RFC 6979 candidate in [1, n-1] (see :func:`rfc6979_candidates`)."""
    for t in rfc6979_candidates(x, e):
        cand = int.from_bytes(t, "big")
        if 1 <= cand < N:
            return cand
    raise AssertionError("unreachable")  # the generator never ends


def rfc6979_nonce(d: int, digest: bytes) -> int:
    """Deterministic k for ECDSA P-256 with SHA-256 (RFC 6979 §3.2, steps a-h)."""
    return rfc6979_k(d.to_bytes(32, "big"), int.from_bytes(digest, "big"))


def _der_int(v: int) -> bytes:
    body = v.to_bytes((v.bit_length() + 8) // 8, "big")  # one spare bit keeps it positive
    return b"\x02" + bytes([len(body)]) + body


def encode_der(r: int, s: int) -> bytes:
    """DER SEQUENCE { INTEGER r, INTEGER s } (SEC 1 §C.5)."""
    body = _der_int(r) + _der_int(s)
    if len(body) < 128:
        return b"\x30" + bytes([len(body)]) + body
    return b"\x30\x81" + bytes([len(body)]) + body


def _read_len(buf: bytes, i: int) -> tuple[int, int]:
    if i >= len(buf):
        raise InvalidSignature("DER: truncated length")
    first = buf[i]
    if first < 0x80:
        return first, i + 1
    if first == 0x81:
        if i + 1 >= len(buf):
            raise InvalidSignature("DER: truncated length")
        n = buf[i + 1]
        if n < 0x80:
            raise InvalidSignature("DER: non-minimal length encoding")
        return n, i + 2
    raise InvalidSignature("DER: unsupported or non-minimal length encoding")


def _read_int(buf: bytes, i: int) -> tuple[int, int]:
    if i >= len(buf) or buf[i] != 0x02:
        raise InvalidSignature("DER: expected INTEGER")
    n, i = _read_len(buf, i + 1)
    if n == 0 or i + n > len(buf):
        raise InvalidSignature("DER: bad INTEGER length")
    body = buf[i : i + n]
    if body[0] & 0x80:
        raise InvalidSignature("DER: negative INTEGER")
    if n > 1 and body[0] == 0 and not body[1] & 0x80:
        raise InvalidSignature("DER: non-minimal INTEGER (leading zero)")
    if n > 33:
        raise InvalidSignature("DER: INTEGER too long for P-256")
    return int.from_bytes(body, "big"), i + n


def decode_der(sig: object) -> tuple[int, int]:
    """Strictly decode a DER ECDSA signature; raise InvalidSignature otherwise.

    Range checks on r and s are left to the caller (verify), which must reject
    values outside [1, n-1].
    """
    if not isinstance(sig, (bytes, bytearray, memoryview)):
        raise TypeError(f"signature must be bytes, not {type(sig).__name__}")
    buf = bytes(sig)
    if len(buf) < 2 or buf[0] != 0x30:
        raise InvalidSignature("DER: expected SEQUENCE")
    n, i = _read_len(buf, 1)
    if i + n != len(buf):
        raise InvalidSignature("DER: SEQUENCE length does not match the data")
    r, i = _read_int(buf, i)
    s, i = _read_int(buf, i)
    if i != len(buf):
        raise InvalidSignature("DER: trailing data inside SEQUENCE")
    return r, s


def check_rs(r: object, s: object) -> tuple[int, int]:
    """r and s must be ints in [1, n-1] (SEC 1 §4.1.4 step 1)."""
    for v in (r, s):
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f"r and s must be ints, not {type(v).__name__}")
    if not (1 <= r < N and 1 <= s < N):
        raise InvalidSignature("r and s must be in [1, n-1]")
    return r, s
