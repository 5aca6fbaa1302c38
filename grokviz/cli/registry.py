"""The table of `grokviz` subcommands: name -> function, filled by the `command` decorator.

Each command module registers its functions here; `grokviz.cli.entry` parses the arguments and
dispatches through `COMMANDS`. Kept apart so command modules never import the entry point.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

Command = Callable[[argparse.Namespace], int]
COMMANDS: dict[str, Command] = {}


def command(func: Command) -> Command:
    """Register `cmd_NAME` as the subcommand NAME (underscores for dashes)."""
    COMMANDS[func.__name__.removeprefix("cmd_")] = func
    return func
