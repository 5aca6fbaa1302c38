"""Reading one checkpoint's per-sample results, whole or only some samples' rows."""

from __future__ import annotations

import numpy as np
import pytest

from grokviz.errors import StoreError
from grokviz.store.tables import read_step, read_step_rows


def test_some_rows_are_the_rows_of_the_whole_checkpoint(small_store):
    frame, dist = read_step(small_store, "tiny", 200)
    ids = [frame["sample_id"].iloc[7], frame["sample_id"].iloc[2], "no such sample"]
    some, rows = read_step_rows(small_store, "tiny", 200, ids)
    assert sorted(some["sample_id"]) == sorted(ids[:2])  # an unknown id is left out
    where = frame.index[frame["sample_id"].isin(ids)].to_numpy()  # file order, like read_step
    assert some["sample_id"].tolist() == frame["sample_id"].iloc[where].tolist()
    assert np.array_equal(rows, dist[where]) and rows.dtype == np.float32
    assert np.allclose(some["loss"], frame["loss"].iloc[where])


def test_no_matching_rows_give_empty_arrays_of_the_run_shape(small_store):
    some, rows = read_step_rows(small_store, "tiny", 200, [])
    assert some.empty and rows.shape == (0, *read_step(small_store, "tiny", 200)[1].shape[1:])


def test_a_step_without_data_is_named(small_store):
    with pytest.raises(StoreError, match="no complete data at step 999"):
        read_step_rows(small_store, "tiny", 999, ["s000"])
