"""Regenerate the small Wycheproof-schema files in tests/data/wycheproof/.

They follow the schema of Wycheproof's testvectors (algorithm, numberOfTests,
testGroups; AEAD groups with keySize/ivSize/tagSize and tests with tcId,
comment, flags, key, iv, aad, msg, ct, tag, result; ECDSA groups with
publicKey{uncompressed, wx, wy}, sha and tests with msg, sig, result). Values
come from OpenSSL (through cryptography) with a fixed seed, plus hand-made
invalid cases. Run: python tests/data/make_wycheproof.py
"""

import json
import random
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

OUT = Path(__file__).parent / "wycheproof"
rng = random.Random(7)


def aead_file(name, algorithm, cls, key_sizes):
    groups, tc = [], 0
    for ks in key_sizes:
        tests = []
        for msg_len in (0, 1, 16, 17, 64, 100):
            tc += 1
            key, iv, aad, msg = rng.randbytes(ks), rng.randbytes(12), rng.randbytes(rng.choice((0, 13))), rng.randbytes(msg_len)
            out = cls(key).encrypt(iv, msg, aad)
            tests.append(dict(tcId=tc, comment="valid", flags=[], key=key.hex(), iv=iv.hex(), aad=aad.hex(), msg=msg.hex(), ct=out[:-16].hex(), tag=out[-16:].hex(), result="valid"))
        for what in ("tag", "ct", "aad"):
            tc += 1
            key, iv, aad, msg = rng.randbytes(ks), rng.randbytes(12), rng.randbytes(8), rng.randbytes(32)
            out = bytearray(cls(key).encrypt(iv, msg, aad))
            if what == "tag":
                out[-1] ^= 1
            elif what == "ct":
                out[0] ^= 0x80
            else:
                aad = aad[:-1]
            tests.append(dict(tcId=tc, comment=f"modified {what}", flags=["ModifiedTag"], key=key.hex(), iv=iv.hex(), aad=aad.hex(), msg=msg.hex(), ct=bytes(out[:-16]).hex(), tag=bytes(out[-16:]).hex(), result="invalid"))
        groups.append(dict(type="AeadTest", keySize=ks * 8, ivSize=96, tagSize=128, tests=tests))
    if algorithm == "AES-GCM":  # a 64-bit IV (valid for GCM) and an AES-192 group the tools must ignore
        key, iv, msg = rng.randbytes(16), rng.randbytes(8), rng.randbytes(20)
        enc = AESGCM(key).encrypt(iv, msg, b"")
        tc += 1
        groups.append(dict(type="AeadTest", keySize=128, ivSize=64, tagSize=128, tests=[dict(tcId=tc, comment="64-bit IV", flags=[], key=key.hex(), iv=iv.hex(), aad="", msg=msg.hex(), ct=enc[:-16].hex(), tag=enc[-16:].hex(), result="acceptable")]))
        key = rng.randbytes(24)
        enc = AESGCM(key).encrypt(iv + iv[:4], b"", b"")
        tc += 1
        groups.append(dict(type="AeadTest", keySize=192, ivSize=96, tagSize=128, tests=[dict(tcId=tc, comment="AES-192", flags=[], key=key.hex(), iv=(iv + iv[:4]).hex(), aad="", msg="", ct="", tag=enc.hex(), result="valid")]))
    doc = dict(algorithm=algorithm, numberOfTests=tc, testGroups=groups)
    (OUT / name).write_text(json.dumps(doc, indent=1) + "\n")


def ecdsa_file(name, p1363):
    priv = ec.derive_private_key(rng.randrange(1, 2**255), ec.SECP256R1())
    pub = priv.public_key()
    unc = pub.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    tests, tc = [], 0

    def enc(der):
        if not p1363:
            return der
        r, s = decode_dss_signature(der)
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    for i in range(4):
        tc += 1
        msg = rng.randbytes(i * 7)
        der = priv.sign(msg, ec.ECDSA(hashes.SHA256()))
        tests.append(dict(tcId=tc, comment="valid", flags=[], msg=msg.hex(), sig=enc(der).hex(), result="valid"))
    msg = b"wycheproof-style"
    der = priv.sign(msg, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    bad = bytearray(enc(der))
    bad[-1] ^= 1
    tc += 1
    tests.append(dict(tcId=tc, comment="modified s", flags=["ModifiedSignature"], msg=msg.hex(), sig=bytes(bad).hex(), result="invalid"))
    tc += 1
    tests.append(dict(tcId=tc, comment="r = 0, s = 0", flags=["InvalidSignature"], msg=msg.hex(), sig=("00" * 64 if p1363 else "3006020100020100"), result="invalid"))
    if not p1363:
        # the same signature with a long-form (non-canonical) sequence length
        tc += 1
        tests.append(dict(tcId=tc, comment="BER long-form length", flags=["BerEncodedSignature"], msg=msg.hex(), sig=("3081" + der[1:].hex()), result="invalid"))
    else:
        tc += 1
        tests.append(dict(tcId=tc, comment="truncated", flags=["InvalidSignature"], msg=msg.hex(), sig=enc(der)[:-1].hex(), result="invalid"))
    group = dict(type="EcdsaP1363Verify" if p1363 else "EcdsaVerify", publicKey=dict(type="EcPublicKey", curve="secp256r1", keySize=256, uncompressed=unc.hex(), wx=unc[1:33].hex(), wy=unc[33:].hex()), sha="SHA-256", tests=tests)
    doc = dict(algorithm="ECDSA", numberOfTests=tc, testGroups=[group])
    (OUT / name).write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    aead_file("aes_gcm_test.json", "AES-GCM", AESGCM, (16, 32))
    aead_file("chacha20_poly1305_test.json", "CHACHA20-POLY1305", ChaCha20Poly1305, (32,))
    ecdsa_file("ecdsa_secp256r1_sha256_test.json", False)
    ecdsa_file("ecdsa_secp256r1_sha256_p1363_test.json", True)
