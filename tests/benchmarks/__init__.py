"""The pytest-benchmark suite (see conftest.py: not part of the default run)."""
