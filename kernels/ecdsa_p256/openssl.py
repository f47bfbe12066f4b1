"""ECDSA P-256 with SHA-256 through OpenSSL, via ``cryptography``.

The reference for the other ECDSA kernels. Signing uses RFC 6979
deterministic nonces (``deterministic_signing=True``, cryptography >= 44), so
signatures are reproducible and match the RFC vectors. OpenSSL's P-256
(nistz256 on x86-64) is constant-time for secret scalars. OpenSSL's verify
re-encodes the DER it parsed and compares, so non-canonical DER is rejected.

cryptography does not let the caller choose k, so SigGen vectors with a given
k are skipped for this backend; the only hot path it exposes is fixed-base
multiplication (deriving a public key from a scalar).

On a CPU with AVX-512 the same objects are also registered as
``openssl-noavx512``: OpenSSL started with ``OPENSSL_ia32cap`` clearing its
AVX-512 bits, the ISA of the team's target machines (kernels/_openssl_noavx512.py).
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature as _CInvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from cryptobench.errors import InvalidSignature
from cryptobench.kernels._aead_common import check_bytes
from cryptobench.kernels._ecdsa_common import check_private_scalar, check_rs, check_scalar, decode_point
from cryptobench.kernels._openssl_noavx512 import restricted
from cryptobench.registry import Kernel

_CURVE = ec.SECP256R1()
_SIGN = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
_VERIFY = ec.ECDSA(hashes.SHA256())


class PublicKey:
    __slots__ = ("_key", "encoded")

    def __init__(self, key: ec.EllipticCurvePublicKey, encoded: bytes) -> None:
        self._key = key
        self.encoded = encoded

    def verify(self, message, signature) -> None:
        check_bytes(message=message, signature=signature)
        try:
            self._key.verify(signature, message, _VERIFY)
        except _CInvalidSignature:
            raise InvalidSignature("signature did not verify") from None

    def verify_raw(self, message, r, s) -> None:
        check_rs(r, s)
        self.verify(message, encode_dss_signature(r, s))


class PrivateKey:
    __slots__ = ("_key",)

    def __init__(self, key: ec.EllipticCurvePrivateKey) -> None:
        self._key = key

    def sign(self, message) -> bytes:
        check_bytes(message=message)
        return self._key.sign(message, _SIGN)

    def sign_raw(self, message, k=None) -> tuple[int, int]:
        if k is not None:
            raise NotImplementedError("cryptography does not accept a caller-chosen k")
        return decode_dss_signature(self.sign(message))

    def public_key(self) -> PublicKey:
        pub = self._key.public_key()
        from cryptography.hazmat.primitives import serialization

        enc = pub.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        return PublicKey(pub, enc)


class ECDSA:
    supports_given_k = False

    def private_key(self, d) -> PrivateKey:
        return PrivateKey(ec.derive_private_key(check_private_scalar(d), _CURVE))

    def public_key(self, sec1) -> PublicKey:
        decode_point(sec1)  # the same validation and errors as every backend
        key = ec.EllipticCurvePublicKey.from_encoded_point(_CURVE, bytes(sec1))
        return PublicKey(key, bytes(sec1))

    def generate(self) -> PrivateKey:
        return PrivateKey(ec.generate_private_key(_CURVE))


def _setup_fixed_base():
    def fixed_base_mul(k):
        nums = ec.derive_private_key(check_scalar("k", k), _CURVE).public_key().public_numbers()
        return nums.x, nums.y

    return fixed_base_mul


def register(reg) -> None:
    kernel = Kernel(
        algorithm="ecdsa-p256-sha256",
        backend="openssl",
        available=True,
        constant_time=True,
        path="evp",
        impl=ECDSA(),
        hot_paths={"fixed-base-mul": _setup_fixed_base},
        lacks={
            "field-mul": "cryptography does not expose P-256 field arithmetic",
            "double-scalar-mul": "cryptography does not expose point multiplication by a chosen point",
            "scalar-inv": "cryptography does not expose arithmetic modulo n",
        },
        description="OpenSSL EVP through cryptography (the reference)",
    )
    reg.add(kernel)
    reg.add(restricted(kernel))
