"""The Compare runs page in AppTest, on two quick-demo runs that differ only in their seed
(`compare_store`) and on the same plus a 3-layer variant (`variant_store`, built with
`grokviz demo --run v --quick --layers 3` beside them). Expected values come from the same store
read through `grokviz.api.Run`."""

from __future__ import annotations

import hashlib

import pytest
from apptest import chart, copy_link, open_app, table_with, texts, values

from grokviz.api import Run

pytestmark = [pytest.mark.timeout(1800), pytest.mark.slow]  # the first test builds two or three demo runs
FIGURES = ("compare_accuracy", "compare_distance", "compare_mean_cosine", "compare_onsets")


def runs_of(spec: dict) -> set[str]:
    return {trace["name"].split(" ")[0] for trace in spec["data"] if trace.get("name")}


def test_compare_overlays_two_seeds(monkeypatch, compare_store):
    at = open_app(monkeypatch, compare_store.root, "compare", {"runs": "demo,seed1"}, timeout=300)
    assert at.header[0].value == "Compare runs · demo, seed1"
    for key in FIGURES:
        spec = chart(at, key)
        assert runs_of(spec) == {"demo", "seed1"}, key
        assert spec["layout"]["title"]["text"].endswith("demo vs seed1"), key
        stamp = [a["text"] for a in spec["layout"]["annotations"] if a.get("name") == "grokviz-stamp"]
        assert stamp[0].startswith("demo: preset paper") and " | seed1: preset paper" in stamp[0]
    accuracy = chart(at, "compare_accuracy")
    with Run(compare_store, "seed1") as run:
        tasks = sorted(run.groups()["group"].unique())
        expected = run.accuracy()
    assert {t["name"] for t in accuracy["data"]} == {f"{r} · {task}" for r in ("demo", "seed1") for task in tasks}
    colours = {}
    for trace in accuracy["data"]:
        colours.setdefault(trace["name"].split(" · ")[0], set()).add(trace["line"]["color"])
    assert all(len(c) == 1 for c in colours.values()) and colours["demo"] != colours["seed1"]
    trace = next(t for t in accuracy["data"] if t["name"] == f"seed1 · {tasks[0]}")
    own = expected[expected["group"] == tasks[0]].sort_values("step")
    assert values(trace, "x") == own["step"].tolist() and values(trace, "y") == pytest.approx(own["accuracy"].tolist())

    settings = table_with(at, "demo", "seed1", "differs")
    assert set(settings.index[settings["differs"]]) == {"demo.seed"}  # same model, data and analysis settings
    assert settings.loc["demo.seed"].tolist()[:2] == ["0", "1"] and settings.loc["model.n_layers", "seed1"] == "2"
    verdicts = table_with(at, "run", "group", "metric", "verdict", "routing_onset")
    assert set(verdicts["run"]) == {"demo", "seed1"} and set(verdicts["group"]) == set(tasks)
    with Run(compare_store, "demo") as run:
        mine = run.verdict_table().set_index(["group", "metric"])
    row = verdicts[verdicts["run"] == "demo"].iloc[0]
    assert row["verdict"] == mine.loc[(row["group"], row["metric"]), "verdict"]


def test_compare_aligns_by_fraction_of_training(monkeypatch, compare_store):
    at = open_app(monkeypatch, compare_store.root, "compare", {"runs": "demo,seed1"}, timeout=300)
    at.radio(key="w.align").set_value("fraction").run()
    assert not at.exception and at.query_params["align"] == "fraction"
    for key in ("compare_accuracy", "compare_distance"):
        spec = chart(at, key)
        assert all(max(values(t, "x")) == 1.0 for t in spec["data"]), key
        assert spec["layout"]["xaxis"]["title"]["text"].startswith("fraction of training")
    at.selectbox(key="w.group").set_value("pow3").run()
    assert {t["name"] for t in chart(at, "compare_accuracy")["data"]} == {"demo · pow3", "seed1 · pow3"}


def test_compare_runs_url_round_trip(monkeypatch, compare_store):
    at = open_app(monkeypatch, compare_store.root, "compare", {"runs": "seed1,demo", "align": "fraction"}, timeout=300)
    assert at.multiselect(key="w.runs").value == ["seed1", "demo"] and at.radio(key="w.align").value == "fraction"
    assert at.query_params["runs"] == "seed1,demo"
    assert "runs=seed1%2Cdemo" in copy_link(at)
    at.multiselect(key="w.runs").set_value(["demo"]).run()
    assert not at.exception and at.query_params["runs"] == "demo"
    assert at.header[0].value == "Compare runs · demo" and runs_of(chart(at, "compare_accuracy")) == {"demo"}
    again = open_app(monkeypatch, compare_store.root, "compare", at.query_params, timeout=300)
    assert again.multiselect(key="w.runs").value == ["demo"]
    # a run the store does not hold: the whole parameter is refused, with a message, and the default shown
    bad = open_app(monkeypatch, compare_store.root, "overview", {"runs": "demo,../../etc"}, timeout=300)
    assert "Ignored URL parameter `runs`" in texts(bad.warning)  # said once, on the first page shown
    bad.switch_page("views/compare.py").run()
    assert not bad.exception and bad.multiselect(key="w.runs").value == ["demo", "seed1"]


def tree_digest(root, names: list[str]) -> dict[str, str]:
    """Content hash of every file of these runs (store tables and the demo's models folder)."""
    digest = {}
    for name in names:
        for folder in (root / "runs" / name, root / "models" / name):
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                digest[str(path.relative_to(root))] = hashlib.sha1(path.read_bytes()).hexdigest()
    return digest


def test_demo_variant_builds_beside_other_runs_without_touching_them(monkeypatch, compare_store, variant_store):
    assert variant_store.runs() == ["demo", "seed1", "v"]
    with Run(variant_store, "v") as run:
        assert run.model()["n_layers"] == 3 and run.demo_config()["num_layers"] == 3
        assert run.demo_config()["steps"] == 150  # --quick, with --layers on top
        assert run.analysis("group_metrics") is not None
    assert tree_digest(variant_store.root, ["demo", "seed1"]) == tree_digest(compare_store.root, ["demo", "seed1"])
    at = open_app(monkeypatch, variant_store.root, "compare", {"runs": "demo,v"}, timeout=300)
    settings = table_with(at, "demo", "v", "differs")
    assert {"model.n_layers", "demo.num_layers", "model.decoder_layers"} <= set(settings.index[settings["differs"]])
    assert "demo.seed" not in set(settings.index[settings["differs"]])
    assert runs_of(chart(at, "compare_mean_cosine")) == {"demo", "v"}
