"""`grokviz synthetic` writes a run every reader understands, with the grokking story it promises."""

from __future__ import annotations

from grokviz import names
from grokviz.analysis.run import analyze
from grokviz.cli import main
from grokviz.config import AnalyzeConfig
from grokviz.store.analyses import read_analysis
from grokviz.store.layout import Store
from grokviz.store.summary import store_summary
from grokviz.store.tables import Tables, read_step

TINY = ["--checkpoints", "6", "--groups", "2", "--samples", "40", "--layers", "4", "--experts", "16",
        "--top-k", "2"]


def test_synthetic_run_is_readable_and_shows_distance_falling_after_memorization(tmp_path):
    assert main(["synthetic", "--store", str(tmp_path), "--run", "syn", *TINY]) == 0
    store = Store(tmp_path, create=False)
    with Tables(store, "syn") as tables:
        assert len(tables.table("losses")) == 6 * 80
        assert len(tables.table("routing")) == 6 * 80 * 4 * 16
        assert len(tables.table("checkpoints")) == 6 and not tables.table("token_routes").empty
        assert set(tables.table("accuracy")["split"]) == {"test"}
    frame, dist = read_step(store, "syn", store.complete_shards("syn")[0][0])
    assert dist.shape == (80, 4, 16) and abs(dist.sum(-1) - 1).max() < 1e-3
    assert store_summary(store)["runs"][0]["n_samples"] == 80

    analyze(AnalyzeConfig(run="syn", pairing=False, projection=False), store, progress=False)
    metrics = read_analysis(store, "syn", "group_metrics")
    distance = metrics[metrics["metric"] == "distance"].pivot_table(index=names.GROUP, columns=names.STEP,
                                                                    values="value")
    t_star = read_analysis(store, "syn", "memorization").groupby("pretrain_group")["t_star"].first()
    falling = [group for group, t in t_star.items() if group in distance.index and t < distance.columns[-1]
               and distance.loc[group].iloc[-1] < 0.8 * distance.loc[group, t]]
    assert falling, distance.round(1).to_string()


def test_an_existing_run_name_is_refused(tmp_path, capsys):
    assert main(["synthetic", "--store", str(tmp_path), "--run", "syn", *TINY]) == 0
    assert main(["synthetic", "--store", str(tmp_path), "--run", "syn", *TINY]) == 2
    assert "run 'syn' already exists" in capsys.readouterr().err
