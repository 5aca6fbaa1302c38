"""`layer` is the decoder-layer index; a router that already outputs probabilities is not softmaxed twice."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from factories import sample_rows, write_jsonl

from grokviz.api import Run
from grokviz.config import ExtractConfig
from grokviz.extract.run import extract
from grokviz.store.layout import Store
from grokviz.store.tables import Tables, read_step


@pytest.fixture(scope="module")
def dense_middle(tmp_path_factory, series_factory):
    """Qwen2-MoE whose decoder layer 1 is dense (mlp_only_layers=[1]): MoE layers 0 and 2."""
    root = tmp_path_factory.mktemp("dense-middle")
    samples = write_jsonl(root / "s.jsonl", sample_rows(6))
    store = Store(root / "data")
    extract(ExtractConfig(run="q", model=str(series_factory("qwen2_moe", mlp_only_layers=[1])),
                          samples=str(samples), token_routes=2), store, progress=False)
    return store


def test_tables_name_layers_by_their_decoder_index(dense_middle):
    assert dense_middle.run_info("q")["model"]["decoder_layers"] == [0, 2]
    with Tables(dense_middle, "q") as tables:
        assert sorted(tables.table("routing")["layer"].unique()) == [0, 2]
        assert sorted(tables.table("token_routes")["layer"].unique()) == [0, 2]
    frame, dist = read_step(dense_middle, "q", 100)
    assert dist.shape[1] == 2  # one distribution per MoE layer


def test_pathways_have_one_part_per_moe_layer_and_figures_label_decoder_layers(dense_middle):
    from grokviz.analysis.run import analyze
    from grokviz.config import AnalyzeConfig

    analyze(AnalyzeConfig(run="q", pairing=False, projection=False, nulls=False), dense_middle, progress=False)
    with Run(dense_middle, "q") as run:
        assert run.analysis("pathways")["pathway"].str.count("-").eq(1).all()
        metrics = set(run.analysis("group_metrics")["metric"])
        assert {"distance_layer_0", "distance_layer_2"} <= metrics and "distance_layer_1" not in metrics
        labels = list(run.figure("sankey").data[0].node.label)
        links = run.token_links(300, None, False)
    assert {label.split()[0] for label in labels} == {"L0", "L2"}
    assert links["layer"].unique().tolist() == [0]  # the Sankey's own axis: MoE layer 0 -> the next one


def test_the_dashboard_labels_the_moe_layers_l0_and_l2(dense_middle, monkeypatch):
    from apptest import charts, open_app

    at = open_app(monkeypatch, dense_middle.root, "pathways")
    labels = {label.split()[0] for spec in charts(at) for label in spec["data"][0]["node"]["label"]}
    assert labels == {"L0", "L2"}
    at = open_app(monkeypatch, dense_middle.root, "inspector")
    assert at.select_slider(key="w.layer").options == ["0", "2"]


def test_a_router_that_outputs_probabilities_is_not_softmaxed_again(series_factory, tmp_path):
    """Fake the transformers release whose router returned softmaxed scores: wrap every router so
    its first output is the softmax; the stored distributions must not change."""
    from grokviz.extract import capture

    series = series_factory("olmoe")
    samples = write_jsonl(tmp_path / "s.jsonl", sample_rows(4))
    plain, faked = Store(tmp_path / "plain"), Store(tmp_path / "faked")
    config = dict(run="r", model=str(series), samples=str(samples), steps=(100,))
    extract(ExtractConfig(**config), plain, progress=False)
    original = capture.RouterHooks.__enter__

    def enter(self):
        for router in self.routers:
            router.register_forward_hook(lambda _m, _i, out: (torch.softmax(out[0], -1), *out[1:]))
        return original(self)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(capture.RouterHooks, "__enter__", enter)
        extract(ExtractConfig(**config), faked, progress=False)
    np.testing.assert_allclose(read_step(faked, "r", 100)[1], read_step(plain, "r", 100)[1], atol=2e-5)
