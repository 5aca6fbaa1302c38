"""`analyze` turns a real extraction into every table of the export contract, cached by settings."""

from __future__ import annotations

import pytest

from grokviz import names
from grokviz.analysis.run import analyze
from grokviz.config import AnalyzeConfig
from grokviz.errors import InputError
from grokviz.store.analyses import latest_key, read_analysis
from grokviz.store.tables import Tables


def test_every_contract_table_exports_with_its_columns(analyzed_store):
    with Tables(analyzed_store, "tiny") as tables:
        for name in names.ANALYSIS_TABLES:
            frame = tables.table(name)
            assert list(frame.columns[: len(names.EXPORT_COLUMNS[name])]) == list(names.EXPORT_COLUMNS[name]), name


def test_tables_hold_the_numbers_of_a_real_run(analyzed_store):
    pathways = read_analysis(analyzed_store, "tiny", "pathways")
    assert len(pathways) == 12 * 3
    assert pathways["pathway"].str.count("-").eq(2).all()  # three layers
    memorized = read_analysis(analyzed_store, "tiny", "memorization")
    assert set(memorized["eps"]) == {5.0} and (memorized["delta"] == 5.0).all()
    assert memorized["memorized"].all() and set(memorized["t_star"]) == {100}  # every loss within delta at once
    generalized = read_analysis(analyzed_store, "tiny", "generalization")
    assert set(generalized["t_hash"]) <= {200, 300}
    metrics = read_analysis(analyzed_store, "tiny", "group_metrics")
    assert {"distance", "consistency", "mean_cosine", "distance_layer_0", "cross_distance"} <= set(metrics["metric"])
    saturation = read_analysis(analyzed_store, "tiny", "saturation")
    final = saturation[(saturation["reference"] == "final") & (saturation["step"] == 300)]
    assert (final["value"] == 1.0).all()
    projection = read_analysis(analyzed_store, "tiny", "projection")
    assert set(projection["step"]) == {100, 200, 300}


def test_pairs_join_pretrain_and_test_groups_of_one_domain(analyzed_store):
    pairs = read_analysis(analyzed_store, "tiny", "pairs")
    assert not pairs.empty
    for row in pairs.itertuples():
        assert row.train_group.startswith(f"{row.domain}/Pretrain@")
        assert row.test_group.startswith(f"{row.domain}/Test@")
        q = int(row.test_group.split("@")[1])
        p = int(row.train_group.split("@")[1])
        assert row.delay == q - p


def test_same_settings_reuse_the_cache_and_new_settings_do_not(analyzed_store):
    key = latest_key(analyzed_store, "tiny")
    again = analyze(AnalyzeConfig(run="tiny", eps=5.0, delta=5.0, max_pairs=1000), analyzed_store, progress=False)
    assert again.cached and again.key == key
    other = analyze(AnalyzeConfig(run="tiny", eps=5.0, delta=5.0, max_pairs=1000, top_k=1, tau=None, pairing=False,
                                  projection=False), analyzed_store, progress=False)
    assert not other.cached and other.key != key
    assert read_analysis(analyzed_store, "tiny", "pathways")["n_kept"].eq(3).all()
    analyze(AnalyzeConfig(run="tiny", eps=5.0, delta=5.0, max_pairs=1000), analyzed_store, progress=False)
    assert latest_key(analyzed_store, "tiny") == key


@pytest.mark.parametrize("bad", [dict(tau=1.5), dict(tau=None), dict(eps="lots"), dict(distance="word"),
                                 dict(accuracy_window="5-10"), dict(run="../etc")],
                         ids=["tau", "no-rule", "eps", "distance", "window", "run"])
def test_bad_settings_name_their_field(bad):
    with pytest.raises(InputError):
        AnalyzeConfig(**{"run": "tiny", **bad})
