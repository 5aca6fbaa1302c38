"""Pathway distance (METHOD 3) against a dynamic-programming Levenshtein written here."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grokviz.metrics import distance, spelling
from grokviz.metrics.distance import DistanceEstimate, Level

FAST = settings(max_examples=40, deadline=None)


def slow_levenshtein(a, b) -> int:
    """Textbook DP over two sequences of symbols."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, start=1):
        current = [i]
        for j, y in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def symbols(pathway: str, level: str) -> list:
    """The sequence one edit acts on: characters, or expert ids with "-" boundaries."""
    if level == "char":
        return list(pathway)
    out: list = []
    for k, layer in enumerate(pathway.split("-")):
        if k:
            out.append("-")
        out.extend(int(e) for e in layer.split(",") if e)
    return out


def slow_distance(a: str, b: str, level: str) -> int:
    return slow_levenshtein(symbols(a, level), symbols(b, level))


def slow_mean_within(paths, level) -> float:
    pairs = [(i, j) for i in range(len(paths)) for j in range(i + 1, len(paths))]
    return sum(slow_distance(paths[i], paths[j], level) for i, j in pairs) / len(pairs)


LEVELS = pytest.mark.parametrize("level", ["char", "expert"], ids=["char-level", "expert-level"])

pathway_strategy = st.lists(
    st.lists(st.integers(0, 70), min_size=1, max_size=4).map(lambda ids: ",".join(map(str, ids))),
    min_size=1, max_size=4,
).map("-".join)


def test_expert_level_counts_one_edit_per_expert():
    # "12" -> "3" is two character edits but one expert substitution.
    assert distance.pairwise_distances(["12,5", "3,5"], level="char")[0, 1] == 2
    assert distance.pairwise_distances(["12,5", "3,5"], level="expert")[0, 1] == 1


@LEVELS
def test_pairwise_distances_match_reference(pathway_factory, level):
    paths = pathway_factory(25, seed=1)
    got = distance.pairwise_distances(paths, level=level)
    expected = [[slow_distance(a, b, level) for b in paths] for a in paths]
    assert got.tolist() == expected


@LEVELS
@pytest.mark.parametrize("block", [1, 4, 2048], ids=["block1", "block4", "block2048"])
def test_exact_mean_matches_reference_with_duplicates(pathway_factory, level, block):
    paths = pathway_factory(20, seed=2)
    paths = paths + paths[:7]  # identical pathways are compared once and weighted
    est = distance.mean_pairwise_distance(paths, level=level, block=block)
    assert est.exact and est.stderr == 0.0 and est.n_pairs == 27 * 26 // 2
    assert est.value == pytest.approx(slow_mean_within(paths, level), rel=1e-12)


@LEVELS
@pytest.mark.parametrize("block", [3, 2048], ids=["block3", "block2048"])
def test_cross_mean_matches_reference(pathway_factory, level, block):
    a, b = pathway_factory(9, seed=3), pathway_factory(7, seed=4)
    b = b + a[:2]
    expected = sum(slow_distance(x, y, level) for x in a for y in b) / (len(a) * len(b))
    est = distance.cross_mean_distance(a, b, level=level, block=block)
    assert est == DistanceEstimate(pytest.approx(expected, rel=1e-12), 0.0, len(a) * len(b), True)


@pytest.mark.parametrize("seed", [0, 1, 2], ids=["seed0", "seed1", "seed2"])
def test_sampled_estimate_within_three_standard_errors(pathway_factory, seed):
    paths = pathway_factory(80, n_layers=6, seed=10)  # 3,160 pairs
    exact = distance.mean_pairwise_distance(paths)
    est = distance.mean_pairwise_distance(paths, max_pairs=600, seed=seed)
    assert not est.exact and est.n_pairs == 600 and est.stderr > 0
    assert abs(est.value - exact.value) <= 3 * est.stderr


def test_sampled_estimate_is_seeded(pathway_factory):
    paths = pathway_factory(50, seed=11)
    first = distance.mean_pairwise_distance(paths, max_pairs=100, seed=7)
    assert first == distance.mean_pairwise_distance(paths, max_pairs=100, seed=7)
    assert first != distance.mean_pairwise_distance(paths, max_pairs=100, seed=8)


@pytest.mark.parametrize("seed", [0, 1], ids=["seed0", "seed1"])
def test_sampling_never_pairs_a_sample_with_itself(seed):
    paths = [str(i) for i in range(10)]  # every distinct pair is at distance 1, self-pairs at 0
    est = distance.mean_pairwise_distance(paths, max_pairs=40, seed=seed)  # 45 pairs > budget
    assert not est.exact
    assert est.value == 1.0 and est.stderr == 0.0


def test_sampled_expert_level_equals_sampling_the_fully_respelt_strings(pathway_factory):
    """Sampled estimates re-spell only the sampled pathways; the result is the same as re-spelling all."""
    a, b = pathway_factory(60, n_layers=5, seed=14), pathway_factory(45, n_layers=5, seed=15)
    ea, eb = spelling.encode_expert_level(a), spelling.encode_expert_level(b)
    for seed in (0, 1):
        assert distance.mean_pairwise_distance(a, "expert", max_pairs=300, seed=seed) == \
            distance.mean_pairwise_distance(ea, "char", max_pairs=300, seed=seed)
        assert distance.cross_mean_distance(a, b, "expert", max_pairs=300, seed=seed) == \
            distance.cross_mean_distance(ea, eb, "char", max_pairs=300, seed=seed)
        assert distance.sample_interval(a, "expert", cap=20, seed=seed) == \
            distance.sample_interval(ea, "char", cap=20, seed=seed)


def test_cross_sampled_estimate_within_three_standard_errors(pathway_factory):
    a, b = pathway_factory(40, seed=12), pathway_factory(30, seed=13)
    exact = distance.cross_mean_distance(a, b)
    est = distance.cross_mean_distance(a, b, max_pairs=400, seed=3)
    assert not est.exact and abs(est.value - exact.value) <= 3 * est.stderr


@pytest.mark.parametrize("paths", [[], ["1,2"]], ids=["empty", "one"])
def test_fewer_than_two_pathways_give_nan(paths):
    est = distance.mean_pairwise_distance(paths)
    assert math.isnan(est.value) and est.n_pairs == 0


def test_per_layer_means_equal_column_means(pathway_factory):
    paths = pathway_factory(15, seed=5)
    table = np.array([p.split("-") for p in paths], dtype=object)  # (15, 4)
    per_layer = distance.per_layer_mean_distance(table, level="expert")
    assert len(per_layer) == 4
    for layer, est in enumerate(per_layer):
        assert est.value == pytest.approx(slow_mean_within(list(table[:, layer]), "expert"))


@pytest.mark.parametrize("max_pairs", [None, 40], ids=["exact", "sampled"])
def test_per_layer_on_whole_pathways_equals_the_split_table(pathway_factory, max_pairs):
    paths = np.array(pathway_factory(30, seed=7), dtype=object)
    table = np.array([p.split("-") for p in paths], dtype=object)
    keys = np.arange(100, 130, dtype=np.uint64)
    whole = distance.per_layer_mean_distance(paths, "expert", max_pairs, seed=3, keys=keys)
    assert whole == distance.per_layer_mean_distance(table, "expert", max_pairs, seed=3, keys=keys)
    empty = distance.per_layer_mean_distance(np.array([], dtype=object), n_layers=4)
    assert len(empty) == 4 and all(math.isnan(e.value) for e in empty)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: distance.mean_pairwise_distance(["1", "2"], level="token"), "token"),
        (lambda: distance.mean_pairwise_distance(["1", "2"], max_pairs=0), "max_pairs"),
        (lambda: distance.mean_pairwise_distance(["1", "2"], block=0), "block"),
        (lambda: spelling.encode_expert_level(["1,x"]), "pathway"),
        (lambda: distance.per_layer_mean_distance(np.array([[["1"]]])), "shape"),
        (lambda: distance.per_layer_mean_distance(np.array([], dtype=object)), "shape"),
        (lambda: distance.per_layer_mean_distance(np.array(["1-2", "3", "4-5"], dtype=object)), "'3'.*2 layers"),
    ],
    ids=["unknown-level", "zero-budget", "zero-block", "not-a-pathway", "3d-layer-strings", "empty-no-layers",
         "ragged-pathways"],
)
def test_bad_input_raises(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@FAST
@given(pathway_strategy, pathway_strategy, st.sampled_from([Level.CHAR, Level.EXPERT]))
def test_distance_is_symmetric_and_zero_on_identical(a, b, level):
    matrix = distance.pairwise_distances([a, b, a], level=level)
    assert matrix[0, 1] == matrix[1, 0] == slow_distance(a, b, level.value)
    assert matrix[0, 2] == 0 and np.all(np.diag(matrix) == 0)


@FAST
@given(pathway_strategy, pathway_strategy, pathway_strategy, st.sampled_from(["char", "expert"]))
def test_triangle_inequality(a, b, c, level):
    d = distance.pairwise_distances([a, b, c], level=level)
    assert d[0, 2] <= d[0, 1] + d[1, 2]
