"""Sub-commands of the `tfxfer` command line.

Each module defines `add_parser(subparsers)`, which registers its
sub-command and sets `func` to the function that runs it. That function takes
the parsed arguments and returns the process exit code. `tfxfer.cli` lists the
modules in `COMMANDS`; a new sub-command is one new module and one entry there.
"""
