"""Routing health figures."""

import pandas as pd

from grokviz.figures import health


def test_saturation_panels_per_reference_and_top_k_filter():
    sat = pd.DataFrame([{"step": s, "layer": l, "reference": r, "top_k": k, "value": 0.5}
                        for s in (1, 2) for l in (0, 1) for r in ("final", "previous") for k in (1, 2)])
    fig = health.saturation_figure(sat, top_k=2)
    assert len(fig.data) == 4 and [a.text for a in fig.layout.annotations] == ["vs final checkpoint", "vs previous checkpoint"]
    assert "top-3" in health.saturation_figure(sat, top_k=3).layout.annotations[0].text


def test_coactivation_square_grid():
    co = pd.DataFrame({"expert_a": [0, 2], "expert_b": [2, 0], "p": [0.1, 0.2]})
    assert health.coactivation_heatmap(co, 4).data[0].z.shape == (4, 4)


def test_health_lines_layers_share_colours_across_panels():
    rows = [{"step": s, "layer": l, "metric": m, "value": 1.0} for s in (1, 2) for l in (0, 1)
            for m in ("entropy", "load_cv")]
    fig = health.health_lines(pd.DataFrame(rows))
    colours = {(t.name, t.line.color) for t in fig.data}
    assert len(colours) == 2
