"""`analyze` stores each group's per-sample flows per checkpoint: the links the Pathways page
would compute from the routing, for each group and (summed) for all samples."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from grokviz.analysis import flows
from grokviz.analysis.run import analyze
from grokviz.config import AnalyzeConfig
from grokviz.figures import frames, sankey
from grokviz.metrics.pathways import pathway_parts
from grokviz.store.analyses import read_analysis
from grokviz.store.layout import Store
from grokviz.store.tables import read_step
from grokviz.synthetic.runs import SyntheticSpec, write_synthetic


def _dist(n=90, layers=4, experts=6, seed=0):
    return np.random.default_rng(seed).dirichlet(np.full(experts, 0.4), size=(n, layers)).astype(np.float32)


def test_each_groups_flows_are_the_links_of_its_rows():
    dist, groups = _dist(), np.array(["b", "a", "c"] * 30)
    table = flows.step_flows(7, groups, dist)
    assert set(table["group"]) == {"a", "b", "c"} and (table["step"] == 7).all()
    for group in ("a", "b", "c"):
        rows = groups == group
        argmax = flows.group_links(table, flows.ARGMAX, group, (0, 3))
        pd.testing.assert_frame_equal(argmax, sankey.choice_links(dist[rows].argmax(axis=2), 6))
        tau = flows.group_links(table, flows.TAU, group, (1, 3))  # summed in blocks: the same up to rounding
        pd.testing.assert_frame_equal(tau, sankey.sample_links(frames.flow_weights(dist[rows], sankey.FLOW_TAU), (1, 3)),
                                      check_exact=False, rtol=1e-12)
    everyone = flows.group_links(table, flows.TAU, None, (0, 3))  # all samples: the sum over groups
    pd.testing.assert_frame_equal(everyone, sankey.sample_links(frames.flow_weights(dist, sankey.FLOW_TAU)),
                                  check_exact=False, rtol=1e-12)
    assert np.allclose(everyone["value"].groupby(everyone["layer"]).sum(), 90)  # one unit per sample


def test_sums_fed_by_the_pathway_ranking_give_the_same_table():
    """Blocks of a few samples, groups interleaved: the ranking's kept weights summed block by block
    are the flows of each group's rows."""
    dist, groups = _dist(seed=2), np.array(["x", "y", "y"] * 30)
    sums = flows.FlowSums(groups, 4, 6)
    parts = pathway_parts(dist, tau=sankey.FLOW_TAU)
    with_visit = pathway_parts(dist, tau=sankey.FLOW_TAU, visit=sums.add)
    assert parts[0] == with_visit[0]
    pd.testing.assert_frame_equal(sums.table(1, dist), flows.step_flows(1, groups, dist))


def test_no_samples_give_an_empty_table_with_the_columns():
    table = flows.step_flows(1, np.array([], dtype=str), np.zeros((0, 3, 4), dtype=np.float32))
    assert list(table.columns) == flows.COLUMNS and table.empty


@pytest.mark.parametrize("tau", [sankey.FLOW_TAU, 0.5], ids=["default-tau", "other-tau"])
def test_analyze_stores_the_flows_of_every_checkpoint(tmp_path, tau):
    """With the default tau the weights come from the pathways' own ranking; with another tau they
    are ranked again: either way the stored flows are the page's, recomputed from the routing."""
    store = Store(tmp_path / "data")
    spec = SyntheticSpec(run="fl", checkpoints=3, groups=2, samples=30, items=10, layers=3, experts=6, top_k=2,
                         d_model=8)
    write_synthetic(store, spec)
    analyze(AnalyzeConfig(run="fl", tau=tau, pairing=False, projection=False, nulls=False, bootstrap=100,
                          permutations=100), store, progress=False)
    stored = read_analysis(store, "fl", "flows")
    samples = read_analysis(store, "fl", "pathways")[["sample_id", "group"]].drop_duplicates()
    assert stored["step"].nunique() == 3 and set(stored["group"]) == set(samples["group"])
    for step in stored["step"].unique():
        frame, dist = read_step(store, "fl", int(step))
        groups = samples.set_index("sample_id")["group"].reindex(frame["sample_id"]).to_numpy()
        expected = flows.compact(flows.step_flows(int(step), groups, dist), sorted(samples["group"].unique()))
        pd.testing.assert_frame_equal(stored[stored["step"] == step].drop(columns="run").reset_index(drop=True),
                                      expected)
