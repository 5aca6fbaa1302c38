"""The `grokviz` entry point: build the parser from every command module, run one command.

Expected failures (`GrokvizError`) print one line `grokviz: error: ...` and exit with status 2;
they never show a traceback. Heavy modules load only inside the command that needs them, so
`grokviz --help` is fast and never imports torch.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from grokviz.cli import commands, evaluate_commands
from grokviz.cli.registry import COMMANDS
from grokviz.errors import GrokvizError


def build_parser() -> argparse.ArgumentParser:
    """The `grokviz` parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="grokviz", description=(
        "See where and when an MoE LLM stops memorising and starts generalising."))
    sub = parser.add_subparsers(dest="command", required=True)
    commands.add_parsers(sub)
    evaluate_commands.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `grokviz ARGV`; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command.replace("-", "_")](args)
    except GrokvizError as err:
        print(f"grokviz: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("grokviz: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
