"""``python -m <package>.registry`` (or ``python -m registry``)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
