"""``cryptobench run``: verify, then time every selected kernel in pyperf workers.

Library code: :func:`run` takes keywords and callbacks and returns the
path of the results file; the CLI draws the progress bar and tables.

Order of work for each kernel:

1. quick verification in this process (a spread-out vector subset, the
   differential check, the hot paths) — a kernel that fails is recorded as
   FAILED and never timed; one-time preparation (Numba compilation, tables)
   happens here first and is timed as ``cold_prepare_s``. A kernel that needs
   environment variables this process lacks (``Kernel.env``, e.g.
   ``openssl-noavx512``'s ``OPENSSL_ia32cap``) is verified in a child process
   started with them (:func:`cryptobench.verify.verify_kernel` decides);
2. ``processes`` pyperf worker processes (``cryptobench._worker``) run all of
   the kernel's benchmarks, started with the kernel's environment
   (:func:`worker_env`); their runs are merged per benchmark;
3. the results file is rewritten atomically, so an interrupted run leaves a
   valid file holding what finished (``complete: false``).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from . import bench, machine, results
from ._child import DEFAULT_WORKER_TIMEOUT, child_env, die_with_parent, python_cmd
from ._io import make_dir
from ._signals import popen_held
from .errors import OutputError, UsageError
from .registry import Kernel, require_available, select
from .verify import verify_kernel


@dataclass(frozen=True)
class Profile:
    name: str
    processes: int
    values: int
    warmups: int
    min_time: float  # seconds per value


PROFILES = {
    "default": Profile("default", processes=2, values=3, warmups=1, min_time=0.01),
    "fast": Profile("fast", processes=1, values=2, warmups=1, min_time=0.002),
    "rigorous": Profile("rigorous", processes=6, values=5, warmups=2, min_time=0.05),
    # 6 processes: the nightly gate needs per-process minima to agree within ~4%
    # to see a 10% change on a shared runner (docs/nightly.md)
    "ci": Profile("ci", processes=6, values=3, warmups=1, min_time=0.005),
}


class HarnessError(UsageError):
    """run cannot time anything: its own no-op worker failed (a broken install, or --timeout
    shorter than a worker's start-up). One line and exit status 2."""


@dataclass
class KernelOutcome:
    kernel: str
    status: str  # passed | failed | unavailable | interrupted | error
    reason: str = ""
    path: str = ""
    constant_time: bool = False
    verification: dict[str, Any] = field(default_factory=dict)
    benchmarks: int = 0
    cold_prepare_s: float | None = None
    cold_prepare: dict[str, Any] = field(default_factory=dict)
    worker_prepare_s: list[float] = field(default_factory=list)
    worker_prepare: list[dict[str, Any]] = field(default_factory=list)
    #: variables the kernel's processes were started with (Kernel.env)
    env: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Plan:
    kernels: list[Kernel]
    specs: dict[str, list[bench.Spec]]  # kernel name -> specs
    skipped: list[Kernel]  # unavailable

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.specs.values())


def default_output(directory: str | Path = "results") -> Path:
    """``<directory>/<UTC timestamp>_<host>.json``, reserved for this run.

    Two runs started in the same second must not write the same file: the
    name is claimed by creating a hidden ``.<name>.lock`` with O_EXCL (released
    by :func:`release_output`; a stale one from a killed run only makes the
    next run in that second pick another name), and a name that is taken gets
    a ``-2``, ``-3``... suffix.
    """
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    host = machine.socket.gethostname().split(".")[0] or "host"
    try:
        d = make_dir(Path(directory).absolute())  # fixed now: a kernel may change the working directory
    except OutputError as exc:
        raise OutputError(f"{exc} (choose a file with --output)") from None
    for i in range(1, 1000):
        path = d / (f"{stamp}_{host}.json" if i == 1 else f"{stamp}_{host}-{i}.json")
        try:
            os.close(os.open(_lock_path(path), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        except FileExistsError:
            continue
        except OSError as exc:
            raise OutputError(f"cannot write results into {d}/: {exc.strerror or exc} (choose a file with --output)") from None
        if path.exists():
            release_output(path)
            continue
        return path
    raise UsageError(f"could not reserve a results file name in {d}/")


def _lock_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.lock")


def release_output(path: Path) -> None:
    """Drop the reservation :func:`default_output` made (no-op without one). A directory
    that became unwritable keeps the lock file: that is no reason for a traceback on top
    of the error that ended the run."""
    try:
        os.unlink(_lock_path(path))
    except OSError:
        pass


def hold_output(path: Path) -> int:
    """An exclusive hold on ``--output`` for this run: a file descriptor with an flock on
    its hidden lock file (the kernel drops it if the run dies, so nothing stale is left
    to refuse the next run). Two runs started together with the same ``-o`` both passed
    the "already exists" check and the second silently replaced the first's results."""
    import fcntl

    from ._io import make_dir

    make_dir(path.parent)  # as verify --json and gate -o do: `-o mine/base.json` failed with ENOENT
    lock = _lock_path(path)
    try:
        fd = os.open(lock, os.O_CREAT | os.O_RDWR, 0o644)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise UsageError(f"{path}: another cryptobench run is writing it now; choose another --output") from None
    return fd


def drop_output(path: Path, fd: int) -> None:
    """Release :func:`hold_output`'s hold and remove its lock file."""
    release_output(path)
    os.close(fd)


def plan(
    *,
    algorithms: str | None = None,
    backends: str | None = None,
    sizes: tuple[int, ...] = bench.DEFAULT_SIZES,
    aads: tuple[int, ...] = (bench.TLS_AAD,),
    pattern: str | None = None,
    hot_paths: bool = True,
) -> Plan:
    chosen = select(algorithms, backends)
    available = [k for k in chosen if k.available]
    specs = {}
    for k in available:
        s = bench.specs_for(k, sizes=sizes, aads=aads, hot_paths=hot_paths, pattern=pattern)
        if s:
            specs[k.name] = s
    kernels = [k for k in available if k.name in specs]
    if not kernels:
        require_available(chosen, "run")
        if pattern:
            example = next((s for k in available for s in bench.specs_for(k, sizes=sizes, aads=aads)), None)
            hint = f"; names look like {example.name}" if example else ""
            raise UsageError(
                f"nothing to run: {len(available)} kernel(s) selected, but no benchmark of theirs "
                f"matches --filter {pattern!r} at these sizes{hint}"
            )
        raise UsageError(  # hot-path-only peers with --no-hot-paths
            f"nothing to run: the {len(available)} selected kernel(s) offer only hot paths, and --no-hot-paths was given"
        )
    return Plan(kernels, specs, [k for k in chosen if not k.available])


class Interrupted(Exception):
    pass


def _worker_cmd(kernel_name: str, names: list[str], profile: Profile, out: Path, calls: dict[str, int]) -> list[str]:
    cmd = python_cmd(
        "cryptobench._worker",
        "--worker", "--loops=1",
        f"--values={profile.values}", f"--warmups={profile.warmups}",
        "--output", str(out), "--quiet",
        "--kernel", kernel_name, f"--cb-min-time={profile.min_time}",
    )
    for n in names:
        cmd += ["--bench", n]
        if n in calls:
            cmd += ["--calls", f"{n}={calls[n]}"]
    return cmd


def worker_env(kernel: Kernel | None = None) -> dict[str, str]:
    """The environment a worker timing ``kernel`` starts with: this process's,
    ``PYTHONHASHSEED=0``, and the kernel's own variables (``Kernel.env``),
    which override the user's (the worker refuses to time without them)."""
    return child_env(kernel.env if kernel is not None else None, PYTHONHASHSEED="0")



def _run_workers(
    kernel_name: str,
    names: list[str],
    profile: Profile,
    tmpdir: Path,
    copies: int,
    on_done: Callable[[str], None],
    procs_out: list,
    calls: dict[str, int],
    env: dict[str, str],
    timeout: float = DEFAULT_WORKER_TIMEOUT,
) -> tuple[list[Path], list[dict[str, Any]]]:
    """Start ``copies`` workers at once (1 normally; N with --parallel) and wait,
    at most ``timeout`` seconds (0: no limit), after which they are killed and this
    raises RuntimeError (the kernel's ERROR).

    A worker's stderr goes to a file, not a pipe: read only at the end, a pipe
    filled by a kernel's own logging (64 KiB) blocked the worker and hung the run.
    Its stdout carries the CB-* protocol lines; one the kernel's own output
    garbled makes the kernel's result an ERROR, not a traceback."""
    outs, metas, procs, errs = [], [], [], []
    garbled: list[str] = []
    expired = threading.Event()

    def expire() -> None:
        # poll() can say "running" of a worker that has just exited (the main thread's wait()
        # holds the lock): a kill then is harmless, and the verdict below goes by how each
        # worker ended, not by this flag alone
        for p in procs:
            if p.poll() is None:
                expired.set()
                p.kill()

    def take(line: str, progress: bool) -> None:
        try:
            if line.startswith("CB-DONE "):
                if progress:
                    on_done(line[8:].strip())
            elif line.startswith("CB-META "):
                metas.append(json.loads(line[8:]))
            elif line.startswith("CB-CAL ") and progress:
                name, n = line[7:].strip().rsplit("=", 1)
                calls[name] = int(n)
        except ValueError:
            garbled.append(line.strip()[:80])

    timer = None
    try:
        for i in range(copies):
            out = tmpdir / f"{kernel_name.replace('/', '_')}_{time.monotonic_ns()}_{i}.json"
            err = tempfile.TemporaryFile(mode="w+", dir=tmpdir, errors="replace")
            errs.append(err)
            p = popen_held(  # a signal while it starts: this worker is killed, then the run stops
                _worker_cmd(kernel_name, names, profile, out, calls),
                stdout=subprocess.PIPE, stderr=err, text=True, env=env,
                preexec_fn=die_with_parent,
            )
            procs.append(p)
            procs_out[:] = procs
            outs.append(out)
        if timeout:
            timer = threading.Timer(timeout, expire)
            timer.daemon = True
            timer.start()
        # progress comes from the first copy; the others are read after it ends
        first = procs[0]
        assert first.stdout is not None
        for line in first.stdout:
            take(line, True)
        errors = []
        for p, err in zip(procs, errs):
            out_text, _ = p.communicate()
            for line in (out_text or "").splitlines():
                take(line, False)
            if p.returncode != 0:
                err.seek(0)
                tail = err.read().strip().splitlines()[-1:] or ["(no output)"]
                errors.append(f"worker exited with status {p.returncode}: {tail[0]}")
    finally:
        if timer is not None:
            timer.cancel()
            timer.join()  # an expire() already running finishes before its flag is read
        for err in errs:
            err.close()
    procs_out[:] = []
    if expired.is_set() and any(p.returncode == -signal.SIGKILL for p in procs):
        raise RuntimeError(f"its timing worker ran longer than {timeout:g} s and was stopped (run --timeout; 0: no limit)")
    if errors:
        raise RuntimeError(errors[0])
    if garbled:
        raise RuntimeError(f"a worker's protocol line was garbled ({garbled[0]!r}): does the kernel write to stdout?")
    return outs, metas


def _merge(suite, files: list[Path]):
    """``suite`` with the workers' files added (a benchmark's runs pooled). Runs that
    pyperf will not pool (a worker that missed its calibration, say because the
    kernel's own stdout garbled the CB-CAL line, timed other inner loops) are a
    RuntimeError: the kernel's ERROR, not a traceback."""
    import pyperf

    for f in files:
        s = pyperf.BenchmarkSuite.load(str(f))
        for b in s.get_benchmarks():
            if suite is None:
                suite = pyperf.BenchmarkSuite([b])
                continue
            try:
                existing = suite.get_benchmark(b.get_name())
            except KeyError:
                suite.add_benchmark(b)
            else:
                try:
                    existing.add_runs(b)
                except ValueError as exc:
                    raise RuntimeError(f"the workers' values do not pool ({exc}); does the kernel write to "
                                       "stdout?") from None
    return suite


def run(
    *,
    algorithms: str | None = None,
    backends: str | None = None,
    sizes: tuple[int, ...] = bench.DEFAULT_SIZES,
    aads: tuple[int, ...] = (bench.TLS_AAD,),
    pattern: str | None = None,
    hot_paths: bool = True,
    profile: Profile = PROFILES["default"],
    parallel: int = 1,
    output: str | Path | None = None,
    on_plan: Callable[[Plan], None] | None = None,
    on_kernel_start: Callable[[str, str], None] | None = None,
    on_benchmark: Callable[[str], None] | None = None,
    on_kernel_done: Callable[[KernelOutcome], None] | None = None,
    timeout: float = DEFAULT_WORKER_TIMEOUT,
) -> tuple[Path, dict[str, Any]]:
    """Verify and time; returns (results path, cryptobench info section). A timing
    worker still running after ``timeout`` seconds (0: no limit) is stopped and its
    kernel reported as an ERROR."""
    if parallel < 1:
        raise UsageError("--parallel must be at least 1")
    if not 0 <= timeout < math.inf:
        raise UsageError(f"--timeout must be a finite number of seconds, 0 or more, not {timeout!r}")
    the_plan = plan(algorithms=algorithms, backends=backends, sizes=sizes, aads=aads, pattern=pattern, hot_paths=hot_paths)
    if output and Path(output).is_dir():
        raise UsageError(f"--output {output} is a directory")
    started = datetime.now(timezone.utc)
    info: dict[str, Any] = {
        "created": started.isoformat(timespec="seconds"),
        "complete": False,
        "machine": machine.describe(),
        "settings": {
            "profile": profile.name,
            "processes": profile.processes,
            "values": profile.values,
            "warmups": profile.warmups,
            "min_time_s": profile.min_time,
            "parallel": parallel,
            "ecdsa_inputs": bench.DISTINCT_INPUTS,
            "sizes": list(sizes),
            "aad": list(aads),
            "filter": pattern,
            "algorithms": algorithms,
            "backends": backends,
        },
        "kernels": {},
    }
    for k in the_plan.skipped:
        info["kernels"][k.name] = KernelOutcome(k.name, "unavailable", k.reason, k.path, k.constant_time).to_dict()
    suite = None
    live: list = []
    # the results name is reserved (default_output) and the worker directory made inside
    # the try, so that an interruption from here on releases and removes them
    # absolute: a kernel that changes the working directory must not move where the results go
    out_path: Path | None = Path(output).absolute() if output else None
    tmpdir: Path | None = None

    def on_sigterm(signum, frame):
        raise KeyboardInterrupt

    def not_timed(outcome: KernelOutcome, names: list[str]) -> None:
        """Record a kernel stopped before timing (FAILED, or ERROR) and move the progress past it."""
        info["kernels"][outcome.kernel] = outcome.to_dict()
        if on_benchmark:
            for n in names:
                on_benchmark(n)
        if on_kernel_done:
            on_kernel_done(outcome)

    held: int | None = None  # the flock on an --output (hold_output)
    old = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        if out_path is None:
            out_path = default_output()
        else:
            held = hold_output(out_path)
        if on_plan:
            on_plan(the_plan)
        tmpdir = Path(tempfile.mkdtemp(prefix="cryptobench-run-"))
        # the harness's own cost per call, so nobody reads it as kernel speed
        if on_kernel_start:
            on_kernel_start("harness/noop", "measuring harness overhead")
        try:
            files, _ = _run_workers("harness/noop", ["harness/noop/call"], profile, tmpdir, 1, lambda n: None, live,
                                    {}, worker_env(), timeout)
        except RuntimeError as exc:  # no kernel's fault, and nothing can be timed without it: one line, not a traceback
            raise HarnessError(f"the harness's own worker (harness/noop) failed: {exc}") from None
        suite = _merge(suite, files)
        info["overhead_s"] = statistics.median(suite.get_benchmark("harness/noop/call").get_values())

        for kernel in the_plan.kernels:
            names = [s.name for s in the_plan.specs[kernel.name]]
            outcome = KernelOutcome(kernel.name, "passed", "", kernel.path, kernel.constant_time, env=dict(kernel.env))
            if on_kernel_start:
                on_kernel_start(kernel.name, "verifying")
            if kernel.prepare is not None:
                t0 = time.perf_counter()
                try:
                    outcome.cold_prepare = bench.prepare_details(kernel.prepare())
                except Exception as exc:  # noqa: BLE001 - the kernel's failure, reported as its ERROR
                    outcome.status, outcome.reason = "error", f"prepare() raised {exc!r}"
                    not_timed(outcome, names)
                    continue
                outcome.cold_prepare_s = time.perf_counter() - t0
            rep = verify_kernel(kernel, quick=True)
            outcome.verification = {"status": rep.status, "passed": rep.passed, "failed": rep.failed, "skipped": rep.skipped,
                                    "failures": [f for c in rep.checks for f in c.failures][:5], "in_child": rep.in_child}
            if rep.status == "failed":
                outcome.status = "failed"
                outcome.reason = f"failed {rep.failed} verification check(s): " + "; ".join(outcome.verification["failures"][:2])
                not_timed(outcome, names)
                continue
            if on_kernel_start:
                on_kernel_start(kernel.name, "timing")
            calls: dict[str, int] = {}
            if parallel > 1:
                # copies start together, so none can calibrate for the others:
                # calibrate here (pyperf merges only runs with equal inner_loops).
                # For a kernel with its own environment (Kernel.env) this calls
                # it in this process, without that environment: acceptable,
                # since it only sets the loop count; every value is still timed
                # in workers started with the environment
                for spec in the_plan.specs[kernel.name]:
                    prepared = bench.prepare(kernel, spec)
                    calls[spec.name] = bench.calibrate(prepared.call, profile.min_time)
            try:
                kernel_suite = None  # into the run's suite only when every worker's values pool
                for _ in range(profile.processes):
                    files, metas = _run_workers(kernel.name, names, profile, tmpdir, parallel,
                                                on_benchmark or (lambda n: None), live, calls, worker_env(kernel),
                                                timeout)
                    kernel_suite = _merge(kernel_suite, files)
                    for m in metas:
                        if "prepare_s" in m:
                            outcome.worker_prepare_s.append(m["prepare_s"])
                            outcome.worker_prepare.append(m)
                if kernel_suite is not None:
                    for b in kernel_suite.get_benchmarks():
                        if suite is None:
                            import pyperf

                            suite = pyperf.BenchmarkSuite([b])
                        else:
                            suite.add_benchmark(b)
            except RuntimeError as exc:
                outcome.status = "error"
                outcome.reason = str(exc)
            outcome.benchmarks = len(names) if outcome.status == "passed" else 0
            info["kernels"][kernel.name] = outcome.to_dict()
            if suite is not None:
                results.save(out_path, suite, info)
            if on_kernel_done:
                on_kernel_done(outcome)
        info["complete"] = True
    except KeyboardInterrupt:
        for p in live:
            p.kill()
        info["complete"] = False
        info["interrupted"] = True
        if suite is not None and any(o.get("benchmarks") for o in info["kernels"].values()):
            results.save(out_path, suite, info)
            raise Interrupted(str(out_path)) from None
        raise Interrupted("") from None
    finally:
        signal.signal(signal.SIGTERM, old)
        for p in live:  # killed above; reap them so none outlives the run
            try:
                p.wait(timeout=5)
            except Exception:  # noqa: BLE001
                pass
        if tmpdir is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)  # a dying worker may still have created a file
        if sys.exc_info()[0] is not None and out_path is not None:
            if held is not None:
                drop_output(out_path, held)
            elif not output:
                release_output(out_path)
    info["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    try:
        results.save(out_path, suite, info)
    finally:
        if held is not None:
            drop_output(out_path, held)
        elif not output:
            release_output(out_path)
    return out_path, info
