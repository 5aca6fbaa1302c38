"""`grokviz demo`: train the embedded model, save checkpoints, record accuracy, extract, analyze.

One call builds a complete run from nothing, offline: the tiny OLMoE-architecture model of
`train.py` learns the tasks of `tasks.py`; at every checkpoint it is saved with
`save_pretrained` and every equation is scored (held-out and training accuracy per task);
the pathway monitor logs denser curves between checkpoints; then the real `extract` and
`analyze` run on the saved checkpoints, exactly as on a user's own run; last, what the run
shows per task (`findings.py`) goes to STORE/models/RUN/findings.md. Deterministic for a seed.
Checkpoints go to STORE/models/RUN (not part of the store's tables).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from pathlib import Path

import pandas as pd

from grokviz import names
from grokviz.analysis.run import analyze
from grokviz.config import AnalyzeConfig, ExtractConfig
from grokviz.demo import findings
from grokviz.demo.train import DemoConfig, DemoData, checkpoint_steps, correctness, prepare_data, train
from grokviz.extract.monitor import PathwayMonitor
from grokviz.extract.run import extract
from grokviz.store import analyses, appended
from grokviz.store.activity import write_status
from grokviz.store.appended import append_table
from grokviz.store.layout import Store
from grokviz.store.schemas import ACCURACY_SCHEMA

PROBE_PER_TASK = 48


@dataclasses.dataclass
class DemoReport:
    run: str
    steps: list[int]
    seconds: dict[str, float]
    models: str
    findings: pd.DataFrame  # one row per task: `grokviz.demo.findings.COLUMNS`


def samples_frame(data: DemoData) -> pd.DataFrame:
    """Every equation as a sample: training equations (split train) and held-out ones (test)."""
    return pd.DataFrame({
        names.SAMPLE_ID: [e.sample_id for e in data.equations], names.TEXT: [e.text for e in data.equations],
        names.GROUP: [e.group for e in data.equations], names.SPLIT: [e.split for e in data.equations],
        names.PROMPT: [e.prompt for e in data.equations],
    })


def probe_frame(samples: pd.DataFrame, seed: int) -> pd.DataFrame:
    """A fixed probe set for the monitor: the first PROBE_PER_TASK training equations of each
    task in a seeded shuffle."""
    train_rows = samples[samples[names.SPLIT] == names.Split.TRAIN.value]
    shuffled = train_rows.sample(frac=1.0, random_state=seed)
    return shuffled.groupby(names.GROUP, sort=False).head(PROBE_PER_TASK).reset_index(drop=True)


def build_demo(store: Store, *, run: str = "demo", config: DemoConfig | None = None, quick: bool = False,
               progress: bool = True, monitor_every: int | None = None, projection: bool = True,
               resume: bool = True) -> DemoReport:
    """Build the demo run into `store`, recording its stage in the run's build status (the
    dashboard shows it while the build runs). With `resume`, a run trained earlier with the same
    settings keeps its checkpoints and goes on with extraction (itself resumable) and analysis
    (cached); otherwise an existing run of that name is replaced (other runs are never touched). `projection=False` skips the
    pathway maps (comparisons of variants need only the numbers). The DemoConfig goes to models/RUN/demo.json and the run's provenance
    (`{"demo": config.to_dict()}`)."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # one bar per save_pretrained would drown the demo's own
    config = config or (DemoConfig.quick() if quick else DemoConfig())
    models = store.models_dir(run)
    seconds: dict[str, float] = {}
    try:
        if not (resume and _trained(store, run, models, config)):
            seconds["train"] = _train_stage(store, run, config, models, progress, monitor_every)
        _stage(store, run, "extract")
        seconds["extract"] = _timed(lambda: extract(
            ExtractConfig(run=run, model=str(models / "checkpoints"), samples=str(models / "samples.jsonl"),
                          token_routes=16, part_size=4096, token_budget=65536), store, progress=progress,
            on_checkpoint=lambda done, total: write_status(store, run, done=done, total=total)))
        store.write_run_info(run, store.run_info(run)["model"], {"demo": config.to_dict()})  # the run's settings
        _stage(store, run, "analyze")
        seconds["analyze"] = _timed(lambda: analyze(AnalyzeConfig(run=run, projection=projection,
                                                                  projection_samples=1200), store, progress=progress))
        steps = sorted({s for s, _ in store.complete_shards(run)})
        table = run_findings(store, run)
        (models / "findings.md").write_text(findings.to_markdown(table) + "\n")
    except BaseException as err:
        write_status(store, run, stage="failed", error=f"{type(err).__name__}: {err}"[:500])
        raise
    write_status(store, run, stage="done")
    return DemoReport(run, steps, seconds, str(models), table)


def _stage(store: Store, run: str, stage: str) -> None:
    """Record that a stage starts (its progress restarts)."""
    write_status(store, run, stage=stage, done=None, total=None, stage_started=time.time(), error=None)


def _timed(work) -> float:
    """Seconds `work()` took."""
    mark = time.perf_counter()
    work()
    return time.perf_counter() - mark


def _trained(store: Store, run: str, models: Path, config: DemoConfig) -> bool:
    """Whether `run` was trained before with exactly `config` (its checkpoints and accuracy are there)."""
    saved = models / "demo.json"
    if not saved.exists() or json.loads(saved.read_text()) != config.to_dict():
        return False
    n_saved = len(list((models / "checkpoints").glob("step*")))
    return n_saved == len(checkpoint_steps(config.steps, config.n_checkpoints)) and \
        (store.table_dir(run, "accuracy") / "demo.parquet").exists()


def _train_stage(store: Store, run: str, config: DemoConfig, models: Path, progress: bool,
                 monitor_every: int | None) -> float:
    """Train from scratch (replacing the run), save checkpoints, record accuracy."""
    started = time.perf_counter()
    store.remove_run(run)
    shutil.rmtree(models, ignore_errors=True)
    models.mkdir(parents=True)
    write_status(store, run, stage="train", done=0, total=config.steps, stage_started=time.time(),
                 config=config.to_dict())
    data = prepare_data(config)
    samples = samples_frame(data)
    samples.to_json(models / "samples.jsonl", orient="records", lines=True)
    accuracy = _train_and_save(store, run, config, data, samples, models, progress, monitor_every)
    append_table(store, run, "accuracy", accuracy, schema=ACCURACY_SCHEMA, part="demo")
    (models / "demo.json").write_text(json.dumps(config.to_dict(), indent=2))  # last: marks training as complete
    return time.perf_counter() - started


def run_findings(store: Store, run: str) -> pd.DataFrame:
    """`grokviz.demo.findings.findings` of a finished, analysed run of `store`."""
    tables = (analyses.read_analysis(store, run, name) for name in ("memorization", "pairs", "correlations"))
    return findings.findings(appended.read_appended(store, run, "accuracy"), *tables)


def _train_and_save(store: Store, run: str, config: DemoConfig, data: DemoData, samples: pd.DataFrame,
                    models: Path, progress: bool, monitor_every: int | None) -> pd.DataFrame:
    """Train; at each checkpoint save the model and score every equation; monitor in between."""
    from tqdm.auto import tqdm

    monitor = PathwayMonitor(store, run, probe_frame(samples, config.seed), data.tokenizer)
    every = monitor_every or max(1, config.steps // 40)  # about 40 monitor points between checkpoints
    rows: list[pd.DataFrame] = []
    model_ref: list = []
    bar = tqdm(total=config.steps, desc="demo training", unit="step", disable=not progress)

    def on_checkpoint(step: int, model) -> None:
        model_ref[:] = [model]
        folder = models / "checkpoints" / f"step{step}"
        model.save_pretrained(folder)
        data.tokenizer.save_pretrained(folder)
        correct = correctness(model, data.encoded).numpy()
        rows.append(pd.DataFrame({names.RUN: run, names.STEP: step, names.GROUP: samples[names.GROUP],
                                  names.SPLIT: samples[names.SPLIT], names.ITEM_ID: samples[names.SAMPLE_ID],
                                  names.CORRECT: correct.astype("int8")}))

    last = [0.0]

    def on_step(step: int, loss: float) -> None:
        bar.update(1)
        if step % every == 0 and model_ref:
            monitor.log(step, model_ref[0])
        if time.perf_counter() - last[0] > 2.0:  # the dashboard's progress banner
            last[0] = time.perf_counter()
            write_status(store, run, done=step)

    train(config, on_checkpoint=on_checkpoint, on_step=on_step, data=data)
    bar.close()
    return pd.concat(rows, ignore_index=True)
