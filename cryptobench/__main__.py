"""``python -m cryptobench``: the same command line as the ``cryptobench`` script."""

import os
import sys
from pathlib import Path


def _source_checkout_shadows_install() -> bool:
    """Whether ``python -m cryptobench`` found the source checkout's package
    through the current directory (the repository root, where the README's
    commands leave you) instead of the installed one. The checkout has no
    ``cryptobench/kernels`` (the install maps the top-level ``kernels/``
    there) and no built extension, so it cannot run as installed."""
    here = Path(__file__).resolve().parent
    first = Path(sys.path[0] or ".").resolve() if sys.path else None
    return (not sys.flags.safe_path and first == here.parent
            and not (here / "kernels").is_dir() and (here.parent / "kernels").is_dir())


if __name__ == "__main__":
    if _source_checkout_shadows_install():
        from importlib import metadata

        try:
            metadata.distribution("cryptobench")
        except metadata.PackageNotFoundError:
            sys.exit("cryptobench: not installed; this is its source tree: install it first (see the README)")
        # -P: leave the current directory off sys.path, so the installed package is imported
        os.execv(sys.executable, [sys.executable, "-P", "-m", "cryptobench", *sys.argv[1:]])
    from cryptobench.cli import main

    sys.exit(main())
