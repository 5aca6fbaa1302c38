"""Expert-level spelling of pathways: the vectorised parser against the per-layer reference."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grokviz.metrics import spelling


def test_encode_expert_level_keeps_layer_boundaries():
    encoded = spelling.encode_expert_level(["1,2-3", "12-3"])
    assert encoded[0].count("-") == 1 and len(encoded[0]) == 4
    assert encoded[1] == chr(0x100 + 12) + "-" + chr(0x100 + 3)


_layer = st.lists(st.integers(0, 2000), max_size=4).map(lambda ids: ",".join(map(str, ids)))


@given(st.lists(st.lists(_layer, min_size=1, max_size=5).map("-".join), max_size=30))
@settings(max_examples=200, deadline=None)
def test_vectorised_expert_spelling_equals_the_per_layer_reference(pathways):
    assert spelling.encode_expert_level(pathways) == spelling._encode_slowly(pathways)


@pytest.mark.parametrize("bad", ["1,x", "1,,2", ",1", "1,", "99999999", "1;2", "é"])
def test_vectorised_expert_spelling_names_a_bad_string(bad):
    with pytest.raises(ValueError, match="not a pathway string"):
        spelling.encode_expert_level(["1,2-3", bad])
