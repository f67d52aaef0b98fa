"""What the console script is about to run, known before the command line is built.

`tixcli.__main__` sets COMMAND from the arguments before it imports the CLI, so that
`tixcli.cli.commands` registers just that command's module (each module imports what its
command needs: the others' cost a local command some 30 ms at start). None: every command
(help, completion, a library importing the CLI, an unknown name).
"""

from __future__ import annotations

COMMAND: str | None = None
# global options that take a value (`--profile NAME`): the word after them is not the command
VALUE_OPTIONS = ("--profile", "-p", "--config")


def command_in(args: list[str]) -> str | None:
    """The command word of a tixcli command line: the first argument that is not a global option."""
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg == "--":
            return None
        if arg.startswith("-"):
            skip = arg in VALUE_OPTIONS
            continue
        return arg
    return None
