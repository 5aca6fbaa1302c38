"""Per-sample Sankey flows of every group at one checkpoint, computed where `analyze` already holds
the checkpoint's distributions, so the Pathways page draws a group's flows from a small table
instead of reading and ranking 40,000 x 16 x 64 router weights for each checkpoint it shows.

Two flows, the page's two per-sample ones: `sample-argmax` (each sample's top expert per layer,
counted) and `sample-tau` (each sample spreads one unit over the experts `FLOW_TAU` keeps at each
layer, weighted by their renormalised router weights). Rows are links between consecutive MoE
layers (`layer` is the ordinal of the left one), per group; the flows of all samples are the sum
over groups. The same functions as the page's own computation (`grokviz.figures.sankey`), on the
same weights, so a stored flow equals a recomputed one up to the order of a float sum. Pure: no store.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from grokviz import names
from grokviz.figures import frames, sankey

ARGMAX, TAU = "sample-argmax", "sample-tau"
COLUMNS = [names.STEP, names.GROUP, "flow", *sankey.LINK_COLUMNS]


def step_flows(step: int, groups: np.ndarray, dist: np.ndarray, tau_weights: np.ndarray | None = None) -> pd.DataFrame:
    """Both flows of each group at one checkpoint: `groups` names each row of `dist` (n, L, E);
    `tau_weights` are `frames.flow_weights(dist, FLOW_TAU)` when the caller has them already.

    >>> dist = np.array([[[0.9, 0.1], [0.2, 0.8]], [[0.6, 0.4], [0.7, 0.3]]])
    >>> table = step_flows(5, np.array(["a", "a"]), dist)
    >>> table[table["flow"] == "sample-argmax"][["source", "target", "value"]].values.tolist()
    [[0.0, 0.0, 1.0], [0.0, 1.0, 1.0]]
    """
    groups = np.asarray(groups).astype(str)
    if tau_weights is None:
        tau_weights = frames.flow_weights(dist, sankey.FLOW_TAU)
    choice = dist.argmax(axis=2) if len(dist) else np.zeros(dist.shape[:2], dtype=np.int64)
    parts = []
    for group in np.unique(groups):
        rows = np.flatnonzero(groups == group)
        for flow, links in ((ARGMAX, sankey.choice_links(choice[rows], dist.shape[2])),
                            (TAU, sankey.sample_links(tau_weights[rows]))):
            parts.append(links.assign(**{names.STEP: step, names.GROUP: group, "flow": flow}))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="object" if c in (names.GROUP, "flow") else "float64")
                             for c in COLUMNS})
    table = pd.concat(parts, ignore_index=True)[COLUMNS]
    return table.astype({names.STEP: "int64", "layer": "int16", "source": "int16", "target": "int16"})


def group_links(table: pd.DataFrame, flow: str, group: str | None, layers: tuple[int, int]) -> pd.DataFrame:
    """One flow's links from a `step_flows` table: one group's, or (group None) all samples', the
    sum over groups; only the layer pairs in `layers` (MoE ordinals, first and last), like
    `sankey.sample_links`.

    >>> t = pd.DataFrame({"group": ["a", "b"], "flow": "sample-argmax", "layer": 0, "source": 1,
    ...                   "target": 0, "value": [2.0, 3.0]})
    >>> group_links(t, "sample-argmax", None, (0, 1)).to_dict("list")
    {'layer': [0], 'source': [1], 'target': [0], 'value': [5.0]}
    """
    lo, hi = layers
    chosen = table[(table["flow"] == flow) & (table["layer"] >= lo) & (table["layer"] < hi)]
    if group is not None:
        chosen = chosen[chosen[names.GROUP] == group]
    keys = list(sankey.LINK_COLUMNS[:3])
    links = chosen.groupby(keys, as_index=False, sort=True)["value"].sum()
    return links[links["value"] > 1e-12].astype({k: "int64" for k in keys}).reset_index(drop=True)


def groups_key(samples: pd.DataFrame) -> str:
    """A short hash of which group each sample is in: a checkpoint's stored flows depend on it.

    >>> s = pd.DataFrame({"sample_id": ["a", "b"], "group": ["g", "h"]})
    >>> groups_key(s) == groups_key(s.iloc[::-1]) != groups_key(s.assign(group="g"))
    True
    """
    pairs = sorted(zip(samples[names.SAMPLE_ID].astype(str), samples[names.GROUP].astype(str)))
    return hashlib.sha256("\n".join(f"{i}\t{g}" for i, g in pairs).encode()).hexdigest()[:16]
