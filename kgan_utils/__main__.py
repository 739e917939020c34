"""``python -m kgan_utils``: the command line of :mod:`kgan_utils.cli` (also the ``kgan`` script's entry point)."""

import sys

from kgan_utils.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
