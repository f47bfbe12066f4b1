"""Threads (docs/kernels.md, "Threads"): one AEAD context, one ECDSA key and
one hot-path callable used by several threads at once give exactly the
results of single-threaded calls, and a kernel whose first use happens in
several threads at once (fresh process) initialises once and correctly.

Every available kernel of the registry, as the other tests. Inputs straddle
the scratch-buffer and GIL-release thresholds of the native wrappers (the
C-API boundary releases the GIL from 4096 bytes, the AES-GCM cffi path has a
16 KiB + 64 scratch, the ChaCha20 one 64 KiB + 16) and mix exact ``bytes``
with ``bytearray`` (the checked cffi path). ``sys.setswitchinterval`` is
lowered while threads run so that pure-Python code switches threads often;
C code that releases the GIL (cffi, the C-API module above 4096 bytes,
Numba's ``nogil`` functions, OpenSSL) runs truly in parallel on two cores.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time

import pytest

from cryptobench import InvalidSignature, InvalidTag, native, registry, verify
from cryptobench import _reference as ref
from cryptobench.kernels._ecdsa_common import N, P
from conftest import ALL, kernel_params

THREADS = 4
#: Single-threaded seconds of work each thread repeats its share for (at
#: least one pass over every job): enough overlapping calls that a shared
#: scratch buffer shows, short enough for the whole file to stay fast.
WORK_SECONDS = 0.05
MAX_PASSES = 400

#: Hot paths whose callable is one per thread (docs/kernels.md, "Threads"):
#: (base backend, hot path). The openssl rows' aes-ctr and chacha20 keep one
#: cryptography CipherContext and re-key it with reset_nonce on each call, so
#: each thread calls setup itself; every other hot-path callable is shared.
PER_THREAD_HOT_PATHS = {("openssl", "aes-ctr"), ("openssl", "chacha20")}

_SLOW = ("python", "peer")  # pure Python: small inputs only


def _sizes(kernel) -> list[int]:
    if kernel.base_backend in _SLOW:
        return [0, 16, 1024]
    # around 4096 (C-API GIL release), 16 KiB + 64 (AES-GCM scratch), 64 KiB + 16 (ChaCha20 scratch)
    return [0, 16, 1024, 4095, 4096, 16384 + 48, 16384 + 64, 65536, 65536 + 1, 70 * 1024]


def _normal(value):
    """A result in a form that compares by value (key schedules are opaque)."""
    if isinstance(value, (bytes, tuple, int, type(None))):
        return value
    words = verify._schedule_words(value)
    return words if words is not None else value


# ------------------------------------------------------------------ jobs
# A job is (label, make): make() returns the zero-argument call, once per
# thread (per-thread hot paths get their own setup there, shared ones return
# the same closure to every thread).


def _job(fn, *args):
    """make() of a call of ``fn`` (shared by every thread) with ``args``."""
    return lambda: lambda: fn(*args)


def _aead_jobs(kernel, rng) -> list:
    key = rng.randbytes(registry.KEY_SIZES[kernel.algorithm])
    contexts = [("", kernel.impl.new(key))]
    if getattr(contexts[0][1], "boundary", None) == "capi":
        # the same key through the cffi path too (tests/test_native_capi.py)
        saved = os.environ.get(native.DISABLE_ENV)
        os.environ[native.DISABLE_ENV] = f"{saved},{native.CAPI}" if saved else native.CAPI
        try:
            contexts.append(("cffi ", kernel.impl.new(key)))
        finally:
            if saved is None:
                del os.environ[native.DISABLE_ENV]
            else:
                os.environ[native.DISABLE_ENV] = saved
        assert contexts[1][1].boundary == "cffi"
    jobs = []
    for where, ctx in contexts:
        for n in _sizes(kernel):
            nonce, pt, aad = rng.randbytes(12), rng.randbytes(n), rng.randbytes(rng.choice([0, 13, 300]))
            ct = ctx.encrypt(nonce, pt, aad)
            bad = ct[:-1] + bytes([ct[-1] ^ 1])
            for typ in (bytes, bytearray):  # bytearray: the checked path of every wrapper
                t = typ.__name__
                jobs.append((f"{where}encrypt {t} {n}", _job(ctx.encrypt, typ(nonce), typ(pt), typ(aad))))
                jobs.append((f"{where}decrypt {t} {n}", _job(ctx.decrypt, typ(nonce), typ(ct), typ(aad))))
            jobs.append((f"{where}decrypt bad tag {n}", _job(ctx.decrypt, nonce, bad, aad)))
    return jobs


def _ecdsa_jobs(kernel, rng) -> list:
    impl = kernel.impl
    d = rng.randrange(1, N)
    priv = impl.private_key(d)
    pub = priv.public_key()
    pub2 = impl.public_key(pub.encoded)
    jobs = [("private_key(d).public_key()", _job(lambda: impl.private_key(d).public_key().encoded))]
    for i in range(3 if kernel.base_backend in _SLOW else 8):
        m = rng.randbytes(rng.choice([0, 5, 100, 1000]))
        sig = priv.sign(m)
        r, s = priv.sign_raw(m)
        jobs += [
            (f"sign {i}", _job(priv.sign, m)),
            (f"sign_raw {i}", _job(priv.sign_raw, m)),
            (f"verify {i}", _job(pub.verify, m, sig)),
            (f"verify (decoded key) {i}", _job(pub2.verify, m, sig)),
            (f"verify_raw {i}", _job(pub2.verify_raw, m, r, s)),
            (f"verify wrong message {i}", _job(pub.verify, m + b"!", sig)),
            (f"public_key {i}", _job(lambda: priv.public_key().encoded)),
        ]
        if impl.supports_given_k:
            jobs.append((f"sign_raw given k {i}", _job(priv.sign_raw, m, rng.randrange(1, N))))
    return jobs


def _hot_path_jobs(kernel, rng) -> list:
    jobs = []
    for name, setup in sorted(kernel.hot_paths.items()):
        if name == "key-expansion":
            args_list = [(rng.randbytes(size),) for size in (16, 32, 16, 32)]
            setup_args: tuple = ()
        elif name == "aes-ctr":
            setup_args = (rng.randbytes(registry.KEY_SIZES[kernel.algorithm]),)
            args_list = [(rng.randbytes(16), rng.randbytes(n)) for n in _sizes(kernel)]
        elif name == "ghash":
            setup_args = (rng.randbytes(16),)
            args_list = [(rng.randbytes(n - n % 16),) for n in _sizes(kernel)]
        elif name == "chacha20":
            setup_args = (rng.randbytes(32),)
            args_list = [(rng.randbytes(12), rng.randrange(2**20), rng.randbytes(n)) for n in _sizes(kernel)]
        elif name == "poly1305":
            setup_args = ()
            args_list = [(rng.randbytes(32), rng.randbytes(n)) for n in _sizes(kernel)]
        elif name == "field-mul":
            setup_args = ()
            args_list = [(rng.randrange(P), rng.randrange(P), rng.randrange(1, 100)) for _ in range(8)]
        elif name == "fixed-base-mul":
            setup_args = ()
            args_list = [(rng.randrange(1, N),) for _ in range(8)]
        elif name == "double-scalar-mul":
            setup_args = (ref.scalar_mul(rng.randrange(1, N), ref.G),)
            args_list = [(rng.randrange(1, N), rng.randrange(1, N)) for _ in range(8)]
        elif name == "scalar-inv":
            setup_args = ()
            args_list = [(rng.randrange(1, N),) for _ in range(8)]
        else:  # a hot path this file does not know yet: fail, so it gets inputs here
            raise AssertionError(f"tests/test_threads.py has no inputs for hot path {name!r}")
        if (kernel.base_backend, name) in PER_THREAD_HOT_PATHS:
            mine = threading.local()

            def callable_(setup=setup, setup_args=setup_args, mine=mine):
                if not hasattr(mine, "f"):
                    mine.f = setup(*setup_args)  # this thread's own
                return mine.f
        else:
            shared = setup(*setup_args)

            def callable_(shared=shared):
                return shared  # the same for every thread

        for i, args in enumerate(args_list):
            def make(callable_=callable_, args=args):
                f = callable_()
                return lambda: _normal(f(*args))

            jobs.append((f"{name} {i}", make))
    return jobs


# ------------------------------------------------------------------ running


def _outcome(call):
    try:
        return ("ok", call())
    except (InvalidTag, InvalidSignature) as exc:  # an expected refusal is a result like any other
        return ("raised", type(exc).__name__)
    except Exception as exc:  # noqa: BLE001 - any other exception is reported as it is
        return ("raised", repr(exc))


def _run_shared(jobs: list) -> list[str]:
    """Run every job single-threaded for the expected outcomes, then in
    THREADS threads at once (each its own shuffled order, several passes);
    return the differences."""
    calls = [make() for _, make in jobs]
    t0 = time.perf_counter()
    expected = [_outcome(c) for c in calls]
    one_pass = time.perf_counter() - t0
    passes = max(1, min(MAX_PASSES, int(WORK_SECONDS / max(one_pass, 1e-6))))
    problems: list[str] = []
    barrier = threading.Barrier(THREADS)

    def worker(tid: int) -> None:
        try:
            mine = [make() for _, make in jobs]  # per-thread hot paths call setup here
            order = list(range(len(jobs)))
            shuffle = random.Random(tid).shuffle
            barrier.wait()
            for _ in range(passes):
                shuffle(order)
                for i in order:
                    got = _outcome(mine[i])
                    if got != expected[i]:
                        problems.append(f"thread {tid}, {jobs[i][0]}: got {str(got)[:120]}, "
                                        f"expected {str(expected[i])[:80]}")
        except BaseException as exc:  # noqa: BLE001 - a thread's own failure (setup, barrier) fails the test too
            barrier.abort()
            problems.append(f"thread {tid} stopped: {exc!r}")

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        threads = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    finally:
        sys.setswitchinterval(old)
    if any(t.is_alive() for t in threads):
        problems.append("a thread still runs after 120 s (deadlock?)")
    return problems


def _check(jobs: list) -> None:
    problems = _run_shared(jobs)
    assert not problems, f"{len(problems)} wrong results, e.g.:\n" + "\n".join(problems[:8])


@pytest.mark.parametrize("kernel", kernel_params(lambda k: k.impl is not None))
def test_context_or_key_shared_between_threads(kernel):
    """One AEAD context (encrypt, decrypt, a failing decrypt; both native
    boundaries) or one ECDSA key pair (sign, verify, a failing verify),
    shared by THREADS threads: every result equals the single-threaded one."""
    rng = random.Random(f"threads {kernel.name}")
    _check(_aead_jobs(kernel, rng) if kernel.kind == "aead" else _ecdsa_jobs(kernel, rng))


@pytest.mark.parametrize("kernel", kernel_params(lambda k: bool(k.hot_paths)))
def test_hot_paths_shared_between_threads(kernel):
    """One callable per hot path (PER_THREAD_HOT_PATHS: one per thread),
    called by THREADS threads at once: every result equals the
    single-threaded one. On their own, so that the cheap calls run many times."""
    _check(_hot_path_jobs(kernel, random.Random(f"threads {kernel.name} hot paths")))


def test_per_thread_hot_paths_name_real_ones():
    """The exceptions above name hot paths that exist (so a rename cannot
    silently turn the check off)."""
    for base, name in PER_THREAD_HOT_PATHS:
        assert any(k.base_backend == base and name in k.hot_paths for k in ALL), (base, name)


# ------------------------------------------------------------------ first use

_FIRST_USE = r"""
import json, sys, threading, traceback
sys.setswitchinterval(1e-5)
from cryptobench import registry, verify
threads, names = int(sys.argv[1]), sys.argv[2:]
Q = (0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
     0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5)  # G

def norm(v):
    w = None if isinstance(v, (bytes, tuple, int, type(None))) else verify._schedule_words(v)
    return repr(v if w is None else w)

def first_use(k, tid):
    # everything a thread may be the first to do: contexts, keys, each hot path's setup and call
    out = []
    if k.impl is not None and k.kind == "aead":
        ctx = k.impl.new(bytes(range(registry.KEY_SIZES[k.algorithm])))
        for n in (16, 1024, 70 * 1024):
            pt = bytes([tid]) * n
            ct = ctx.encrypt(bytes(12), pt, b"aad")
            out += [ct, ctx.decrypt(bytes(12), ct, b"aad") == pt]
    elif k.impl is not None:
        key = k.impl.private_key(12345 + tid)
        sig = key.sign(b"m%d" % tid)
        key.public_key().verify(b"m%d" % tid, sig)
        out += [sig, key.public_key().encoded]
    for hp, setup in sorted(k.hot_paths.items()):
        if hp == "key-expansion": r = setup()(bytes(range(16)))
        elif hp == "aes-ctr": r = setup(bytes(range(16)))(bytes(16), bytes([tid]) * 1000)
        elif hp == "ghash": r = setup(bytes(range(16)))(bytes([tid]) * 1024)
        elif hp == "chacha20": r = setup(bytes(range(32)))(bytes(12), 1, bytes([tid]) * 1000)
        elif hp == "poly1305": r = setup()(bytes(range(32)), bytes([tid]) * 1000)
        elif hp == "field-mul": r = setup()(3 + tid, 5, 10)
        elif hp == "fixed-base-mul": r = setup()(7 + tid)
        elif hp == "double-scalar-mul": r = setup(Q)(11 + tid, 13)
        elif hp == "scalar-inv": r = setup()(17 + tid)
        else: continue
        out.append((hp, norm(r)))
    return [norm(x) if not isinstance(x, tuple) else x for x in out]

report = {}
for name in names:
    k = registry.get(*name.split("/", 1))
    got = [None] * threads
    barrier = threading.Barrier(threads)
    def run(tid):
        barrier.wait()
        try:
            got[tid] = first_use(k, tid)
        except BaseException:
            got[tid] = traceback.format_exc()
    ts = [threading.Thread(target=run, args=(t,), daemon=True) for t in range(threads)]
    for t in ts: t.start()
    for t in ts: t.join(300)
    if any(t.is_alive() for t in ts):
        report[name] = "a thread still runs after 300 s (deadlock?)"
        break
    bad = [t for t in range(threads) if got[t] != first_use(k, t)]
    report[name] = "" if not bad else f"thread {bad[0]} got {str(got[bad[0]])[-1500:]}"
print(json.dumps(report))
sys.stdout.flush()
"""


@pytest.fixture(scope="module")
def first_use_report() -> dict[str, str]:
    """One fresh process: for each kernel in turn, THREADS threads make its
    first call at once (lazy tables, Numba compilation or cache load, native
    dispatch). Kernels sharing lazy state with one before them (aes-256-gcm's
    after aes-128-gcm's, a second native path) find it already built."""
    names = [k.name for k in ALL if k.available and not registry.env_mismatch(k)]
    proc = subprocess.run(
        [sys.executable, "-c", _FIRST_USE, str(THREADS), *names],
        capture_output=True, text=True, timeout=900, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("kernel", kernel_params())
def test_first_use_from_threads(kernel, first_use_report):
    assert kernel.name in first_use_report, "the first-use process stopped before this kernel"
    assert first_use_report[kernel.name] == "", first_use_report[kernel.name]
