"""Per-sample Sankey flows of every group at one checkpoint, computed where `analyze` already holds
the checkpoint's distributions, so the Pathways page draws a group's flows from a small table
instead of reading and ranking 40,000 x 16 x 64 router weights for each checkpoint it shows.

Two flows, the page's two per-sample ones: `sample-argmax` (each sample's top expert per layer,
counted) and `sample-tau` (each sample spreads one unit over the experts `FLOW_TAU` keeps at each
layer, weighted by their renormalised router weights). Rows are links between consecutive MoE
layers (`layer` is the ordinal of the left one), per group; the flows of all samples are the sum
over groups. The same weights as the page's own computation (`frames.flow_weights`, the argmax),
summed a block of samples at a time, so a stored flow equals a recomputed one up to the order of a
float sum. Rows grow with groups x layers x experts squared (tau flows are dense): about 300,000 per
checkpoint at 4 groups x 16 layers x 64 experts. Pure: no store.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from grokviz import names
from grokviz.figures import frames, sankey

ARGMAX, TAU = "sample-argmax", "sample-tau"
COLUMNS = [names.STEP, names.GROUP, "flow", *sankey.LINK_COLUMNS]
BLOCK = 512  # samples whose flow weights are held at once (when the caller has none)


class FlowSums:
    """The "sample-tau" flow of each group, summed block by block from the samples' kept weights
    (`add`, the `visit` of `pathways.pathway_parts`), so the weights of all samples are never held;
    `table` adds the argmax flow and returns both as `step_flows` rows."""

    def __init__(self, groups: np.ndarray, n_layers: int, n_experts: int) -> None:
        self.names, self.codes = np.unique(np.asarray(groups).astype(str), return_inverse=True)
        self.tau = np.zeros((len(self.names), max(n_layers - 1, 0), n_experts, n_experts))  # float64 sums

    def add(self, start: int, weights: np.ndarray) -> None:
        """Samples start, start + 1, ... with their flow weights (b, L, E)."""
        codes = self.codes[start : start + len(weights)]
        present = np.unique(codes)
        for code in present:
            rows = weights if len(present) == 1 else weights[codes == code]
            by_layer = np.ascontiguousarray(rows.transpose(1, 0, 2), dtype=np.float64)  # (L, b, E)
            self.tau[code] += np.matmul(by_layer[:-1].transpose(0, 2, 1), by_layer[1:])  # (L - 1, E, E)

    def table(self, step: int, dist: np.ndarray) -> pd.DataFrame:
        """Both flows of each group, as `step_flows` returns them."""
        choice = dist.argmax(axis=2) if len(dist) else np.zeros(dist.shape[:2], dtype=np.int64)
        parts = []
        for code, group in enumerate(self.names):
            for flow, links in ((ARGMAX, sankey.choice_links(choice[self.codes == code], dist.shape[2])),
                                (TAU, sankey.matrix_links(self.tau[code]))):
                parts.append(links.assign(**{names.STEP: step, names.GROUP: group, "flow": flow}))
        if not parts:
            return pd.DataFrame({c: pd.Series(dtype="object" if c in (names.GROUP, "flow") else "float64")
                                 for c in COLUMNS})
        table = pd.concat(parts, ignore_index=True)[COLUMNS]
        return table.astype({names.STEP: "int64", "layer": "int16", "source": "int16", "target": "int16"})


def step_flows(step: int, groups: np.ndarray, dist: np.ndarray) -> pd.DataFrame:
    """Both flows of each group at one checkpoint (`groups` names each row of `dist`, (n, L, E)),
    the weights made a block at a time: what `FlowSums` fed by the pathway ranking gives.

    >>> dist = np.array([[[0.9, 0.1], [0.2, 0.8]], [[0.6, 0.4], [0.7, 0.3]]])
    >>> table = step_flows(5, np.array(["a", "a"]), dist)
    >>> table[table["flow"] == "sample-argmax"][["source", "target", "value"]].values.tolist()
    [[0.0, 0.0, 1.0], [0.0, 1.0, 1.0]]
    """
    sums = FlowSums(groups, dist.shape[1], dist.shape[2])
    for start in range(0, len(dist), BLOCK):
        sums.add(start, frames.flow_weights(dist[start : start + BLOCK], sankey.FLOW_TAU))
    return sums.table(step, dist)


def compact(table: pd.DataFrame, groups: list[str]) -> pd.DataFrame:
    """`step_flows` rows in small dtypes: group and flow categorical with fixed categories (`groups`,
    the run's), so the tables of all checkpoints concatenate without widening back to strings (3.3
    million rows at 40,000 samples x 16 x 64: 80 MB instead of 250 MB).

    >>> t = compact(step_flows(1, np.array(["a"]), np.ones((1, 2, 2)) / 2), ["a", "b"])
    >>> t["group"].cat.categories.tolist(), t["flow"].cat.categories.tolist()
    (['a', 'b'], ['sample-argmax', 'sample-tau'])
    """
    return table.astype({names.GROUP: pd.CategoricalDtype(groups), "flow": pd.CategoricalDtype([ARGMAX, TAU]),
                         names.STEP: "int64", "layer": "int16", "source": "int16", "target": "int16"})


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
