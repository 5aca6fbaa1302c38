"""Correlations of pathway metrics with accuracy over checkpoints (METHOD.md 8), with controls.

Per domain: the domain's memorised-sample metrics against its held-out accuracy; per pair
`Pretrain@p -> Test@q`: the train group's metrics against the test group's accuracy. Each
table row also carries the metric's correlation with the step itself and the partial
correlation given the step; `cross_table` sets each domain's metric against every domain's
accuracy (own vs others). Baselines: training loss, its moving average, validation loss.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from grokviz import names
from grokviz.metrics.correlation import correlation_table, cross_correlation_table, moving_average

PATHWAY_METRICS = ("distance", "consistency", "mean_cosine")
COLUMNS = [names.RUN, "domain", names.GROUP, "accuracy_group", "metric", "pearson", "pearson_p",
           "spearman", "spearman_p", "n_points", "window", "pearson_vs_step", "partial_given_step"]


def series(metrics: pd.DataFrame, group: str, metric: str, steps: list[int]) -> np.ndarray:
    """One group's metric over `steps` (NaN where missing)."""
    part = metrics[(metrics[names.GROUP] == group) & (metrics["metric"] == metric)]
    return part.set_index(names.STEP)["value"].reindex(steps).to_numpy(dtype=np.float64)


def accuracy_of(acc: pd.DataFrame, group: str, steps: list[int], split: str = "test") -> np.ndarray:
    part = acc[(acc[names.GROUP] == group) & (acc[names.SPLIT] == split)]
    return part.set_index(names.STEP)["accuracy"].reindex(steps).to_numpy(dtype=np.float64)


def validation_loss(losses: pd.DataFrame, samples: pd.DataFrame, domain: str, steps: list[int]) -> np.ndarray | None:
    ids = samples[(samples[names.GROUP] == domain) & (samples[names.SPLIT] == "validation")][names.SAMPLE_ID]
    if ids.empty:
        return None
    part = losses[losses[names.SAMPLE_ID].isin(ids)]
    return part.groupby(names.STEP)[names.LOSS].mean().reindex(steps).to_numpy(dtype=np.float64)


def _table(run: str, domain: str, group: str, accuracy_group: str, metrics: dict[str, np.ndarray],
           accuracy: np.ndarray, steps: list[int], window) -> pd.DataFrame:
    table = correlation_table(metrics, accuracy, steps, window=window)
    table.insert(0, "accuracy_group", accuracy_group)
    table.insert(0, names.GROUP, group)
    table.insert(0, "domain", domain)
    table.insert(0, names.RUN, run)
    return table


def domain_tables(run: str, metrics: pd.DataFrame, acc: pd.DataFrame, losses: pd.DataFrame,
                  samples: pd.DataFrame, pairs: pd.DataFrame, steps: list[int], window) -> pd.DataFrame:
    """Correlation rows for every domain with held-out accuracy and every paired group."""
    frames = []
    domains = sorted(set(acc.loc[acc[names.SPLIT] == "test", names.GROUP]) & set(metrics[names.GROUP]))
    for domain in domains:
        chosen = {m: series(metrics, domain, m, steps) for m in PATHWAY_METRICS}
        train_loss = series(metrics, domain, names.LOSS, steps)
        chosen |= {"training_loss": train_loss, "training_loss_ma3": moving_average(train_loss, 3)}
        valid = validation_loss(losses, samples, domain, steps)
        if valid is not None:
            chosen["validation_loss"] = valid
        frames.append(_table(run, domain, domain, domain, chosen, accuracy_of(acc, domain, steps), steps, window))
    for pair in pairs.itertuples(index=False):
        chosen = {m: series(metrics, pair.train_group, m, steps) for m in (*PATHWAY_METRICS, names.LOSS)}
        chosen["training_loss"] = chosen.pop(names.LOSS)
        frames.append(_table(run, pair.domain, pair.train_group, pair.test_group, chosen,
                             accuracy_of(acc, pair.test_group, steps), steps, window))
    return pd.concat(frames, ignore_index=True)[COLUMNS] if frames else pd.DataFrame(columns=COLUMNS)


def cross_table(run: str, metrics: pd.DataFrame, acc: pd.DataFrame, steps: list[int], window) -> pd.DataFrame:
    """Each domain's pathway distance against every domain's held-out accuracy."""
    domains = sorted(set(acc.loc[acc[names.SPLIT] == "test", names.GROUP]) & set(metrics[names.GROUP]))
    if len(domains) < 2:
        return pd.DataFrame()
    frames = []
    for metric in PATHWAY_METRICS:
        table = cross_correlation_table({d: series(metrics, d, metric, steps) for d in domains},
                                        {d: accuracy_of(acc, d, steps) for d in domains}, steps, window)
        frames.append(table.assign(metric=metric, own=table["metric_group"] == table["accuracy_group"]))
    out = pd.concat(frames, ignore_index=True)
    out.insert(0, names.RUN, run)
    return out
