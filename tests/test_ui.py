"""grokviz.ui outside a browser: cached queries on real stores, cache keys, selection parsing."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from dashboard_data import add_analysis, analysed_store, copy_store  # noqa: F401  (fixture)
from grokviz import ui
from grokviz.tables import Tables


@pytest.fixture(scope="module")
def ctx(small_store):
    return ui.context(small_store, "tiny")


def test_open_store_messages(tmp_path):
    store, problem = ui.open_store(str(tmp_path))
    assert store is None and "store.json missing" in problem


def test_token_changes_when_a_checkpoint_or_analysis_lands(small_store, tmp_path):
    store = copy_store(small_store, tmp_path / "data")
    last = sorted((store.run_dir("tiny") / "checkpoints").glob("step=*"))[-1]
    shutil.move(last, tmp_path / "held-back")
    before = ui.context(store, "tiny")
    assert ui.steps(before) == [100, 200]
    shutil.move(tmp_path / "held-back", last)  # the extraction finished the checkpoint
    after = ui.context(store, "tiny")
    assert after.token != before.token and ui.steps(after) == [100, 200, 300]
    add_analysis(store, "tiny")
    assert ui.context(store, "tiny").token != after.token


def test_samples_flags_token_routes(ctx):
    table = ui.samples(ctx)
    assert len(table) == 12 and table["has_tokens"].sum() == 6


def test_token_links_count_every_token_once_per_layer_pair(small_store, ctx):
    tables = Tables(small_store, "tiny")
    n_tokens = tables.query("SELECT count(DISTINCT (sample_id, pos)) AS n FROM token_routes WHERE step = 100")["n"][0]
    tables.close()
    for all_ranks in (False, True):
        links = ui.token_links(ctx, 100, None, all_ranks, (0, 2))
        assert links.groupby("layer")["value"].sum().round(6).tolist() == [n_tokens, n_tokens]
    one = ui.token_links(ctx, 100, ("s000",), False, (1, 2))
    assert one["layer"].unique().tolist() == [1] and one["value"].sum() == 9


def test_sample_links_argmax_and_tau(ctx):
    ids = tuple(ui.samples(ctx)["sample_id"][:5])
    for tau in (None, 0.7):
        links = ui.sample_links(ctx, 200, ids, tau, (0, 2))
        assert np.allclose(links.groupby("layer")["value"].sum(), 5.0)
    assert ui.sample_links(ctx, 200, None, None, (0, 2)).groupby("layer")["value"].sum().tolist() == [12.0, 12.0]


def test_a_small_selection_ranks_only_its_rows_with_the_same_result(ctx):
    from grokviz import derive
    from grokviz.figures import sankey

    index, dist = ui._distributions(ctx, 200)
    for ids in (("s003",), ("s001", "s007")):  # under a quarter of the 12 samples: the small path
        rows = index.reindex(list(ids)).to_numpy()
        for tau in (None, 0.7):
            expected = sankey.sample_links(derive.flow_weights(dist, tau)[rows], (0, 2))
            pd.testing.assert_frame_equal(ui.sample_links(ctx, 200, ids, tau, (0, 2)), expected)


def test_search_is_literal_and_case_insensitive(ctx):
    assert ui.search_samples(ctx, "S00")["sample_id"].tolist() == [f"s00{i}" for i in range(10)]
    assert ui.search_samples(ctx, "%").empty and ui.search_samples(ctx, "'; DROP TABLE samples; --").empty
    assert len(ui.samples(ctx)) == 12


def test_sample_views(ctx):
    assert ui.sample_record(ctx, "s004")["group"] == "odd" and ui.sample_record(ctx, "nope") == {}
    tokens = ui.sample_tokens(ctx, "s000", 300)
    assert set(tokens["layer"]) == {0, 1, 2} and tokens["pos"].nunique() == 9
    assert ui.sample_tokens(ctx, "s011", 300).empty
    assert ui.sample_routing(ctx, "s011", 300).groupby("layer")["weight"].sum().round(2).tolist() == [1.0] * 3
    assert ui.sample_losses(ctx, "s011")["step"].tolist() == [100, 200, 300]


def test_pathways_fall_back_to_routing_and_nearest(ctx):
    history = ui.sample_pathways(ctx, "s001")
    assert history["step"].tolist() == [100, 200, 300] and history["pathway"].str.count("-").eq(2).all()
    near = ui.nearest(ctx, "s001", 300, n=3)
    assert len(near) == 3 and "s001" not in set(near["sample_id"]) and near["distance"].is_monotonic_increasing


def test_memorisation_recomputed_with_controls(ctx):
    strict, loose = ui.memorisation(ctx, 0.01, 0.05), ui.memorisation(ctx, 50.0, 10.0)
    assert (strict["t_star"] == -1).all() and (loose["t_star"] == 100).all()


def test_known_values_for_url_validation(ctx):
    known = ui.known(ctx, ("tiny",))
    assert known.steps == (100, 200, 300) and known.groups == ("even", "odd")
    assert known.n_layers == 3 and known.n_experts == 8 and "s011" in known.samples and known.pairs == ()


def test_analysis_tables(analysed_store):
    ctx = ui.context(analysed_store, "tiny")
    assert ui.analysis(ctx, "nonexistent") is None
    pair = ui.pair_series(ctx, "even: Pretrain@100 -> Test@300")
    assert (pair["t_mem"], pair["t_gen"], pair["n_members"]) == (100, 300, 4)
    assert pair["accuracy"]["step"].tolist() == [100, 200, 300] and set(pair["metrics"]["group"]) == {"Pretrain@100"}
    assert ui.pair_series(ctx, "no such pair") is None
    points = ui.map_points(ctx, "t_star")
    assert points["t_star"].isna().sum() == 3 * 4  # never-memorised samples have no colour value
    assert ui.map_points(ctx, "consistency")["consistency"].notna().all()
    assert ui.accuracy(ctx)["accuracy"].between(0, 1).all()


def test_report_embeds_plotly_once(analysed_store):
    page = ui.report_html(ui.context(analysed_store, "tiny"))
    assert page.startswith("<!doctype html>") and page.count("window.PlotlyConfig") == 1
    assert page.count("<section>") >= 8 and "Table 1" in page
