"""The pathway monitor appends live metrics from a real transformers.Trainer and a plain loop."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from factories import sample_rows

from grokviz.extract.monitor import PathwayMonitor, monitor_callback
from grokviz.store.layout import Store
from grokviz.store.tables import Tables
from grokviz.synthetic.tiny import WORDS, tiny_model
from grokviz.synthetic.wordlevel import build_tokenizer


@pytest.fixture
def probe() -> pd.DataFrame:
    return pd.DataFrame(sample_rows(10))


def test_monitor_callback_inside_a_real_trainer(tmp_path, probe):
    from transformers import Trainer, TrainingArguments

    tokenizer = build_tokenizer(WORDS)
    model = tiny_model("olmoe", seed=1)
    ids = tokenizer([r["text"] for r in sample_rows(16, seed=3)], padding="max_length", max_length=14)
    data = [{"input_ids": torch.tensor(i), "attention_mask": torch.tensor(m),
             "labels": torch.tensor(i).masked_fill(torch.tensor(m) == 0, -100)}
            for i, m in zip(ids["input_ids"], ids["attention_mask"])]
    store = Store(tmp_path / "data")
    monitor = PathwayMonitor(store, "live", probe, tokenizer)
    args = TrainingArguments(output_dir=str(tmp_path / "out"), max_steps=6, per_device_train_batch_size=4,
                             save_strategy="steps", save_steps=3, report_to=[], use_cpu=True,
                             logging_strategy="no", disable_tqdm=True)
    Trainer(model=model, args=args, train_dataset=data,
            callbacks=[monitor_callback(monitor, every_n_steps=2)]).train()
    with Tables(store, "live") as tables:
        rows = tables.query("SELECT * FROM monitor ORDER BY step, \"group\", metric")
    assert sorted(rows["step"].unique().tolist()) == [2, 3, 4, 6]
    assert set(rows["group"]) == {"even", "odd"}
    assert {"distance", "consistency", "mean_cosine", "loss", "distinct_pathways"} == set(rows["metric"])
    assert "live" in store.runs()


def test_monitor_in_a_plain_loop_matches_a_direct_measurement(tmp_path, probe):
    tokenizer = build_tokenizer(WORDS)
    model = tiny_model("olmoe", seed=2)
    monitor = PathwayMonitor(Store(tmp_path / "data"), "loop", probe, tokenizer, top_k=1, tau=None)
    table = monitor.log(10, model)
    pathways, dist, losses = monitor.measure(model)
    odd = probe["group"] == "odd"
    expected_loss = losses[odd.to_numpy()].mean()
    got = table[(table["group"] == "odd") & (table["metric"] == "loss")]["value"].item()
    assert got == pytest.approx(expected_loss)
    assert all(len(p.split("-")) == 3 and "," not in p for p in pathways)  # top-1, three layers
    assert dist.shape == (10, 3, 8)


def test_the_monitor_reports_a_routing_onset_when_pathways_start_converging(tmp_path, probe, capsys):
    """A history where the probe loss settles by step 40 and the distance drops around step 300:
    the monitor prints the onset once and writes it as a row, with no test set involved."""
    import numpy as np

    monitor = PathwayMonitor(Store(tmp_path / "data"), "live", probe, build_tokenizer(WORDS))
    steps = np.arange(0, 600, 20)
    loss = np.maximum(3.0 - 0.08 * steps, 0.2)
    distance = 6 - 2 / (1 + np.exp(-(steps - 300) / 15)) + np.random.default_rng(0).normal(0, 0.02, len(steps))
    monitor.history = pd.DataFrame([{"run": "live", "step": int(s), "group": "pow3", "metric": m, "value": float(v)}
                                    for s, l, d in zip(steps, loss, distance) for m, v in (("loss", l), ("distance", d))])
    rows = monitor._onsets(int(steps[-1]))
    assert [(r["group"], r["metric"]) for r in rows] == [("pow3", "onset_distance")]
    assert abs(rows[0]["value"] - 300) <= 20
    assert "pow3: pathways started converging at step 300" in capsys.readouterr().err
    monitor._onsets(int(steps[-1]))
    assert capsys.readouterr().err == ""  # printed once
