"""Interruption as a user causes it: Ctrl-C (SIGINT to the process group),
SIGTERM to the command alone (a CI timeout, `timeout`), SIGHUP (a closed
terminal). Each ends a command through the same cleanup: one line
"cryptobench <command>: interrupted", exit status 130, no temporary file
beside an output, no output half-written, no worker, verification child or
callgrind left running. tests/test_faults.py covers `run`'s partial results
file; this file the other commands and signals.

Each test waits for its moment (a line the command prints, a child process
that exists) rather than sleeping a fixed time, so a loaded machine only
makes it slower.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import require_tool

#: The console script, with an atomic write held once its temporary file is
#: written (announced on stderr): the moment a command is "writing its
#: outputs". With TEST_HOLD_WHEN=PATH, the first write after PATH exists.
HOLD_WRITES = r"""
import os, sys, time, types
import cryptobench._io as io

def fsync(fd):
    os.fsync(fd)
    if os.path.exists(os.environ.get("TEST_HOLD_WHEN", "/")):
        print("TEST-STAGED", file=sys.stderr, flush=True)
        time.sleep(30)

io.os = types.SimpleNamespace(**{**{k: getattr(os, k) for k in dir(os) if not k.startswith("__")}, "fsync": fsync})
from cryptobench.cli import main
sys.argv[0] = "cryptobench"
sys.exit(main())
"""

#: The console script, held while it builds its parser (before any command runs).
HOLD_STARTUP = r"""
import sys, time
import cryptobench.cli as cli

build = cli.build_parser
def build_parser():
    print("TEST-STARTING", file=sys.stderr, flush=True)
    time.sleep(30)
    return build()

cli.build_parser = build_parser
sys.argv[0] = "cryptobench"
sys.exit(cli.main())
"""


#: The console script, held when `run` has reserved its results file's name and is about
#: to make its worker directory.
HOLD_RESERVED = r"""
import sys, tempfile, time, types
import cryptobench.run as run

def mkdtemp(*a, **k):
    print("TEST-RESERVED", file=sys.stderr, flush=True)
    time.sleep(30)
    return tempfile.mkdtemp(*a, **k)

run.tempfile = types.SimpleNamespace(mkdtemp=mkdtemp)
from cryptobench.cli import main
sys.argv[0] = "cryptobench"
sys.exit(main())
"""


def _env(tmp: Path) -> dict[str, str]:
    (tmp / "tmp").mkdir(exist_ok=True)
    return dict(os.environ, COLUMNS="200", TMPDIR=str(tmp / "tmp"))


def _default_signals(ignore_hup: bool = False):
    """In the child: SIGINT at its default even when pytest runs as a background job
    (which ignores it, and Python then installs no KeyboardInterrupt handler)."""
    def pre() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGHUP, signal.SIG_IGN if ignore_hup else signal.SIG_DFL)
    return pre


def _start(code: str | None, args: list[str], cwd: Path, ignore_hup: bool = False, **env: str) -> subprocess.Popen:
    """``cryptobench args`` (through ``code`` when given) in a new session, as a terminal starts a job."""
    prog = [sys.executable, "-c", code] if code else [sys.executable, "-m", "cryptobench.cli"]
    return subprocess.Popen([*prog, *args], cwd=cwd, env={**_env(cwd), **env}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=_default_signals(ignore_hup))


def _wait_for_line(proc: subprocess.Popen, marker: str, timeout: float = 60) -> list[str]:
    """stderr lines up to the one holding ``marker`` (the process is then at that moment)."""
    seen = []
    deadline = time.monotonic() + timeout
    assert proc.stderr is not None
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            pytest.fail(f"the command ended before {marker!r}: {''.join(seen)}")
        seen.append(line)
        if marker in line:
            return seen
    pytest.fail(f"no {marker!r} within {timeout} s")


def _children(pid: int) -> list[int]:
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _wait_for_child(proc: subprocess.Popen, needle: str, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for c in _children(proc.pid):
            if needle in _cmdline(c):
                return c
        if proc.poll() is not None:
            pytest.fail(f"the command ended before a child {needle!r} started: {proc.stderr.read()}")
        time.sleep(0.01)
    pytest.fail(f"no child {needle!r} within {timeout} s")


def _running(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie no longer does: here, orphans may stay unreaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _stops(pid: int, timeout: float = 10) -> bool:
    """Whether ``pid`` stops running within ``timeout``: a child that the signal caught still
    being started (its Popen not yet returned) is not the command's to reap; it goes when
    the command exits (PR_SET_PDEATHSIG), a moment later."""
    deadline = time.monotonic() + timeout
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not _running(pid)


def _finish(proc: subprocess.Popen, timeout: float = 30) -> tuple[int, str]:
    try:
        _, err = proc.communicate(timeout=timeout)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # whatever is left of the group
        except ProcessLookupError:
            pass
        if proc.returncode is None:
            proc.communicate()
    return proc.returncode, err


def _assert_interrupted(rc: int, err: str, command: str) -> None:
    assert "Traceback" not in err, err
    assert rc == 130, err
    assert err.strip().splitlines()[-1] == f"cryptobench {command}: interrupted", err


def _send(proc: subprocess.Popen, how: str) -> None:
    if how == "ctrl-c":
        os.killpg(proc.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole foreground group
    else:
        os.kill(proc.pid, {"sigterm": signal.SIGTERM, "sighup": signal.SIGHUP}[how])


SIGNALS = ["ctrl-c", "sigterm", "sighup"]


# ------------------------------------------------------------------ writing outputs


@pytest.mark.parametrize("how", SIGNALS)
def test_a_signal_while_writing_json_leaves_no_temp_file(tmp_path, how):
    """SIGTERM and SIGHUP used to kill the process outright here: a .FILE.*.tmp stayed beside the target."""
    out = tmp_path / "out"
    out.mkdir()
    proc = _start(HOLD_WRITES, ["verify", "-a", "chacha20-poly1305", "-b", "python", "--json", str(out / "v.json")],
                  tmp_path)
    _wait_for_line(proc, "TEST-STAGED")
    assert [p.name.endswith(".tmp") for p in out.iterdir()] == [True]  # the moment: the temporary file is there
    _send(proc, how)
    rc, err = _finish(proc)
    _assert_interrupted(rc, err, "verify")
    assert list(out.iterdir()) == []


def test_sigterm_while_writing_a_workbook_and_csvs_writes_none(tmp_path):
    """cost writes several files all or none: held at the first CSV (the workbook already staged, the
    CSV directory made), none is written and the directory it made is gone again."""
    results = Path(__file__).parent / "data" / "cost" / "results"
    csv = tmp_path / "csv"
    proc = _start(HOLD_WRITES, ["cost", "--results", str(results), "--xlsx", str(tmp_path / "c.xlsx"),
                                "--csv", str(csv)], tmp_path, TEST_HOLD_WHEN=str(csv))
    _wait_for_line(proc, "TEST-STAGED")
    staged = sorted(p.name for p in [*tmp_path.iterdir(), *csv.iterdir()] if p.name.endswith(".tmp"))
    assert len(staged) == 2 and any(n.startswith(".c.xlsx.") for n in staged), staged  # the moment
    _send(proc, "sigterm")
    rc, err = _finish(proc)
    _assert_interrupted(rc, err, "cost")
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ["tmp"], left


# ------------------------------------------------------------------ start-up


@pytest.mark.parametrize("how", SIGNALS)
def test_a_signal_during_start_up_is_one_line(tmp_path, how):
    """Before the command's own code runs (building the parser imports every command's module)."""
    proc = _start(HOLD_STARTUP, ["verify", "-a", "chacha20-poly1305", "-b", "python"], tmp_path)
    _wait_for_line(proc, "TEST-STARTING")
    _send(proc, how)
    rc, err = _finish(proc)
    assert "Traceback" not in err, err
    assert rc == 130 and err.strip().splitlines()[-1] == "cryptobench: interrupted", err


# ------------------------------------------------------------------ child processes

RUN = ["run", "--fast", "-a", "chacha20-poly1305", "-b", "python", "--sizes", "16", "--no-hot-paths"]


def test_sighup_to_run_kills_its_worker_and_cleans_up(tmp_path):
    """SIGHUP used to leave the worker directory in $TMPDIR and the results name's .lock reservation."""
    proc = _start(None, RUN, tmp_path)
    worker = _wait_for_child(proc, "cryptobench._worker")
    _send(proc, "sighup")
    rc, err = _finish(proc)
    assert rc == 130 and "Traceback" not in err, err
    assert "interrupted" in err.strip().splitlines()[-1], err
    assert _stops(worker)
    assert list((tmp_path / "tmp").iterdir()) == [], "the run left its worker directory behind"
    assert [p.name for p in (tmp_path / "results").iterdir()] == [], "a .lock or a results file is left"


@pytest.mark.parametrize("how", SIGNALS)
def test_an_interrupted_run_releases_the_results_name_it_reserved(tmp_path, how):
    """The name was reserved (a hidden .lock) before the cleanup's try: an interruption while the
    machine was described (~0.1 s of subprocesses) left the .lock behind."""
    proc = _start(HOLD_RESERVED, RUN, tmp_path)
    _wait_for_line(proc, "TEST-RESERVED")
    assert [p.name for p in (tmp_path / "results").iterdir()][0].endswith(".lock")  # the moment
    _send(proc, how)
    rc, err = _finish(proc)
    assert rc == 130 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1] == "cryptobench run: interrupted before any kernel finished; nothing written"
    assert list((tmp_path / "results").iterdir()) == []
    assert list((tmp_path / "tmp").iterdir()) == []


def test_closing_the_terminal_of_a_run_cleans_up(tmp_path):
    """The real SIGHUP: the terminal goes away under a progress bar, so writing to it fails
    too (EIO); that used to turn the exit status into 1, "a kernel failed"."""
    import fcntl
    import termios

    master, slave = os.openpty()

    def controlling_tty() -> None:
        _default_signals()()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    try:
        proc = subprocess.Popen([sys.executable, "-m", "cryptobench.cli", *RUN], cwd=tmp_path,
                                env=dict(_env(tmp_path), TERM="xterm"), stdin=slave, stdout=slave, stderr=slave,
                                start_new_session=True, preexec_fn=controlling_tty)
    finally:
        os.close(slave)
    try:
        deadline = time.monotonic() + 60
        worker = None
        while worker is None and time.monotonic() < deadline and proc.poll() is None:
            if select.select([master], [], [], 0.01)[0]:
                os.read(master, 65536)  # keep the terminal drained
            worker = next((c for c in _children(proc.pid) if "cryptobench._worker" in _cmdline(c)), None)
        assert worker is not None, "no worker started"
    finally:
        os.close(master)  # hang up
    try:
        rc = proc.wait(timeout=30)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert rc == 130
    assert _stops(worker)
    assert list((tmp_path / "tmp").iterdir()) == []
    assert [p.name for p in (tmp_path / "results").iterdir()] == []


def test_nohup_keeps_a_command_going_through_a_hangup(tmp_path):
    """Where SIGHUP is ignored (nohup), a hangup must not become an interruption."""
    proc = _start(HOLD_WRITES, ["verify", "-a", "chacha20-poly1305", "-b", "python", "--json", "v.json"], tmp_path,
                  ignore_hup=True)
    _wait_for_line(proc, "TEST-STAGED")
    _send(proc, "sighup")
    time.sleep(0.2)
    assert proc.poll() is None, "a hangup under nohup stopped the command"
    proc.terminate()  # the held write sleeps 30 s: end it as a CI timeout would
    rc, err = _finish(proc)
    _assert_interrupted(rc, err, "verify")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tmp"]


#: Counting 5000 calls of the pure-Python kernel keeps callgrind busy for minutes: it can
#: only be gone by the time the tests look if it was stopped.
GATE = ["gate", "--count", "-a", "chacha20-poly1305", "-b", "python", "--sizes", "64", "--calls", "5000"]


def test_sighup_to_gate_count_stops_callgrind_and_cleans_up(tmp_path):
    """SIGHUP used to leave callgrind running under init and $TMPDIR/cryptobench-icount-* behind."""
    require_tool("valgrind")
    proc = _start(None, [*GATE, "-o", str(tmp_path / "ic.json")], tmp_path)
    vg = _wait_for_child(proc, "callgrind")
    _send(proc, "sighup")
    rc, err = _finish(proc)
    _assert_interrupted(rc, err, "gate")
    assert _stops(vg)
    assert list((tmp_path / "tmp").iterdir()) == []
    assert not (tmp_path / "ic.json").exists()


def test_a_killed_gate_count_takes_callgrind_with_it(tmp_path):
    """SIGKILL allows no cleanup; callgrind must still not go on counting under init."""
    require_tool("valgrind")
    proc = _start(None, [*GATE, "-o", str(tmp_path / "ic.json")], tmp_path)
    vg = _wait_for_child(proc, "callgrind")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    try:
        assert _stops(vg), "callgrind outlived a SIGKILLed gate"
    finally:
        try:
            os.kill(vg, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _finish(proc)


# ------------------------------------------------------------------ in-process


def test_main_turns_sigterm_into_an_interrupt_and_puts_the_handlers_back(monkeypatch, capsys):
    """In-process too (tests, a library user): SIGTERM interrupts the command, SIGHUP stays as
    it was when ignored, and both handlers are as main() found them afterwards."""
    from cryptobench import bench_cli
    from cryptobench.cli import main

    stop = (signal.SIGTERM, signal.SIGHUP)
    before = {s: signal.getsignal(s) for s in stop}
    if before[signal.SIGTERM] != signal.SIG_DFL:
        pytest.skip("SIGTERM is handled by something else in this process")
    during = {}

    def command(args) -> int:
        during.update({s: signal.getsignal(s) for s in stop})
        if not callable(during[signal.SIGTERM]):
            return 0  # no handler: a SIGTERM would end pytest
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(10)
        return 0

    monkeypatch.setattr(bench_cli, "cmd_show", command)
    assert main(["show", "results.json"]) == 130
    assert capsys.readouterr().err == "cryptobench show: interrupted\n"
    assert callable(during[signal.SIGTERM])
    if before[signal.SIGHUP] == signal.SIG_IGN:  # under nohup
        assert during[signal.SIGHUP] == signal.SIG_IGN
    else:
        assert callable(during[signal.SIGHUP])
    assert {s: signal.getsignal(s) for s in stop} == before


@pytest.fixture
def sigterm_interrupts():
    """SIGTERM raising KeyboardInterrupt in this process, as cli.py sets it while a command runs."""
    if signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        pytest.skip("SIGTERM is handled by something else in this process")

    def on_sigterm(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, on_sigterm)
    yield
    signal.signal(signal.SIGTERM, old)


def test_a_signal_between_the_renames_of_a_file_set_lands_after_the_last(tmp_path, monkeypatch, sigterm_interrupts):
    """The cost CSVs, plot's charts: a stop signal between two renames used to
    leave some files new and some old. It now takes effect once all are renamed."""
    from cryptobench import _io

    targets = [tmp_path / f"part{i}.csv" for i in range(3)]
    for t in targets:
        t.write_text("old")
    real_replace = os.replace
    renamed = []

    def replace(src, dst):
        real_replace(src, dst)
        renamed.append(dst)
        if len(renamed) == 1:
            signal.raise_signal(signal.SIGTERM)  # its handler runs before this returns

    monkeypatch.setattr(_io.os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        _io.atomic_write_many([(t, b"new") for t in targets])
    monkeypatch.undo()
    assert [t.read_text() for t in targets] == ["new"] * 3
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(t.name for t in targets)  # no .tmp left


def test_a_signal_while_a_child_starts_kills_that_child(monkeypatch, sigterm_interrupts):
    """A signal inside subprocess.Popen (after the fork, before it returns) used
    to leave the command without the child's handle, so its cleanup could not
    stop it. popen_held (run's workers, verify's children, gate's callgrind)
    kills and reaps it and lets the interrupt go on."""
    from cryptobench import _signals

    started = []

    class SignalledPopen(subprocess.Popen):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            started.append(self)
            signal.raise_signal(signal.SIGTERM)  # lands before Popen has returned

    monkeypatch.setattr(_signals.subprocess, "Popen", SignalledPopen)
    with pytest.raises(KeyboardInterrupt):
        _signals.popen_held([sys.executable, "-c", "import time; time.sleep(60)"], stdout=subprocess.PIPE)
    monkeypatch.undo()
    [child] = started
    assert child.returncode == -signal.SIGKILL  # killed and reaped, not left running
    assert child.stdout.closed


def test_held_leaves_an_ignored_signal_ignored_and_other_threads_alone():
    import threading

    from cryptobench._signals import held

    before = signal.getsignal(signal.SIGHUP)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup
    try:
        with held():
            assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
            signal.raise_signal(signal.SIGHUP)  # ignored: nothing noted, nothing raised after
        assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, before)
    seen = []

    def in_thread():
        with held():  # cannot set handlers here: the block just runs
            seen.append(signal.getsignal(signal.SIGINT))

    t = threading.Thread(target=in_thread)
    t.start()
    t.join()
    assert seen == [signal.getsignal(signal.SIGINT)]
