"""The dashboard end to end in Streamlit's AppTest: every page, widgets, URL state, bad input.

Runs the package's app on real stores: a tiny extraction without analysis (`small_store`), the
quick demo with its real analysis (`demo_store`), an empty folder. Expectations about analysed
content come from the same store read through `grokviz.api.Run`, never from hand-made tables.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from apptest import APP, PAGES, chart, charts, copy_link, open_app, table_with, texts, values
from factories import ROOT, copy_store, sample_rows, write_jsonl

from grokviz.api import Run
from grokviz.cli import main

pytestmark = pytest.mark.timeout(1500)  # the first test that asks for demo_store builds it


# What each page must show on an extracted run without analysis (element key), or None: the page
# needs the analysis and says how to produce it.
WITHOUT_ANALYSIS = {"overview": "checkpoint_timeline", "memorization": "loss_bands", "pathways": "sankey_left",
                    "map": None, "grokking": None, "inspector": "routing_heatmap", "health": None, "compare": None}


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_the_extracted_store(monkeypatch, small_store, page):
    at = open_app(monkeypatch, small_store.root, page)
    assert at.header[0].value.endswith("· tiny")
    if WITHOUT_ANALYSIS[page] is None:
        assert "grokviz analyze" in at.code[0].value and at.info
    else:
        assert chart(at, WITHOUT_ANALYSIS[page])["data"]


def test_overview_says_what_the_story_needs_and_keeps_the_inventory(monkeypatch, small_store):
    at = open_app(monkeypatch, small_store.root)
    assert "no validity checks yet" in texts(at.info) and "grokviz analyze" in at.code[0].value
    runs, checkpoints, groups = (frame.value for frame in at.dataframe)
    assert runs["run"].tolist() == ["tiny"] and runs["checkpoints"].tolist() == [3]
    assert checkpoints["step"].tolist() == [100, 200, 300] and checkpoints["complete"].all()
    assert "revision" not in checkpoints.columns  # empty for local checkpoints: not shown
    assert groups["n"].sum() == 12
    assert not [e for e in at.expander if "Checkpoint check" in e.label]  # nothing to flag in a clean series


def test_overview_flags_a_step_whose_weights_are_another_steps(monkeypatch, series_factory, tmp_path):
    """A checkpoint copied under a second step name (as public series have shipped) is flagged."""
    series = shutil.copytree(series_factory("olmoe"), tmp_path / "series")
    shutil.copytree(series / "step200", series / "step250")
    samples = write_jsonl(tmp_path / "s.jsonl", sample_rows(4))
    assert main(["extract", "--model", str(series), "--samples", str(samples), "--run", "r", "--quiet",
                 "--store", str(tmp_path / "data")]) == 0
    at = open_app(monkeypatch, tmp_path / "data")
    flagged = [e for e in at.expander if "Checkpoint check: 1 step(s)" in e.label]
    assert flagged and "steps 200 (" in flagged[0].markdown[0].value and "identical weights" in flagged[0].markdown[0].value


def test_pathways_two_sankeys_driven_by_widgets(monkeypatch, small_store):
    at = open_app(monkeypatch, small_store.root, "pathways")
    sankeys = [c for c in charts(at) if c["data"][0]["type"] == "sankey"]
    assert len(sankeys) == 2
    at.select_slider(key="w.topn").set_value(2)
    at.slider(key="w.layers").set_value((1, 2))
    at.selectbox(key="w.flow").set_value("sample-tau").run()
    assert not at.exception
    for spec in charts(at):
        labels = spec["data"][0]["node"]["label"]
        assert {label.split()[0] for label in labels} <= {"L1", "L2"}
        assert sum(not label.endswith("other") for label in labels if label.startswith("L1")) <= 2
    at.radio(key="w.source").set_value("sample").run()
    at.selectbox(key="w.sample").set_value("s005").run()
    assert not at.exception and len(charts(at)) == 2


def test_pathways_same_expert_same_colour_in_both_panels(monkeypatch, small_store):
    at = open_app(monkeypatch, small_store.root, "pathways")
    left, right = (dict(zip(c["data"][0]["node"]["label"], zip(c["data"][0]["node"]["color"], c["data"][0]["node"]["y"])))
                   for c in charts(at))
    for label in set(left) & set(right):
        assert left[label] == right[label]


def test_memorization_controls(monkeypatch, small_store):
    at = open_app(monkeypatch, small_store.root, "memorization")
    assert len(charts(at)) == 2
    at.number_input(key="w.curves").set_value(2).run()
    assert len(charts(at)[0]["data"]) == 3 * 2 + 2 * 2
    at.toggle(key="w.eps_auto").set_value(False).run()
    at.number_input(key="w.eps").set_value(5.0).run()
    assert not at.exception and at.query_params["eps"] == "5.0"
    assert "eps per group: even = 5.00" in texts(at.caption)


def test_inspector_search_tokens_and_fallback(monkeypatch, small_store):
    at = open_app(monkeypatch, small_store.root, "inspector")
    assert "title=" in at.get("html")[0].proto.body  # tokens coloured by expert
    at.text_input(key="w.sample_query").set_value("S011").run()
    assert at.selectbox(key="w.sample").options == ["s011"]
    assert "No per-token routing" in texts(at.info)  # s011 has no token routes: per-sample routing instead
    assert len(at.dataframe[-1].value) == 10  # nearest samples
    at.text_input(key="w.sample_query").set_value("'; DROP TABLE samples; --").run()
    assert not at.exception and "No sample id or text contains" in texts(at.info)


# What each page must show on an analysed run: (element key, what it is).
MUST_SHOW = {
    "overview": "headline", "memorization": "memorization_histogram", "pathways": "sankey_left",
    "map": "map-0", "grokking": "validity_distance", "inspector": "routing_heatmap", "health": "saturation",
    "compare": "compare_accuracy",
}


@pytest.mark.parametrize("page", PAGES)
def test_every_page_shows_its_figure_on_the_analysed_demo(monkeypatch, demo_store, page):
    at = open_app(monkeypatch, demo_store.root, page, timeout=120)
    figure = chart(at, MUST_SHOW[page])
    assert figure["data"], f"{page}: the {MUST_SHOW[page]} figure is empty"
    stamps = [a["text"] for a in figure["layout"].get("annotations", []) if a.get("name") == "grokviz-stamp"]
    assert stamps == ["demo: preset paper; tau 0.7; distance char; positions predicting"]
    assert not at.info, texts(at.info)


def test_map_draws_every_projected_sample_coloured_by_task(monkeypatch, demo_store):
    with Run(demo_store, "demo") as run:
        points = run.analysis("projection")
        tasks = sorted(run.samples()["group"].unique())
    at = open_app(monkeypatch, demo_store.root, "map", timeout=120)
    spec = chart(at, "map-0")
    assert [trace["name"] for trace in spec["data"]] == tasks
    last = points[points["step"] == points["step"].max()]
    assert sum(len(values(trace, "x")) for trace in spec["data"]) == len(last)
    steps = sorted(points["step"].unique())
    at.radio(key="w.color").set_value("loss").run()
    at.select_slider(key="w.step").set_value(int(steps[1])).run()
    spec = chart(at, "map-0")
    assert spec["data"][0]["marker"]["colorbar"]["title"]["text"] == "loss"
    assert f"step {steps[1]:,}" in spec["layout"]["title"]["text"]
    at.toggle(key="w.animate").set_value(True).run()
    assert len(chart(at, "map_animation")["frames"]) == len(steps)


def test_map_selection_feeds_pathways_and_inspector(monkeypatch, demo_store):
    with Run(demo_store, "demo") as run:
        samples, last = run.samples(), run.steps()[-1]
    with_tokens = samples.loc[samples["has_tokens"], "sample_id"].tolist()[:2]
    without = samples.loc[~samples["has_tokens"], "sample_id"].tolist()[:1]
    at = open_app(monkeypatch, demo_store.root, "map", timeout=120)
    at.session_state["grokviz.selection"] = {"run": "demo", "step": last, "ids": with_tokens + without}
    at.run()
    assert "3 samples selected" in texts(at.success)
    at.switch_page("views/pathways.py").run()
    at.radio(key="w.source").set_value("selection").run()
    assert at.caption[0].value.startswith("2 of 3 (those with per-token routing) samples")
    at.switch_page("views/inspector.py").run()
    assert [o.split()[0] for o in at.selectbox(key="w.sample").options[:3]] == with_tokens + without


def test_overview_tells_the_story_per_task(monkeypatch, demo_store):
    with Run(demo_store, "demo") as run:
        story = run.story()
        tasks = sorted(story["verdicts"])
    at = open_app(monkeypatch, demo_store.root, timeout=120)
    headline = chart(at, "headline")
    legend = [trace["name"] for trace in headline["data"]]
    for task in tasks:  # accuracy and the metric per task, with the verdict in the legend
        assert f"{task}: held-out accuracy" in legend and f"{task}: training accuracy" in legend
        assert any(name.startswith(f"{task}: pathway distance, beyond the time trend: ") for name in legend)
    findings = table_with(at, "domain", "verdict", "memorised at")
    assert findings["domain"].tolist() == tasks and findings["verdict"].tolist() == [story["verdicts"][t] for t in tasks]
    assert len(story["spans"]) == 0 or chart(at, "timeline")["data"]
    assert chart(at, "monitor_curves")["data"]  # the demo's live monitor logged during training
    assert at.expander[0].label.startswith("Store inventory")


def test_grokking_opens_on_the_largest_group_with_its_validity_panels(monkeypatch, demo_store):
    with Run(demo_store, "demo") as run:
        targets = run.targets()
        first = targets.iloc[0]
        verdicts = run.verdicts(first["group"])
    assert targets["n"].is_monotonic_decreasing
    at = open_app(monkeypatch, demo_store.root, "grokking", timeout=120)
    assert at.selectbox(key="w.pair").options == targets["label"].tolist()
    assert at.selectbox(key="w.pair").value == first["label"]
    for metric in ("distance", "mean_cosine"):  # two MoE layers: consistency is replaced, and the page says why
        panel = chart(at, f"validity_{metric}")
        assert verdicts[metric] in panel["layout"]["title"]["text"]
        assert any(trace["name"] == "95% band over samples" for trace in panel["data"])
        assert any(trace["name"] == "random equal-size groups" for trace in panel["data"])
    assert any("Consistency is not drawn" in caption.value for caption in at.caption)
    checks = table_with(at, "metric", "verdict", "partial r given step", "random groups")
    assert checks["metric"].tolist()[:2] == ["pathway distance", "mean layer cosine"]
    pair = targets[targets["kind"] == "pair"].iloc[0]
    at.selectbox(key="w.pair").set_value(pair["label"]).run()
    assert chart(at, "pair_curves")["data"] and chart(at, "validity_distance")["data"]


def test_health_top_k_switch(monkeypatch, demo_store):
    at = open_app(monkeypatch, demo_store.root, "health", timeout=120)
    assert len(charts(at)) == 4
    at.radio(key="saturation_top_k").set_value(2).run()
    at.select_slider(key="w.layer").set_value(1).run()
    assert not at.exception and "layer 1" in charts(at)[2]["layout"]["title"]["text"]


def test_query_params_round_trip(monkeypatch, small_store):
    params = {"run": "tiny", "step": "200", "step2": "300", "layers": "1-2", "topn": "3", "flow": "sample-argmax"}
    at = open_app(monkeypatch, small_store.root, "pathways", params)
    assert at.select_slider(key="w.step").value == 200 and at.slider(key="w.layers").value == (1, 2)
    assert at.select_slider(key="w.topn").value == 3 and at.selectbox(key="w.flow").value == "sample-argmax"
    at.select_slider(key="w.step").set_value(100).run()
    assert at.query_params["step"] == "100" and at.query_params["layers"] == "1-2"
    # a new session opened with the URL the last one produced shows the same view
    again = open_app(monkeypatch, small_store.root, "pathways", at.query_params)
    assert again.select_slider(key="w.step").value == 100 and again.slider(key="w.layers").value == (1, 2)
    link = copy_link(again)
    assert "step=100" in link and "layers=1-2" in link


@pytest.mark.parametrize("params, field", [
    ({"run": "../../etc/passwd"}, "run"),
    ({"run": "tiny", "sample": "nope'; DROP TABLE samples; --"}, "sample"),
    ({"run": "tiny", "step": "1e9"}, "step"),
    ({"run": "tiny", "layers": "2-0"}, "layers"),
    ({"run": "tiny", "color": "<img src=x onerror=alert(1)>"}, "color"),
    ({"run": "tiny", "..%2F..": "x"}, "unknown"),
], ids=["run-traversal", "sample-sql", "step-not-a-checkpoint", "layers-reversed", "color-html", "unknown-param"])
def test_bad_url_parameters_give_warnings(monkeypatch, small_store, params, field):
    at = open_app(monkeypatch, small_store.root, "inspector", params)
    warned = texts(at.warning) if at.warning else ""
    at0 = open_app(monkeypatch, small_store.root, "overview", params)
    warned += texts(at0.warning)
    assert "Ignored" in warned and (f"`{field}`" if field != "unknown" else "unknown URL parameter") in warned
    assert at.selectbox(key="w.sample").value in {f"s{i:03d}" for i in range(12)}


def test_missing_sample_falls_back_with_message(monkeypatch, small_store):
    at = open_app(monkeypatch, small_store.root, "overview", {"run": "tiny", "sample": "s999"})
    assert "expected a sample id of this run" in texts(at.warning)
    at.switch_page("views/inspector.py").run()
    assert at.selectbox(key="w.sample").value == "s000"


def test_empty_folder_and_empty_store(monkeypatch, tmp_path):
    at = open_app(monkeypatch, tmp_path / "nothing")
    assert "no grokviz store" in texts(at.info) and "grokviz demo" in at.code[0].value
    from grokviz.store.layout import Store

    Store(tmp_path / "empty")
    at = open_app(monkeypatch, tmp_path / "empty")
    assert "has no runs yet" in texts(at.info)


def test_one_checkpoint_run(monkeypatch, one_checkpoint_store):
    for page in PAGES:
        at = open_app(monkeypatch, one_checkpoint_store.root, page)
        if page == "memorization":
            assert "one checkpoint" in texts(at.info)


def test_dashboard_never_imports_torch(small_store):
    """Render every page in a fresh interpreter and list the heavy modules it loaded."""
    script = f"""
import sys, json
from streamlit.testing.v1 import AppTest
at = AppTest.from_file({APP!r}, default_timeout=60).run()
for page in {PAGES[1:]!r}:
    at.switch_page(f"views/{{page}}.py").run()
    assert not at.exception, page
print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & {{'torch', 'transformers', 'umap', 'numba'}})))
"""
    env = dict(os.environ, GROKVIZ_STORE=str(small_store.root))
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_url_kept_on_pages_that_stop_early(monkeypatch, small_store):
    at = open_app(monkeypatch, small_store.root, "grokking", {"run": "tiny", "step": "200"})
    assert at.info and at.query_params == {"run": "tiny", "step": "200"}
    assert copy_link(at).endswith("?run=tiny&step=200")


def test_switching_run_forgets_the_old_runs_view(monkeypatch, small_store, tmp_path):
    store = copy_store(small_store, tmp_path / "data")
    (store.root / "runs" / "tiny").rename(store.root / "runs" / "other")
    shutil.copytree(small_store.run_dir("tiny"), store.root / "runs" / "tiny")
    at = open_app(monkeypatch, store.root, "inspector", {"run": "tiny", "sample": "s004", "step": "200"})
    assert at.query_params["sample"] == "s004"
    at.sidebar.selectbox[0].set_value("other").run()
    assert not at.exception and at.query_params["run"] == "other"
    assert at.selectbox(key="w.sample").value == "s000" and at.select_slider(key="w.step").value == 300
