"""Pathway "highways" and link changes: what moved between two checkpoints, as plain tables.

Two pure derivations for the Pathways page's difference view:
  - `link_change`: two Sankey link tables (see `grokviz.figures.sankey`) -> one, each link with its
    share of its layer pair's flow at the left and the right checkpoint and the change between them;
    `grokviz.figures.sankey.change_sankey` draws it.
  - `highway_shares` / `highways`: per-sample pathway strings (analysis table `pathways`: step,
    sample_id, pathway) -> each pathway's share of the samples at every checkpoint, and the most
    common ones with their shares at two checkpoints and their share over time (a sparkline).
Imports numpy and pandas only; never Streamlit, DuckDB or plotly. Start at `link_change` and `highways`.
"""

from __future__ import annotations

import pandas as pd

KEYS = ["layer", "source", "target"]
OTHER_PATHWAYS = "(all other pathways)"


def _shares(links: pd.DataFrame) -> pd.DataFrame:
    """layer, source, target, share: each link's value over the total of its layer pair."""
    total = links.groupby("layer")["value"].transform("sum")
    return links[KEYS].assign(share=(links["value"] / total.where(total > 0)).fillna(0.0))


def link_change(left: pd.DataFrame, right: pd.DataFrame) -> pd.DataFrame:
    """Both checkpoints' links in one table: `left`, `right` (each link's share of its layer pair's
    flow), `change` = right - left, and `value` = max(left, right) (the width a Sankey draws, so a
    link that vanished stays visible). Shares make checkpoints with different token counts comparable.

    >>> left = pd.DataFrame({"layer": [0, 0], "source": [0, 1], "target": [2, 2], "value": [3.0, 1.0]})
    >>> right = pd.DataFrame({"layer": [0, 0], "source": [1, 3], "target": [2, 2], "value": [1.0, 1.0]})
    >>> link_change(left, right).to_dict("list")  # doctest: +NORMALIZE_WHITESPACE
    {'layer': [0, 0, 0], 'source': [0, 1, 3], 'target': [2, 2, 2], 'left': [0.75, 0.25, 0.0],
     'right': [0.0, 0.5, 0.5], 'change': [-0.75, 0.25, 0.5], 'value': [0.75, 0.5, 0.5]}
    """
    merged = _shares(left).merge(_shares(right), on=KEYS, how="outer", suffixes=("_l", "_r")).fillna(0.0)
    merged = merged.rename(columns={"share_l": "left", "share_r": "right"}).sort_values(KEYS, ignore_index=True)
    merged = merged.astype({key: "int64" for key in KEYS})
    return merged.assign(change=merged["right"] - merged["left"], value=merged[["left", "right"]].max(axis=1))


def highway_shares(pathways: pd.DataFrame, ids: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Share of samples on each pathway at every checkpoint: index pathway, one column per step
    (every column sums to 1 over the samples present at that step); `ids` keeps only those samples.

    >>> table = pd.DataFrame({"step": [0, 0, 0, 10, 10, 10], "sample_id": ["a", "b", "c"] * 2,
    ...                       "pathway": ["x", "x", "y", "y", "y", "y"]})
    >>> highway_shares(table).round(3).to_dict("index")
    {'x': {0: 0.667, 10: 0.0}, 'y': {0: 0.333, 10: 1.0}}
    """
    if ids is not None:
        pathways = pathways[pathways["sample_id"].isin(ids)]
    counts = pd.crosstab(pathways["pathway"], pathways["step"])
    counts.columns = [int(step) for step in counts.columns]
    counts.index.name, counts.columns.name = "pathway", None
    return counts / counts.sum(axis=0).where(lambda n: n > 0)


def highways(shares: pd.DataFrame, left: int, right: int, n: int = 10) -> pd.DataFrame:
    """The `n` most common pathways at either checkpoint (by the larger of their two shares), with
    their share at `left` and `right`, the change, and their share at every checkpoint (`trend`, a
    list in step order); a last row gathers all other pathways, so each share column sums to 1.

    >>> shares = pd.DataFrame({0: [0.5, 0.3, 0.2], 10: [0.1, 0.1, 0.8]}, index=pd.Index(["x", "y", "z"], name="pathway"))
    >>> table = highways(shares, 0, 10, n=2)
    >>> table[["pathway", "left", "right"]].values.tolist()
    [['z', 0.2, 0.8], ['x', 0.5, 0.1], ['(all other pathways)', 0.3, 0.1]]
    >>> table["trend"].tolist()[0]
    [0.2, 0.8]
    """
    if shares.empty or left not in shares.columns or right not in shares.columns:
        return pd.DataFrame(columns=["pathway", "left", "right", "change", "trend"])
    shares = shares.fillna(0.0)
    rank = shares[[left, right]].max(axis=1).sort_values(ascending=False, kind="stable")
    chosen = rank.index[:n][rank.iloc[:n].to_numpy() > 0]  # never a pathway absent at both checkpoints
    top = shares.loc[chosen]
    rest = shares.drop(index=chosen)
    if len(rest):
        top = pd.concat([top, rest.sum(axis=0).rename(OTHER_PATHWAYS).to_frame().T])
    table = pd.DataFrame({"pathway": top.index.astype(str), "left": top[left].to_numpy(),
                          "right": top[right].to_numpy()})
    table["change"] = table["right"] - table["left"]
    table["trend"] = [[float(v) for v in row] for row in top.to_numpy()]
    return table
