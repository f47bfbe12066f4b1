"""The kernel registry: every implementation, available or not, and why.

Each backend module in :data:`BACKEND_MODULES` defines ``register(reg)`` and
adds one :class:`Kernel` per (algorithm, backend). Loading happens once, on
first use, never at ``import cryptobench``; a module that fails to import is
recorded as unavailable kernels carrying the error as their reason, so nothing
here raises because a backend is missing.

The harness and the tests reach kernels only through :func:`kernels` and
:func:`select`.

A kernel may need its processes started with environment variables
(:attr:`Kernel.env`, e.g. ``OPENSSL_ia32cap`` for ``openssl-noavx512``): such
variables are read by a library once, when it loads, so setting them inside a
running process changes nothing. The harness starts the kernel's workers and
its verification with them, and :func:`env_mismatch` tells any process whether
it may run the kernel at all.
"""

from __future__ import annotations

import fnmatch
import importlib
import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from ._locks import ChildSafeLock
from ._text import MAX_TEXT, printable
from .errors import UsageError

#: Algorithm name -> kernel family (the folder under kernels/).
ALGORITHMS: dict[str, str] = {
    "aes-128-gcm": "aes_gcm",
    "aes-256-gcm": "aes_gcm",
    "chacha20-poly1305": "chacha20_poly1305",
    "ecdsa-p256-sha256": "ecdsa_p256",
}

#: Algorithm name -> "aead" or "signature".
KINDS: dict[str, str] = {
    "aes-128-gcm": "aead",
    "aes-256-gcm": "aead",
    "chacha20-poly1305": "aead",
    "ecdsa-p256-sha256": "signature",
}

#: The whole operations of each kind of algorithm (the hot paths are HOT_PATHS).
OPERATIONS: dict[str, tuple[str, ...]] = {"aead": ("encrypt", "decrypt"), "signature": ("sign", "verify", "keygen")}

#: Key size in bytes of each AEAD algorithm.
KEY_SIZES: dict[str, int] = {"aes-128-gcm": 16, "aes-256-gcm": 32, "chacha20-poly1305": 32}

#: Hot paths each family names, in display order (docs/kernels.md gives the shapes).
HOT_PATHS: dict[str, tuple[str, ...]] = {
    "aes_gcm": ("key-expansion", "aes-ctr", "ghash"),
    "chacha20_poly1305": ("chacha20", "poly1305"),
    "ecdsa_p256": ("field-mul", "fixed-base-mul", "double-scalar-mul", "scalar-inv"),
}

#: The base backend names; variants are "<base>-<path>" and peers "peer-<package>".
BASE_BACKENDS: tuple[str, ...] = ("python", "numba", "native", "openssl", "peer")

#: What a backend name may look like (it is a path segment of every benchmark name).
_BACKEND_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]*")

#: Environment variable naming more backend modules, comma-separated, imported after
#: :data:`BACKEND_MODULES` in every process (run's workers and verify's children
#: inherit it): how a backend outside this repository is compared with ours.
EXTRA_BACKENDS_ENV = "CRYPTOBENCH_BACKENDS"
#: How the reason of a kernel unavailable for want of a CPU feature begins (native.missing
#: writes it; the gate tells such a kernel, the runner's, from a broken one, the code's).
CPU_LACKS = "CPU lacks "

#: Modules imported to populate the registry, in order.
BACKEND_MODULES: tuple[str, ...] = (
    "cryptobench.kernels.aes_gcm.openssl",
    "cryptobench.kernels.aes_gcm.python",
    "cryptobench.kernels.aes_gcm.numba",
    "cryptobench.kernels.aes_gcm.native",
    "cryptobench.kernels.aes_gcm.peers",
    "cryptobench.kernels.chacha20_poly1305.openssl",
    "cryptobench.kernels.chacha20_poly1305.python",
    "cryptobench.kernels.chacha20_poly1305.numba",
    "cryptobench.kernels.chacha20_poly1305.native",
    "cryptobench.kernels.chacha20_poly1305.peers",
    "cryptobench.kernels.ecdsa_p256.openssl",
    "cryptobench.kernels.ecdsa_p256.python",
    "cryptobench.kernels.ecdsa_p256.numba",
    "cryptobench.kernels.ecdsa_p256.native",
    "cryptobench.kernels.ecdsa_p256.peers",
)


@dataclass(frozen=True)
class Kernel:
    """One implementation of one algorithm.

    ``impl`` is the AEAD or signature object of docs/kernels.md (``None`` for a
    peer that only offers hot paths); ``hot_paths`` maps a hot-path name to its
    setup function; ``lacks`` says why a hot path is not offered.
    """

    algorithm: str
    backend: str
    available: bool
    reason: str = ""
    constant_time: bool = False
    path: str = ""
    impl: Any = None
    hot_paths: Mapping[str, Callable[..., Callable[..., Any]]] = field(default_factory=dict)
    lacks: Mapping[str, str] = field(default_factory=dict)
    description: str = ""
    #: One-time preparation (JIT compilation or cache load, table building),
    #: timed apart by the harness. Returns metadata, e.g. Numba's
    #: ``{"cache_hits": 3, "cache_misses": 0}``.
    prepare: Callable[[], Mapping[str, Any]] | None = None
    #: Environment variables every process that runs this kernel must be
    #: started with (read by a library when it loads, so they cannot be set
    #: later). Workers and verification get them; a process without them
    #: refuses to time the kernel (:func:`env_mismatch`).
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """``algorithm/backend``, the kernel's unique name."""
        return f"{self.algorithm}/{self.backend}"

    @property
    def family(self) -> str:
        return ALGORITHMS[self.algorithm]

    @property
    def kind(self) -> str:
        return KINDS[self.algorithm]

    @property
    def base_backend(self) -> str:
        """``native`` for ``native-vaes``, ``peer`` for ``peer-pyaes``."""
        return self.backend.split("-", 1)[0]

    @property
    def operations(self) -> tuple[str, ...]:
        """Whole operations the kernel offers (empty for hot-path-only peers)."""
        if self.impl is None:
            return ()
        return OPERATIONS[self.kind]


class Registry:
    """A set of kernels keyed by ``algorithm/backend``."""

    def __init__(self) -> None:
        self._kernels: dict[str, Kernel] = {}
        self._origins: dict[str, str] = {}

    def add(self, kernel: Kernel) -> None:
        if kernel.algorithm not in ALGORITHMS:
            raise ValueError(f"unknown algorithm {kernel.algorithm!r}")
        for flag in ("available", "constant_time"):  # "no" was taken as True: available, or a constant-time claim
            if not isinstance(getattr(kernel, flag), bool):
                raise ValueError(f"{kernel.name}: {flag} must be True or False, got {getattr(kernel, flag)!r:.40}")
        if not _BACKEND_NAME.fullmatch(kernel.backend) or len(kernel.backend) > 64:
            # a '/' splits benchmark names wrongly; '*', '?', '[' and ',' are selection syntax
            raise ValueError(f"backend name {kernel.backend!r:.80}: use lower-case letters, digits and - _ . only, "
                             "at most 64 (a worker's file is named after it)")
        if kernel.name in self._kernels:
            first = self._origins.get(kernel.name)
            raise ValueError(f"kernel {kernel.name} registered twice" + (f" (first by {first})" if first else ""))
        if not isinstance(kernel.hot_paths, dict) or not all(callable(f) for f in kernel.hot_paths.values()):
            # a list, or a value that is not a setup function, failed only in verify, once per check
            raise ValueError(f"{kernel.name}: hot_paths must map hot-path names to setup functions, "
                             f"got {kernel.hot_paths!r:.60}")
        unknown = (set(kernel.hot_paths) | set(kernel.lacks)) - set(HOT_PATHS[kernel.family])
        if unknown:
            raise ValueError(f"{kernel.name}: unknown hot paths {sorted(unknown)}")
        both = set(kernel.hot_paths) & set(kernel.lacks)
        if both:
            raise ValueError(f"{kernel.name}: hot paths both offered and lacked: {sorted(both)}")
        if kernel.available and kernel.impl is None and not kernel.hot_paths:  # verify "passed" it, checking nothing
            raise ValueError(f"{kernel.name}: an available kernel needs an impl or hot paths")
        if not kernel.available and not (kernel.reason or "").strip():
            raise ValueError(f"{kernel.name}: an unavailable kernel needs a reason (list and verify show it)")
        for var, value in kernel.env.items():
            # an empty value is never harmless: OPENSSL_ia32cap="" turns off
            # every CPU extension (AES-GCM becomes some 60 times slower)
            if not (isinstance(var, str) and var and isinstance(value, str) and value):
                raise ValueError(f"{kernel.name}: env needs non-empty names and values, got {var!r}={value!r}")
        for field_name in ("path", "description", "reason"):
            # printed by list and verify and written into results files, whose reader refuses
            # control characters and text over 4,096 characters: run wrote files it could not read
            value = getattr(kernel, field_name)
            # one line: a newline in a path split list's rows, and pyperf refused it in a worker
            if value is not None and not (isinstance(value, str) and printable(value) == value
                                          and "\n" not in value and len(value) <= MAX_TEXT):
                raise ValueError(f"{kernel.name}: {field_name} must be printable text of at most {MAX_TEXT:,} "
                                 f"characters, got {value!r:.60}")
        self._kernels[kernel.name] = kernel

    def remove(self, name: str) -> None:
        self._kernels.pop(name, None)
        self._origins.pop(name, None)

    def origin(self, name: str) -> str | None:
        """The module whose ``register`` added kernel ``name`` (so another
        process can load it again), or None for a kernel added by hand."""
        return self._origins.get(name)

    def all(self) -> list[Kernel]:
        return sorted(self._kernels.values(), key=_sort_key)

    def get(self, algorithm: str, backend: str) -> Kernel:
        try:
            return self._kernels[f"{algorithm}/{backend}"]
        except KeyError:
            raise UsageError(f"no kernel {algorithm}/{backend}") from None


def _sort_key(k: Kernel) -> tuple[int, int, str]:
    algos = list(ALGORITHMS)
    order = {"python": 0, "numba": 1, "native": 2, "openssl": 3, "peer": 4}
    return (algos.index(k.algorithm), order.get(k.base_backend, 5), k.backend)


_lock = ChildSafeLock(reentrant=True)  # unheld in a forked child (cryptobench._locks)
_default: Registry | None = None
_loading = False  # set while default_registry imports the backend modules


def _load_module(reg: Registry, modname: str) -> None:
    family, backend = modname.rsplit(".", 2)[-2:]
    try:
        module = importlib.import_module(modname)
    except ModuleNotFoundError as exc:
        if exc.name == modname:
            return  # backend not written yet: nothing to register
        _register_broken(reg, family, backend, f"module {modname} failed to import: {exc}")
        return
    except Exception as exc:  # a backend must never take the registry down
        _register_broken(reg, family, backend, f"module {modname} failed to import: {exc!r}")
        return
    before = set(reg._kernels)
    try:
        module.register(reg)
    except Exception as exc:
        _register_broken(reg, family, backend, f"{modname}.register failed: {exc!r}")
    for name in set(reg._kernels) - before:
        reg._origins[name] = modname


def _register_broken(reg: Registry, family: str, backend: str, reason: str) -> None:
    for algorithm, fam in ALGORITHMS.items():
        if fam == family and f"{algorithm}/{backend}" not in reg._kernels:
            reg.add(Kernel(algorithm=algorithm, backend=backend, available=False, reason=printable(reason)))


def _load_extra(reg: Registry, modname: str) -> None:
    """A module named in CRYPTOBENCH_BACKENDS: asked for by name, so a failure
    to import or register is the user's error to see (UsageError), not an
    unavailable row."""
    where = f"{EXTRA_BACKENDS_ENV}: {modname}"
    try:
        module = importlib.import_module(modname)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - ModuleNotFoundError, or the module's own failure (sys.exit too)
        raise UsageError(f"{where}: failed to import: {exc!r}") from None
    if not callable(getattr(module, "register", None)):
        raise UsageError(f"{where}: has no register(reg) function (docs/kernels.md)")
    before = set(reg._kernels)
    try:
        module.register(reg)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - sys.exit() in register() ended the command silently
        for name in set(reg._kernels) - before:
            reg.remove(name)
        raise UsageError(f"{where}.register failed: {exc!r}" if isinstance(exc, SystemExit)
                         else f"{where}.register failed: {exc}") from None
    added = set(reg._kernels) - before
    if not added:
        raise UsageError(f"{where}.register added no kernel")
    for name in added:
        reg._origins[name] = modname


def extra_backend_modules() -> list[str]:
    """The modules CRYPTOBENCH_BACKENDS names."""
    return [m.strip() for m in os.environ.get(EXTRA_BACKENDS_ENV, "").split(",") if m.strip()]


def default_registry() -> Registry:
    """The process-wide registry, loaded on first call: the built-in backend
    modules, then those CRYPTOBENCH_BACKENDS names."""
    global _default, _loading
    with _lock:
        if _default is None:
            if _loading:  # a backend module asked for the registry while being imported by it
                raise UsageError("a backend module used the kernel registry while the registry was importing it "
                                 "(register(reg) receives the registry; do not call registry functions at import)")
            _loading = True
            try:
                reg = Registry()
                for modname in BACKEND_MODULES:
                    _load_module(reg, modname)
                for modname in extra_backend_modules():
                    _load_extra(reg, modname)
            finally:
                _loading = False
            _default = reg
        return _default


def kernels() -> list[Kernel]:
    """Every registered kernel, available or not, in display order."""
    return default_registry().all()


def get(algorithm: str, backend: str) -> Kernel:
    return default_registry().get(algorithm, backend)


def env_mismatch(kernel: Kernel, environ: Mapping[str, str] | None = None) -> str | None:
    """None when this process (or ``environ``) has every variable of
    ``kernel.env`` with exactly its value; else why the kernel must not run here.

    It checks the environment as the process sees it now; the harness starts
    processes with the variables already set, which is what the libraries
    that read them at load time need.
    """
    env = os.environ if environ is None else environ
    wrong = []
    for var, value in kernel.env.items():
        have = env.get(var)
        if have != value:
            wrong.append(f"{var}={value!r} (here it is {'unset' if have is None else repr(have)})")
    if not wrong:
        return None
    return f"{kernel.name} must run in a process started with " + ", ".join(wrong)


def backend_matches(backend: str, pattern: str, *, exact: Iterable[str] = ()) -> bool:
    """``native`` matches ``native`` and every ``native-*``; globs work too.

    A pattern in ``exact`` (the backends that exist under that very name)
    matches only itself: ``openssl`` is the reference, so it must not also
    select ``openssl-noavx512``; ``'openssl*'`` selects both.
    """
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(backend, pattern)
    if pattern in exact:
        return backend == pattern
    return backend == pattern or backend.startswith(pattern + "-")


def unavailable_reasons(pairs: list[tuple[str, str]], limit: int = 3) -> str:
    """``name: reason; name: reason; ...`` for the first ``limit`` (kernel name, reason) pairs."""
    return "; ".join(f"{name}: {reason}" for name, reason in pairs[:limit]) + ("; ..." if len(pairs) > limit else "")


def require_available(kernels: list[Kernel], what: str) -> None:
    """Raise :class:`UsageError` when not one of ``kernels`` (a selection) is
    available, naming the first few and why: ``nothing to <what>: ...``."""
    if any(k.available for k in kernels):
        return
    why = unavailable_reasons([(k.name, k.reason) for k in kernels])
    raise UsageError(f"nothing to {what}: every selected kernel is unavailable ({why})")


def split_list(value: str | Iterable[str] | None) -> list[str]:
    """Accept "a,b" or ["a", "b"] or None."""
    if value is None:
        return []
    if isinstance(value, str):
        items = value.split(",")
    else:
        items = [part for v in value for part in v.split(",")]
    return [i.strip() for i in items if i.strip()]


def expand_algorithms(value: str | Iterable[str] | None) -> list[str]:
    """The algorithms a selection names, by the rule backends follow: an exact
    name, a family ending at a dash (``aes``: aes-128-gcm and aes-256-gcm;
    ``ecdsa``; ``aes-128``), or a shell-style glob (``'*gcm'``). Raises
    :class:`UsageError` naming the valid ones for a pattern that matches none."""
    out: list[str] = []
    for pattern in split_list(value):
        hit = [a for a in ALGORITHMS if backend_matches(a, pattern)]
        if not hit:
            raise UsageError(f"unknown algorithm {pattern!r}; valid: {', '.join(ALGORITHMS)} "
                             "(or a prefix ending at a dash, such as aes or ecdsa, or a glob)")
        out += [a for a in hit if a not in out]
    return out


#: --filter's rule (name_matches), in the help of every command that takes it.
FILTER_HELP = ("comma-separated patterns; a benchmark is kept when its name matches one: a pattern with * ? or [ "
               "is a shell-style glob over the whole name, any other a substring (so 'encrypt/16' also selects "
               "encrypt/16384; '[a]es-128-gcm/openssl/encrypt/16' selects exactly that name)")


def name_matches(name: str, pattern: str | None) -> bool:
    """Whether a benchmark name matches ``--filter``: comma-separated patterns,
    each a shell-style glob if it has a glob character, else a substring."""
    pats = [p.strip() for p in (pattern or "").split(",") if p.strip()]
    return not pats or any(fnmatch.fnmatchcase(name, p if any(c in p for c in "*?[") else f"*{p}*") for p in pats)


def name_filter(pattern: str | None, algorithms: str | None, backends: str | None, *,
                extra_backends: Iterable[str] = (), strict: bool = True) -> Callable[[str], bool]:
    """A predicate on benchmark names (``algorithm/backend/...``) for the
    ``--filter``, ``-a`` and ``-b`` options of commands that read results files.

    ``-b`` follows :func:`select`'s rule, so ``-b openssl`` means the reference
    alone, not ``openssl-noavx512`` too; a backend name that matches no
    registered backend (nor one of ``extra_backends``: those in the files being
    read, so a backend registered only when they were made still counts) is an
    error, as it is for ``run``, unless ``strict`` is False."""
    algos = expand_algorithms(algorithms)
    bks = split_list(backends)
    known: list[str] = []
    if bks:
        known = sorted({k.backend for k in default_registry().all()} | set(extra_backends))
        for b in bks:
            if strict and not any(backend_matches(k, b) for k in known):
                raise UsageError(f"unknown backend {b!r}; valid: {', '.join(known)}{_OUT_OF_TREE_HINT}")

    def ok(name: str) -> bool:
        parts = name.split("/")
        if algos and parts[0] not in algos:
            return False
        if bks and (len(parts) < 2 or not any(backend_matches(parts[1], b, exact=known) for b in bks)):
            return False
        return name_matches(name, pattern)

    return ok


#: A backend of your own is named to every process through this variable (docs/kernels.md).
_OUT_OF_TREE_HINT = f" (a backend of your own: name its module in {EXTRA_BACKENDS_ENV})"


def select(
    algorithms: str | Iterable[str] | None = None,
    backends: str | Iterable[str] | None = None,
    *,
    registry: Registry | None = None,
    available_only: bool = False,
) -> list[Kernel]:
    """Kernels matching the algorithm and backend selections.

    A backend pattern selects its family (``native``: every ``native-*``)
    unless a backend has exactly that name (``openssl``, ``python``): then
    only that one; globs (``'openssl*'``) select by shape. Algorithms follow
    the same rule (:func:`expand_algorithms`).

    Raises :class:`UsageError` naming the valid choices when a selection matches
    nothing that exists, and when every name exists but no kernel has them
    together.
    """
    reg = registry or default_registry()
    everything = reg.all()
    algos = expand_algorithms(algorithms)
    pats = split_list(backends)
    known = sorted({k.backend for k in everything})
    for p in pats:
        if not any(backend_matches(b, p) for b in known):
            raise UsageError(f"unknown backend {p!r}; valid: {', '.join(known)}{_OUT_OF_TREE_HINT}")
    matched = [
        k
        for k in everything
        if (not algos or k.algorithm in algos)
        and (not pats or any(backend_matches(k.backend, p, exact=known) for p in pats))
    ]
    if not matched:  # each name exists, but not together (e.g. -a ecdsa-p256-sha256 -b peer-pyaes)
        raise UsageError(f"no kernel is both algorithm {', '.join(algos)} and backend {', '.join(pats)}")
    return [k for k in matched if k.available or not available_only]
