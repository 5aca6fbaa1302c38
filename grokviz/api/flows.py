"""Per-checkpoint arrays of one run, for per-sample Sankey flows: each checkpoint's router
distributions read once and kept for a few checkpoints, and the flow links computed from them
(argmax: expert pairs counted; tau: kept experts weighted). A whole group's flows (or all
samples') come from the latest analysis' `flows` table when it holds the checkpoint: a few
thousand rows instead of 40,000 x 16 x 64 router weights read and ranked. `grokviz.api.run.Run`
hands its per-sample flow calls here; not thread-safe, like the `Run` that owns it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from grokviz import names
from grokviz.analysis import flows as stored_flows
from grokviz.figures import frames, sankey
from grokviz.store import analyses
from grokviz.store.layout import Store
from grokviz.store.tables import read_step, read_step_rows

ROWS_READ = 2_000  # a selection this small reads only its rows (0.1 s for one of 40,000 samples)


class Flows:
    """The newest `size` per-checkpoint arrays of one run (distributions, argmax choices, weights)."""

    def __init__(self, store: Store, run: str, size: int = 4) -> None:
        self.store, self.run, self.size = store, run, size
        self._arrays: OrderedDict[tuple, Any] = OrderedDict()  # newest last

    def _memo(self, key: tuple, compute):
        if key in self._arrays:
            self._arrays.move_to_end(key)
            return self._arrays[key]
        value = self._arrays[key] = compute()
        while len(self._arrays) > self.size:
            self._arrays.popitem(last=False)
        return value

    def distributions(self, step: int) -> tuple[pd.Series, np.ndarray]:
        """sample_id -> row, and the token-averaged router distributions (n, L, E) at a step."""
        def read() -> tuple[pd.Series, np.ndarray]:
            frame, dist = read_step(self.store, self.run, step)
            return pd.Series(np.arange(len(frame)), index=frame[names.SAMPLE_ID]), dist

        return self._memo(("dist", step), read)

    def sample_links(self, step: int, ids: tuple[str, ...] | None, tau: float | None,
                     layers: tuple[int, int]) -> pd.DataFrame:
        """Sankey links of per-sample flows: argmax expert (tau None) or tau-kept experts, weighted.
        A few samples (at most ROWS_READ) of a checkpoint not in memory: only their rows are read."""
        if ids is not None and len(ids) <= ROWS_READ and ("dist", step) not in self._arrays:
            return _links(read_step_rows(self.store, self.run, step, list(ids))[1], tau, layers)
        index, dist = self.distributions(step)
        rows = None if ids is None else index.reindex(list(ids)).dropna().astype(int).to_numpy()
        if tau is None:  # argmax: count expert pairs, no one-hot weights
            choice = self._memo(("argmax", step), lambda: dist.argmax(axis=2))
            return sankey.choice_links(choice if rows is None else choice[rows], dist.shape[2], layers)
        if rows is not None and len(rows) * 4 < len(index):  # a sample or a small selection: rank only its rows
            return _links(dist[rows], tau, layers)
        weights = self._memo(("weights", step, tau), lambda: frames.flow_weights(dist, tau))
        return sankey.sample_links(weights if rows is None else weights[rows], layers)

    def group_links(self, step: int, group: str | None, tau: float | None, layers: tuple[int, int],
                    members: Callable[[], tuple[str, ...] | None]) -> pd.DataFrame:
        """`sample_links` of one group's samples (None: all samples), `members()` being their ids:
        read from the analysis' flows when it has this checkpoint and group (argmax, or tau
        `sankey.FLOW_TAU`), else computed from the routing."""
        if tau is None or tau == sankey.FLOW_TAU:
            table = self._memo(("stored", step), lambda: self._stored(step))
            if table is not None and len(table) and (group is None or (table[names.GROUP] == group).any()):
                return stored_flows.group_links(table, stored_flows.ARGMAX if tau is None else stored_flows.TAU,
                                                group, layers)
        return self.sample_links(step, members(), tau, layers)

    def _stored(self, step: int) -> pd.DataFrame | None:
        """The latest analysis' flows at one checkpoint (DuckDB reads only its rows); None without."""
        if analyses.analysis_file(self.store, self.run, "flows") is None:
            return None
        return analyses.read_analysis(self.store, self.run, "flows", where=(names.STEP, int(step)))


def _links(dist: np.ndarray, tau: float | None, layers: tuple[int, int]) -> pd.DataFrame:
    """The flow links of these samples' distributions (n, L, E): argmax pairs counted, or tau-kept weights."""
    if tau is None:
        return sankey.choice_links(dist.argmax(axis=2), dist.shape[2], layers)
    return sankey.sample_links(frames.flow_weights(dist, tau), layers)
