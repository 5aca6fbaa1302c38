"""One error class per kind of failure, each carrying what a user needs to fix it.

Every error grokviz raises on purpose derives from `GrokvizError`; the CLI prints its message
as one line and exits with status 2, never a traceback. Messages name the file, line or field
and say what was expected.
"""

from __future__ import annotations

MAX_MESSAGE = 400  # characters of an InputError's message, before file, line and field


class GrokvizError(Exception):
    """Base class: an expected failure with a message meant for the user."""


class InputError(GrokvizError):
    """A user-supplied file or value is malformed (samples, accuracy, settings)."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        if len(message) > MAX_MESSAGE:  # a quoted value may be a megabyte long
            message = message[:MAX_MESSAGE] + "…"
        where = ":".join(str(part) for part in (file, line) if part is not None)
        prefix = f"{where}: " if where else ""
        suffix = f" (field '{field}')" if field else ""
        super().__init__(f"{prefix}{message}{suffix}")
        self.file, self.line, self.field = file, line, field


class ModelError(GrokvizError):
    """A checkpoint cannot be used: missing, corrupt, unsupported family, or inconsistent."""


class StoreError(GrokvizError):
    """The store is missing, locked, corrupt, or written by a newer schema version."""
