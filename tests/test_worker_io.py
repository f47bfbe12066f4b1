"""A kernel's own output must not hang or break run's pyperf workers.

The workers talk to run over stdout (CB-* lines) and leave errors on stderr.
A kernel that logs to stderr filled an unread pipe (64 KiB) and hung the run;
one that writes to stdout garbled a calibration line, and the second worker's
values then failed to pool with a traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

TESTS_DIR = Path(__file__).parent

BACKEND = textwrap.dedent('''
    import os
    import sys

    import example_backend as eb
    from cryptobench.registry import Kernel

    class _Chatty(eb._Context):
        def encrypt(self, nonce, plaintext, aad=b""):
            if os.environ.get("CHATTY") == "stderr":  # a debug logger: 100 bytes a call
                sys.stderr.write("DEBUG mylib.aead: ChaCha20Poly1305.encrypt(len=%d) -> ok %s\\n" % (len(plaintext), "." * 40))
            elif os.environ.get("CHATTY") == "stdout":  # progress dots
                sys.stdout.write(".")
            elif os.environ.get("CHATTY") == "protocol" and not getattr(self, "said", False):  # a line like run's own
                self.said = True
                print("CB-META {debug: on}", flush=True)
            elif os.environ.get("CHATTY") == "wears-out":  # right for 500 calls on a context, then zeros
                self.calls = getattr(self, "calls", 0) + 1
                if self.calls > 500:
                    return bytes(len(plaintext) + 16)
            elif os.environ.get("CHATTY") == "hangs":  # a deadlock after 2,000 calls on a context (the timing)
                self.calls = getattr(self, "calls", 0) + 1
                if self.calls > 2000:
                    import time
                    time.sleep(3600)
            elif os.environ.get("CHATTY") == "exit":  # a library that calls sys.exit() on an error
                sys.exit(3)
            elif os.environ.get("CHATTY") == "raise":  # a kernel that fails on an ordinary call
                raise RecursionError("deep inside the kernel")
            elif os.environ.get("CHATTY") == "chdir":  # a library that changes the working directory
                os.chdir(os.environ["CHDIR_TO"])
            return super().encrypt(nonce, plaintext, aad)

    class _Impl(eb.ExampleChaCha20Poly1305):
        def new(self, key, tag_length=16):
            return _Chatty(self.checked(key, tag_length))

    def _prepare():
        what = os.environ.get("CHATTY_PREPARE")
        if what == "raise":
            raise RuntimeError("no tables today")
        return {"nan": float("nan"), "text": "a\x1b[31mb", "nested": [1, 2]} if what == "odd" else None

    def register(reg):
        if os.environ.get("CHATTY_REGISTER") == "exit":
            sys.exit(5)
        reg.add(Kernel(algorithm="chacha20-poly1305", backend="chatty", available=True, impl=_Impl(),
                       path=os.environ.get("CHATTY_PATH", "cryptography-aead"), constant_time=True, prepare=_prepare,
                       lacks={"chacha20": "AEAD only", "poly1305": "AEAD only"},
                       description="writes to stderr or stdout on every call"))
        if os.environ.get("CHATTY") == "env":  # a kernel that needs its own environment (Kernel.env)
            reg.add(Kernel(algorithm="chacha20-poly1305", backend="chatty-env", available=True, impl=_Impl(),
                           path="cryptography-aead", constant_time=True, env={"CHATTY_FLAG": "1"},
                           lacks={"chacha20": "AEAD only", "poly1305": "AEAD only"},
                           description="verified in a child started with CHATTY_FLAG=1"))
''')


def _run(tmp_path: Path, chatty: str, *profile: str, others: str = "") -> tuple[subprocess.CompletedProcess, Path]:
    (tmp_path / "chatty_backend.py").write_text(BACKEND)
    env = dict(os.environ, PYTHONPATH=f"{tmp_path}{os.pathsep}{TESTS_DIR}", CRYPTOBENCH_BACKENDS="chatty_backend",
               CHATTY=chatty, COLUMNS="250")
    out = tmp_path / "r.json"
    p = subprocess.run([sys.executable, "-m", "cryptobench", "run", *profile, "-a", "chacha20-poly1305",
                        "-b", "chatty" + others, "--sizes", "64", "--no-hot-paths", "--filter", "encrypt", "-o", str(out)],
                       capture_output=True, text=True, env=env, timeout=300)
    return p, out


def test_a_kernel_logging_to_stderr_does_not_hang_the_run(tmp_path):
    from cryptobench import results

    p, out = _run(tmp_path, "stderr", "--fast")  # hung at "timing 0/1" until killed
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    res = results.load(out)
    assert res.kernels["chacha20-poly1305/chatty"]["status"] == "passed"
    assert res.find("chacha20-poly1305", "chatty", "encrypt", 64) is not None


def test_a_kernel_that_hangs_while_timed_is_stopped_and_the_run_goes_on(tmp_path):
    # a worker that never finished hung the run (and a nightly job) until it was killed from outside
    from cryptobench import results

    t0 = time.monotonic()
    p, out = _run(tmp_path, "hangs", "--fast", "--timeout", "5", others=",openssl")
    text = " ".join((p.stdout + p.stderr).split())
    assert time.monotonic() - t0 < 120, text[-2000:]
    assert p.returncode == 1 and "Traceback" not in text, text[-3000:]
    assert ("chacha20-poly1305/chatty: ERROR — its timing worker ran longer than 5 s and was stopped "
            "(run --timeout; 0: no limit)") in text, text[-3000:]
    res = results.load(out)
    assert res.kernels["chacha20-poly1305/chatty"]["status"] == "error"
    assert res.find("chacha20-poly1305", "openssl", "encrypt", 64) is not None  # the run went on


def test_a_kernel_writing_to_stdout_is_an_error_not_a_traceback(tmp_path):
    # a protocol-like line from the kernel: json.loads raised in run (a traceback, exit 1)
    p, out = _run(tmp_path, "protocol", "--fast")
    text = " ".join((p.stdout + p.stderr).split())
    assert p.returncode == 1 and "Traceback" not in text, text[-3000:]
    assert "a worker's protocol line was garbled ('CB-META {debug: on}'): does the kernel write to stdout?" in text


def test_dots_on_stdout_lose_a_calibration_line_and_make_an_error(tmp_path):
    # the dots run into the first worker's CB-CAL line, so the second worker calibrates again and
    # its values (other inner loops) do not pool: pyperf's ValueError was a traceback
    p, out = _run(tmp_path, "stdout")  # the default profile: two worker processes
    text = " ".join((p.stdout + p.stderr).split())
    assert "Traceback" not in text, text[-3000:]
    # two calibrations of the same benchmark can agree (rarely): then the values are sound and pool
    assert p.returncode == 1 or "chacha20-poly1305/chatty/encrypt/64" in text, text[-2000:]
    if p.returncode == 1:
        assert "the workers' values do not pool" in text and "does the kernel write to stdout?" in text


def test_a_kernel_that_changes_directory_does_not_move_the_results(tmp_path):
    # "wrote results/....json" went to the kernel's directory, and a stale lock stayed behind
    (tmp_path / "chatty_backend.py").write_text(BACKEND)
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    work.mkdir()
    elsewhere.mkdir()
    env = dict(os.environ, PYTHONPATH=f"{tmp_path}{os.pathsep}{TESTS_DIR}", CRYPTOBENCH_BACKENDS="chatty_backend",
               CHATTY="chdir", CHDIR_TO=str(elsewhere), COLUMNS="250")
    for extra in ([], ["-o", "mine.json"]):
        p = subprocess.run([sys.executable, "-m", "cryptobench", "run", "--fast", "-a", "chacha20-poly1305", "-b", "chatty",
                            "--sizes", "64", "--no-hot-paths", "--filter", "encrypt", *extra],
                           capture_output=True, text=True, env=env, timeout=300, cwd=work)
        assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    p = subprocess.run([sys.executable, "-m", "cryptobench", "verify", "-b", "chatty", "--quick", "--no-wycheproof",
                        "--json", "v.json"], capture_output=True, text=True, env=env, timeout=300, cwd=work)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    assert list(elsewhere.iterdir()) == []
    assert (work / "mine.json").is_file() and (work / "v.json").is_file()
    assert [f.suffix for f in (work / "results").iterdir()] == [".json"]  # the file, and no lock left


def test_a_kernel_with_its_own_environment_from_a_top_level_module_verifies(tmp_path):
    # the verification child registered the module a second time through the built-in loader,
    # which split 'chatty_backend' as 'family.backend': ValueError, and the kernel FAILED
    (tmp_path / "chatty_backend.py").write_text(BACKEND)
    env = dict(os.environ, PYTHONPATH=f"{tmp_path}{os.pathsep}{TESTS_DIR}", CRYPTOBENCH_BACKENDS="chatty_backend",
               CHATTY="env", COLUMNS="250")
    p = subprocess.run([sys.executable, "-m", "cryptobench", "verify", "-b", "chatty-env", "--quick", "--no-wycheproof"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0 and "chacha20-poly1305/chatty-env │ PASSED" in p.stdout, p.stdout[-2000:] + p.stderr[-1000:]


def test_leakcheck_reports_a_kernel_that_raises_while_its_inputs_are_made(tmp_path):
    # the forged tag and the ciphertexts are made with the kernel before it is verified: a traceback, exit 1
    (tmp_path / "chatty_backend.py").write_text(BACKEND)
    env = dict(os.environ, PYTHONPATH=f"{tmp_path}{os.pathsep}{TESTS_DIR}", CRYPTOBENCH_BACKENDS="chatty_backend",
               CHATTY="raise", COLUMNS="250")
    p = subprocess.run([sys.executable, "-m", "cryptobench", "leakcheck", "-b", "chatty", "--no-control", "-n", "1000",
                        "--budget", "1"], capture_output=True, text=True, env=env, timeout=300)
    text = p.stdout + p.stderr
    assert p.returncode == 1 and "Traceback" not in text, text[-2000:]
    assert "preparing its inputs raised RecursionError('deep inside the kernel'), not timed" in " ".join(text.split())


def test_a_kernel_that_answers_wrongly_once_timed_is_an_error_not_a_figure(tmp_path):
    # it passed its vectors in the parent, then returned zeros in the worker's timing loop:
    # run reported it 9x faster than openssl, exit 0
    from cryptobench import results

    p, out = _run(tmp_path, "wears-out", "--fast")
    text = " ".join((p.stdout + p.stderr).split())
    assert p.returncode == 1, text[-2000:]
    assert "after timing chacha20-poly1305/chatty/encrypt/64: encrypt no longer gives openssl's ciphertext and tag" in text
    res = results.load(out)
    assert res.kernels["chacha20-poly1305/chatty"]["status"] == "error"
    assert res.find("chacha20-poly1305", "chatty", "encrypt", 64) is None


def _chatty(tmp_path: Path, command: list[str], **extra: str) -> subprocess.CompletedProcess:
    (tmp_path / "chatty_backend.py").write_text(BACKEND)
    env = dict(os.environ, PYTHONPATH=f"{tmp_path}{os.pathsep}{TESTS_DIR}", CRYPTOBENCH_BACKENDS="chatty_backend",
               COLUMNS="250", **extra)
    return subprocess.run([sys.executable, "-m", "cryptobench", *command], capture_output=True, text=True, env=env,
                          timeout=300, cwd=tmp_path)


RUN_CHATTY = ["run", "--fast", "-a", "chacha20-poly1305", "-b", "chatty", "--sizes", "64", "--no-hot-paths",
              "--filter", "encrypt", "-o", "r.json"]


def test_what_run_writes_its_reader_reads(tmp_path):
    # a NaN or an escape sequence from prepare(), or in OPENSSL_ia32cap, went into the results
    # file, which show, compare and gate then refused ("control characters", "holds NaN")
    from cryptobench import results

    p = _chatty(tmp_path, RUN_CHATTY, CHATTY_PREPARE="odd", OPENSSL_ia32cap="\x1b[31m:~0x0")
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    res = results.load(tmp_path / "r.json")
    assert res.machine["openssl_ia32cap"] == "\\x1b[31m:~0x0"
    prep = res.kernels["chacha20-poly1305/chatty"]["cold_prepare"]
    assert prep == {"nan": "nan", "text": "a\\x1b[31mb", "nested": "[1, 2]"}


def test_a_prepare_that_raises_is_the_kernels_error(tmp_path):
    p = _chatty(tmp_path, RUN_CHATTY, CHATTY_PREPARE="raise")
    text = " ".join((p.stdout + p.stderr).split())
    assert p.returncode == 1 and "Traceback" not in text, text[-2000:]
    assert "prepare() raised RuntimeError('no tables today')" in text


def test_a_kernel_path_with_an_escape_sequence_is_refused_when_registered(tmp_path):
    p = _chatty(tmp_path, ["list"], CHATTY_PATH="ev\x1b[31mil")
    assert p.returncode == 2, p.stdout[-2000:] + p.stderr[-2000:]
    assert "path must be printable text of at most 4,096 characters" in p.stderr and "Traceback" not in p.stderr


def test_sys_exit_in_a_kernel_or_its_register_is_a_failure_with_a_message(tmp_path):
    # verify (and run) exited with the kernel's status 3 and no word; register() exiting ended any command
    p = _chatty(tmp_path, ["verify", "-b", "chatty", "--quick", "--no-wycheproof"], CHATTY="exit")
    text = " ".join((p.stdout + p.stderr).split())
    assert p.returncode == 1 and "FAILED" in text and "SystemExit: 3" in text, text[-2000:]
    p = _chatty(tmp_path, ["list"], CHATTY_REGISTER="exit")
    assert p.returncode == 2 and "chatty_backend.register failed: SystemExit(5)" in p.stderr, p.stdout + p.stderr
