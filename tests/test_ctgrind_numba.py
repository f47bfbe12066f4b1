"""ctgrind for the Numba kernels that claim constant time: valgrind memcheck
with the secrets marked undefined reports every branch ("Conditional jump or
move depends on uninitialised value(s)") and every memory address ("Use of
uninitialised value of size 8") computed from them.

One Python child runs under ``valgrind --tool=memcheck`` (PYTHONMALLOC=malloc)
and marks key, plaintext, private key and nonce bytes undefined through a tiny
C library built here with gcc (``VALGRIND_MAKE_MEM_UNDEFINED`` /
``VALGRIND_MAKE_MEM_DEFINED``), calls the kernels between ``CT-BEGIN`` and
``CT-END`` markers on stderr, and declassifies every output before Python
looks at it. Reports inside a region are attributed to the compiled function
(from the runtime address of every function in the Numba objects the child
loaded), so the assertions name Numba functions, not addresses.

How the compiled code is made runnable under valgrind: valgrind 3.19 decodes
no AVX-512, VAES, VPCLMULQDQ or GFNI, and its CPUID hides them and ADX (which
it can run: tests/test_ctgrind.py runs the C MULX/ADX path). Numba
compiles for the host CPU, so the kernels are compiled (outside valgrind,
into a cache of their own) with ``NUMBA_CPU_NAME`` = the host's CPU name (its
scheduling model, so instruction selection stays close to the real build) and
``NUMBA_CPU_FEATURES`` = the features LLVM detects *under valgrind* (probed
first); the child under valgrind then loads exactly that code from the cache.
Consequences: numba-hw AES-GCM runs its ``aesni-pclmulqdq-x8`` path (the VAES
path cannot run under valgrind), and numba-hw ECDSA, whose row the registry
hides without ADX (valgrind's CPUID shows none), is built through ``_Tier(True)``
directly; the code checked is the production source compiled for the host
CPU minus those features, not the host build byte for byte.

What may legitimately be branched on, and is allowed: the verdict of an AEAD
tag check (exactly one branch in ``_open*``), and ECDSA ``sign_core``'s status
branches (k outside [1, n-1] as RFC 6979 allows, r = 0, s = 0: LLVM splits the
k range test in two, so up to four sites).

Cost (2-vCPU VM): the toy kernels and the four AEAD kernels run in one
valgrind process, the two ECDSA kernels in a second; the file takes about 50 s
with a warm cache (the compiled code is kept in pytest's cache under a key
hashing the kernel sources, numba/llvmlite versions and the target) and about
80 s cold, as in CI. One valgrind process at a time.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import require_memcheck_header, require_tool

pytestmark = pytest.mark.skipif(importlib.util.find_spec("numba") is None, reason="numba is not installed")

_CT_C = r"""
#include <stddef.h>
#include <valgrind/memcheck.h>
void mark_secret(void *p, size_t n) { VALGRIND_MAKE_MEM_UNDEFINED(p, n); }
void mark_public(void *p, size_t n) { VALGRIND_MAKE_MEM_DEFINED(p, n); }
"""

# Deliberately variable-time kernels: the method must catch them (and pass the clean one).
_TOY = '''
from numba import njit


@njit(cache=True, nogil=True)
def toy_branch(secret, public, out):
    for i in range(len(secret)):  # early exit on the first differing byte
        if secret[i] != public[i]:
            out[0] = i
            return
    out[0] = 255


@njit(cache=True, nogil=True)
def toy_table(secret, table, out):
    for i in range(len(secret)):  # secret-indexed table lookup
        out[i] = table[secret[i]]


@njit(cache=True, nogil=True)
def toy_ct(secret, public, out):
    diff = 0
    for i in range(len(secret)):
        diff |= secret[i] ^ public[i]
    out[0] = diff
'''

_CHILD = r'''
import ctypes, os, struct, sys, time

import numpy as np
from numba.core import codegen as _cg

LIB = ctypes.CDLL(sys.argv[1])
LIB.mark_secret.argtypes = LIB.mark_public.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
CASES = sys.argv[2].split(",")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def say(msg):
    os.write(2, (msg + "\n").encode())


# Keep every Numba object (loaded from the cache or compiled here) to map addresses to functions.
_LIBS = []
_set = _cg.CPUCodeLibrary._set_compiled_object
_hook = _cg.CPUCodeLibrary._object_compiled_hook.__func__


def _keep(self, value):
    _LIBS.append((self, bytes(value)))
    return _set(self, value)


def _compiled(cls, ll_module, buf):
    lib = getattr(ll_module, "_CPUCodeLibrary__library", None)
    if lib is not None:
        _LIBS.append((lib, bytes(buf)))
        say("CT-COMPILED " + lib.name)
    return _hook(cls, ll_module, buf)


_cg.CPUCodeLibrary._set_compiled_object = _keep
_cg.CPUCodeLibrary._object_compiled_hook = classmethod(_compiled)


def _span(b):
    if isinstance(b, np.ndarray):
        return b.ctypes.data, b.nbytes
    if isinstance(b, bytes):
        return ctypes.cast(ctypes.c_char_p(b), ctypes.c_void_p).value, len(b)
    raise TypeError(type(b))


def secret(b):
    LIB.mark_secret(*_span(b))
    return b


def public(b):
    LIB.mark_public(*_span(b))
    return b


def fresh(n, seed):  # a new bytes object (never a cached or interned one)
    return bytes(bytearray((seed * 37 + 11 * i + 1) & 0xFF for i in range(n)))


class region:
    def __init__(self, name):
        self.name = name

    def __enter__(self):
        say("CT-BEGIN " + self.name)

    def __exit__(self, *exc):
        say("CT-END " + self.name)


def toy():
    import ctgrind_toy as t

    table = np.arange(256, dtype=np.uint8)[::-1].copy()
    pub, out = fresh(64, 1), np.zeros(64, np.uint8)
    for name, fn, other in (("branch", t.toy_branch, pub), ("table", t.toy_table, table), ("ct", t.toy_ct, pub)):
        fn(fresh(64, 2), other, out)  # load outside the region
        s = secret(fresh(64, 2))
        with region("toy/" + name):
            fn(s, other, out)
        public(out)


def aead(label, impl):
    nonce, aad = fresh(12, 3), fresh(13, 4)
    ctx = impl.new(fresh(impl.key_size, 5))
    ctx.decrypt(nonce, ctx.encrypt(nonce, fresh(300, 6), aad), aad)  # load outside the regions
    key, pt = secret(fresh(impl.key_size, 7)), secret(fresh(300, 8))
    with region(label + "/encrypt"):  # key set-up (key expansion, GHASH table) and encryption
        ctx = impl.new(key)
        ct = ctx.encrypt(nonce, pt, aad)
    public(ct)
    with region(label + "/decrypt"):
        back = ctx.decrypt(nonce, ct, aad)
    assert public(back) == public(pt)


def chacha(tier):
    from cryptobench.kernels.chacha20_poly1305.numba import ChaCha20Poly1305

    aead("chacha20-poly1305/numba-" + tier, ChaCha20Poly1305(tier))


def aes(size):
    from cryptobench.kernels.aes_gcm.numba import AESGCM

    aead("aes-%d-gcm/numba-hw" % (size * 8), AESGCM(size, "hw"))


def ecdsa(hw):
    from cryptobench.kernels.ecdsa_p256.numba import ECDSA, _Tier

    label = "ecdsa-p256-sha256/numba-" + ("hw" if hw else "portable")
    tier = _Tier(hw)
    mod, table, tag = tier.get()

    def declassified(fn):
        return lambda *a: public(fn(*a))

    class Compiled:  # the compiled module, with the public outputs of signing and d*G declassified
        sign_core = staticmethod(declassified(mod.sign_core))
        fixed_base_core = staticmethod(declassified(mod.fixed_base_core))

        def __getattr__(self, name):
            return getattr(mod, name)

    compiled = Compiled()
    tier.get = lambda: (compiled, table, tag)
    impl = ECDSA(tier)
    warm = impl.private_key(12345)
    warm.public_key().verify(b"warm", warm.sign(b"warm"))
    mod.scalar_inv_core(tag, fresh(32, 9))
    priv = impl.private_key(0x1234567890ABCDEF << 180 | 0xFEDCBA987654321)  # int to bytes: outside
    secret(priv._d)
    with region(label + "/keygen"):  # d*G: fixed-base comb, field inversion
        priv.public_key()
    k = secret(fresh(32, 10))
    with region(label + "/scalar-inv"):
        inv = mod.scalar_inv_core(tag, k)
    public(inv)
    with region(label + "/sign"):  # RFC 6979 nonce (hmac.digest), k*G, inversions, s
        sig = priv.sign_raw(b"message")
    priv.public_key().verify_raw(b"message", *sig)


RUN = {
    "toy": toy,
    "chacha-portable": lambda: chacha("portable"),
    "chacha-hw": lambda: chacha("hw"),
    "aes128-hw": lambda: aes(16),
    "aes256-hw": lambda: aes(32),
    "ecdsa-portable": lambda: ecdsa(False),
    "ecdsa-hw": lambda: ecdsa(True),
}


def elf_functions(obj):
    """(name, section, offset, size) of every function symbol of an ELF64 object."""
    shoff, = struct.unpack_from("<Q", obj, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", obj, 0x3A)
    secs = [struct.unpack_from("<IIQQQQIIQQ", obj, shoff + i * shentsize) for i in range(shnum)]
    out = []
    for sh in secs:
        if sh[1] != 2:  # SHT_SYMTAB
            continue
        strs = secs[sh[6]][4]
        for off in range(sh[4], sh[4] + sh[5], 24):
            name, info, _, shndx, value, size = struct.unpack_from("<IBBHQQ", obj, off)
            if info & 0xF == 2 and size:  # STT_FUNC
                out.append((obj[strs + name:obj.index(b"\0", strs + name)].decode(), shndx, value, size))
    return out


def symbol_map():
    for lib, obj in _LIBS:
        funcs = elf_functions(obj)
        base = {}
        for name, shndx, value, _ in funcs:
            if shndx not in base:
                try:
                    addr = lib.get_pointer_to_function(name)
                except Exception:
                    addr = 0
                if addr:
                    base[shndx] = addr - value
        for name, shndx, value, size in funcs:
            if shndx in base:
                say("CT-SYM %x %x %s" % (base[shndx] + value, size, name))


for case in CASES:
    RUN[case]()
symbol_map()
say("CT-DONE")
'''

AEADS = ("chacha20-poly1305/numba-portable", "chacha20-poly1305/numba-hw", "aes-128-gcm/numba-hw", "aes-256-gcm/numba-hw")
ECDSAS = ("ecdsa-p256-sha256/numba-portable", "ecdsa-p256-sha256/numba-hw")

# Found by this test (2026-11-28): LLVM compiled ChaCha20-Poly1305's "constant-time
# compare: no early exit" loop (diff |= tag[i] ^ data[n + i]; if diff != 0) into
# sixteen cmpb/jne pairs, an early-exit byte comparison, in both tiers and in the
# host build too. The OR now goes through _numba_common.value_barrier before the
# branch; test_decrypt_branches_only_on_the_tag_verdict keeps it that way.


def _numba_symbol(name: str) -> str:
    """Numba's mangled symbol as a dotted name (``cpython.``/``cfunc.`` wrappers keep a prefix)."""
    prefix = ""
    if name.startswith("cfunc."):
        prefix, name = "cfunc:", name[len("cfunc."):]
    m = re.match(r"_ZN((?:\d+\w+?)+)B\d", name) or re.match(r"_ZN((?:\d+\w+?)+)E", name)
    if not m:
        return prefix + name
    parts, s = [], name[3:]
    while s and s[0].isdigit():
        n = int(re.match(r"\d+", s).group())
        s = s[len(str(n)):]
        parts.append(s[:n])
        s = s[n:]
    return prefix + ".".join(parts)


def _cache_dir(request, tmp_path_factory, key: str) -> Path:
    """A cache of compiled kernels keyed on everything that changes the code (Numba's own
    cache does not notice edits to _numba_common's intrinsics); old keys are removed."""
    cache = getattr(request.config, "cache", None)
    if cache is None:
        return tmp_path_factory.mktemp("numba-cache")
    root = Path(cache.mkdir("ctgrind-numba"))
    for old in root.iterdir():
        if old.name != key:
            shutil.rmtree(old, ignore_errors=True)
    (root / key).mkdir(mode=0o700, exist_ok=True)
    return root / key


@pytest.fixture(scope="module")
def _setup(request, tmp_path_factory):
    """(command prefix, environment, work dir): the marking library, the child, the
    valgrind-safe Numba target and its cache."""
    valgrind = require_tool("valgrind")
    gcc = require_tool("gcc")
    require_memcheck_header(gcc)
    import llvmlite
    import llvmlite.binding as ll
    import numba

    import cryptobench.kernels

    work = tmp_path_factory.mktemp("ctgrind")
    (work / "ct.c").write_text(_CT_C)
    subprocess.run([gcc, "-O1", "-shared", "-fPIC", str(work / "ct.c"), "-o", str(work / "libct.so")], check=True,
                   capture_output=True)
    (work / "ctgrind_toy.py").write_text(_TOY)
    (work / "child.py").write_text(_CHILD)
    vg = [valgrind, "-q", "--tool=memcheck", "--error-limit=no", "--num-callers=4", "--read-inline-info=no"]
    env = dict(os.environ, PYTHONMALLOC="malloc")
    for var in ("NUMBA_CPU_NAME", "NUMBA_CPU_FEATURES", "NUMBA_DISABLE_JIT", "NUMBA_DEBUGINFO", "NUMBA_OPT",
                "NUMBA_BOUNDSCHECK", "CRYPTOBENCH_NATIVE_DISABLE"):
        env.pop(var, None)

    # numba-hw needs AES-NI, PCLMULQDQ and AVX2 (the registry leaves it out elsewhere)
    host = ll.get_host_cpu_features()
    missing = [f for f in ("aes", "pclmul", "avx2") if not host.get(f)]
    if missing:
        pytest.skip(f"this CPU lacks {', '.join(missing)}: the numba-hw kernels this file checks are unavailable")
    # The features LLVM sees under valgrind: compile for exactly those.
    probe = subprocess.run(
        vg + [sys.executable, "-c", "import llvmlite.binding as ll; print(ll.get_host_cpu_features().flatten())"],
        env=env, capture_output=True, text=True, timeout=300)
    assert probe.returncode == 0, probe.stderr[-3000:]
    features = probe.stdout.strip().splitlines()[-1]
    assert "+aes" in features and "+pclmul" in features and "+avx2" in features, features
    cpu = ll.get_host_cpu_name()
    key_src = [numba.__version__, llvmlite.__version__, sys.version, cpu, features, _TOY, _CHILD]
    for d in cryptobench.kernels.__path__:
        for p in sorted(Path(d).rglob("*.py")):
            key_src.append(p.read_text())
    key = hashlib.sha256("\0".join(key_src).encode()).hexdigest()[:20]
    env.update(NUMBA_CACHE_DIR=str(_cache_dir(request, tmp_path_factory, key)), NUMBA_CPU_NAME=cpu,
               NUMBA_CPU_FEATURES=features)
    return vg, env, work


def _run(setup, cases: tuple[str, ...], expected: set[str]) -> dict[str, list]:
    """Run ``cases`` under memcheck (after compiling them outside valgrind):
    {region: [(kind, function, address), ...]} for every report inside a region."""
    vg, env, work = setup
    cmd = [sys.executable, str(work / "child.py"), str(work / "libct.so"), ",".join(cases)]
    warm = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)  # compile outside valgrind
    assert warm.returncode == 0, warm.stderr[-3000:]
    res = subprocess.run(vg + cmd, env=env, capture_output=True, text=True, timeout=900)
    err = res.stderr
    assert res.returncode == 0 and "CT-DONE" in err, err[-5000:]
    compiled = set(re.findall(r"^CT-COMPILED (\S+)$", err, re.M)) - {"nrt"}  # Numba's runtime is never cached
    assert not compiled, f"the child under valgrind compiled code the warm-up had not cached: {compiled}"

    syms = []
    for m in re.finditer(r"^CT-SYM (\w+) (\w+) (\S+)$", err, re.M):
        lo = int(m[1], 16)
        syms.append((lo, lo + int(m[2], 16), _numba_symbol(m[3])))

    def where(addr: int) -> str:
        return next((name for lo, hi, name in syms if lo <= addr < hi), "(not compiled by Numba)")

    regions = {}
    for m in re.finditer(r"^CT-BEGIN (\S+)\n(.*?)^CT-END \1$", err, re.S | re.M):
        found = re.findall(r"^==\d+== (Conditional jump|Use of uninitialised value|Invalid \w+|[A-Z][^\n]*)[^\n]*\n"
                           r"==\d+==    at 0x(\w+):", m[2], re.M)
        regions[m[1]] = [(kind, where(int(a, 16)), f"0x{int(a, 16):x}") for kind, a in found]
    assert set(regions) == expected, sorted(set(regions) ^ expected)
    return regions


@pytest.fixture(scope="module")
def ctgrind(_setup):
    """The toy kernels and the four AEAD kernels, in one valgrind process."""
    expected = {f"toy/{t}" for t in ("branch", "table", "ct")} | {
        f"{a}/{op}" for a in AEADS for op in ("encrypt", "decrypt")}
    return _run(_setup, ("toy", "chacha-portable", "chacha-hw", "aes128-hw", "aes256-hw"), expected)


@pytest.fixture(scope="module")
def ctgrind_ecdsa(_setup):
    """The two ECDSA kernels, in a valgrind process of their own."""
    expected = {f"{e}/{op}" for e in ECDSAS for op in ("keygen", "scalar-inv", "sign")}
    return _run(_setup, ("ecdsa-portable", "ecdsa-hw"), expected)


def _show(reports) -> str:
    return "\n".join(f"  {kind} at {site} in {fn}" for kind, fn, site in reports)


def test_toy_secret_branch_is_reported(ctgrind):
    """The method is live: an early-exit compare on secret bytes is reported as a branch."""
    reps = ctgrind["toy/branch"]
    assert any(k == "Conditional jump" and fn.endswith("toy_branch") for k, fn, _ in reps), _show(reps)


def test_toy_secret_index_is_reported(ctgrind):
    """... and a secret-indexed table lookup as an address computed from a secret."""
    reps = ctgrind["toy/table"]
    assert any(k == "Use of uninitialised value" and fn.endswith("toy_table") for k, fn, _ in reps), _show(reps)


def test_toy_constant_time_is_clean(ctgrind):
    """... and a branch-free OR of XORs over the same secret (called the same way) is not."""
    assert ctgrind["toy/ct"] == [], _show(ctgrind["toy/ct"])


@pytest.mark.parametrize("aead", AEADS)
def test_encrypt_has_no_secret_branch_or_address(ctgrind, aead):
    """Key set-up (key expansion, GHASH table) and encryption: nothing may depend on the secrets."""
    reps = ctgrind[f"{aead}/encrypt"]
    assert reps == [], f"{aead} encrypt:\n{_show(reps)}"


@pytest.mark.parametrize("aead", AEADS)
def test_decrypt_branches_only_on_the_tag_verdict(ctgrind, aead):
    """Decryption branches exactly once on the secrets: on the tag check's verdict, in the
    kernel's _open function (that one report also shows the secrets reached the tag)."""
    reps = ctgrind[f"{aead}/decrypt"]
    module = "aes_gcm" if aead.startswith("aes") else "chacha20_poly1305"
    assert all(k == "Conditional jump" and re.search(rf"\.{module}\.numba\._open_\w+$", fn) for k, fn, _ in reps), \
        _show(reps)
    assert len(reps) == 1, f"{len(reps)} secret-dependent branches in {aead} decrypt:\n{_show(reps)}"


@pytest.mark.parametrize("ecdsa", ECDSAS)
@pytest.mark.parametrize("op", ["keygen", "scalar-inv"])
def test_ecdsa_keygen_and_scalar_inversion_are_clean(ctgrind_ecdsa, ecdsa, op):
    """d*G (fixed-base comb with masked table scans, field inversion) and k^-1 mod n:
    nothing may depend on the secret scalar."""
    reps = ctgrind_ecdsa[f"{ecdsa}/{op}"]
    assert reps == [], f"{ecdsa} {op}:\n{_show(reps)}"


@pytest.mark.parametrize("ecdsa", ECDSAS)
def test_sign_branches_only_on_its_status(ctgrind_ecdsa, ecdsa):
    """Signing (RFC 6979 nonce through hmac.digest, sign_core) may branch only on
    sign_core's status: k out of range (LLVM makes two branches of it), r = 0, s = 0."""
    reps = ctgrind_ecdsa[f"{ecdsa}/sign"]
    assert all(k == "Conditional jump" and fn.endswith("_numba_p256.sign_core") for k, fn, _ in reps), _show(reps)
    assert len(reps) <= 4, _show(reps)
