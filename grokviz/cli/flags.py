"""Command-line flags made from a settings dataclass: each documented field becomes `--field-name`.

The help text, the choices and the default come from the field (`grokviz.config`), so a default
lives in one place. Flags default to None, meaning "as the preset says"; booleans get
`--name / --no-name`.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

_TYPES = {"int": int, "float": float, "str": str}


def _value_type(annotation: str):
    """The argparse type of an annotation like "float | None" or "str | float" (the first that parses)."""
    names = [part.strip() for part in str(annotation).split("|")]
    if "str" in names:
        return str
    return next((_TYPES[name] for name in names if name in _TYPES), str)


def add_config_flags(parser: argparse.ArgumentParser, cls: type, skip: tuple[str, ...] = ("run",)) -> None:
    """One flag per documented field of `cls` (fields without `metadata["help"]` are skipped)."""
    for field in dataclasses.fields(cls):
        if field.name in skip or "help" not in field.metadata:
            continue
        flag = "--" + field.name.replace("_", "-")
        help_text = f"{field.metadata['help']} (default: {field.default})"
        if isinstance(field.default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        else:
            parser.add_argument(flag, type=_value_type(field.type), default=None,
                                choices=field.metadata.get("choices"), help=help_text)


def config_values(args: argparse.Namespace, cls: type, skip: tuple[str, ...] = ("run",)) -> dict[str, Any]:
    """The documented fields of `cls` the user gave on the command line (None: not given)."""
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(cls)
            if f.name not in skip and "help" in f.metadata and getattr(args, f.name, None) is not None}
