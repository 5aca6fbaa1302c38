"""Null baselines of the pathway metrics (METHOD 11.4), recomputed through the same pipeline.

- Random groups: for each domain, `draws` groups of the same size drawn (seeded, fixed across
  checkpoints, and stable when the pool changes a little: the members with the smallest salted
  keys) from all memorised samples of the run, so a trend common to the whole model is
  not credited to one domain. Only with two or more domains: with one, the pool is the domain.
- Token identity: every token's router distribution replaced by the mean distribution of its
  token id at that checkpoint (over all samples of the run, from the stored token means), then
  averaged over the sample's route-span positions as usual. What survives this null is routing
  that depends on context, the part the paper's story is about. At most `cap` members per group.
Rows: (step, group, null, draw, metric, value). Pure NumPy / pandas.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from grokviz import names
from grokviz.analysis.pathway_stats import StepKeys
from grokviz.analysis.walk import seed_of
from grokviz.metrics import pair_sample
from grokviz.metrics.consistency import consistency
from grokviz.metrics.distance import Known, mean_pairwise_distance
from grokviz.metrics.pathways import pathway_strings

COLUMNS = [names.STEP, names.GROUP, "baseline", "draw", "metric", "value"]
DRAWS = 5  # random groups per domain
NULL_PAIRS = 2000  # pair budget of a null's mean distance (sampled above it, unbiased)
CAP = 500  # members per group in the token-identity null


def random_draws(domains: dict[str, np.ndarray], pool: np.ndarray, draws: int = DRAWS,
                 seed: int = 0, keys: np.ndarray | None = None) -> dict[str, list[np.ndarray]]:
    """domain -> `draws` seeded samples of its size from `pool` (empty with fewer than 2 domains);
    `keys`, aligned with `pool`, are its ids' seeded hashes (`pair_sample.member_keys`) when known.

    >>> out = random_draws({"a": np.array(["1", "2"]), "b": np.array(["3"])}, np.array(["1", "2", "3"]), 2)
    >>> [len(d) for d in out["a"]], [len(d) for d in out["b"]]
    ([2, 2], [1, 1])
    """
    if len(domains) < 2:
        return {}
    pool = np.asarray(pool)
    keys = pair_sample.member_keys(pool.tolist(), seed) if keys is None else keys
    return {name: [np.sort(pool[pair_sample.bottom(pair_sample.salted(keys, f"{name}:{draw}"), len(ids))])
                   for draw in range(draws)]
            for name, ids in sorted(domains.items())}


def token_identity_dist(route_ids: list[np.ndarray], token_ids: np.ndarray, means: np.ndarray) -> np.ndarray:
    """Each sample's null distribution: the mean over its route-span token ids of their token means.

    `token_ids` (ascending) index `means` (n_ids, L, E); returns (n_samples, L, E), NaN rows for
    samples without route positions.

    >>> means = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])  # token 5 -> expert 0, token 9 -> expert 1
    >>> token_identity_dist([np.array([5, 9, 9])], np.array([5, 9]), means).round(3).tolist()
    [[[0.333, 0.667]]]
    """
    out = np.full((len(route_ids), *means.shape[1:]), np.nan)
    for i, ids in enumerate(route_ids):
        if len(ids):
            rows = np.searchsorted(token_ids, ids)
            out[i] = means[np.clip(rows, 0, len(token_ids) - 1)].mean(axis=0)
    return out


def group_rows(step: int, group: str, null: str, draw: int, strings: list[str], c_values: np.ndarray,
               mean_cos: np.ndarray, level: str, seed: int, keys: np.ndarray | None = None,
               known: Known | None = None) -> list[dict]:
    """Distance, consistency and mean cosine of one null group at one checkpoint (`keys`, `known`: as
    for `mean_pairwise_distance`)."""
    distance = (mean_pairwise_distance(strings, level, NULL_PAIRS, seed, keys=keys, known=known).value
                if len(strings) > 1 else np.nan)
    with np.errstate(invalid="ignore"):
        values = {"distance": distance, "consistency": float(np.nanmean(c_values)) if len(c_values) else np.nan,
                  "mean_cosine": float(np.nanmean(mean_cos)) if len(mean_cos) else np.nan}
    return [{names.STEP: step, names.GROUP: group, "baseline": null, "draw": draw, "metric": m, "value": v}
            for m, v in values.items()]


def random_group_rows(step: int, table: pd.DataFrame, group: str, draw: int, ids: np.ndarray, level: str,
                      seed: int, found: StepKeys | None = None) -> list[dict]:
    """One draw of the random-groups null at one checkpoint, from its pathway table."""
    found = found if found is not None else StepKeys(table)
    rows = found.rows(ids)
    return group_rows(step, group, "random_groups", draw, found.column("pathway")[rows],
                      found.column("consistency")[rows], found.column("mean_cosine")[rows], level, seed,
                      found.take(rows), found.path)


def token_members(group: str, ids, route_ids: pd.Series, cap: int = CAP, seed: int = 0,
                  keys: np.ndarray | None = None) -> np.ndarray:
    """The members a group's token-identity null reads: those with route positions, at most `cap` of
    them (the smallest keys, salted by the group: a sample of the group's own, stable when a few
    members change). `keys` (aligned with `ids`) default to seeded keys of the ids.

    >>> routes = pd.Series({"a": [1], "b": [2], "c": [3]})
    >>> token_members("g", ["a", "b", "x"], routes).tolist()
    ['a', 'b']
    """
    ids = np.asarray(ids, dtype=object)
    has = pd.Index(route_ids.index).get_indexer(ids) >= 0
    ids = ids[has]
    if len(ids) > cap:
        keys = pair_sample.member_keys(ids.tolist(), seed) if keys is None else np.asarray(keys)[has]
        ids = ids[pair_sample.bottom(pair_sample.salted(keys, seed_of(seed, group)), cap)]
    return np.sort(ids.astype(str))


def token_identity_rows(step: int, group: str, ids: np.ndarray, route_ids: pd.Series, token_ids: np.ndarray,
                        means: np.ndarray, router: list[np.ndarray], tau: float | None, top_k: int | None,
                        level: str, seed: int, keys: np.ndarray | None = None,
                        known: Known | None = None) -> list[dict]:
    """The token-identity null of one group at one checkpoint, over `ids` (`token_members`); `keys`
    (aligned with `ids`) and `known` (a cache of distances between null pathways) as for
    `mean_pairwise_distance`."""
    if not len(ids):
        return []
    dist = token_identity_dist([route_ids[i] for i in ids], token_ids, means)
    finite = np.isfinite(dist).all(axis=(1, 2))
    dist = dist[finite]
    if not len(dist):
        return []
    keys = None if keys is None else np.asarray(keys)[finite]
    c_values, mean_cos = consistency(dist, router) if dist.shape[1] > 1 else (np.array([]), np.array([]))
    return group_rows(step, group, "token_identity", 0, pathway_strings(dist, tau, top_k), c_values, mean_cos,
                      level, seed, keys, known)
