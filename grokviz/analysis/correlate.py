"""Correlations of pathway metrics with accuracy over checkpoints (METHOD.md 8), with controls.

Per domain: the domain's memorised-sample metrics against its held-out accuracy; per pair
`Pretrain@p -> Test@q`: the train group's metrics against the test group's accuracy. Each
table row also carries the metric's correlation with the step itself and the partial
correlation given the step (`control`: step values, or checkpoint ordinals); `cross_table` sets
each domain's metric against every domain's accuracy, and each Pretrain@p's against every test
group of its domain (own vs others, all rows in the own row's window). Baselines: training loss
over all training samples of the domain (`loss_baseline="all"`) or its memorised ones
(`"memorized"`), its moving average over `loss_window` checkpoints, validation loss.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from grokviz import names
from grokviz.metrics.correlation import correlation_table, cross_correlation_table, moving_average, rise_window

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


def training_loss(losses: pd.DataFrame, samples: pd.DataFrame, domain: str, steps: list[int]) -> np.ndarray:
    """Mean loss of every training sample of `domain` per checkpoint (the paper's baseline)."""
    train = samples[(samples[names.GROUP] == domain) & (samples[names.SPLIT] == names.Split.TRAIN.value)]
    part = losses[losses[names.SAMPLE_ID].isin(train[names.SAMPLE_ID])]
    return part.groupby(names.STEP)[names.LOSS].mean().reindex(steps).to_numpy(dtype=np.float64)


def _table(run: str, domain: str, group: str, accuracy_group: str, metrics: dict[str, np.ndarray],
           accuracy: np.ndarray, steps: list[int], window, control: str = "step") -> pd.DataFrame:
    table = correlation_table(metrics, accuracy, steps, window=window, control=control)
    table.insert(0, "accuracy_group", accuracy_group)
    table.insert(0, names.GROUP, group)
    table.insert(0, "domain", domain)
    table.insert(0, names.RUN, run)
    return table


def domain_tables(run: str, metrics: pd.DataFrame, acc: pd.DataFrame, losses: pd.DataFrame,
                  samples: pd.DataFrame, pairs: pd.DataFrame, steps: list[int], window,
                  loss_baseline: str = "all", loss_window: int = 3, control: str = "step") -> pd.DataFrame:
    """Correlation rows for every domain with held-out accuracy and every paired group."""
    frames = []
    for domain in _domains(metrics, acc):
        chosen = {m: series(metrics, domain, m, steps) for m in PATHWAY_METRICS}
        train_loss = (training_loss(losses, samples, domain, steps) if loss_baseline == "all"
                      else series(metrics, domain, names.LOSS, steps))
        chosen |= {"training_loss": train_loss, f"training_loss_ma{loss_window}": moving_average(train_loss, loss_window)}
        valid = validation_loss(losses, samples, domain, steps)
        if valid is not None:
            chosen["validation_loss"] = valid
        frames.append(_table(run, domain, domain, domain, chosen, accuracy_of(acc, domain, steps), steps, window,
                             control))
    for pair in pairs.itertuples(index=False):
        chosen = {m: series(metrics, pair.train_group, m, steps) for m in (*PATHWAY_METRICS, names.LOSS)}
        chosen["training_loss"] = chosen.pop(names.LOSS)
        frames.append(_table(run, pair.domain, pair.train_group, pair.test_group, chosen,
                             accuracy_of(acc, pair.test_group, steps), steps, window, control))
    return pd.concat(frames, ignore_index=True)[COLUMNS] if frames else pd.DataFrame(columns=COLUMNS)


def _domains(metrics: pd.DataFrame, acc: pd.DataFrame) -> list[str]:
    """Domains with held-out accuracy and pathway metrics."""
    return sorted(set(acc.loc[acc[names.SPLIT] == "test", names.GROUP]) & set(metrics[names.GROUP]))


def cross_table(run: str, metrics: pd.DataFrame, acc: pd.DataFrame, steps: list[int], window,
                pairs: pd.DataFrame | None = None) -> pd.DataFrame:
    """Specificity: each domain's metrics against every domain's held-out accuracy, and each paired
    Pretrain@p's against every test group of its domain; own and other rows of a metric group share
    the own row's window, so they compare the same checkpoints."""
    frames = []
    domains = _domains(metrics, acc)
    if len(domains) >= 2:
        frames.append(_cross(metrics, acc, steps, window, {d: d for d in domains}, {d: domains for d in domains}))
    if pairs is not None and not pairs.empty:
        for domain, own in pairs.groupby("domain"):
            if len(own) >= 2:
                tests = own["test_group"].tolist()
                frames.append(_cross(metrics, acc, steps, window, dict(zip(own["train_group"], tests)),
                                     {g: tests for g in own["train_group"]}).assign(domain=domain))
    if not frames:
        return pd.DataFrame()
    out = pd.concat(frames, ignore_index=True)
    out.insert(0, names.RUN, run)
    return out


def _cross(metrics: pd.DataFrame, acc: pd.DataFrame, steps: list[int], window, own: dict[str, str],
           others: dict[str, list[str]]) -> pd.DataFrame:
    """Rows (metric_group, accuracy_group, own, pearson, ...) for every metric of PATHWAY_METRICS."""
    frames = []
    for metric in PATHWAY_METRICS:
        for group, own_acc in own.items():
            values = {group: series(metrics, group, metric, steps)}
            resolved = _own_window(window, steps, accuracy_of(acc, own_acc, steps))
            table = cross_correlation_table(values, {a: accuracy_of(acc, a, steps) for a in others[group]}, steps,
                                            resolved)
            frames.append(table.assign(metric=metric, own=table["accuracy_group"] == own_acc))
    return pd.concat(frames, ignore_index=True)


def _own_window(window, steps: list[int], own_accuracy: np.ndarray):
    """The own accuracy's window ("auto": its rise), applied to every row of the group."""
    if window != "auto":
        return window
    return rise_window(steps, own_accuracy)
