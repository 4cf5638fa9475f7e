"""`python -m tfxfer.datasets build|verify`: see `tfxfer.datasets.builder`."""

import sys

from tfxfer.datasets.builder import main

if __name__ == "__main__":
    sys.exit(main())
