"""Evaluate a run's checkpoints on test items and append per-item correctness to the store.

For each checkpoint of the run (from its `checkpoints` table) that this evaluation has not
stored yet: load the model, score every item (choice: option log-likelihoods; exact: greedy
generation; code: generation run against the item's tests in the sandbox, whose mode is chosen
once per call and recorded with it as `sandbox_used`), then write two
parts atomically: `item_scores/P-stepN` (acc, acc_norm, prediction...) and `accuracy/P-stepN`,
the latter marking the checkpoint done. P = `eval-KIND-DIGEST`, DIGEST hashing the items, the
few-shot items and the scoring settings: a rerun skips finished checkpoints, and results of
other items or settings never mix with these (an overlap is refused). The items' texts go to
the run's `items` table for pairing. It never rewrites or deletes a stored part. Start at
`evaluate`.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from grokviz import names
from grokviz.config import EvalKind, EvaluateConfig, settings_hash
from grokviz.errors import InputError, ModelError
from grokviz.evaluate.accuracy_import import check_overlap, write_items
from grokviz.evaluate.grading import choice_scores, cut_at_stop, exact_match, pick_option
from grokviz.evaluate.sandbox import SandboxChoice, check_program, resolve_sandbox, run_program
from grokviz.evaluate.scoring import continuation_logliks, encode_requests, greedy_generate
from grokviz.extract.loading import load_model, load_tokenizer, model_info, pick_device
from grokviz.inputs import checkpoints as ckpts
from grokviz.inputs import testitems
from grokviz.store import appended, schemas
from grokviz.store.layout import Store
from grokviz.store.queries import dropped_items
from grokviz.store.schemas import ITEM_SCORES_SCHEMA
from grokviz.store.tables import read_checkpoints


@dataclasses.dataclass
class EvaluateReport:
    """What one `evaluate` call did; `accuracy` is the mean correctness per evaluated step."""

    prefix: str
    steps_done: list[int]
    steps_skipped: list[int]
    n_items: int
    n_dropped: int = 0
    seconds: float = 0.0
    scoring_seconds: float = 0.0
    accuracy: dict[int, float] = dataclasses.field(default_factory=dict)
    sandbox: SandboxChoice | None = None  # code items: the sandbox mode that ran them

    @property
    def items_per_second(self) -> float:
        return len(self.steps_done) * self.n_items / self.scoring_seconds if self.scoring_seconds else 0.0


def evaluate(config: EvaluateConfig, store: Store, *, progress: bool = True) -> EvaluateReport:
    """Score every item at every (selected) checkpoint of the run; resumable per checkpoint."""
    started = time.perf_counter()
    if not progress:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    store.run_info(config.run)
    items = testitems.read_items(config.tests, config.kind)
    shots = fewshot_items(config, items)
    series = select_checkpoints(read_checkpoints(store, config.run), config.steps, config.run)
    prefix = f"eval-{config.kind.value}-{evaluation_digest(config, items, shots)}"
    todo = [c for c in series if not _part(store, config.run, "accuracy", prefix, c.step).exists()]
    sandbox = resolve_sandbox(config.sandbox.value) if todo and config.kind == EvalKind.CODE else None
    if sandbox and sandbox.warning:
        print(f"grokviz: warning: {sandbox.warning}", file=sys.stderr, flush=True)
    check_overlap(store, config.run, "accuracy", evaluation_rows(items, [c.step for c in todo]),
                  [names.STEP, names.ITEM_ID], prefix + "-")
    write_items(store, config.run, testitems.items_frame(config.run, items))
    report = EvaluateReport(prefix, [], [c.step for c in series if c not in todo], len(items), sandbox=sandbox)
    report.n_dropped = len(dropped_items(store, config.run) & set(items[names.ITEM_ID]))
    if todo:
        job = _Job(config, items, shots, config.runtime.tokenizer or todo[0].path, todo[0].revision,
                   report.sandbox)
        for checkpoint in tqdm(todo, desc="evaluate", unit="ckpt", disable=not progress):
            report.accuracy[checkpoint.step] = job.run_checkpoint(store, checkpoint, prefix, report)
            report.steps_done.append(checkpoint.step)
    report.seconds = time.perf_counter() - started
    return report


def fewshot_items(config: EvaluateConfig, items: pd.DataFrame) -> list[dict]:
    """The first K items of the few-shot file; none of them may be a test item."""
    if not config.fewshot:
        return []
    pool = testitems.read_items(config.fewshot_file, config.kind)
    if len(pool) < config.fewshot:
        raise InputError(f"--fewshot {config.fewshot} but the file has {len(pool)} items",
                         file=config.fewshot_file, field="fewshot")
    shots = pool.head(config.fewshot)
    shared = sorted(set(shots[names.ITEM_ID]) & set(items[names.ITEM_ID]))
    if shared:
        raise InputError(f"few-shot items are also test items: {shared[:5]}", file=config.fewshot_file,
                         field=names.ITEM_ID)
    return shots.to_dict("records")


def select_checkpoints(series: list[ckpts.Checkpoint], steps, run: str) -> list[ckpts.Checkpoint]:
    """The run's checkpoints, or those at `steps` (an error lists steps the run lacks)."""
    if not series:
        raise ModelError(f"run {run!r} has no complete checkpoint; run `grokviz extract` first")
    return ckpts.select_steps(series, steps) if steps else series


def evaluation_digest(config: EvaluateConfig, items: pd.DataFrame, shots: list[dict]) -> str:
    """12 hex digits naming this evaluation: items, few-shot items and scoring settings."""
    keep = [c for c in testitems.COLUMNS if c != "line"]
    records = json.loads(items[keep].to_json(orient="records"))
    shot_records = [{k: s[k] for k in keep} for s in shots]
    return settings_hash({"items": records, "shots": shot_records, "scoring": config.scoring()})[:12]


def part_name(prefix: str, step: int) -> str:
    """The part of one evaluation at one checkpoint, in `accuracy` and `item_scores`.

    >>> part_name("eval-choice-0123456789ab", 5000)
    'eval-choice-0123456789ab-step000005000'
    """
    return f"{prefix}-step{step:09d}"


def _part(store: Store, run: str, table: str, prefix: str, step: int) -> Path:
    return store.table_dir(run, table) / f"{part_name(prefix, step)}.parquet"


def evaluation_rows(items: pd.DataFrame, steps: list[int]) -> pd.DataFrame:
    """Every (step, item_id) pair an evaluation of `items` at `steps` would write."""
    return pd.DataFrame([(step, item) for step in steps for item in items[names.ITEM_ID]],
                        columns=[names.STEP, names.ITEM_ID])


@dataclasses.dataclass
class _Job:
    """The fixed inputs of one evaluation: items, prompts, tokenizer, device."""

    config: EvaluateConfig
    items: pd.DataFrame
    shots: list[dict]
    tokenizer_source: str
    tokenizer_revision: str | None
    sandbox: SandboxChoice | None = None  # code items: the resolved sandbox mode

    def __post_init__(self) -> None:
        cfg = self.config.runtime
        self.tokenizer = load_tokenizer(self.tokenizer_source,
                                        None if cfg.tokenizer else self.tokenizer_revision,
                                        cfg.trust_remote_code)
        pad = self.tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else (self.tokenizer.eos_token_id or 0)
        self.device, self.dtype = pick_device(cfg.device, cfg.dtype)
        self.records = self.items.to_dict("records")
        self.contexts = [testitems.context(item, self.shots) for item in self.records]

    def run_checkpoint(self, store: Store, checkpoint: ckpts.Checkpoint, prefix: str,
                       report: EvaluateReport) -> float:
        """Score every item at one checkpoint and write its parts; returns the accuracy."""
        cfg = self.config
        model, adapter = load_model(checkpoint, self.device, self.dtype, cfg.runtime.trust_remote_code)
        store.write_run_info(cfg.run, model_info(model, adapter), self.provenance())
        started = time.perf_counter()
        scores = SCORERS[cfg.kind](self, model)
        report.scoring_seconds += time.perf_counter() - started
        del model
        frame = self.items[[names.ITEM_ID, names.GROUP, "kind"]].reset_index(drop=True).join(scores)
        frame.insert(0, names.STEP, checkpoint.step)
        frame.insert(0, names.RUN, cfg.run)
        part = part_name(prefix, checkpoint.step)
        appended.append_table(store, cfg.run, "item_scores", frame[ITEM_SCORES_SCHEMA.names],
                             schema=ITEM_SCORES_SCHEMA, part=part)
        accuracy = frame.assign(split=names.Split.TEST.value)[list(schemas.ACCURACY_SCHEMA.names)]
        # written last: its presence marks the checkpoint as done
        appended.append_table(store, cfg.run, "accuracy", accuracy, schema=schemas.ACCURACY_SCHEMA, part=part)
        return float(frame[names.CORRECT].mean())

    def provenance(self) -> dict:
        """The settings of this call, and for code items which sandbox mode ran them and how."""
        used = {"sandbox_used": self.sandbox.mode, "sandbox_detail": self.sandbox.detail} if self.sandbox else {}
        return self.config.to_dict() | used

    def prompt_ids(self, texts: list[str]) -> list[np.ndarray]:
        """Token ids of generation prompts, keeping room for the new tokens."""
        keep = max(self.config.runtime.max_length - self.config.max_new_tokens, 1)
        encoded = self.tokenizer(texts, add_special_tokens=True)["input_ids"]
        return [np.asarray(ids[-keep:] or [self.pad_id], dtype=np.int64) for ids in encoded]

    def generate(self, model: torch.nn.Module, texts: list[str]) -> list[str]:
        return greedy_generate(model, self.tokenizer, self.prompt_ids(texts), self.config.stops(),
                               self.config.max_new_tokens, self.pad_id, self.device,
                               self.config.runtime.token_budget)


def score_choice(job: _Job, model: torch.nn.Module) -> pd.DataFrame:
    """Every option's log-likelihood; acc, acc_norm, acc_tokens and `correct` under --norm."""
    pairs = [(index, context, option) for index, (item, context) in enumerate(zip(job.records, job.contexts))
             for option in testitems.continuations(item)]
    owners, contexts, options = (list(column) for column in zip(*pairs))
    requests = encode_requests(job.tokenizer, contexts, options, job.config.runtime.max_length)
    logliks = continuation_logliks(model, requests, job.pad_id, job.device, job.config.runtime.token_budget)
    n_tokens, owners = np.array([n for _, n in requests]), np.array(owners)
    rows = []
    for index, item in enumerate(job.records):
        mine = owners == index
        scores = choice_scores(logliks[mine], item["choices"], n_tokens[mine], item["answer_index"],
                               job.config.norm)
        pick = pick_option(logliks[mine], item["choices"], n_tokens[mine], job.config.norm)
        rows.append(scores | {"prediction": str(pick),
                              "detail": json.dumps([round(float(v), 4) for v in logliks[mine]])})
    return pd.DataFrame(rows)


def score_exact(job: _Job, model: torch.nn.Module) -> pd.DataFrame:
    """Greedy generation cut at the stop sequences, normalised, compared to the answer."""
    texts = job.generate(model, job.contexts)
    rows = []
    for item, text in zip(job.records, texts):
        correct, prediction = exact_match(text, item["answer"], job.config.stops(),
                                          use_last_number=job.config.last_number)
        rows.append({names.CORRECT: correct, "prediction": prediction, "detail": text})
    return pd.DataFrame(rows).assign(acc=None, acc_norm=None, acc_tokens=None)


def score_code(job: _Job, model: torch.nn.Module) -> pd.DataFrame:
    """Generated function bodies run against each item's tests in the sandbox."""
    completions = [cut_at_stop(text, job.config.stops())
                   for text in job.generate(model, [item["prompt"] for item in job.records])]
    programs = [check_program(item["prompt"], completion, item["tests"], item["entry_point"])
                for item, completion in zip(job.records, completions)]
    mode = job.sandbox.mode if job.sandbox else job.config.sandbox.value
    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(lambda source: run_program(source, job.config.timeout, sandbox=mode), programs))
    return pd.DataFrame({names.CORRECT: [int(o.passed) for o in outcomes], "prediction": completions,
                         "detail": [f"{o.status}: {o.output[-500:]}" for o in outcomes]}
                        ).assign(acc=None, acc_norm=None, acc_tokens=None)


SCORERS = {EvalKind.CHOICE: score_choice, EvalKind.EXACT: score_exact, EvalKind.CODE: score_code}
