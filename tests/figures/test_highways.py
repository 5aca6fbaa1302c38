"""Difference view: link changes between two checkpoints, the change Sankey, pathway highways."""

import numpy as np
import pandas as pd
import pytest

from grokviz.figures import highways, sankey


def links_frame(rows):
    return pd.DataFrame(rows, columns=["layer", "source", "target", "value"])


@pytest.fixture
def two_checkpoints():
    """Two layer pairs; the left checkpoint has twice the tokens of the right one."""
    left = links_frame([(0, 0, 1, 6.0), (0, 2, 1, 2.0), (1, 1, 3, 8.0)])
    right = links_frame([(0, 0, 1, 1.0), (0, 2, 5, 3.0), (1, 1, 3, 2.0), (1, 5, 0, 2.0)])
    return left, right


def test_link_change_compares_shares_per_layer_pair(two_checkpoints):
    change = highways.link_change(*two_checkpoints).set_index(["layer", "source", "target"])
    assert change.groupby("layer")[["left", "right"]].sum().round(12).eq(1.0).all().all()
    assert change.loc[(0, 0, 1), ["left", "right", "change"]].tolist() == [0.75, 0.25, -0.5]
    assert change.loc[(0, 2, 1), ["left", "right"]].tolist() == [0.25, 0.0]  # vanished: still a row
    assert change.loc[(0, 2, 5), ["left", "right"]].tolist() == [0.0, 0.75]  # new
    assert (change["value"] == change[["left", "right"]].max(axis=1)).all()
    assert change["change"].sum() == pytest.approx(0.0)  # shares move, their total does not


def test_link_change_of_identical_checkpoints_is_zero(two_checkpoints):
    left, _ = two_checkpoints
    assert (highways.link_change(left, left.assign(value=left["value"] * 3))["change"].abs() < 1e-12).all()


def test_change_sankey_colours_links_by_change_with_a_colour_bar(two_checkpoints):
    fig = sankey.change_sankey(highways.link_change(*two_checkpoints), n_experts=6, layers=(0, 2))
    flow, bar = fig.data
    colors = dict(zip(zip(flow.link.source, flow.link.target), flow.link.color))
    labels = list(flow.node.label)

    def color(a, b):
        return colors[(labels.index(a), labels.index(b))]

    grew, shrank = color("L0 E2", "L1 E5"), color("L0 E0", "L1 E1")
    assert grew.startswith("rgba(") and grew != shrank
    r, g, b = (int(v) for v in shrank[5:-1].split(",")[:3])
    assert r > b  # shrank: the red end of RdBu
    r, g, b = (int(v) for v in grew[5:-1].split(",")[:3])
    assert b > r  # grew: the blue end
    assert bar.marker.showscale and bar.marker.colorbar.title.text == "change in share"
    assert bar.marker.cmin == -bar.marker.cmax == pytest.approx(-0.75)  # symmetric around no change
    assert list(flow.link.value) == pytest.approx([max(v) for v in zip(flow.link.customdata[:, 0],
                                                                        flow.link.customdata[:, 1])])


def test_change_sankey_buckets_both_checkpoints_alike(two_checkpoints):
    fig = sankey.change_sankey(highways.link_change(*two_checkpoints), n_experts=6, layers=(0, 2), top_n=1)
    flow = fig.data[0]
    per_layer = {}
    for label in flow.node.label:
        per_layer.setdefault(label.split()[0], []).append(label)
    assert all(sum(not label.endswith("other") for label in labels) <= 1 for labels in per_layer.values())
    left, right = flow.link.customdata[:, 0], flow.link.customdata[:, 1]
    assert left.sum() == pytest.approx(2.0) and right.sum() == pytest.approx(2.0)  # nothing lost in the bucket


def test_change_sankey_without_links_is_a_placeholder():
    empty = highways.link_change(links_frame([]), links_frame([]))
    fig = sankey.change_sankey(empty, n_experts=4)
    assert "No routing to draw" in fig.layout.annotations[0].text


@pytest.fixture
def pathway_table():
    rng = np.random.default_rng(0)
    steps, ids = [0, 100, 200], [f"s{i}" for i in range(40)]
    rows = [(step, sample, f"E{rng.integers(0, 3 if step else 6)}-E{rng.integers(0, 2)}") for step in steps
            for sample in ids]
    return pd.DataFrame(rows, columns=["step", "sample_id", "pathway"])


def test_highway_shares_sum_to_one_per_checkpoint(pathway_table):
    shares = highways.highway_shares(pathway_table)
    assert list(shares.columns) == [0, 100, 200]
    assert shares.sum(axis=0).round(12).eq(1.0).all()
    first = pathway_table[pathway_table["step"] == 0]["pathway"].value_counts(normalize=True)
    assert shares[0].dropna()[shares[0] > 0].sort_index().tolist() == pytest.approx(first.sort_index().tolist())


def test_highway_shares_of_some_samples(pathway_table):
    shares = highways.highway_shares(pathway_table, ids=("s1", "s2"))
    assert (shares * 2).round(9).isin([0.0, 1.0, 2.0]).all().all()


def test_highways_top_rows_then_the_rest(pathway_table):
    shares = highways.highway_shares(pathway_table)
    table = highways.highways(shares, 0, 200, n=3)
    assert len(table) == 4 and table["pathway"].iloc[-1] == highways.OTHER_PATHWAYS
    assert table["left"].sum() == pytest.approx(1.0) and table["right"].sum() == pytest.approx(1.0)
    top = table.iloc[:3]
    assert (top[["left", "right"]].max(axis=1).diff().dropna() <= 1e-12).all()  # most common first
    assert (table["change"] == table["right"] - table["left"]).all()
    assert all(len(trend) == 3 for trend in table["trend"])
    assert [trend[0] for trend in table["trend"]] == pytest.approx(table["left"].tolist())
    assert [trend[-1] for trend in table["trend"]] == pytest.approx(table["right"].tolist())


def test_highways_of_few_pathways_has_no_rest_row():
    shares = pd.DataFrame({0: [1.0], 5: [1.0]}, index=pd.Index(["E1-E2"], name="pathway"))
    table = highways.highways(shares, 0, 5)
    assert table["pathway"].tolist() == ["E1-E2"] and table["trend"].tolist() == [[1.0, 1.0]]


def test_highways_of_an_unknown_step_is_empty(pathway_table):
    assert highways.highways(highways.highway_shares(pathway_table), 0, 999).empty


def test_highways_never_list_a_pathway_absent_at_both_checkpoints():
    shares = pd.DataFrame({0: [1.0, 0.0, 0.0], 5: [0.0, 1.0, 0.0], 9: [0.0, 0.0, 1.0]},
                          index=pd.Index(["a", "b", "c"], name="pathway"))
    table = highways.highways(shares, 0, 9)
    assert table["pathway"].tolist() == ["a", "c", highways.OTHER_PATHWAYS]
    assert table.iloc[-1][["left", "right"]].tolist() == [0.0, 0.0] and table.iloc[-1]["trend"] == [0.0, 1.0, 0.0]
