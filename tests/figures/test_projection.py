"""Pathway map: categorical and continuous colouring, selection ids, fixed axes, animation."""

import numpy as np
import pandas as pd

from grokviz.figures import projection


def points(n=6, steps=(1, 2)):
    rng = np.random.default_rng(0)
    return pd.DataFrame([{"step": s, "sample_id": f"s{i}", "x": rng.normal(), "y": rng.normal(),
                          "group": "ab"[i % 2], "loss": float(i) if i else np.nan} for s in steps for i in range(n)])


def test_categorical_one_trace_per_category_with_ids():
    at = points()[lambda f: f["step"] == 1]
    fig = projection.pathway_map(at, "group", categories=["a", "b", "c"])
    assert [t.name for t in fig.data] == ["a", "b", "c"]
    assert sorted(sum((list(t.customdata) for t in fig.data), [])) == sorted(at["sample_id"])
    assert fig.layout.dragmode == "lasso"


def test_continuous_colour_with_missing_points_grey():
    at = points()[lambda f: f["step"] == 1]
    fig = projection.pathway_map(at, "loss", color_range=(0.0, 10.0))
    assert fig.data[0].marker.cmin == 0.0 and fig.data[0].marker.cmax == 10.0
    assert fig.data[1].name == "no loss" and len(fig.data[1].x) == 1


def test_fixed_ranges_cover_every_checkpoint():
    all_points = points()
    ranges = projection.axis_ranges(all_points)
    fig = projection.pathway_map(all_points[all_points["step"] == 1], "group", ["a", "b"], ranges)
    assert tuple(fig.layout.xaxis.range) == ranges[0]
    assert ranges[0][0] < all_points["x"].min() and ranges[0][1] > all_points["x"].max()


def test_large_maps_use_webgl():
    many = points(n=3001, steps=(1,))
    assert projection.pathway_map(many, "group", ["a", "b"]).data[0].type == "scattergl"


def test_animation_one_frame_per_checkpoint():
    fig = projection.pathway_map_animation(points(), "group", ["a", "b"])
    assert [f.name for f in fig.frames] == ["1", "2"]
    assert len(fig.layout.sliders[0].steps) == 2
