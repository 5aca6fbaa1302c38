"""Pairing training groups with test groups by text similarity (METHOD 7).

S[p, q] is the mean cosine between the text embeddings of the members of training group p
(Pretrain@p) and test group q (Test@q), within one domain. A one-to-one assignment that
maximises total similarity (Hungarian, `scipy.optimize.linear_sum_assignment`, rectangular
allowed) pairs them; the delay of a pair is q - p in steps.

This module never embeds text: embeddings (all-MiniLM-L6-v2 in the paper) arrive as arrays.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

TRAIN_GROUP = "train_group"  # columns as in names.EXPORT_COLUMNS["pairs"]
TEST_GROUP = "test_group"
SIMILARITY = "similarity"
DELAY = "delay"


def _mean_unit_vector(name: str, emb: np.ndarray) -> np.ndarray:
    """Mean of the row-normalised embeddings of one group: shape (d,)."""
    emb = np.asarray(emb, dtype=np.float64)
    if emb.ndim != 2 or len(emb) == 0:
        raise ValueError(f"embeddings of group {name!r} must have shape (n_members >= 1, d), got {emb.shape}")
    norms = np.linalg.norm(emb, axis=1, keepdims=True)  # (n, 1)
    if np.any(norms == 0) or not np.all(np.isfinite(norms)):
        raise ValueError(f"group {name!r} has a zero or non-finite embedding")
    return (emb / norms).mean(axis=0)


def similarity_matrix(
    train_emb: Mapping[str, np.ndarray], test_emb: Mapping[str, np.ndarray]
) -> pd.DataFrame:
    """Mean cosine between members of each training group and each test group.

    Rows are training groups, columns test groups, in the order given. The mean of all
    pairwise cosines equals the dot product of the two groups' mean unit vectors.

    >>> train = {"Pretrain@5": np.array([[1.0, 0.0], [0.0, 1.0]])}
    >>> test = {"Test@9": np.array([[1.0, 0.0]]), "Test@20": np.array([[0.0, 2.0]])}
    >>> similarity_matrix(train, test)
                Test@9  Test@20
    Pretrain@5     0.5      0.5
    """
    train_means = np.array([_mean_unit_vector(k, v) for k, v in train_emb.items()])  # (P, d)
    test_means = np.array([_mean_unit_vector(k, v) for k, v in test_emb.items()])  # (Q, d)
    if len(train_means) == 0 or len(test_means) == 0:
        raise ValueError("need at least one training group and one test group")
    if train_means.shape[1] != test_means.shape[1]:
        raise ValueError(
            f"embedding sizes differ: {train_means.shape[1]} (train) vs {test_means.shape[1]} (test)"
        )
    return pd.DataFrame(train_means @ test_means.T, index=list(train_emb), columns=list(test_emb))


def pair_groups(
    sim: pd.DataFrame, train_steps: Mapping[str, int], test_steps: Mapping[str, int]
) -> pd.DataFrame:
    """One-to-one pairs maximising total similarity: train_group, test_group, similarity, delay.

    min(P, Q) pairs come back, sorted by the training group's step; delay = q - p.

    >>> sim = pd.DataFrame([[0.9, 0.2], [0.8, 0.7]], index=["Pretrain@5", "Pretrain@125"],
    ...                    columns=["Test@125", "Test@490"])
    >>> pair_groups(sim, {"Pretrain@5": 5, "Pretrain@125": 125}, {"Test@125": 125, "Test@490": 490})
        train_group test_group  similarity  delay
    0    Pretrain@5   Test@125         0.9    120
    1  Pretrain@125   Test@490         0.7    365
    """
    values = sim.to_numpy(dtype=np.float64)  # (P, Q)
    if values.size == 0 or not np.all(np.isfinite(values)):
        raise ValueError("sim must be a non-empty matrix of finite similarities")
    missing = [g for g in sim.index if g not in train_steps] + [g for g in sim.columns if g not in test_steps]
    if missing:
        raise ValueError(f"no step given for groups {missing}")
    rows, cols = linear_sum_assignment(values, maximize=True)
    pairs = pd.DataFrame({
        TRAIN_GROUP: sim.index[rows],
        TEST_GROUP: sim.columns[cols],
        SIMILARITY: values[rows, cols],
        DELAY: [int(test_steps[sim.columns[c]]) - int(train_steps[sim.index[r]]) for r, c in zip(rows, cols)],
    })
    order = np.argsort([train_steps[g] for g in pairs[TRAIN_GROUP]], kind="stable")
    return pairs.iloc[order].reset_index(drop=True)
