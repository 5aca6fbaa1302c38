"""Inspector figures: escaped token HTML, routing heatmap, loss, pathway history."""

import pandas as pd

from grokviz.figures import inspector
from grokviz.figures.style import expert_color


def tokens():
    return pd.DataFrame({"pos": [0, 0, 1, 1], "token": ["<script>", "<script>", "b&c", "b&c"],
                         "layer": [0, 1, 0, 1], "expert": [2, 5, 2, 7], "weight": [0.4, 0.3, 0.5, 0.2]})


def test_token_html_escapes_and_colours():
    html = inspector.token_html(tokens()[lambda f: f["layer"] == 0])
    assert "<script>" not in html and "&lt;script&gt;" in html and "b&amp;c" in html
    assert html.count(expert_color(2)) == 2


def test_routing_heatmap_grid_and_palette():
    fig = inspector.routing_heatmap(tokens(), n_experts=8)
    assert fig.data[0].z.tolist() == [[2, 2], [5, 7]]
    assert fig.data[0].colorscale[2 * 5][1] == expert_color(5)


def test_pathway_history_highlights_changes():
    history = pd.DataFrame({"step": [1, 2, 3], "pathway": ["1,2-3", "1,2-4", "1,2-4"]})
    changes = inspector.pathway_changes(history)
    assert changes["changed"].tolist() == [0, 1, 0]
    fills = inspector.pathway_history(history).data[0].cells.fill.color
    assert fills[2] == [inspector.UNCHANGED, inspector.CHANGED, inspector.UNCHANGED]


def test_empty_sample_gives_messages():
    assert inspector.routing_heatmap(tokens().iloc[:0], 8).layout.annotations
    assert inspector.sample_loss(pd.DataFrame(columns=["step", "loss"])).layout.annotations
