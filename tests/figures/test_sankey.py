"""Sankey builder: link aggregation, top-N bucketing, fixed node places and colours."""

import numpy as np
import pandas as pd
import pytest

from grokviz.figures import sankey
from grokviz.figures.style import OTHER_COLOR, expert_color


def links_frame(rows):
    return pd.DataFrame(rows, columns=["layer", "source", "target", "value"])


@pytest.fixture
def two_checkpoints():
    """The same 3-layer, 6-expert model at two checkpoints with different flows."""
    early = links_frame([(0, 0, 1, 5.0), (0, 2, 1, 1.0), (1, 1, 3, 6.0)])
    late = links_frame([(0, 4, 1, 2.0), (0, 2, 5, 4.0), (1, 1, 3, 2.0), (1, 5, 0, 4.0)])
    return early, late


def nodes(fig):
    node = fig.data[0].node
    return {label: (x, y, color) for label, x, y, color in zip(node.label, node.x, node.y, node.color)}


def test_sample_links_one_unit_per_sample_and_layer_pair():
    rng = np.random.default_rng(0)
    weights = rng.dirichlet(np.ones(6), size=(10, 4))  # (n, L, E), rows sum to 1
    links = sankey.sample_links(weights)
    assert sorted(links["layer"].unique()) == [0, 1, 2]
    assert links.groupby("layer")["value"].sum().round(9).tolist() == [10.0, 10.0, 10.0]


def test_sample_links_respects_layer_range():
    weights = np.full((2, 5, 3), 1 / 3)
    assert sorted(sankey.sample_links(weights, (1, 3))["layer"].unique()) == [1, 2]


def test_bucket_keeps_top_n_per_layer_and_conserves_flow():
    links = links_frame([(0, e, (e + 1) % 8, float(e + 1)) for e in range(8)])
    bucketed = sankey.bucket_links(links, top_n=3)
    assert bucketed["value"].sum() == links["value"].sum()
    assert set(bucketed["source"]) - {sankey.OTHER} == {5, 6, 7}


def test_node_and_colour_counts(two_checkpoints):
    early, _ = two_checkpoints
    fig = sankey.pathway_sankey(early, n_experts=6)
    assert fig.data[0].type == "sankey"
    assert list(fig.data[0].node.label) == ["L0 E0", "L0 E2", "L1 E1", "L2 E3"]
    assert len(fig.data[0].link.value) == 3
    assert fig.data[0].arrangement == "fixed"


def test_same_expert_same_place_and_colour_at_both_checkpoints(two_checkpoints):
    early, late = two_checkpoints
    a, b = nodes(sankey.pathway_sankey(early, 6, (0, 2))), nodes(sankey.pathway_sankey(late, 6, (0, 2)))
    shared = set(a) & set(b)
    assert {"L1 E1", "L2 E3", "L0 E2"} <= shared
    for label in shared:
        assert a[label] == b[label]
    assert a["L0 E2"][2] == expert_color(2)


def test_other_bucket_is_grey_and_below_every_expert():
    links = links_frame([(0, e, 0, 1.0) for e in range(6)])
    got = nodes(sankey.pathway_sankey(links, 6, (0, 1), top_n=2))
    assert got["L0 other"][2] == OTHER_COLOR
    assert got["L0 other"][1] > max(y for label, (_, y, _) in got.items() if label != "L0 other")


def test_empty_links_give_a_message():
    fig = sankey.pathway_sankey(links_frame([]), 6, (0, 2))
    assert fig.layout.annotations[0].text.startswith("No routing")


def test_olmoe_size_stays_small():
    """16 layers x 64 experts, dense flows: the figure holds layers x top-N nodes, not more."""
    rng = np.random.default_rng(1)
    weights = rng.dirichlet(np.ones(64), size=(200, 16))
    links = sankey.sample_links(weights)
    fig = sankey.pathway_sankey(links, 64, (0, 15), top_n=8)
    assert len(fig.data[0].node.label) <= 16 * 9


def test_weakest_links_hidden_with_a_note():
    links = links_frame([(0, a, b, float(1 + a * 8 + b)) for a in range(8) for b in range(8)])
    fig = sankey.pathway_sankey(links, 8, (0, 1), max_links=10)
    assert len(fig.data[0].link.value) == 10
    assert fig.layout.annotations[0].text.startswith("weakest links hidden")


def test_choice_links_are_the_one_hot_sample_links():
    rng = np.random.default_rng(3)
    dist = rng.dirichlet(np.ones(6), size=(200, 4))  # (n, L, E)
    one_hot = np.zeros_like(dist)
    np.put_along_axis(one_hot, dist.argmax(axis=2)[..., None], 1.0, axis=2)
    for layers in (None, (1, 3)):
        pd.testing.assert_frame_equal(sankey.choice_links(dist.argmax(axis=2), 6, layers),
                                      sankey.sample_links(one_hot, layers))
