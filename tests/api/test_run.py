"""`grokviz.api.Run`: every read the dashboard, the report and notebooks make, without Streamlit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import grokviz
from grokviz.api import Run
from grokviz.errors import GrokvizError, InputError
from grokviz.figures import frames, sankey
from grokviz.figures import highways as highway_frames
from grokviz.store.tables import Tables


@pytest.fixture(scope="module")
def run(small_store):
    with Run(small_store, "tiny") as opened:
        yield opened


def test_open_lists_runs_and_refuses_unknown_ones(small_store, tmp_path):
    store = grokviz.open(small_store.root)
    assert store.runs() == ["tiny"] and store.info()["runs"][0]["steps"] == [100, 200, 300]
    with pytest.raises(GrokvizError, match="no run 'nope'"):
        store.run("nope")
    with pytest.raises(GrokvizError, match="no grokviz store"):
        grokviz.open(tmp_path)


def test_samples_flag_token_routes(run):
    table = run.samples()
    assert len(table) == 12 and table["has_tokens"].sum() == 6


def test_tables_follow_the_export_contract(run):
    from grokviz import names

    for name in ("losses", "routing", "samples", "checkpoints"):
        assert tuple(run.table(name).columns) == names.EXPORT_COLUMNS[name]
    assert run.analysis("pathways") is None  # no analysis yet


def test_token_links_count_every_token_once_per_layer_pair(small_store, run):
    with Tables(small_store, "tiny") as tables:
        n_tokens = tables.query("SELECT count(DISTINCT (sample_id, pos)) AS n FROM token_routes WHERE step = 100")["n"][0]
    for all_ranks in (False, True):
        links = run.token_links(100, None, all_ranks, (0, 2))
        assert links.groupby("layer")["value"].sum().round(6).tolist() == [n_tokens, n_tokens]
    one = run.token_links(100, ("s000",), False, (1, 2))
    assert one["layer"].unique().tolist() == [1] and one["value"].sum() == 9


def test_sample_links_argmax_and_tau(run):
    ids = tuple(run.samples()["sample_id"][:5])
    for tau in (None, 0.7):
        links = run.sample_links(200, ids, tau, (0, 2))
        assert np.allclose(links.groupby("layer")["value"].sum(), 5.0)
    assert run.sample_links(200, None, None, (0, 2)).groupby("layer")["value"].sum().tolist() == [12.0, 12.0]


def test_a_small_selection_ranks_only_its_rows_with_the_same_result(run):
    index, dist = run.distributions(200)
    for ids in (("s003",), ("s001", "s007")):  # under a quarter of the 12 samples: the small path
        rows = index.reindex(list(ids)).to_numpy()
        for tau in (None, 0.7):
            expected = sankey.sample_links(frames.flow_weights(dist, tau)[rows], (0, 2))
            pd.testing.assert_frame_equal(run.sample_links(200, ids, tau, (0, 2)), expected)


@pytest.mark.parametrize("tau", [None, sankey.FLOW_TAU], ids=["argmax", "tau"])
@pytest.mark.parametrize("group", [None, "odd"], ids=["all", "one-group"])
def test_group_links_read_the_analysis_and_equal_the_computed_links(analyzed_store, run, tau, group, monkeypatch):
    """The analysed store answers from its stored flows (the routing is never read); the store without
    an analysis computes them; both are the same links."""
    members = None if group is None else tuple(run.samples().query("group == @group")["sample_id"])
    expected = run.sample_links(200, members, tau, (0, 2))
    with Run(analyzed_store, "tiny") as analysed:
        monkeypatch.setattr(analysed._flows, "distributions", lambda step: pytest.fail("read the routing"))
        stored = analysed.group_links(200, group, tau, (0, 2))
    pd.testing.assert_frame_equal(stored, expected, check_exact=False, rtol=1e-9)
    pd.testing.assert_frame_equal(run.group_links(200, group, tau, (0, 2)), expected)  # no analysis: computed


def test_group_links_compute_what_the_analysis_did_not_store(analyzed_store):
    with Run(analyzed_store, "tiny") as analysed:
        other_tau = analysed.group_links(200, "odd", 0.5, (0, 2))  # the stored flows are tau 0.7's
        members = tuple(analysed.samples().query("group == 'odd'")["sample_id"])
        pd.testing.assert_frame_equal(other_tau, analysed.sample_links(200, members, 0.5, (0, 2)))
        assert analysed.group_links(200, "no such group", None, (0, 2)).empty


def test_a_few_samples_of_a_checkpoint_not_in_memory_read_only_their_rows(small_store, run, monkeypatch):
    index, dist = run.distributions(300)
    ids = ("s005", "s001", "nope")
    rows = np.sort(index.reindex(list(ids)).dropna().astype(int).to_numpy())
    with Run(small_store, "tiny") as fresh:
        monkeypatch.setattr(fresh._flows, "distributions", lambda step: pytest.fail("read every row"))
        for tau in (None, 0.7):
            expected = sankey.sample_links(frames.flow_weights(dist[rows], tau), (0, 2))
            pd.testing.assert_frame_equal(fresh.sample_links(300, ids, tau, (0, 2)), expected)
        assert fresh.sample_links(300, (), 0.7, (0, 2)).empty


def test_search_is_literal_and_case_insensitive(run):
    assert run.search_samples("S00")["sample_id"].tolist() == [f"s00{i}" for i in range(10)]
    assert run.search_samples("%").empty and run.search_samples("'; DROP TABLE samples; --").empty
    assert len(run.samples()) == 12


def test_sample_views(run):
    assert run.sample_record("s004")["group"] == "odd" and run.sample_record("nope") == {}
    tokens = run.sample_tokens("s000", 300)
    assert set(tokens["layer"]) == {0, 1, 2} and tokens["pos"].nunique() == 9
    assert run.sample_tokens("s011", 300).empty
    assert run.sample_routing("s011", 300).groupby("layer")["weight"].sum().round(2).tolist() == [1.0] * 3
    assert run.sample_losses("s011")["step"].tolist() == [100, 200, 300]


def test_pathways_fall_back_to_routing_and_nearest(run):
    history = run.sample_pathways("s001")
    assert history["step"].tolist() == [100, 200, 300] and history["pathway"].str.count("-").eq(2).all()
    near = run.nearest("s001", 300, n=3)
    assert len(near) == 3 and "s001" not in set(near["sample_id"]) and near["distance"].is_monotonic_increasing


def test_memorization_recomputed_with_settings(run):
    strict, loose = run.memorization(0.01, 0.05), run.memorization(50.0, 10.0)
    assert (strict["t_star"] == -1).all() and (loose["t_star"] == 100).all()


def test_pairs_and_map_come_from_the_real_analysis(demo_store):
    with Run(demo_store, "demo") as run:
        pairs = run.analysis("pairs")
        labels = run.pair_labels()
        assert labels == [f"{r.domain}: {r.train_group} -> {r.test_group}" for r in pairs.itertuples()]
        first = run.pair_series(labels[0])
        members = run.analysis("memorization")
        t_mem = frames.label_step(pairs["train_group"].iloc[0])
        assert first["t_mem"] == t_mem and first["n_members"] == int(
            ((members["t_star"] == t_mem) & (members["group"] == pairs["domain"].iloc[0])).sum())
        assert run.pair_series("no such pair") is None
        points = run.map_points("t_star")
        never = set(members.loc[members["t_star"] == -1, "sample_id"])
        assert points.loc[points["sample_id"].isin(never), "t_star"].isna().all()  # never memorised: no colour
        assert run.map_points("consistency")["consistency"].notna().all()
        assert run.accuracy()["accuracy"].between(0, 1).all()


@pytest.mark.parametrize("kind", sorted(Run.figure_kinds))
def test_every_figure_kind_draws_on_the_demo(demo_store, kind):
    with Run(demo_store, "demo") as run:
        figure = run.figure(kind)
        stamp = run.stamp()
    assert figure.data and "demo" in figure.layout.title.text
    assert stamp == "demo: preset paper; tau 0.7; distance char; positions predicting"
    assert stamp in [a.text for a in figure.layout.annotations]  # the settings travel with the figure


def test_figure_errors_name_what_exists(run):
    with pytest.raises(InputError, match="choose one of"):
        run.figure("nope")
    with pytest.raises(InputError, match="no checkpoint 7"):
        run.figure("sankey", step=7)
    with pytest.raises(InputError, match="grokviz analyze"):
        run.figure("metrics")


def test_highways_fall_back_to_routing_when_there_is_no_analysis(run):
    table = run.pathway_table()
    assert sorted(table["step"].unique()) == [100, 200, 300] and len(table) == 3 * 12
    top = run.highways(100, 300, n=2)
    assert top["left"].sum() == pytest.approx(1.0) and top["right"].sum() == pytest.approx(1.0)
    assert all(len(trend) == 3 for trend in top["trend"])
    one = run.highways(100, 300, ids=("s001",))
    history = run.sample_pathways("s001").set_index("step")["pathway"]
    assert set(one["pathway"]) - {highway_frames.OTHER_PATHWAYS} == {history[100], history[300]}
    assert one.set_index("pathway").loc[history[100], "left"] == 1.0 and one["right"].sum() == 1.0


def test_settings_record_and_verdicts(small_store, analyzed_store):
    with Run(small_store, "tiny") as plain, Run(analyzed_store, "tiny") as analysed:
        before, after = plain.settings_record(), analysed.settings_record()
        verdicts = analysed.verdict_table()
        assert plain.verdict_table() is None and plain.demo_config() is None
    assert before["model.n_layers"] == "3" and before["data.checkpoints"] == "3" and before["data.samples"] == "12"
    assert not any(key.startswith("analysis.") for key in before)
    assert after["analysis.eps"] == "5.0" and after["analysis.preset"] == "paper"
    assert all(isinstance(value, str) for value in after.values())
    assert list(verdicts.columns) == ["group", "metric", "tracks", "verdict", "routing_onset", "accuracy_onset"]
    assert verdicts["verdict"].str.match(r"^(no|tracks)").all() and (verdicts["routing_onset"] >= -1).all()
