"""Read lm-evaluation-harness output: per-task results and per-sample logs, per checkpoint.

`lm_eval --output_path OUT --log_samples` writes, per call, `OUT/MODEL/results_TS.json`
({"results": {task: {"acc,none": x, "acc_norm,none": y, "acc_stderr,none": ...}},
"config": {"model_args": "pretrained=...,revision=step5000-tokens20B"}}) and beside it one
`samples_TASK_TS.jsonl` per task (lines {"doc_id", "filter", "acc", "acc_norm", ...}). Each
results file is one checkpoint, named by its `revision` (else its `pretrained` path). Metric
keys are `NAME,FILTER`; `auto` takes acc_norm, else acc, else exact_match, else pass@1,
preferring the filter `none`. Item ids are `TASK/DOC_ID`. Pure reading: no store.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path

import pandas as pd

from grokviz.errors import InputError

AUTO_METRICS = ("acc_norm", "acc", "exact_match", "pass@1")


def results_files(path: Path) -> list[Path]:
    """The results file itself, or every `results_*.json` under a folder."""
    if path.is_dir():
        found = sorted(path.rglob("results_*.json"))
        if not found:
            raise InputError("no lm-evaluation-harness results_*.json in this folder", file=str(path))
        return found
    return [path]


def model_args(config: Mapping) -> dict[str, str]:
    """`model_args` as a dict, whether stored as `k=v,k=v` text or as a mapping.

    >>> model_args({"model_args": "pretrained=allenai/OLMoE-1B-7B-0924,revision=step5000-tokens20B"})
    {'pretrained': 'allenai/OLMoE-1B-7B-0924', 'revision': 'step5000-tokens20B'}
    """
    raw = config.get("model_args") or {}
    if isinstance(raw, Mapping):
        return {str(k): str(v) for k, v in raw.items()}
    pairs = [part.split("=", 1) for part in str(raw).split(",") if "=" in part]
    return {key.strip(): value.strip() for key, value in pairs}


def checkpoint_names(config: Mapping) -> list[str]:
    """Names a results file's checkpoint may go by, most specific first: the revision, the
    pretrained path, and the last folder of that path."""
    args = model_args(config)
    found = [args.get("revision"), args.get("pretrained")]
    if args.get("pretrained"):
        found.append(Path(args["pretrained"].rstrip("/")).name)
    return [name for name in found if name]


def pick_metric(metrics: Mapping, wanted: str) -> str | None:
    """The key of the accuracy metric in one task's results (None when the task has none).

    >>> pick_metric({"acc,none": 0.5, "acc_stderr,none": 0.1, "acc_norm,none": 0.6}, "auto")
    'acc_norm,none'
    >>> pick_metric({"exact_match,strict-match": 0.2, "exact_match,flexible-extract": 0.3}, "auto")
    'exact_match,strict-match'
    """
    names = [wanted] if wanted != "auto" else list(AUTO_METRICS)
    for name in names:
        keys = [k for k in metrics if k.split(",")[0] == name and isinstance(metrics[k], (int, float))]
        if keys:
            return f"{name},none" if f"{name},none" in keys else keys[0]
    return None


def read_results(path: Path, resolve: Callable[[list[str], str], int], metric: str,
                 groups: Mapping[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(tasks, items) of one results file: tasks (step, group, accuracy, metric, task) and
    per-sample correctness from its samples files (step, item_id, group, correct)."""
    data = _load_json(path)
    results = data.get("results")
    if not isinstance(results, dict) or not results:
        raise InputError("no 'results' object (is this an lm-evaluation-harness results file?)",
                         file=str(path), field="results")
    names = checkpoint_names(data.get("config") or {})
    step = resolve(names, str(path))
    rows, chosen = [], {}
    for task, metrics in results.items():
        key = pick_metric(metrics, metric) if isinstance(metrics, dict) else None
        if key is None:
            continue
        value = float(metrics[key])
        if not 0 <= value <= 1:
            raise InputError(f"task {task!r}: {key} = {value} is not an accuracy in [0, 1]",
                             file=str(path), field=key)
        chosen[task] = key
        rows.append({"step": step, "group": groups.get(task, task), "accuracy": value, "metric": key,
                     "task": task})
    if not rows:
        raise InputError(f"no task reports {metric if metric != 'auto' else '/'.join(AUTO_METRICS)}",
                         file=str(path), field="results")
    items = [_read_samples(file, task, step, chosen[task], groups.get(task, task))
             for task, file in samples_files(path, list(chosen)).items()]
    items_frame = pd.concat(items, ignore_index=True) if items else pd.DataFrame()
    return pd.DataFrame(rows), items_frame


def _load_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"unreadable ({type(err).__name__})", file=str(path)) from None
    except json.JSONDecodeError as err:
        raise InputError(f"malformed JSON ({err.msg})", file=str(path), line=err.lineno) from None
    if not isinstance(data, dict):
        raise InputError("expected a JSON object", file=str(path))
    return data


def samples_files(results_path: Path, tasks: list[str]) -> dict[str, Path]:
    """`samples_TASK_TS.jsonl` beside `results_TS.json`, per task that has one."""
    stamp = results_path.stem.removeprefix("results_")
    found = {}
    for task in tasks:
        candidate = results_path.with_name(f"samples_{task}_{stamp}.jsonl")
        if candidate.is_file():
            found[task] = candidate
    return found


def _read_samples(path: Path, task: str, step: int, key: str, group: str) -> pd.DataFrame:
    """Per-sample 0/1 values of the chosen metric (and filter) of one task."""
    name, _, wanted_filter = key.partition(",")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            sample = json.loads(line)
        except json.JSONDecodeError as err:
            raise InputError(f"malformed JSON ({err.msg})", file=str(path), line=number) from None
        if sample.get("filter", wanted_filter) != wanted_filter:
            continue
        value = sample.get(name)
        if "doc_id" not in sample or value not in (0, 1, 0.0, 1.0, True, False):
            raise InputError(f"expected doc_id and a 0/1 {name!r}", file=str(path), line=number, field=name)
        rows.append({"step": step, "item_id": f"{task}/{sample['doc_id']}", "group": group,
                     "correct": int(value), "line": number, "file": str(path)})
    return pd.DataFrame(rows)
