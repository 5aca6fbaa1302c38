"""The contamination filter: Min-K%++ scores of test items at one checkpoint; drop the top.

METHOD.md 9: the paper drops the 10% of test items most likely seen in pretraining, by
Min-K%++ (Zhang et al. 2024). Per token, z_t = (log p(x_t | x_<t) - mu_t) / sigma_t with mu_t,
sigma_t the mean and standard deviation of log p over the vocabulary under the model's own
distribution at t; an item's score is the mean of its lowest k% of z_t (at least one token).
Higher = more likely seen. The filter is one decision per run, stored as the run's
`contamination` table (run, item_id, group, score, dropped, step, k), replaced whole by a
rerun. Accuracy rows are kept; consumers call `dropped_items(store, run)` to leave the
dropped items out. This module imports no torch at load time (the analysis may import it);
scoring loads torch only when `contamination` runs.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pandas as pd

from grokviz import checkpoints as ckpts
from grokviz import names, results, testitems
from grokviz.config import ContaminationConfig
from grokviz.schemas import CONTAMINATION_SCHEMA
from grokviz.store import Store

TABLE = "contamination"
PART = "filter"


def mink_plus_plus(z: np.ndarray, k: float = 20.0) -> float:
    """Mean of the lowest `k` percent of per-token z-scores (at least one); NaN if empty.

    >>> mink_plus_plus(np.array([-3.0, 1.0, 0.5, -1.0, 2.0]), k=40)
    -2.0
    """
    if len(z) == 0:
        return float("nan")
    count = max(1, int(len(z) * k / 100))
    return float(np.sort(z)[:count].mean())


def n_dropped(n_items: int, drop: float) -> int:
    """How many of `n_items` a fraction `drop` removes (rounded half up).

    >>> n_dropped(40, 0.1), n_dropped(15, 0.1), n_dropped(4, 0.1)
    (4, 2, 0)
    """
    return int(np.floor(drop * n_items + 0.5))


def select_dropped(scores: pd.DataFrame, drop: float, scope: str = "group") -> np.ndarray:
    """Boolean mask of the items to drop: the top `drop` fraction by score within each group
    (`scope="group"`) or overall (`"all"`); ties by item id, NaN scores are never dropped.

    >>> frame = pd.DataFrame({"item_id": list("abcd"), "group": ["x", "x", "y", "y"],
    ...                       "score": [0.1, 0.9, 0.5, 0.2]})
    >>> select_dropped(frame, 0.5).tolist(), select_dropped(frame, 0.25, "all").tolist()
    ([False, True, True, False], [False, True, False, False])
    """
    mask = np.zeros(len(scores), dtype=bool)
    keys = scores[names.GROUP] if scope == "group" else pd.Series("all", index=scores.index)
    for _, members in scores.groupby(keys.to_numpy(), sort=False):
        ranked = members.dropna(subset=["score"]).sort_values(["score", names.ITEM_ID],
                                                             ascending=[False, True])
        top = ranked.index[: n_dropped(len(members), drop)]
        mask[scores.index.get_indexer(top)] = True
    return mask


def read_contamination(store: Store, run: str) -> pd.DataFrame:
    """The run's contamination table (empty frame when no filter was computed)."""
    return results.read_appended(store, run, TABLE)


def dropped_items(store: Store, run: str) -> set[str]:
    """Item ids the run's contamination filter drops (empty when there is no filter)."""
    frame = read_contamination(store, run)
    return set() if frame.empty else set(frame.loc[frame["dropped"], names.ITEM_ID].astype(str))


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
    from grokviz.tables import read_checkpoints

    started = time.perf_counter()
    store.run_info(config.run)
    items = testitems.read_items_any(config.tests)
    checkpoint = ckpts.select_steps(read_checkpoints(store, config.run), [config.step])[0]
    texts = [testitems.item_text(item) for item in items.to_dict("records")]
    frame = items[[names.ITEM_ID, names.GROUP]].reset_index(drop=True).assign(
        score=[mink_plus_plus(z, config.k) for z in score_texts(config, store, checkpoint, texts, progress)])
    frame["dropped"] = select_dropped(frame, config.drop, config.scope)
    frame = frame.assign(run=config.run, step=config.step, k=float(config.k))
    results.append_table(store, config.run, TABLE, frame[CONTAMINATION_SCHEMA.names],
                         schema=CONTAMINATION_SCHEMA, part=PART)
    dropped = frame[frame["dropped"]]
    return ContaminationReport(config.step, len(frame), len(dropped),
                               dropped.groupby(names.GROUP).size().to_dict(), time.perf_counter() - started)


def score_texts(config: ContaminationConfig, store: Store, checkpoint: ckpts.Checkpoint,
                texts: list[str], progress: bool = True) -> list[np.ndarray]:
    """Per-token Min-K%++ z-scores of each text under one checkpoint (loads torch)."""
    from grokviz.extract import load_model, load_tokenizer, model_info, pick_device
    from grokviz.scoring import token_zscores

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
