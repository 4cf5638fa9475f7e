"""Entry point of the `tfxfer` command (console script `tfxfer`).

It lives outside the `tfxfer` package on purpose: the package sees that this
module was imported first and defers its API (and so TensorFlow, about 5 s)
until a sub-command runs, so `tfxfer --version` and `tfxfer --help` answer
at once. Everywhere else, `import tfxfer` loads everything, so Keras finds
tfxfer's registered classes. The command line itself is `tfxfer.cli`.
"""

import sys


def main() -> int:
    """Runs `tfxfer.cli.main` on `sys.argv` and returns its exit code."""
    from tfxfer.cli import main as cli_main

    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
