"""``python -m cryptobench``: the same command line as the ``cryptobench`` script."""

import sys

from .cli import main

sys.exit(main())
