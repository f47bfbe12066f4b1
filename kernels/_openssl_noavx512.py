"""``openssl-noavx512``: the openssl kernels, run with OpenSSL restricted to the
instruction set of the team's target machines (no AVX-512).

The fleet's machines have no AVX-512, and the speed targets for our native
kernels assume OpenSSL runs its AVX2 / AES-NI / VAES-on-ymm code. On a
development CPU that has AVX-512 (AMD Zen 4, recent Xeons) OpenSSL 3.x/4.x
picks its AVX-512 AES-GCM and ChaCha20 code instead, about 2.5x faster for
AES-128-GCM at 16 KiB, so the ``openssl`` row there is not the reference the
targets were written against. This row is that reference.

OpenSSL reads the environment variable ``OPENSSL_ia32cap`` once, when libcrypto
initialises (when ``cryptography``'s Rust module loads), so it only works in a
process *started* with it: :attr:`~cryptobench.registry.Kernel.env` carries
it, ``cryptobench run`` starts this row's workers and its verification with
it, and a process without it refuses to time the row.

The mask ``:~0x5842DC230000`` leaves the first capability word (CPUID leaf 1)
as detected and clears, in the second (CPUID leaf 7: EBX in the low 32 bits,
ECX in the high 32), every AVX-512 bit: EBX bits 16, 17, 21, 26, 27, 28, 30,
31 (AVX512F, DQ, IFMA, PF, ER, CD, BW, VL: 0xDC230000) and ECX bits 1, 6, 11,
12, 14 (AVX512_VBMI, VBMI2, VNNI, BITALG, VPOPCNTDQ: 0x5842). VAES,
VPCLMULQDQ, AVX2, BMI2, ADX and SHA stay on. Never set ``OPENSSL_ia32cap`` to
the empty string: OpenSSL then turns off every extension, AES-NI included.

The kernels are the very objects of the ``openssl`` backend (same
implementation, same hot paths), registered under another name, path
``evp-noavx512``, and only on a CPU that has AVX-512F: elsewhere the
``openssl`` row already runs without it.
"""

from __future__ import annotations

import dataclasses

from cryptobench import native
from cryptobench.registry import Kernel

BACKEND = "openssl-noavx512"

#: Clears every AVX-512 bit of OpenSSL's second capability word (see above).
IA32CAP_NO_AVX512 = ":~0x5842DC230000"

ENV: dict[str, str] = {"OPENSSL_ia32cap": IA32CAP_NO_AVX512}

DESCRIPTION = "OpenSSL EVP restricted to the ISA of the team's target machines (no AVX-512) via OPENSSL_ia32cap"


def unavailable_reason() -> str | None:
    """None on a CPU with AVX-512F, else why the row would measure nothing new."""
    if "avx512f" in native.detected_features():
        return None
    return "this CPU has no AVX-512: the openssl row already runs without it"


def restricted(reference: Kernel) -> Kernel:
    """The ``openssl-noavx512`` twin of an ``openssl`` kernel (same objects)."""
    reason = unavailable_reason()
    return dataclasses.replace(
        reference,
        backend=BACKEND,
        available=reference.available and reason is None,
        reason=reference.reason if not reference.available else (reason or ""),
        path="evp-noavx512",
        description=DESCRIPTION,
        env=dict(ENV),
    )
