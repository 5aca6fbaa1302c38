"""The `grokviz` command line: `entry` (parser and dispatch), `commands` and
`evaluate_commands` (the subcommands), `registry` (name -> function)."""

from grokviz.cli.entry import build_parser, main

__all__ = ["build_parser", "main"]
