"""Entry point of the `tfxfer` command (console script `tfxfer`).

It lives outside the `tfxfer` package on purpose: `main` sets `DEFER_API`
before it imports the package, which then defers its API (and so
TensorFlow, about 5 s to import) until a sub-command asks for a name, so
`tfxfer --version` and `tfxfer --help` answer at once. Everywhere else,
including worker processes the demo starts (they import this module again
but do not run `main`), `import tfxfer` loads everything, so TensorFlow starts
quietly and Keras finds tfxfer's registered classes. The command line itself
is `tfxfer.cli`.
"""

import sys

# Read by `tfxfer/__init__.py` when the package is first imported.
DEFER_API = False


def main() -> int:
    """Runs `tfxfer.cli.main` on `sys.argv` and returns its exit code."""
    global DEFER_API
    DEFER_API = True
    from tfxfer.cli import main as cli_main

    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
