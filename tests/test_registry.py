"""The registry: availability never raises, selection by name and glob, and a
deliberately broken kernel makes `cryptobench verify` exit 1."""

from __future__ import annotations

import re
import subprocess
import sys
import types

import pytest

from cryptobench import InvalidTag, registry
from cryptobench.cli import main
from cryptobench.errors import UsageError
from cryptobench.kernels._ecdsa_common import encode_der
from cryptobench.registry import Kernel, Registry


def test_every_algorithm_has_an_available_openssl_reference():
    for algorithm in registry.ALGORITHMS:
        k = registry.get(algorithm, "openssl")
        assert k.available, k.reason


def test_unavailable_kernels_say_why():
    for k in registry.kernels():
        if not k.available:
            assert k.reason.strip(), f"{k.name} is unavailable without a reason"


def test_failing_backend_module_becomes_unavailable_with_reason(monkeypatch):
    mod = types.ModuleType("cryptobench.kernels.aes_gcm.exploding")

    def register(reg):
        raise RuntimeError("boom")

    mod.register = register
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    reg = Registry()
    registry._load_module(reg, mod.__name__)
    names = {k.name: k for k in reg.all()}
    assert set(names) == {"aes-128-gcm/exploding", "aes-256-gcm/exploding"}
    assert all(not k.available and "boom" in k.reason for k in names.values())


def test_import_error_inside_backend_becomes_unavailable(monkeypatch, tmp_path):
    pkg = tmp_path / "fakepkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "ecdsa_p256").mkdir()
    (pkg / "ecdsa_p256" / "__init__.py").write_text("")
    (pkg / "ecdsa_p256" / "broken.py").write_text("import module_that_does_not_exist_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = Registry()
    registry._load_module(reg, "fakepkg.ecdsa_p256.broken")
    (k,) = reg.all()
    assert k.name == "ecdsa-p256-sha256/broken" and not k.available
    assert "module_that_does_not_exist_xyz" in k.reason


@pytest.mark.parametrize(
    "pattern,backend,expected",
    [
        ("native", "native-vaes", True),
        ("native", "native", True),
        ("native", "nativex", False),
        ("native-*", "native-aesni", True),
        ("peer", "peer-pyaes", True),
        ("python", "python", True),
        ("numba*", "numba-hw", True),
        ("openssl", "python", False),
    ],
)
def test_backend_matching(pattern, backend, expected):
    assert registry.backend_matches(backend, pattern) is expected


def test_select_refuses_unknown_names_listing_valid_ones():
    with pytest.raises(UsageError, match="valid: aes-128-gcm"):
        registry.select("aes-512-gcm")
    with pytest.raises(UsageError, match="unknown backend 'nosuch'.*openssl"):
        registry.select(None, "nosuch")


@pytest.mark.parametrize(
    "value,expected",
    [
        ("ecdsa", ["ecdsa-p256-sha256"]),
        ("aes", ["aes-128-gcm", "aes-256-gcm"]),
        ("aes-256", ["aes-256-gcm"]),
        ("chacha20", ["chacha20-poly1305"]),
        ("*gcm", ["aes-128-gcm", "aes-256-gcm"]),
        ("aes-128-gcm,aes", ["aes-128-gcm", "aes-256-gcm"]),  # each once, in the order named
        (None, []),
    ],
)
def test_algorithms_are_selected_by_the_rule_backends_follow(value, expected):
    assert registry.expand_algorithms(value) == expected


def test_an_algorithm_prefix_must_end_at_a_dash():
    for bad in ("chacha", "aes-12", "gcm", "x*"):
        with pytest.raises(UsageError, match=f"unknown algorithm '{re.escape(bad)}'; valid: aes-128-gcm"):
            registry.expand_algorithms(bad)
    assert {k.algorithm for k in registry.select("ecdsa", "python")} == {"ecdsa-p256-sha256"}


def test_select_refuses_names_that_exist_but_never_together():
    # ChaCha20-Poly1305 has no AES-NI backend; a verify or leakcheck over this
    # selection used to check nothing and exit 0
    with pytest.raises(UsageError, match="no kernel is both algorithm chacha20-poly1305 and backend native-aesni"):
        registry.select("chacha20-poly1305", "native-aesni")
    assert {k.backend for k in registry.select("chacha20-poly1305,aes-128-gcm", "native-aesni")} == {"native-aesni"}


def test_import_cryptobench_loads_no_backend():
    code = (
        "import sys, cryptobench; "
        "bad = [m for m in sys.modules if m.startswith(('numba', 'cryptobench.kernels', 'cryptography'))]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# -------------------------------------------------------------- broken kernels


class _TagFlipper:
    """Wraps an AES-GCM kernel (openssl, or python as a broken reference) and flips one tag bit on encrypt."""

    def __init__(self, inner):
        self.inner = inner
        self.key_size = inner.key_size

    def supports(self, nonce_len, tag_len):
        return self.inner.supports(nonce_len, tag_len)

    def new(self, key, tag_length=16):
        ctx = self.inner.new(key, tag_length)

        class Ctx:
            def encrypt(self, nonce, pt, aad=b""):
                out = bytearray(ctx.encrypt(nonce, pt, aad))
                out[-1] ^= 1
                return bytes(out)

            def decrypt(self, nonce, data, aad=b""):
                return ctx.decrypt(nonce, data, aad)

        return Ctx()


class _WrapsOpensslECDSA:
    """The openssl ECDSA kernel, delegated to; the broken kernels below override one part."""

    supports_given_k = False

    def __init__(self, inner):
        self.inner = inner

    def private_key(self, d):
        return self.inner.private_key(d)

    def generate(self):
        return self.inner.generate()

    def public_key(self, sec1):
        return self.inner.public_key(sec1)


class _AcceptsAnything(_WrapsOpensslECDSA):
    """Wraps the openssl ECDSA kernel but accepts every signature."""

    def public_key(self, sec1):
        class Pub:
            encoded = bytes(sec1)

            def verify(self, message, signature):
                return None

            def verify_raw(self, message, r, s):
                return None

        return Pub()


class _NoPointValidation(_WrapsOpensslECDSA):
    """Wraps the openssl ECDSA kernel but takes any 65-byte public key (off the curve:
    a key that refuses every signature). It signs and verifies correctly, so only
    the public-key validation vectors (PKV.rsp) can tell."""

    def public_key(self, sec1):
        from cryptobench import InvalidPoint, InvalidSignature

        try:
            return self.inner.public_key(sec1)
        except InvalidPoint:
            pass

        class Pub:
            encoded = bytes(sec1)

            def verify(self, message, signature):
                raise InvalidSignature("no")

            def verify_raw(self, message, r, s):
                raise InvalidSignature("no")

        return Pub()


class _WrongKeygen(_WrapsOpensslECDSA):
    """Validates points, but its private key's public key is (d + 1)*G (1*G for
    d = n - 1), not d*G (and an openssl kernel signs no given-k vector, so
    SigGen.txt cannot see it)."""

    def private_key(self, d):
        from cryptobench.kernels._ecdsa_common import N

        inner, other = self.inner.private_key(d), self.inner.private_key(d % (N - 1) + 1)

        class Priv:
            def sign(self, message):
                return inner.sign(message)

            def sign_raw(self, message, k=None):
                return inner.sign_raw(message, k)

            def public_key(self):
                return other.public_key()

        return Priv()


@pytest.fixture
def broken_kernels():
    reg = registry.default_registry()
    added = [
        Kernel("aes-128-gcm", "broken-tagflip", True, impl=_TagFlipper(registry.get("aes-128-gcm", "openssl").impl)),
        Kernel("ecdsa-p256-sha256", "broken-acceptall", True, impl=_AcceptsAnything(registry.get("ecdsa-p256-sha256", "openssl").impl)),
        Kernel("ecdsa-p256-sha256", "broken-nopkv", True, impl=_NoPointValidation(registry.get("ecdsa-p256-sha256", "openssl").impl)),
        Kernel("ecdsa-p256-sha256", "broken-keygen", True, impl=_WrongKeygen(registry.get("ecdsa-p256-sha256", "openssl").impl)),
    ]
    for k in added:
        reg.add(k)
    yield added
    for k in added:
        reg.remove(k.name)


def test_tag_flipping_kernel_makes_verify_exit_1(broken_kernels, capsys):
    assert main(["verify", "--backend", "broken-tagflip", "--quick"]) == 1
    assert "FAILED" in capsys.readouterr().out


def test_accept_anything_kernel_makes_verify_exit_1(broken_kernels, capsys):
    assert main(["verify", "--backend", "broken-acceptall", "--quick"]) == 1
    out = capsys.readouterr().out
    assert "invalid signature was accepted" in out


@pytest.mark.parametrize("backend,failing,needle", [
    # only the PKV vectors and the constructed bad encodings see a missing point validation
    ("broken-nopkv", {"vectors PKV.rsp", "vectors constructed edge cases"}, "an invalid public key was accepted"),
    # the differential check sees a wrong key pair too, but openssl signs no given-k vector
    ("broken-keygen", {"vectors KeyPair.rsp", "vectors constructed edge cases", "differential vs openssl"}, "d*G gave"),
])
def test_public_key_and_keygen_faults_are_caught_by_their_vectors(broken_kernels, backend, failing, needle):
    from cryptobench.verify import verify_kernel

    rep = verify_kernel(registry.get("ecdsa-p256-sha256", backend))
    assert {c.name for c in rep.checks if c.failed} == failing
    assert any(needle in m for c in rep.checks for m in c.failures)


def test_tag_flipper_really_is_broken(broken_kernels):
    ctx = broken_kernels[0].impl.new(bytes(16))
    with pytest.raises(InvalidTag):
        ctx.decrypt(bytes(12), ctx.encrypt(bytes(12), b"x"))


def test_der_codec_rejects_non_canonical():
    from cryptobench import InvalidSignature
    from cryptobench.kernels._ecdsa_common import decode_der

    good = encode_der(1, 2**255)
    assert decode_der(good) == (1, 2**255)
    s_int = good[5:]  # INTEGER s, as encoded
    padded_r = b"\x02\x02\x00\x01"  # r = 1 with a leading zero it does not need
    assert decode_der(b"\x30" + bytes([len(b"\x02\x01\x01" + s_int)]) + b"\x02\x01\x01" + s_int) == (1, 2**255)
    for bad in (
        b"\x30\x81" + good[1:],               # long-form length below 128
        b"\x30" + bytes([len(padded_r + s_int)]) + padded_r + s_int,  # lengths right, r not minimal
        good + b"\x00",                      # trailing data
        b"\x30\x06\x02\x01\x81\x02\x01\x01",  # negative r
    ):
        with pytest.raises(InvalidSignature):
            decode_der(bad)


class _XOfRNotReduced(_WrapsOpensslECDSA):
    """Verifies with the reference arithmetic but compares x(R) itself with r (no
    reduction mod n) and takes R = O for a point: right on every published vector,
    wrong on x(R) >= n (probability about 2^-128 for a random signature)."""

    def public_key(self, sec1):
        from cryptobench import InvalidSignature
        from cryptobench import _reference as ref
        from cryptobench.kernels._ecdsa_common import N, decode_point, message_representative

        q = decode_point(sec1)

        class Pub:
            encoded = bytes(sec1)

            def verify(self, message, signature):
                from cryptobench.kernels._ecdsa_common import decode_der

                self.verify_raw(message, *decode_der(signature))

            def verify_raw(self, message, r, s):
                if not (0 < r < N and 0 < s < N):
                    raise InvalidSignature("out of range")
                w = pow(s, -1, N)
                R = ref.double_scalar_mul(message_representative(message) * w % N, r * w % N, q)
                if R[0] != r:  # the bugs: no "mod n", and R may be None
                    raise InvalidSignature("no")

        return Pub()


def test_constructed_edge_cases_catch_what_published_vectors_miss():
    from cryptobench.verify import CheckResult, check_signature_vectors, vector_sets

    bad = Kernel("ecdsa-p256-sha256", "test-noreduce", True,
                 impl=_XOfRNotReduced(registry.get("ecdsa-p256-sha256", "openssl").impl))
    sets = vector_sets(bad)
    assert "constructed edge cases" in [name for name, _ in sets]
    for name, vecs in sets:
        if "rsp" in name or name == "evppkey_ecdsa_rfc6979.txt":
            vecs = [v for v in vecs if v.kind == "verify"]
        res = check_signature_vectors(bad, vecs, CheckResult(name))
        if name == "constructed edge cases":
            assert res.failed == 2, res.failures  # x(R) >= n rejected; infinity raised TypeError
            assert any("a valid signature was rejected" in f for f in res.failures)
            assert any("verify raised TypeError" in f for f in res.failures)
        else:
            assert res.failed == 0, (name, res.failures)


def test_double_scalar_hot_path_cases_reach_exceptional_additions():
    """A double-scalar-mul built on the chord rule alone (no P + P or P + (-P) case)
    is right for random scalars; verify's Q = +-G cases make its sums meet."""
    from cryptobench import _reference as ref
    from cryptobench.kernels._ecdsa_common import N, P
    from cryptobench.verify import check_hot_path

    def chord_only(p1, p2):
        if p1 is None or p2 is None:
            return p1 or p2
        lam = (p2[1] - p1[1]) * pow(p2[0] - p1[0], -1, P) % P  # fails when x1 == x2
        x3 = (lam * lam - p1[0] - p2[0]) % P
        return x3, (lam * (p1[0] - x3) - p1[1]) % P

    def setup(q):
        return lambda u1, u2: chord_only(ref.scalar_mul(u1 % N, ref.G), ref.scalar_mul(u2 % N, q))

    bad = Kernel("ecdsa-p256-sha256", "test-chord-only", True, hot_paths={"double-scalar-mul": setup})
    res = check_hot_path(bad, "double-scalar-mul", seed=5, quick=True)
    assert res.failed and all(f.startswith(("Q=G ", "Q=-G ", "sum at infinity")) for f in res.failures), res.failures
    assert any(f.startswith("Q=G u1=1 u2=1") for f in res.failures)  # G + G: a doubling, not infinity
    assert res.passed >= 3  # the random cases pass


# ---------------------------------------------------------------- backends outside this repository

TESTS_DIR = __import__("pathlib").Path(__file__).resolve().parent


def _cli_with(env_extra: dict[str, str], *args: str, cwd=None) -> subprocess.CompletedProcess:
    import os

    env = dict(os.environ, PYTHONPATH=str(TESTS_DIR), COLUMNS="250", **env_extra)
    return subprocess.run([sys.executable, "-m", "cryptobench", *args], capture_output=True, text=True, env=env,
                          timeout=600, cwd=cwd)


def test_an_out_of_tree_backend_is_listed_verified_timed_and_compared(tmp_path):
    # there was no way to add one without editing the installed package, and a kernel added in
    # the parent only was unknown to run's worker processes ("worker exited with status 1")
    env = {"CRYPTOBENCH_BACKENDS": "example_backend"}
    p = _cli_with(env, "list", "-b", "example")
    assert p.returncode == 0 and "chacha20-poly1305" in p.stdout and "out-of-tree example backend" in p.stdout, p.stderr
    p = _cli_with(env, "verify", "-b", "example")
    assert p.returncode == 0 and "chacha20-poly1305/example │ PASSED" in p.stdout, p.stdout + p.stderr
    out = tmp_path / "r.json"
    p = _cli_with(env, "run", "--fast", "-a", "chacha20-poly1305", "-b", "openssl,example", "--sizes", "64",
                  "--no-hot-paths", "-o", str(out))
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    from cryptobench import results

    res = results.load(out)
    assert res.kernels["chacha20-poly1305/example"]["status"] == "passed"
    assert res.find("chacha20-poly1305", "example", "encrypt", 64) is not None
    # the files say the backend exists: compare and gate take -b example without the variable
    p = _cli_with({"CRYPTOBENCH_BACKENDS": ""}, "compare", str(out), str(out), "-b", "example")
    assert p.returncode == 0 and "2 benchmarks compared" in p.stdout, p.stdout + p.stderr


@pytest.mark.parametrize("modules,needle", [
    ("no_such_backend_module", "CRYPTOBENCH_BACKENDS: no_such_backend_module: failed to import: ModuleNotFoundError"),
    ("json", "CRYPTOBENCH_BACKENDS: json: has no register(reg) function (docs/kernels.md)"),
    # it imports the registry's users at import time: this deadlocked on the registry's lock
    ("conftest", "CRYPTOBENCH_BACKENDS: conftest: failed to import: UsageError('a backend module used the kernel"),
])
def test_a_bad_out_of_tree_module_is_one_line(modules, needle):
    p = _cli_with({"CRYPTOBENCH_BACKENDS": modules}, "list")
    assert p.returncode == 2 and p.stderr.strip().startswith("cryptobench list: error: " + needle), p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


def test_backend_names_are_checked_and_a_clash_names_the_first_module():
    reg = Registry()
    with pytest.raises(ValueError, match=r"backend name 'my/lib': use lower-case letters, digits and - _ \. only"):
        reg.add(Kernel("chacha20-poly1305", "my/lib", True))
    sys.path.insert(0, str(TESTS_DIR))
    try:
        registry._load_extra(reg, "example_backend")
        with pytest.raises(UsageError, match=r"example_backend.register failed: kernel chacha20-poly1305/example "
                                             r"registered twice \(first by example_backend\)"):
            registry._load_extra(reg, "example_backend")
    finally:
        sys.path.remove(str(TESTS_DIR))


def test_registration_mistakes_are_refused_when_registered_not_found_later():
    # constant_time="no" was listed as a claim and leakcheck judged it as one; a list of hot
    # paths or a setup that is no function failed 31 times in verify; an available kernel with
    # nothing to run "passed" verify; a newline in a path split list's rows and made run's
    # workers fail on pyperf's metadata
    impl = registry.default_registry().get("chacha20-poly1305", "openssl").impl

    def add(**kw):
        Registry().add(Kernel("chacha20-poly1305", "mine", kw.pop("available", True), **kw))

    for kw, needle in (
        ({"impl": impl, "constant_time": "no"}, "constant_time must be True or False, got 'no'"),
        ({"impl": impl, "hot_paths": ["chacha20"]}, "hot_paths must map hot-path names to setup functions"),
        ({"impl": impl, "hot_paths": {"chacha20": 5}}, "hot_paths must map hot-path names to setup functions"),
        ({}, "an available kernel needs an impl or hot paths"),
        ({"available": False, "reason": " "}, "an unavailable kernel needs a reason"),
        ({"impl": impl, "path": "a\nb"}, "path must be printable text"),
    ):
        with pytest.raises(ValueError, match=needle):
            add(**kw)
    add(impl=impl, constant_time=False, path="one line")  # and the right shapes are taken
    add(available=False, reason="no such CPU feature")


def test_an_unknown_backend_points_at_the_variable_that_loads_ones_own():
    # a newcomer whose CRYPTOBENCH_BACKENDS was unset saw only the list of built-in backends
    with pytest.raises(UsageError, match=r"unknown backend 'mylib'; valid: .*\(a backend of your own: name its module "
                                         r"in CRYPTOBENCH_BACKENDS\)$"):
        registry.select(backends="mylib")
    with pytest.raises(UsageError, match=r"name its module in CRYPTOBENCH_BACKENDS\)$"):
        registry.name_filter(None, None, "mylib")
