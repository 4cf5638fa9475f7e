"""`python -m tfxfer.datasets build|verify`: see `tfxfer.datasets.build`."""

import sys

if __name__ == "__main__":
    from tfxfer.datasets.build import main

    sys.exit(main())
