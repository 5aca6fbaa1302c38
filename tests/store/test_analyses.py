"""Reading one analysis table, or only the rows of one sample or checkpoint of it."""

from __future__ import annotations

import pandas as pd
import pytest

from grokviz.errors import StoreError
from grokviz.store import analyses
from grokviz.store.layout import Store


@pytest.fixture
def store(tmp_path) -> Store:
    store = Store(tmp_path / "data")
    pathways = pd.DataFrame({"run": "r", "step": [10, 10, 20, 20], "sample_id": ["a", "b", "a", "b"],
                             "group": "g", "pathway": ["1-2", "3-4", "1-3", "3-3"], "n_kept": 2,
                             "consistency": 0.5, "mean_cosine": 0.5})
    analyses.write_analysis(store, "r", "0123456789abcdef", {}, {}, {"pathways": pathways})
    analyses.write_latest(store, "r", "0123456789abcdef")
    return store


def test_the_rows_of_one_sample_or_one_checkpoint_are_those_of_the_whole_table(store):
    whole = analyses.read_analysis(store, "r", "pathways")
    one = analyses.read_analysis(store, "r", "pathways", columns=["step", "pathway"], where=("sample_id", "a"))
    assert one.to_dict("list") == {"step": [10, 20], "pathway": ["1-2", "1-3"]}
    at = analyses.read_analysis(store, "r", "pathways", columns=["sample_id", "pathway"], where=("step", 20))
    expected = whole.loc[whole["step"] == 20, ["sample_id", "pathway"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(at, expected, check_dtype=False)
    assert analyses.read_analysis(store, "r", "pathways", where=("sample_id", "zz")).empty


def test_a_corrupt_table_read_by_rows_names_the_file(store):
    path = analyses.analysis_file(store, "r", "pathways")
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(StoreError, match="unreadable store file"):
        analyses.read_analysis(store, "r", "pathways", where=("sample_id", "a"))
