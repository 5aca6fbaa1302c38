"""Read and validate a samples file (JSONL, CSV or Parquet) into a DataFrame.

Columns: `sample_id` and `text` required; `group` (default "all"), `split` (train | test |
validation, default train) and `prompt` (a prefix of `text` whose tokens carry no loss)
optional. Every problem is an `InputError` naming the file, the line (1-based, as an editor
shows it; for CSV the header is line 1) and the field. Reading never touches the store.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from grokviz import names
from grokviz.errors import InputError

REQUIRED = (names.SAMPLE_ID, names.TEXT)
DEFAULTS = {names.GROUP: "all", names.SPLIT: names.Split.TRAIN.value, names.PROMPT: ""}
SPLITS = {split.value for split in names.Split}


def read_samples(path: str | Path) -> pd.DataFrame:
    """Read `path` by its suffix and validate it; returns one row per sample, in file order.

    The `line` column keeps where each sample came from, for later error messages.
    """
    return validate_samples(read_rows(path, "samples"), str(Path(path)))


def read_rows(path: str | Path, what: str) -> pd.DataFrame:
    """The raw rows of a JSONL, CSV or Parquet file, with a `line` column (1-based, as an
    editor shows it); `what` names the file in errors ("samples", "tests"). No validation."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} file not found", file=str(path))
    readers = {".jsonl": _read_jsonl, ".json": _read_jsonl, ".csv": _read_csv,
               ".parquet": _read_parquet}
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise InputError(f"unknown {what} format {path.suffix!r}; expected .jsonl, .csv or .parquet",
                         file=str(path))
    return reader(path)


def _decode(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise InputError(f"not valid UTF-8 (byte {err.start})", file=str(path), line=line) from None


def _read_jsonl(path: Path) -> pd.DataFrame:
    rows = []
    for number, line in enumerate(_decode(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise InputError(f"malformed JSON ({err.msg})", file=str(path), line=number) from None
        if not isinstance(row, dict):
            raise InputError("each line must be a JSON object", file=str(path), line=number)
        rows.append({**row, "line": number})
    return pd.DataFrame(rows)


def _read_csv(path: Path) -> pd.DataFrame:
    import io

    try:
        frame = pd.read_csv(io.StringIO(_decode(path)), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise InputError(f"malformed CSV ({str(err).strip()})", file=str(path)) from None
    return frame.assign(line=range(2, len(frame) + 2))


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(path)
    except Exception as err:  # pyarrow raises several unrelated types for corrupt files
        raise InputError(f"not a readable Parquet file ({type(err).__name__}: {err})",
                         file=str(path)) from None
    return frame.assign(line=range(1, len(frame) + 1))


def validate_samples(frame: pd.DataFrame, source: str = "<samples>") -> pd.DataFrame:
    """Check columns, types and uniqueness; fill optional columns; return a clean copy.

    >>> validate_samples(pd.DataFrame({"sample_id": [1], "text": ["a b"]}))[["sample_id", "group"]]
      sample_id group
    0         1   all
    """
    if frame.empty:
        raise InputError("no samples", file=source)
    if "line" not in frame:
        frame = frame.assign(line=range(1, len(frame) + 1))
    for column in REQUIRED:
        if column not in frame:
            raise InputError("missing required column", file=source, field=column)
    frame = frame.copy()
    for column, default in DEFAULTS.items():  # absent, null or empty (a blank CSV cell)
        if column not in frame:
            frame[column] = default
            continue
        values = frame[column].astype(object)
        frame[column] = values.where(values.notna() & (values != ""), default)
    for row in frame.itertuples(index=False):
        _check_row(row._asdict(), source)
    for column in (names.SAMPLE_ID, names.GROUP, names.SPLIT, names.PROMPT):
        frame[column] = frame[column].map(lambda v: "" if v is None else str(v))
    duplicated = frame[names.SAMPLE_ID].duplicated()
    if duplicated.any():
        first = frame[duplicated].iloc[0]
        raise InputError(f"duplicate sample_id {first[names.SAMPLE_ID]!r}", file=source,
                         line=int(first["line"]), field=names.SAMPLE_ID)
    keep = [names.SAMPLE_ID, names.TEXT, names.GROUP, names.SPLIT, names.PROMPT, "line"]
    return frame[keep].reset_index(drop=True)


def _check_row(row: dict, source: str) -> None:
    line = int(row["line"])
    sample_id, text, prompt = row[names.SAMPLE_ID], row[names.TEXT], row[names.PROMPT]
    if sample_id is None or (isinstance(sample_id, float) and pd.isna(sample_id)) or str(sample_id) == "":
        raise InputError("empty sample_id", file=source, line=line, field=names.SAMPLE_ID)
    if not isinstance(sample_id, (str, int)):
        raise InputError(f"sample_id must be a string or integer, got {type(sample_id).__name__}",
                         file=source, line=line, field=names.SAMPLE_ID)
    if not isinstance(text, str):
        raise InputError(f"text must be a string, got {type(text).__name__}", file=source,
                         line=line, field=names.TEXT)
    if not text.strip():
        raise InputError("empty text", file=source, line=line, field=names.TEXT)
    if str(row[names.SPLIT]) not in SPLITS:
        raise InputError(f"split must be one of {sorted(SPLITS)}, got {row[names.SPLIT]!r}",
                         file=source, line=line, field=names.SPLIT)
    if not isinstance(prompt, str) or not text.startswith(prompt) or prompt == text:
        raise InputError("prompt must be a strict prefix of text", file=source, line=line,
                         field=names.PROMPT)
