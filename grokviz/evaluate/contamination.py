"""The contamination filter: Min-K%++ scores of test items at one checkpoint; drop the top.

METHOD.md 9: the paper drops the 10% of test items most likely seen in pretraining, by
Min-K%++ (Zhang et al. 2024). Per token, z_t = (log p(x_t | x_<t) - mu_t) / sigma_t with mu_t,
sigma_t the mean and standard deviation of log p over the vocabulary under the model's own
distribution at t; an item's score is the mean of its lowest k% of z_t (at least one token).
Higher = more likely seen. The filter is one decision per run, stored as the run's
`contamination` table (run, item_id, group, score, dropped, step, k), replaced whole by a
rerun. Accuracy rows are kept; consumers call `grokviz.store.queries.dropped_items` to leave
the dropped items out. The maths is in `grokviz.metrics.contamination`; torch loads only when
`contamination` runs.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from grokviz import names
from grokviz.config import ContaminationConfig
from grokviz.inputs import checkpoints as ckpts
from grokviz.inputs import testitems
from grokviz.metrics.contamination import mink_plus_plus, select_dropped
from grokviz.store import appended
from grokviz.store.layout import Store
from grokviz.store.queries import CONTAMINATION
from grokviz.store.schemas import CONTAMINATION_SCHEMA

PART = "filter"


@dataclasses.dataclass
class ContaminationReport:
    step: int
    n_items: int
    n_dropped: int
    by_group: dict[str, int]
    seconds: float = 0.0


def contamination(config: ContaminationConfig, store: Store, *, progress: bool = True) -> ContaminationReport:
    """Score the items at checkpoint `config.step`, mark the top fraction, store the table
    (replacing the run's previous filter). Nothing is written if any input is refused."""
    from grokviz.store.tables import read_checkpoints

    started = time.perf_counter()
    store.run_info(config.run)
    items = testitems.read_items_any(config.tests)
    checkpoint = ckpts.select_steps(read_checkpoints(store, config.run), [config.step])[0]
    texts = [testitems.item_text(item) for item in items.to_dict("records")]
    frame = items[[names.ITEM_ID, names.GROUP]].reset_index(drop=True).assign(
        score=[mink_plus_plus(z, config.k) for z in score_texts(config, store, checkpoint, texts, progress)])
    frame["dropped"] = select_dropped(frame, config.drop, config.scope)
    frame = frame.assign(run=config.run, step=config.step, k=float(config.k))
    appended.append_table(store, config.run, CONTAMINATION, frame[CONTAMINATION_SCHEMA.names],
                         schema=CONTAMINATION_SCHEMA, part=PART)
    dropped = frame[frame["dropped"]]
    return ContaminationReport(config.step, len(frame), len(dropped),
                               dropped.groupby(names.GROUP).size().to_dict(), time.perf_counter() - started)


def score_texts(config: ContaminationConfig, store: Store, checkpoint: ckpts.Checkpoint,
                texts: list[str], progress: bool = True) -> list[np.ndarray]:
    """Per-token Min-K%++ z-scores of each text under one checkpoint (loads torch)."""
    from grokviz.evaluate.scoring import token_zscores
    from grokviz.extract.loading import load_model, load_tokenizer, model_info, pick_device

    if not progress:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()

    runtime = config.runtime
    tokenizer = load_tokenizer(runtime.tokenizer or checkpoint.path,
                               None if runtime.tokenizer else checkpoint.revision, runtime.trust_remote_code)
    device, dtype = pick_device(runtime.device, runtime.dtype)
    model, adapter = load_model(checkpoint, device, dtype, runtime.trust_remote_code)
    store.write_run_info(config.run, model_info(model, adapter), config.to_dict())
    encoded = tokenizer(texts, add_special_tokens=True)["input_ids"]
    sequences = [np.asarray(ids[: runtime.max_length], dtype=np.int64) for ids in encoded]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
    return token_zscores(model, sequences, pad, device, runtime.token_budget)
