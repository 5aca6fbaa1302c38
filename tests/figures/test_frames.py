"""Frames the dashboard derives: memorisation, flow weights, neighbours, pair series."""

import numpy as np
import pandas as pd

from grokviz.figures import frames


def test_memorization_frame_needs_two_checkpoints():
    one = pd.DataFrame({"step": [1], "sample_id": ["a"], "group": ["g"], "split": ["train"], "loss": [1.0]})
    assert frames.memorization_frame(one).empty


def test_memorization_frame_auto_eps_per_group():
    rows = [(s, f"{g}{i}", g, "train", (3.0 if s == 1 else 0.1 * (i + 1) * (1 + (g == "b"))))
            for g in "ab" for i in range(8) for s in (1, 2, 3)]
    losses = pd.DataFrame(rows, columns=["step", "sample_id", "group", "split", "loss"])
    frame = frames.memorization_frame(losses, "auto", 0.05)
    eps = frame.groupby("group")["eps"].first()
    assert eps["b"] > eps["a"]
    memorized = frame[frame["t_star"] == 2].groupby("group").size() / 8
    assert memorized.between(0.2, 0.25).all()


def test_flow_weights_rows_sum_to_one():
    rng = np.random.default_rng(0)
    dist = rng.dirichlet(np.ones(64), size=(5, 16))
    for tau in (None, 0.5, 0.7):
        assert np.allclose(frames.flow_weights(dist, tau).sum(axis=2), 1.0)
    assert (frames.flow_weights(dist, 0.5) > 0).sum() < (frames.flow_weights(dist, 0.9) > 0).sum()


def test_pair_series_picks_members_and_metrics():
    pair = pd.DataFrame({"domain": ["math"], "train_group": ["Pretrain@2"], "test_group": ["Test@3"]}).iloc[0]
    losses = pd.DataFrame({"step": [1, 2, 1, 2], "sample_id": ["a", "a", "b", "b"], "loss": [3.0, 1.0, 5.0, 5.0]})
    memorized = pd.DataFrame({"sample_id": ["a", "b"], "group": ["math", "math"], "t_star": [2, -1]})
    metrics = pd.DataFrame({"step": [1], "group": ["math"], "metric": ["distance"], "value": [1.0], "stderr": [0.0]})
    out = frames.pair_series(pair, losses, memorized, pd.DataFrame(columns=["step", "accuracy"]), metrics)
    assert out["n_members"] == 1 and out["loss"]["loss"].tolist() == [3.0, 1.0]
    assert (out["t_mem"], out["t_gen"]) == (2, 3) and len(out["metrics"]) == 1
