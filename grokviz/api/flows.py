"""Per-checkpoint arrays of one run, for per-sample Sankey flows: each checkpoint's router
distributions read once and kept for a few checkpoints, and the flow links computed from them
(argmax: expert pairs counted; tau: kept experts weighted). `grokviz.api.run.Run` hands its
per-sample flow calls here; not thread-safe, like the `Run` that owns it.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np
import pandas as pd

from grokviz import names
from grokviz.figures import frames, sankey
from grokviz.store.layout import Store
from grokviz.store.tables import read_step


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
        """Sankey links of per-sample flows: argmax expert (tau None) or tau-kept experts, weighted."""
        index, dist = self.distributions(step)
        rows = None if ids is None else index.reindex(list(ids)).dropna().astype(int).to_numpy()
        if tau is None:  # argmax: count expert pairs, no one-hot weights
            choice = self._memo(("argmax", step), lambda: dist.argmax(axis=2))
            return sankey.choice_links(choice if rows is None else choice[rows], dist.shape[2], layers)
        if rows is not None and len(rows) * 4 < len(index):  # a sample or a small selection: rank only its rows
            return sankey.sample_links(frames.flow_weights(dist[rows], tau), layers)
        weights = self._memo(("weights", step, tau), lambda: frames.flow_weights(dist, tau))
        return sankey.sample_links(weights if rows is None else weights[rows], layers)
