"""A run written only by the live monitor inside a real transformers.Trainer: the dashboard draws
its curves while there is nothing else, and `grokviz export --table monitor` writes its rows."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from apptest import chart, open_app, texts
from factories import sample_rows

from grokviz.cli import main
from grokviz.extract.monitor import PathwayMonitor, monitor_callback
from grokviz.store.layout import Store
from grokviz.synthetic.tiny import WORDS, tiny_model
from grokviz.synthetic.wordlevel import build_tokenizer

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def monitored(tmp_path_factory):
    """The README's snippet: a 3-layer OLMoE trained 60 steps, the callback every 20 steps."""
    from transformers import Trainer, TrainingArguments

    root = tmp_path_factory.mktemp("monitored")
    tokenizer = build_tokenizer(WORDS)
    ids = tokenizer([r["text"] for r in sample_rows(16, seed=3)], padding="max_length", max_length=14)
    data = [{"input_ids": torch.tensor(i), "attention_mask": torch.tensor(m),
             "labels": torch.tensor(i).masked_fill(torch.tensor(m) == 0, -100)}
            for i, m in zip(ids["input_ids"], ids["attention_mask"])]
    store = Store(root / "data")
    monitor = PathwayMonitor(store, "live", pd.DataFrame(sample_rows(10)), tokenizer)
    args = TrainingArguments(output_dir=str(root / "out"), max_steps=60, per_device_train_batch_size=4,
                             save_strategy="no", report_to=[], use_cpu=True, logging_strategy="no", disable_tqdm=True)
    Trainer(model=tiny_model("olmoe", seed=1), args=args, train_dataset=data,
            callbacks=[monitor_callback(monitor, every_n_steps=20)]).train()
    return store


def test_a_monitor_only_run_opens_on_its_curves(monkeypatch, monitored):
    at = open_app(monkeypatch, monitored.root)
    curves = chart(at, "monitor_curves")
    assert {trace["name"] for trace in curves["data"]} == {"even", "odd"}
    assert "no validity checks yet" not in texts(at.info)  # nothing to judge, and no nagging about it
    assert at.header[0].value == "Overview · live"


def test_the_monitor_table_exports(monitored, tmp_path):
    out = tmp_path / "monitor.csv"
    assert main(["export", "--store", str(monitored.root), "--run", "live", "--table", "monitor", "--out", str(out)]) == 0
    rows = pd.read_csv(out)
    assert list(rows.columns[:5]) == ["run", "step", "group", "metric", "value"]
    assert sorted(rows["step"].unique()) == [20, 40, 60]
