"""Read and validate a samples file (JSONL, CSV or Parquet) into a DataFrame.

Columns: `sample_id` and `text` required; `group` (default "all"), `split` (train | test |
validation, default train) and `prompt` (a prefix of `text` whose tokens carry no loss)
optional. Every problem is an `InputError` naming the file, the line (1-based, as an editor
shows it; for CSV the header is line 1) and the field. Reading never touches the store.
A leading UTF-8 byte-order mark is ignored; lone surrogate escapes (`"\\ud800"`), duplicate
JSON keys, CSV rows with more fields than the header, and ids or groups holding control or
bidirectional-override characters are refused.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from pathlib import Path

import pandas as pd

from grokviz import names
from grokviz.errors import InputError

REQUIRED = (names.SAMPLE_ID, names.TEXT)
DEFAULTS = {names.GROUP: "all", names.SPLIT: names.Split.TRAIN.value, names.PROMPT: ""}
SPLITS = {split.value for split in names.Split}
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")  # maybe half of a pair
# Characters an id must not hold: C0/C1 controls, bidi marks, embeddings, overrides and isolates,
# and the byte-order mark. Ids are shown, compared and put in links; these would hide or reorder text.
HIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def check_identifier(value: object, where: dict, field: str) -> None:
    """Refuse an id or group name that is not a string or integer, or that hides characters.

    >>> check_identifier("math-01", {}, "sample_id")
    >>> check_identifier("a\u202eb", {"file": "s.jsonl", "line": 3}, "sample_id")
    Traceback (most recent call last):
    grokviz.errors.InputError: s.jsonl:3: contains the control character U+202E (field 'sample_id')
    """
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InputError(f"must be a string or integer, got {type(value).__name__}", **where, field=field)
    hidden = HIDDEN.search(str(value))
    if hidden:
        raise InputError(f"contains the control character U+{ord(hidden.group()):04X}", **where, field=field)


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
    skip = len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0  # Excel's "CSV UTF-8"
    try:
        return raw[skip:].decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: skip + err.start].count(b"\n") + 1
        raise InputError(f"not valid UTF-8 (byte {skip + err.start})", file=str(path), line=line) from None


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    """json's object hook: a key given twice is an error, not "the last one wins"."""
    row = dict(pairs)
    if len(row) != len(pairs):
        keys = [key for key, _ in pairs]
        raise _DuplicateKey(next(key for i, key in enumerate(keys) if key in keys[:i]))
    return row


def _read_jsonl(path: Path) -> pd.DataFrame:
    rows = []
    for number, line in enumerate(_decode(path).splitlines(), start=1):
        if not line.strip():
            continue
        where = {"file": str(path), "line": number}
        try:
            row = json.loads(line, object_pairs_hook=_unique_keys)
        except json.JSONDecodeError as err:
            raise InputError(f"malformed JSON ({err.msg})", **where) from None
        except _DuplicateKey as err:
            raise InputError(f"key {err.args[0]!r} appears twice in one object", **where) from None
        if not isinstance(row, dict):
            raise InputError("each line must be a JSON object", **where)
        if SURROGATE_ESCAPE.search(line):
            _check_encodable(row, where)
        rows.append({**row, "line": number})
    return pd.DataFrame(rows)


def _check_encodable(row: dict, where: dict) -> None:
    """A lone surrogate (`"\\ud800"` without its pair) is valid JSON but not Unicode text."""
    try:
        json.dumps(row, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as err:
        raise InputError(f"holds a lone surrogate \\u{ord(err.object[err.start]):04x}, which is not a "
                         "Unicode character", **where) from None


def _read_csv(path: Path) -> pd.DataFrame:
    """All cells as strings ("" when blank); a row with more fields than the header is refused
    (pandas would silently shift it into the index)."""
    csv.field_size_limit(max(csv.field_size_limit(), 1 << 30))  # a document may be megabytes long
    reader = csv.reader(io.StringIO(_decode(path), newline=""), strict=True)
    rows, lines, last = [], [], 1
    try:
        header = next(reader, [])
        for name in header:
            if header.count(name) > 1:
                raise InputError(f"column {name!r} appears twice in the header", file=str(path), line=1)
        for row in reader:
            start, last = last + 1, reader.line_num
            if not row:
                continue
            if len(row) > len(header):
                raise InputError(f"{len(row)} fields but the header has {len(header)} (a stray comma? quote "
                                 "the field)", file=str(path), line=start)
            rows.append(row + [""] * (len(header) - len(row)))
            lines.append(start)
    except csv.Error as err:
        raise InputError(f"malformed CSV ({err})", file=str(path), line=reader.line_num) from None
    return pd.DataFrame(rows, columns=header, dtype=object).assign(line=lines)


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
    check_identifier(sample_id, {"file": source, "line": line}, names.SAMPLE_ID)
    check_identifier(row[names.GROUP], {"file": source, "line": line}, names.GROUP)
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
