"""Results that survive faults.

- a ``cryptobench run`` killed with SIGKILL, or interrupted with Ctrl-C
  (SIGINT to its process group) or SIGTERM, leaves earlier results files
  byte-for-byte untouched, and the new file either absent or valid (loadable,
  ``complete: false``) with the kernels that finished;
- a results file being rewritten is never seen half-written, however the
  writer dies (atomic replace);
- truncated files and other schema versions are refused with one clear line
  (tests/test_run.py has the basic cases; these add every cut point and more
  versions, through ``show`` and ``compare`` too);
- two runs writing into the same results/ at once never share a file.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cryptobench import results
from cryptobench.errors import ResultsFileError
from cryptobench.run import default_output, release_output

DATA = Path(__file__).parent / "data" / "results"
#: Three quick kernels: the first results file appears after the first one.
RUN = ["run", "--fast", "-a", "aes-128-gcm,aes-256-gcm,chacha20-poly1305", "-b", "openssl", "--sizes", "64",
       "--no-hot-paths"]


def _env(tmp: Path) -> dict[str, str]:
    (tmp / "tmp").mkdir(exist_ok=True)
    return dict(os.environ, COLUMNS="200", TMPDIR=str(tmp / "tmp"))


def _start(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cryptobench.cli", *args], cwd=cwd, env=_env(cwd),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _new_files(d: Path, old: set[str]) -> list[Path]:
    return sorted(p for p in d.glob("*.json") if p.name not in old)


def _wait_for_new_file(proc: subprocess.Popen, d: Path, old: set[str], timeout: float = 120.0) -> Path | None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        new = _new_files(d, old)
        if new:
            return new[0]
        if proc.poll() is not None:
            return None
        time.sleep(0.01)
    return None


@pytest.fixture
def workdir(tmp_path):
    """A results/ directory holding an earlier run, and its bytes to compare against."""
    res = tmp_path / "results"
    res.mkdir()
    old = res / "20200101T000000Z_earlier.json"
    shutil.copy(DATA / "base.json", old)
    os.utime(old, (1_600_000_000, 1_600_000_000))
    return tmp_path, old, old.read_bytes()


def _assert_untouched(old: Path, data: bytes) -> None:
    assert old.read_bytes() == data, "an earlier results file was modified"
    assert old.stat().st_mtime == 1_600_000_000, "an earlier results file was rewritten"


def _reap(proc: subprocess.Popen) -> None:
    """Kill what is left of the process group (orphaned pyperf workers) and wait."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        pass


# ------------------------------------------------------------------ SIGKILL


def test_sigkill_after_a_kernel_finished_leaves_a_valid_partial_file(workdir):
    tmp, old, data = workdir
    proc = _start(RUN, tmp)
    new = _wait_for_new_file(proc, tmp / "results", {old.name})
    os.kill(proc.pid, signal.SIGKILL)  # the run itself, as the OOM killer would
    _reap(proc)
    assert new is not None, "the run wrote nothing before it ended"
    _assert_untouched(old, data)
    files = _new_files(tmp / "results", {old.name})
    assert files == [new], files
    res = results.load(new)  # valid, whatever instant the kill hit
    assert res.measurements, "a results file with nothing in it"
    if not res.info["complete"]:
        finished = [k for k, o in res.kernels.items() if o.get("benchmarks")]
        assert finished and {m.algorithm for m in res.measurements} <= {k.split("/")[0] for k in finished}


def test_sigkill_early_leaves_no_results_file(workdir):
    tmp, old, data = workdir
    proc = _start(RUN, tmp)
    time.sleep(0.3)  # importing, planning: no kernel can have finished
    os.kill(proc.pid, signal.SIGKILL)
    _reap(proc)
    _assert_untouched(old, data)
    assert _new_files(tmp / "results", {old.name}) == []
    leftovers = [p.name for p in (tmp / "results").iterdir() if p.name != old.name]
    assert all(n.startswith(".") for n in leftovers), leftovers  # at most a stale hidden reservation


_WRITER = r"""
import sys, json
from cryptobench import results
base = results.load(sys.argv[1])
suite = base.pyperf_suite()
out = sys.argv[2]
i = 0
print("ready", flush=True)
while True:
    info = dict(base.info, complete=False, generation=i, padding="x" * (200_000 + 1000 * (i % 7)))
    results.save(out, suite, info)
    i += 1
"""


def test_sigkill_during_rewrites_never_leaves_a_torn_file(tmp_path):
    """Kill a process that rewrites the same results file in a loop at 12 random instants."""
    import random

    target = tmp_path / "r.json"
    rng = random.Random(9)
    generations = []
    for _ in range(12):
        proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(DATA / "base.json"), str(target)],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.15))
        proc.kill()
        proc.wait()
        if target.exists():
            res = results.load(target)  # never raises: old or new, never half
            generations.append(res.info["generation"])
    assert generations, "the writer never finished one file"
    assert not [p for p in tmp_path.iterdir() if p.name != "r.json" and not p.name.startswith(".")]


# ------------------------------------------------------------------ Ctrl-C and SIGTERM


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupt_keeps_what_finished_marked_incomplete(workdir, signum):
    tmp, old, data = workdir
    proc = _start(RUN, tmp)
    new = _wait_for_new_file(proc, tmp / "results", {old.name})
    assert new is not None, "the run wrote nothing before it ended"
    if signum == signal.SIGINT:
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground group
    else:
        os.kill(proc.pid, signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        _reap(proc)
    _assert_untouched(old, data)
    res = results.load(new)
    if proc.returncode == 0:  # the run beat the signal: then it must be complete
        assert res.info["complete"] is True
        return
    assert proc.returncode == 130, err
    last = err.strip().splitlines()[-1]  # above it: the progress display
    assert "interrupted; kept what finished in" in last and new.name in last, err
    assert "Traceback" not in err, err
    assert res.info["complete"] is False and res.info.get("interrupted") is True
    assert res.measurements
    assert _new_files(tmp / "results", {old.name}) == [new]
    assert not [p for p in (tmp / "results").iterdir() if p.name.endswith(".lock")], "reservation not released"
    assert not list((tmp / "tmp").iterdir()), "the run left its worker directory behind"


def test_ctrl_c_before_any_kernel_finished_writes_nothing(workdir):
    tmp, old, data = workdir
    proc = _start(RUN, tmp)
    time.sleep(0.8)
    os.killpg(proc.pid, signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        _reap(proc)
    _assert_untouched(old, data)
    new = _new_files(tmp / "results", {old.name})
    if new:  # the first kernel was faster than the signal: the file must be valid
        assert results.load(new[0]).measurements
    else:
        assert proc.returncode == 130
        assert "interrupted before any kernel finished; nothing written" in err.strip().splitlines()[-1], err
        assert "Traceback" not in err, err
    assert not [p for p in (tmp / "results").iterdir() if p.name.endswith(".lock")]


# ------------------------------------------------------------------ refusals


def test_every_truncation_is_refused_with_one_line(tmp_path):
    text = (DATA / "base.json").read_text()
    f = tmp_path / "t.json"
    for frac in [i / 20 for i in range(20)] + [(len(text) - 2) / len(text)]:
        f.write_text(text[: int(len(text) * frac)])
        with pytest.raises(ResultsFileError) as info:
            results.load(f)
        msg = str(info.value)
        assert "\n" not in msg and str(f) in msg


@pytest.mark.parametrize("schema", [0, 2, "1", None, 1.5, "missing"])
def test_other_schema_versions_are_refused(tmp_path, schema):
    doc = json.loads((DATA / "base.json").read_text())
    if schema == "missing":
        del doc["cryptobench"]["schema"]
    else:
        doc["cryptobench"]["schema"] = schema
    f = tmp_path / "s.json"
    f.write_text(json.dumps(doc))
    with pytest.raises(ResultsFileError, match="schema version"):
        results.load(f)


def test_cli_refuses_truncated_files_in_show_and_compare(tmp_path):
    text = (DATA / "base.json").read_text()
    f = tmp_path / "t.json"
    f.write_text(text[: len(text) // 3])
    env = dict(os.environ, COLUMNS="200")
    for args in (["show", str(f)], ["compare", str(DATA / "base.json"), str(f)], ["compare", str(f), str(f)]):
        p = subprocess.run([sys.executable, "-m", "cryptobench.cli", *args], capture_output=True, text=True, env=env,
                           timeout=120)
        assert p.returncode == 2, p.stdout + p.stderr
        assert "not valid JSON" in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
        assert "Traceback" not in p.stderr


# ------------------------------------------------------------------ concurrent runs


def test_default_names_are_reserved(tmp_path):
    """Names taken in the same second get -2, -3...; a stale reservation is skipped."""
    a = default_output(tmp_path)
    b = default_output(tmp_path)
    assert a != b and a.parent == b.parent == tmp_path
    (tmp_path / a.name).write_text("{}")  # a file from an earlier run in this second
    release_output(a)
    c = default_output(tmp_path)
    assert c not in (a, b)
    for p in (b, c):
        release_output(p)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".lock")]


def test_two_runs_at_once_do_not_clobber_each_other(workdir):
    tmp, old, data = workdir
    args = ["run", "--fast", "-a", "aes-128-gcm", "-b", "openssl", "--sizes", "64", "--no-hot-paths"]
    procs = [_start(args, tmp) for _ in range(2)]
    outs = []
    for p in procs:
        try:
            outs.append(p.communicate(timeout=180))
        finally:
            _reap(p)
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
    _assert_untouched(old, data)
    new = _new_files(tmp / "results", {old.name})
    assert len(new) == 2, [p.name for p in new]
    written = {line.split()[1] for out, _ in outs for line in out.splitlines() if line.startswith("wrote ")}
    assert written == {f"results/{p.name}" for p in new}
    for p in new:
        res = results.load(p)
        assert res.info["complete"] is True and res.find("aes-128-gcm", "openssl", "encrypt", 64) is not None
    assert not [p for p in (tmp / "results").iterdir() if p.name.endswith(".lock")]


def test_an_output_that_is_a_device_or_fifo_is_refused_not_replaced(tmp_path):
    # `run -o /dev/null` (as root) renamed the results over the device: /dev/null became a
    # regular file. A FIFO, a socket or a device named as an output is now refused, both
    # on the command line (before any work) and by the writer every output goes through.
    from cryptobench._io import atomic_write_bytes, atomic_write_many
    from cryptobench.errors import OutputError

    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    with pytest.raises(OutputError, match=r"fifo.json: it is not a regular file \(a device, FIFO or socket\)"):
        atomic_write_bytes(fifo, b"{}")
    ok = tmp_path / "ok.csv"
    with pytest.raises(OutputError):  # all or nothing: the other file of the set is not written
        atomic_write_many([(ok, b"a"), (fifo, b"b")])
    assert fifo.is_fifo() and not ok.exists()
    targets = [fifo]
    null = tmp_path / "null"  # a /dev/null of our own: a regression must not break the machine's
    try:
        os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        targets.append(null)
    except PermissionError:  # not root: the FIFO stands for every non-regular file
        pass
    for target in targets:
        for argv in (["run", "--fast", "-a", "chacha20-poly1305", "-b", "openssl", "-o", str(target)],
                     ["verify", "-a", "chacha20-poly1305", "-b", "openssl", "--quick", "--json", str(target)]):
            p = subprocess.run([sys.executable, "-m", "cryptobench.cli", *argv], capture_output=True, text=True,
                               env=_env(tmp_path), cwd=tmp_path, timeout=120)
            assert p.returncode == 2 and "exists and is not a regular file" in p.stderr, p.stderr
            assert "Traceback" not in p.stderr and p.stderr.count("\n") == 1, p.stderr
    assert fifo.is_fifo() and (null.is_char_device() or not null.exists())


def test_an_output_that_is_a_symlink_is_written_through(tmp_path):
    # the rename replaced the link itself and left the file it pointed at as it was
    from cryptobench._io import atomic_write_bytes

    real = tmp_path / "store" / "base.json"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / "base.json"
    link.symlink_to(real)
    assert atomic_write_bytes(link, b"new") == link
    assert link.is_symlink() and real.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base.json", "store"]
    assert sorted(p.name for p in real.parent.iterdir()) == ["base.json"]  # no temporary file left


def test_a_symlink_loop_or_a_link_into_a_missing_directory_is_refused(tmp_path):
    # a loop was replaced by a regular file; a dangling link had its target's directories made
    from cryptobench._io import atomic_write_bytes
    from cryptobench.errors import OutputError

    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    with pytest.raises(OutputError, match="a symbolic link loop"):
        atomic_write_bytes(tmp_path / "a", b"x")
    assert (tmp_path / "a").is_symlink() and (tmp_path / "b").is_symlink()
    (tmp_path / "d.json").symlink_to("nodir/sub/d.json")
    with pytest.raises(OutputError, match="is a symbolic link to .*nodir/sub/d.json, and .*nodir/sub is not a directory"):
        atomic_write_bytes(tmp_path / "d.json", b"x")
    assert not (tmp_path / "nodir").exists()
    (tmp_path / "ok.json").symlink_to("new.json")  # dangling into a directory that exists: the file is made
    atomic_write_bytes(tmp_path / "ok.json", b"y")
    assert (tmp_path / "ok.json").is_symlink() and (tmp_path / "new.json").read_bytes() == b"y"
    p = subprocess.run([sys.executable, "-m", "cryptobench.cli", "verify", "-a", "chacha20-poly1305", "-b", "openssl",
                        "--quick", "--json", str(tmp_path / "a")], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "is a symbolic link loop" in p.stderr, p.stderr


def test_a_timeout_that_stops_the_harness_worker_is_one_line(tmp_path):
    # run's own no-op worker ignored --timeout, and its failure was a RuntimeError traceback
    p = subprocess.run([sys.executable, "-m", "cryptobench.cli", "run", "--fast", "-a", "chacha20-poly1305", "-b",
                        "openssl", "--sizes", "64", "--no-hot-paths", "--timeout", "0.001", "-o", "r.json"],
                       capture_output=True, text=True, env=_env(tmp_path), cwd=tmp_path, timeout=120)
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
    assert ("cryptobench run: error: the harness's own worker (harness/noop) failed: its timing worker ran longer "
            "than 0.001 s and was stopped") in p.stderr, p.stderr
    assert not (tmp_path / "r.json").exists() and not list(tmp_path.glob("*.lock"))


def test_two_runs_given_the_same_output_do_not_both_write_it(tmp_path):
    # started together, both passed the "already exists" check, both said "wrote same.json",
    # and the file held the second run's kernels only
    from cryptobench.run import drop_output, hold_output

    target = tmp_path / "same.json"
    fd = hold_output(target)  # a run writing it now
    try:
        p = subprocess.run([sys.executable, "-m", "cryptobench.cli", *RUN[:-1], "-o", str(target)],
                           capture_output=True, text=True, env=_env(tmp_path), cwd=tmp_path, timeout=120)
    finally:
        drop_output(target, fd)
    assert p.returncode == 2 and p.stderr.strip() == (
        f"cryptobench run: error: {target}: another cryptobench run is writing it now; choose another --output")
    assert not target.exists() and not list(tmp_path.glob(".*.lock"))


def test_run_in_a_removed_directory_is_one_line(tmp_path):
    gone = tmp_path / "gone"
    gone.mkdir()
    p = subprocess.run(f"cd {gone} && rmdir {gone} && {sys.executable} -m cryptobench.cli run --fast -b openssl "
                       f"-a chacha20-poly1305 -o {tmp_path}/never.json", shell=True, capture_output=True, text=True,
                       env=_env(tmp_path), timeout=120)
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
    assert "the current directory no longer exists" in p.stderr


def test_a_results_directory_made_read_only_mid_run_is_not_a_second_traceback(tmp_path, monkeypatch):
    # the run's own OutputError was followed by a PermissionError from removing its lock file
    from cryptobench import run as run_mod

    def refuse(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(run_mod.os, "unlink", refuse)
    run_mod.release_output(tmp_path / "x.json")  # no exception


@pytest.mark.parametrize("argv", [
    ["verify", "-a", "chacha20-poly1305", "-b", "openssl", "--quick", "--json"],
    ["gate", "--count", "-a", "chacha20-poly1305", "-b", "openssl", "-o"],
    ["gate", "base.json", "other.json", "--json"],
    ["gate", "base.json", "other.json", "--emit-filter"],
    ["leakcheck", "-a", "chacha20-poly1305", "-b", "openssl", "--json"],
])
@pytest.mark.parametrize("gz", [False, True])
def test_a_report_never_replaces_a_results_file(tmp_path, argv, gz):
    # `gate --count -o results/x.json` replaced a run's results (hours of measurement) with counts;
    # only run --force replaces results
    import gzip

    base = DATA / "base.json"
    for name in ("base.json", "other.json"):
        shutil.copy(base, tmp_path / name)
    target = tmp_path / ("kept.json.gz" if gz else "kept.json")
    original = gzip.compress(base.read_bytes()) if gz else base.read_bytes()
    target.write_bytes(original)
    p = subprocess.run([sys.executable, "-m", "cryptobench.cli", *argv, str(target)], capture_output=True, text=True,
                       env=_env(tmp_path), cwd=tmp_path, timeout=120)
    assert p.returncode == 2 and "holds benchmark results (a cryptobench run's or pyperf's); not replacing it" in p.stderr, p.stderr
    assert "Traceback" not in p.stderr and p.stderr.count("\n") == 1, p.stderr
    assert target.read_bytes() == original


def test_a_report_over_a_damaged_gzip_is_no_traceback(tmp_path):
    # a gzip header with a broken deflate stream raised zlib.error out of the option's type
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"\xff" * 40)
    p = subprocess.run([sys.executable, "-m", "cryptobench.cli", "verify", "-a", "chacha20-poly1305", "-b", "openssl",
                        "--quick", "--json", str(bad)], capture_output=True, text=True, env=_env(tmp_path),
                       cwd=tmp_path, timeout=120)
    assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr  # not results: replaced by the report
    assert json.loads(bad.read_text())["schema"].startswith("cryptobench-verify")


def test_a_report_replaces_its_own_kind(tmp_path):
    # the refusal is for results only: a verify report is replaced by the next one, as before
    target = tmp_path / "verify.json"
    target.write_text('{"kernels": []}')
    p = subprocess.run([sys.executable, "-m", "cryptobench.cli", "verify", "-a", "chacha20-poly1305", "-b", "openssl",
                        "--quick", "--json", str(target)], capture_output=True, text=True, env=_env(tmp_path),
                       cwd=tmp_path, timeout=120)
    assert p.returncode == 0, p.stderr
    doc = json.loads(target.read_text())
    assert doc["schema"].startswith("cryptobench-verify") and doc != {"kernels": []}


def test_a_results_directory_that_is_a_dangling_link_is_named_as_one(tmp_path):
    # it was "a file of that name is in the way", where no file is
    from cryptobench._io import make_dir
    from cryptobench.errors import OutputError

    (tmp_path / "results").symlink_to(tmp_path / "gone")
    with pytest.raises(OutputError, match=r"results: it is a symbolic link to .*gone, which does not exist$"):
        make_dir(tmp_path / "results")
    # as a parent (run -o results/sub/r.json makes its directory), and a loop
    with pytest.raises(OutputError, match=r"results/sub: .*/results is a symbolic link to .*gone, which does not exist$"):
        make_dir(tmp_path / "results" / "sub")
    (tmp_path / "loop").symlink_to("loop")
    with pytest.raises(OutputError, match=r"loop: it is a symbolic link loop$"):
        make_dir(tmp_path / "loop")
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match=r"file: a file of that name is in the way$"):
        make_dir(tmp_path / "file")
    assert not (tmp_path / "gone").exists()
