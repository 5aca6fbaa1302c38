"""Import accuracy computed elsewhere, and the bookkeeping every accuracy writer shares.

Formats: `items` (CSV/JSONL/Parquet: step or checkpoint, item_id, group, correct [, split]),
`tasks` (step or checkpoint, group, accuracy [, split]) -> the `task_accuracy` table, and
`lm-eval` (lm-evaluation-harness results files, with per-sample logs when present; see
lmeval.py). Checkpoint names map to steps through `--checkpoint-map NAME=STEP`, else
`checkpoints.parse_name`. Everything is validated before anything is written: steps that are
not checkpoints of the run, item ids the run does not know (when it knows any: its `items`
table or `--tests`), duplicates, and pairs the run already holds are refused with one error
listing them, and the store is left unchanged. One import = one part `import-DIGEST` per
table (DIGEST hashes the rows), so importing the same file twice does nothing. No torch, no
model: `evaluate` reuses `check_overlap` and `write_items` from here.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from grokviz import names
from grokviz.config import ImportConfig, settings_hash
from grokviz.errors import InputError
from grokviz.inputs import lmeval, testitems
from grokviz.inputs.checkpoints import parse_name
from grokviz.inputs.samples import check_identifier, read_rows
from grokviz.store import appended, schemas
from grokviz.store.layout import Store, read_parquet
from grokviz.store.schemas import ITEMS_SCHEMA, TASK_ACCURACY_SCHEMA
from grokviz.store.tables import read_checkpoints


@dataclasses.dataclass
class ImportReport:
    format: str
    part: str
    steps: list[int]
    item_rows: int
    task_rows: int
    already_imported: bool = False
    items_checked: bool = True


def resolve_step(value, mapping: Mapping[str, int]) -> int | None:
    """A step from a step number, a mapped checkpoint name, or a name holding `stepN`.

    >>> resolve_step("step5000-tokens20B", {}), resolve_step("final", {"final": 9}), resolve_step(7, {})
    (5000, 9, 7)
    """
    text = str(value).strip()
    if text in mapping:
        return int(mapping[text])
    if text.isdigit():
        return int(text)
    return parse_name(text)[0]


def detect_format(path: Path) -> str:
    """`lm-eval` for a folder or a JSON object with `results`; else `items` when the rows have
    a `correct` column, `tasks` when they have `accuracy`."""
    if path.is_dir():
        return "lm-eval"
    if path.suffix.lower() == ".json":
        try:
            if "results" in json.loads(path.read_text(encoding="utf-8")):
                return "lm-eval"
        except (json.JSONDecodeError, UnicodeDecodeError, TypeError):
            pass
    columns = set(read_rows(path, "accuracy").columns)
    if names.CORRECT in columns:
        return "items"
    if "accuracy" in columns:
        return "tasks"
    raise InputError("cannot tell the format: expected a 'correct' column (per item), an 'accuracy' "
                     "column (per task) or lm-evaluation-harness results; or pass --format", file=str(path))


def _step_of(row: dict, mapping: Mapping[str, int], where: dict) -> int:
    for field in (names.STEP, "checkpoint"):
        value = row.get(field)
        if value is not None and not (isinstance(value, float) and pd.isna(value)) and value != "":
            step = resolve_step(value, mapping)
            if step is None:
                raise InputError(f"cannot tell the step of checkpoint {value!r}; pass "
                                 f"--checkpoint-map {value}=STEP", **where, field=field)
            return step
    raise InputError("needs a 'step' or a 'checkpoint' column", **where, field=names.STEP)


def _rows(path: Path, kind: str, mapping: Mapping[str, int], split: str) -> pd.DataFrame:
    """Validated rows of an items or tasks file."""
    out = []
    for row in read_rows(path, "accuracy").to_dict("records"):
        where = {"file": str(path), "line": int(row["line"])}
        for field in (names.ITEM_ID, names.GROUP):
            if field in row and row[field] is not None and row[field] == row[field] and row[field] != "":
                check_identifier(row[field], where, field)  # (a NaN cell is blank: NaN != NaN)
        record = {names.STEP: _step_of(row, mapping, where), names.SPLIT: str(row.get(names.SPLIT) or split),
                  names.GROUP: str(row.get(names.GROUP) or "all"), "line": where["line"]}
        if kind == "items":
            record[names.ITEM_ID] = str(row.get(names.ITEM_ID) or "")
            if not record[names.ITEM_ID] or record[names.ITEM_ID] == "nan":
                raise InputError("missing item_id", **where, field=names.ITEM_ID)
            record[names.CORRECT] = _zero_one(row.get(names.CORRECT), where)
        else:
            record["accuracy"] = _fraction(row.get("accuracy"), where)
        if record[names.SPLIT] not in {s.value for s in names.Split}:
            raise InputError(f"split must be train, test or validation, got {record[names.SPLIT]!r}",
                             **where, field=names.SPLIT)
        out.append(record)
    return pd.DataFrame(out)


def _zero_one(value, where: dict) -> int:
    text = str(value).strip().lower()
    if text in ("1", "1.0", "true"):
        return 1
    if text in ("0", "0.0", "false"):
        return 0
    raise InputError(f"correct must be 0 or 1 (or true/false), got {value!r}", **where, field=names.CORRECT)


def _fraction(value, where: dict) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not 0 <= number <= 1:
        raise InputError(f"accuracy must be a number in [0, 1], got {value!r}", **where, field="accuracy")
    return number


def read_accuracy(config: ImportConfig) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    """(format, item rows, task rows) of the file, validated but not yet checked against a run."""
    path = Path(config.file)
    if not path.exists():
        raise InputError("accuracy file not found", file=str(path))
    fmt = detect_format(path) if config.format == "auto" else config.format
    mapping = dict(config.checkpoint_map)
    if fmt == "items":
        return fmt, _rows(path, "items", mapping, config.split), pd.DataFrame()
    if fmt == "tasks":
        return fmt, pd.DataFrame(), _rows(path, "tasks", mapping, config.split)
    return fmt, *_read_lmeval(path, config, mapping)


def lmeval_step(candidates: list[str], mapping: Mapping[str, int], source: str) -> int:
    """The step of an lm-eval results file from its checkpoint names: a mapped name first, then
    the first name holding `stepN`.

    >>> lmeval_step(["step5000-tokens20B", "allenai/OLMoE-1B-7B-0924"], {}, "r.json")
    5000
    """
    for name in candidates:
        if name in mapping:
            return int(mapping[name])
    for name in candidates:
        if parse_name(name)[0] is not None:
            return parse_name(name)[0]
    shown = candidates[0] if candidates else "NAME"
    raise InputError(f"cannot tell the checkpoint step of model_args {candidates}; pass "
                     f"--checkpoint-map {shown}=STEP", file=source, field="model_args")


def _read_lmeval(path: Path, config: ImportConfig, mapping: Mapping[str, int]
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    parts = [lmeval.read_results(p, lambda names_, source: lmeval_step(names_, mapping, source),
                                 config.metric, dict(config.task_groups))
             for p in lmeval.results_files(path)]
    tasks = pd.concat([t for t, _ in parts], ignore_index=True).assign(split=config.split)
    item_frames = [i for _, i in parts if not i.empty]
    items = pd.concat(item_frames, ignore_index=True).assign(split=config.split) if item_frames else pd.DataFrame()
    return items, tasks


def known_items(store: Store, run: str, tests: pd.DataFrame) -> pd.DataFrame:
    """Items the run knows: its `items` table plus `tests` (an items-table frame, may be empty)."""
    frames = [f for f in (appended.read_appended(store, run, "items"), tests) if not f.empty]
    return pd.concat(frames, ignore_index=True).drop_duplicates(names.ITEM_ID) if frames else pd.DataFrame()


def check_overlap(store: Store, run: str, table: str, rows: pd.DataFrame, keys: list[str], own: str) -> None:
    """Refuse rows whose `keys` (e.g. step, item_id) the run's `table` already holds in a part
    not named `own...` (another evaluation or import)."""
    wanted = rows[keys].drop_duplicates()
    for path in appended.table_files(store, run, table):
        if Path(path).name.startswith(own):
            continue
        clash = read_parquet(path, columns=keys).to_pandas().merge(wanted, on=keys)
        if len(clash):
            raise InputError(
                f"run {run!r} already has {table} for {len(clash)} of these ({', '.join(keys)}), e.g. "
                f"{clash.head(3).values.tolist()}, in {Path(path).name} (other items file or settings); "
                "use a new --run, or remove that part to replace it")


def write_items(store: Store, run: str, frame: pd.DataFrame) -> None:
    """Store items' texts (run, item_id, group, kind, text) once per item set; an id the run
    already holds with another text or group is refused."""
    existing = appended.read_appended(store, run, "items")
    if not existing.empty:
        merged = frame.merge(existing, on=names.ITEM_ID, suffixes=("", "_held"))
        differs = merged[(merged[names.TEXT] != merged[names.TEXT + "_held"]) |
                         (merged[names.GROUP] != merged[names.GROUP + "_held"])]
        if len(differs):
            raise InputError(f"run {run!r} already holds items {differs[names.ITEM_ID].head(5).tolist()} "
                             "with another text or group; give them new item ids or use a new --run")
    part = f"{frame['kind'].iloc[0]}-{settings_hash({'items': frame.to_dict('records')})[:12]}"
    if not (store.table_dir(run, "items") / f"{part}.parquet").exists():
        appended.append_table(store, run, "items", frame[ITEMS_SCHEMA.names], schema=ITEMS_SCHEMA, part=part)


def check_against_run(store: Store, config: ImportConfig, items: pd.DataFrame, tasks: pd.DataFrame,
                      reference: pd.DataFrame) -> None:
    """Every step a checkpoint of the run; every item known (when any are); no duplicates."""
    known = {c.step for c in read_checkpoints(store, config.run)}
    steps = {int(s) for frame in (items, tasks) if not frame.empty for s in frame[names.STEP]}
    unknown = sorted(steps - known)
    if unknown:
        raise InputError(f"steps {unknown} are not checkpoints of run {config.run!r} (it has "
                         f"{sorted(known)}); map names with --checkpoint-map NAME=STEP", file=config.file)
    if items.empty:
        return
    if not reference.empty:
        missing = sorted(set(items[names.ITEM_ID]) - set(reference[names.ITEM_ID]))
        if missing:
            raise InputError(f"{len(missing)} item ids the run does not know: {missing[:10]}"
                             f"{' ...' if len(missing) > 10 else ''} (known: --tests and the run's items "
                             "table)", file=config.file, field=names.ITEM_ID)
    dup = items[items.duplicated([names.STEP, names.ITEM_ID])]
    if len(dup):
        raise InputError(f"item {dup[names.ITEM_ID].iloc[0]!r} appears twice at step "
                         f"{int(dup[names.STEP].iloc[0])}", file=config.file, field=names.ITEM_ID)


def table_rows(run: str, items: pd.DataFrame, tasks: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The `accuracy` and `task_accuracy` rows to write (either may be empty)."""
    accuracy = items.assign(run=run)[list(schemas.ACCURACY_SCHEMA.names)] if not items.empty else items
    if tasks.empty:
        return accuracy, tasks
    tasks = tasks.assign(run=run)
    tasks["metric"] = tasks["metric"] if "metric" in tasks else "accuracy"
    tasks["task"] = tasks["task"] if "task" in tasks else tasks[names.GROUP]
    return accuracy, tasks[TASK_ACCURACY_SCHEMA.names]


def import_accuracy(config: ImportConfig, store: Store) -> ImportReport:
    """Validate the file against the run, then write its parts (nothing if any check fails)."""
    info = store.run_info(config.run)
    fmt, items, tasks = read_accuracy(config)
    tests = (testitems.items_frame(config.run, testitems.read_items_any(config.tests))
             if config.tests else pd.DataFrame())
    reference = known_items(store, config.run, tests)
    check_against_run(store, config, items, tasks, reference)
    accuracy, task_rows = table_rows(config.run, items, tasks)
    part = "import-" + settings_hash({"items": accuracy.to_dict("records"),
                                      "tasks": task_rows.to_dict("records")})[:12]
    steps = sorted({int(s) for frame in (items, tasks) if not frame.empty for s in frame[names.STEP]})
    report = ImportReport(fmt, part, steps, len(accuracy), len(task_rows), items_checked=not reference.empty)
    if any((store.table_dir(config.run, t) / f"{part}.parquet").exists() for t in ("accuracy", "task_accuracy")):
        report.already_imported = True
        return report
    if not accuracy.empty:
        check_overlap(store, config.run, "accuracy", accuracy, [names.STEP, names.ITEM_ID], part)
    if not task_rows.empty:
        check_overlap(store, config.run, "task_accuracy", task_rows, [names.STEP, names.GROUP, "task"], part)
    if not tests.empty:
        write_items(store, config.run, tests)
    if not task_rows.empty:
        appended.append_table(store, config.run, "task_accuracy", task_rows, schema=TASK_ACCURACY_SCHEMA, part=part)
    if not accuracy.empty:
        appended.append_table(store, config.run, "accuracy", accuracy, schema=schemas.ACCURACY_SCHEMA, part=part)
    store.write_run_info(config.run, info["model"], config.to_dict())
    return report
