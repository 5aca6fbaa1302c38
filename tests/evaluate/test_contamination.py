"""The Min-K%++ filter scores items as the paper defines it and records what it drops."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
from factories import write_jsonl

from grokviz.cli import main
from grokviz.evaluate.scoring import token_zscores
from grokviz.metrics.contamination import mink_plus_plus, n_dropped, select_dropped
from grokviz.store.analyses import input_fingerprint
from grokviz.store.layout import Store
from grokviz.store.queries import dropped_items, read_contamination
from grokviz.store.tables import Tables


def slow_zscores(logits: np.ndarray, ids: list[int]) -> list[float]:
    """Per predicted token, straight from the definition: z = (log p(x_t) - mu) / sigma with
    mu = sum_v p_v log p_v and sigma^2 = sum_v p_v (log p_v - mu)^2."""
    out = []
    for t in range(1, len(ids)):
        row = logits[t - 1].astype(np.float64)
        log_p = row - (np.log(np.sum(np.exp(row - row.max()))) + row.max())
        p = np.exp(log_p)
        mu = sum(p[v] * log_p[v] for v in range(len(p)))
        sigma = math.sqrt(sum(p[v] * (log_p[v] - mu) ** 2 for v in range(len(p))))
        out.append((log_p[ids[t]] - mu) / sigma)
    return out


def test_token_scores_and_min_k_match_the_definition(series_factory):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(series_factory("olmoe") / "step200", dtype=torch.float32).eval()
    sequences = [np.array([5, 9, 13, 7, 21, 4, 30, 11]), np.array([2, 44, 6]), np.array([8, 8, 8, 8, 8])]
    got = token_zscores(model, sequences, pad_id=0, device=torch.device("cpu"), token_budget=10)
    for seq, z in zip(sequences, got):
        with torch.no_grad():
            logits = model(input_ids=torch.from_numpy(seq[None])).logits[0].numpy()
        np.testing.assert_allclose(z, slow_zscores(logits, seq.tolist()), atol=1e-4)
    z = got[0]  # 7 predicted tokens; k=20% -> the single lowest; k=50% -> the lowest 3
    assert mink_plus_plus(z, 20) == pytest.approx(np.min(z))
    assert mink_plus_plus(z, 50) == pytest.approx(np.sort(z)[:3].mean())
    assert math.isnan(mink_plus_plus(np.array([]), 20))


@pytest.mark.parametrize("drop,scope,expected", [
    (0.1, "group", ["x3"]),  # 10% of 5 rounds to 1 (half up), 10% of 3 to 0
    (0.4, "group", ["x3", "x1", "y1"]),  # y1 and y2 tie: the first id goes
    (0.9, "group", ["x0", "x1", "x2", "x3", "y0", "y1", "y2"]),  # x4 has no score: never dropped
    (0.25, "all", ["x3", "y1"]),
], ids=["tenth-per-group", "two-fifths-per-group", "nan-never-dropped", "quarter-overall"])
def test_select_dropped_takes_the_top_fraction(drop, scope, expected):
    frame = pd.DataFrame({"item_id": ["x0", "x1", "x2", "x3", "x4", "y0", "y1", "y2"],
                          "group": ["x"] * 5 + ["y"] * 3,
                          "score": [0.1, 0.5, 0.2, 0.9, np.nan, 0.0, 0.7, 0.7]})
    mask = select_dropped(frame, drop, scope)
    assert sorted(frame.loc[mask, "item_id"]) == sorted(expected)


@pytest.fixture
def store(small_store, tmp_path) -> Store:
    return Store(shutil.copytree(small_store.root, tmp_path / "data"))


def items(count: int = 20) -> list[dict]:
    rng = np.random.default_rng(0)
    return [{"item_id": f"i{i:02d}", "group": "ab"[i % 2],
             "question": " ".join(f"w{w}" for w in rng.integers(0, 40, 6)), "choices": ["w1", "w2"], "answer": 0}
            for i in range(count)]


def test_filter_is_stored_and_replaced_by_a_rerun(store, tmp_path, capsys):
    tests = write_jsonl(tmp_path / "tests.jsonl", items())
    args = ["contamination", "--store", str(store.root), "--run", "tiny", "--tests", str(tests), "--step", "300",
            "--quiet"]
    assert "contamination" not in input_fingerprint(store, "tiny")
    assert main(args) == 0
    table = read_contamination(store, "tiny")
    assert list(table.columns) == ["run", "item_id", "group", "score", "dropped", "step", "k"]
    assert table.groupby("group")["dropped"].sum().to_dict() == {"a": 1, "b": 1}  # 10% of 10 per group
    assert (table["step"] == 300).all() and (table["k"] == 20).all() and table["score"].notna().all()
    top = table.sort_values("score", ascending=False).groupby("group").head(1)
    assert dropped_items(store, "tiny") == set(top["item_id"])
    first = input_fingerprint(store, "tiny")["contamination"]
    assert main(args[:-1] + ["--drop", "0.3", "--scope", "all", "--k", "50", "--quiet"]) == 0
    assert len(dropped_items(store, "tiny")) == n_dropped(20, 0.3) == 6
    assert input_fingerprint(store, "tiny")["contamination"] != first  # a cached analysis is not reused
    with Tables(store, "tiny") as tables:
        assert int(tables.table("contamination")["dropped"].sum()) == 6


def test_bad_step_or_fraction_leaves_the_store_unchanged(store, tmp_path, capsys):
    tests = write_jsonl(tmp_path / "tests.jsonl", items(4))
    before = sorted(p.name for p in store.root.rglob("*"))
    base = ["contamination", "--store", str(store.root), "--run", "tiny", "--tests", str(tests), "--quiet"]
    assert main(base + ["--step", "250"]) == 2
    assert "no checkpoint at steps [250]; available: [100, 200, 300]" in capsys.readouterr().err
    assert main(base + ["--step", "100", "--drop", "1"]) == 2
    assert "drop must be in [0, 1)" in capsys.readouterr().err
    assert sorted(p.name for p in store.root.rglob("*")) == before
    assert dropped_items(store, "tiny") == set()
