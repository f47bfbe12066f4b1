"""Verification of one kernel in a process started with the kernel's environment.

``python -P -m cryptobench._verify_child SPEC`` is started by
:func:`cryptobench.verify.verify_kernel` when the calling process lacks the
kernel's environment variables (``Kernel.env``); SPEC is JSON:
``{"algorithm", "backend", "module", "quick", "seed", "wycheproof"}``, where
``module`` registered the kernel (loaded too when it is not one of the
registry's own backend modules). Progress goes to stdout as ``CB-CHECK
<label>`` lines, the report as one ``CB-REPORT <json>`` line
(:meth:`KernelReport.to_dict`). Exit status 0 when a report was written
(whatever it says), 2 when this process cannot check the kernel at all.
"""

from __future__ import annotations

import importlib
import json
import sys


def _emit(tag: str, payload: str) -> None:
    sys.stdout.write(f"{tag} {payload}\n")
    sys.stdout.flush()


def main(argv: list[str]) -> int:
    from . import registry
    from .verify import verify_kernel

    if len(argv) != 1:
        print("usage: python -m cryptobench._verify_child SPEC_JSON", file=sys.stderr)
        return 2
    spec = json.loads(argv[0])
    reg = registry.default_registry()
    name = f"{spec['algorithm']}/{spec['backend']}"
    if name not in reg._kernels:
        # not a built-in, nor in CRYPTOBENCH_BACKENDS (which default_registry has loaded:
        # registering that module again failed): its registering module, whatever its name
        importlib.import_module(spec["module"]).register(reg)
    kernel = reg.get(spec["algorithm"], spec["backend"])
    why = registry.env_mismatch(kernel)
    if why is not None:  # never check (and never recurse into another child) without it
        print(f"cryptobench verify child: {why}", file=sys.stderr)
        return 2
    report = verify_kernel(kernel, wycheproof=spec.get("wycheproof"), quick=bool(spec.get("quick")),
                           seed=int(spec.get("seed", 20261127)), registry=reg,
                           on_check=lambda label: _emit("CB-CHECK", label))
    _emit("CB-REPORT", json.dumps(report.to_dict()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
