"""Read and validate a test-items file (JSONL, CSV or Parquet) and turn items into prompts.

Columns: `item_id` (required), `group` (the domain; default "all"), and per kind:
- choice: `question` or `prompt`, `choices` (a list; in CSV a JSON list), `answer` (0-based
  index, a letter A-Z, or the text of one choice);
- exact: `question` or `prompt`, `answer`;
- code: `prompt` (the function signature and docstring), `tests` (Python; a `check(candidate)`
  function is called with the entry point, as in HumanEval), `entry_point`.
An optional `kind` column must match the kind being evaluated. A `prompt` is used verbatim;
a `question` goes into `QUESTION_TEMPLATE`. Every problem is an `InputError` naming file, line
and field, like samples.py. Pure text and pandas: no model, no store.
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from grokviz import names
from grokviz.config import EvalKind
from grokviz.errors import InputError
from grokviz.inputs.samples import check_identifier, read_rows

QUESTION_TEMPLATE = "Question: {question}\nAnswer:"
SHOT_SEPARATOR = "\n\n"
COLUMNS = ("item_id", "group", "kind", "question", "prompt", "choices", "answer_index", "answer",
           "tests", "entry_point", "line")


def read_items(path: str | Path, kind: EvalKind | str) -> pd.DataFrame:
    """Read `path` and validate every item for `kind`; one row per item, in file order."""
    rows = read_rows(path, "tests")
    return validate_items(rows, EvalKind(kind), str(Path(path)))


def read_items_any(path: str | Path) -> pd.DataFrame:
    """Read items of whichever kind the file holds: its `kind` column, else by its columns
    (`choices` -> choice, `entry_point` -> code, `answer` -> exact)."""
    raw = read_rows(path, "tests")
    stated = raw["kind"].dropna().astype(str) if "kind" in raw else pd.Series(dtype=str)
    kinds = {kind.value for kind in EvalKind}
    if len(stated) and stated.iloc[0] not in kinds:
        raise InputError(f"kind must be one of {sorted(kinds)}, got {stated.iloc[0]!r}", file=str(path),
                         line=int(raw.loc[stated.index[0], "line"]), field="kind")
    by_column = [kind for column, kind in (("choices", "choice"), ("entry_point", "code"), ("answer", "exact"))
                 if column in raw]
    if not len(stated) and not by_column:
        raise InputError("cannot tell the kind of these items (no kind, choices, entry_point or "
                         "answer column)", file=str(path), field="kind")
    kind = stated.iloc[0] if len(stated) else by_column[0]
    return validate_items(raw, EvalKind(kind), str(Path(path)))


def validate_items(frame: pd.DataFrame, kind: EvalKind, source: str = "<tests>") -> pd.DataFrame:
    """Check and normalise raw rows; returns the `COLUMNS` frame.

    >>> raw = pd.DataFrame({"item_id": [1], "question": ["2 + 2 ="], "choices": [["3", "4"]],
    ...                     "answer": ["B"]})
    >>> validate_items(raw, EvalKind.CHOICE)[["item_id", "group", "answer_index", "answer"]]
      item_id group  answer_index answer
    0       1   all             1      4
    """
    if frame.empty:
        raise InputError("no test items", file=source)
    if "line" not in frame:
        frame = frame.assign(line=range(1, len(frame) + 1))
    if names.ITEM_ID not in frame:
        raise InputError("missing required column", file=source, field=names.ITEM_ID)
    items = [_item(row, kind, source) for row in frame.to_dict("records")]
    out = pd.DataFrame(items, columns=list(COLUMNS))
    duplicated = out[names.ITEM_ID].duplicated()
    if duplicated.any():
        first = out[duplicated].iloc[0]
        raise InputError(f"duplicate item_id {first[names.ITEM_ID]!r}", file=source,
                         line=int(first["line"]), field=names.ITEM_ID)
    return out


def _blank(value) -> bool:
    return value is None or (isinstance(value, float) and pd.isna(value)) or value == ""


def _text(row: dict, field: str, where: dict, required: bool = True) -> str:
    value = row.get(field)
    if _blank(value):
        if required:
            raise InputError("missing or empty", **where, field=field)
        return ""
    if not isinstance(value, str):
        raise InputError(f"must be a string, got {type(value).__name__}", **where, field=field)
    return value


def _item(row: dict, kind: EvalKind, source: str) -> dict:
    where = {"file": source, "line": int(row["line"])}
    item_id = row.get(names.ITEM_ID)
    if _blank(item_id) or not isinstance(item_id, (str, int)) or isinstance(item_id, bool):
        raise InputError("item_id must be a non-empty string or integer", **where, field=names.ITEM_ID)
    check_identifier(item_id, where, names.ITEM_ID)
    stated = row.get("kind")
    if not _blank(stated) and stated != kind.value:
        raise InputError(f"item of kind {stated!r} in a {kind.value!r} evaluation", **where, field="kind")
    group = row.get(names.GROUP)
    if not _blank(group):
        check_identifier(group, where, names.GROUP)
    item = {names.ITEM_ID: str(item_id), names.GROUP: "all" if _blank(group) else str(group),
            "kind": kind.value, "line": where["line"], "choices": None, "answer_index": -1,
            "tests": "", "entry_point": ""}
    item["prompt"] = _text(row, "prompt", where, required=kind == EvalKind.CODE)
    item["question"] = _text(row, "question", where, required=not item["prompt"])
    if kind == EvalKind.CHOICE:
        item["choices"] = _choices(row.get("choices"), where)
        item["answer_index"] = _answer_index(row.get("answer"), item["choices"], where)
        item["answer"] = item["choices"][item["answer_index"]]
    elif kind == EvalKind.EXACT:
        answer = row.get("answer")
        if _blank(answer) or not isinstance(answer, (str, int, float)) or isinstance(answer, bool):
            raise InputError("answer must be a non-empty string or number", **where, field="answer")
        item["answer"] = str(answer)
    else:
        item["answer"] = ""
        item["tests"] = _text(row, "tests", where)
        item["entry_point"] = _text(row, "entry_point", where)
        if not item["entry_point"].isidentifier():
            raise InputError(f"entry_point must be a Python name, got {item['entry_point']!r}",
                             **where, field="entry_point")
    return item


def _choices(value, where: dict) -> list[str]:
    if isinstance(value, str):  # CSV: a JSON list in one cell
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise InputError("choices must be a JSON list of strings", **where, field="choices") from None
    if hasattr(value, "tolist"):  # Parquet lists arrive as arrays
        value = value.tolist()
    if not isinstance(value, list) or len(value) < 2:
        raise InputError("choices must be a list of at least two options", **where, field="choices")
    if not all(isinstance(c, str) and c.strip() for c in value):
        raise InputError("every choice must be a non-empty string", **where, field="choices")
    return value


def _answer_index(answer, choices: list[str], where: dict) -> int:
    """An index, a letter (A = first choice) or the text of a choice; text wins when ambiguous."""
    if isinstance(answer, str) and answer in choices:
        return choices.index(answer)
    if isinstance(answer, str) and answer.strip().isdigit():
        answer = int(answer.strip())
    elif isinstance(answer, str) and len(answer.strip()) == 1 and answer.strip() in string.ascii_uppercase:
        answer = string.ascii_uppercase.index(answer.strip())
    if isinstance(answer, int) and not isinstance(answer, bool) and 0 <= answer < len(choices):
        return answer
    raise InputError(f"answer must be an index 0-{len(choices) - 1}, a letter or one of the "
                     f"choices, got {answer!r}", **where, field="answer")


# --- prompts -------------------------------------------------------------------------------
def query(item: Mapping) -> str:
    """The text the model continues: the verbatim prompt, or the question in the template.

    >>> query({"prompt": "", "question": "2 + 2 ="})
    'Question: 2 + 2 =\\nAnswer:'
    """
    return item["prompt"] or QUESTION_TEMPLATE.format(question=item["question"])


def context(item: Mapping, shots: Sequence[Mapping] = ()) -> str:
    """Few-shot demonstrations (query and correct answer), then the item's query.

    >>> shot = {"prompt": "", "question": "1 + 1 =", "answer": "2"}
    >>> context({"prompt": "", "question": "2 + 2 =", "answer": "4"}, [shot])
    'Question: 1 + 1 =\\nAnswer: 2\\n\\nQuestion: 2 + 2 =\\nAnswer:'
    """
    demos = [f"{query(shot)} {shot['answer']}" for shot in shots]
    return SHOT_SEPARATOR.join([*demos, query(item)])


def continuations(item: Mapping) -> list[str]:
    """The options as the model would continue the context (a space, then the option)."""
    return [f" {choice}" for choice in item["choices"]]


def item_text(item: Mapping) -> str:
    """The item's text for pairing and contamination: query and answer (code: the prompt).

    >>> item_text({"kind": "exact", "prompt": "", "question": "2 + 2 =", "answer": "4"})
    '2 + 2 = 4'
    """
    if item["kind"] == EvalKind.CODE.value:
        return item["prompt"]
    return f"{item['prompt'] or item['question']} {item['answer']}".strip()


def items_frame(run: str, items: pd.DataFrame) -> pd.DataFrame:
    """The run's `items` table rows: run, item_id, group, kind, text."""
    return pd.DataFrame({names.RUN: run, names.ITEM_ID: items[names.ITEM_ID],
                         names.GROUP: items[names.GROUP], "kind": items["kind"],
                         names.TEXT: [item_text(row) for row in items.to_dict("records")]})
