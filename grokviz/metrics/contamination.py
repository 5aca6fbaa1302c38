"""Min-K%++ contamination scores and which items to drop (METHOD 9), as pure functions.

Per token, z_t = (log p(x_t | x_<t) - mu_t) / sigma_t, with mu_t and sigma_t the mean and
standard deviation of log p over the vocabulary under the model's own distribution at t
(computed by `grokviz.evaluate.scoring.token_zscores`); an item's score is the mean of its
lowest k% of z_t. Higher = more likely seen in pretraining. Start at `mink_plus_plus`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from grokviz import names


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
