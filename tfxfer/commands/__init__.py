"""Sub-commands of the `tfxfer` command line.

Each module defines `PARSER_OPTIONS` (the `help`, `description` and
other keyword arguments of `subparsers.add_parser`), `add_arguments(parser)`
where it takes options, and `run(args)`, which takes the parsed arguments and
returns the process exit code. `tfxfer.cli` lists the modules in `COMMANDS`
and registers each the same way; a new sub-command is one new module and one
entry there.
"""
