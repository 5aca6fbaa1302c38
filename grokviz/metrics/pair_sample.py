"""Which pairs of a group a sampled mean distance reads: uniform, and stable when members change.

Above a pair budget a group's mean pairwise distance is estimated from `m` sampled pairs (METHOD 3).
The sample here is a function of the members' *keys* (64-bit hashes of their sample ids, seeded),
not of their positions, so a group that gains or loses a few members between two analyses keeps
almost all of its pairs, and a pair's distance computed before can be reused (`grokviz.analysis.
paircache`): that is what makes adding a checkpoint cheap (t* is judged against the last checkpoint,
so group members move a little whenever one arrives).

How: every member falls in one of 2^b buckets (bits of a hash of its key); the candidates are the
pairs inside one bucket, b chosen so that about m to 2m pairs are candidates; the m candidates with
the smallest pair priority (a symmetric hash of both keys) are the sample. Every unordered pair of
the group is equally likely to be chosen (the hashes are uniform and independent of the distances),
so the sample mean is an unbiased estimate of the group mean; each member takes part in about as
many pairs as any other. The work is O(n + m), never O(n^2). Pure NumPy.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable

import numpy as np

_BUCKET_SALT = np.uint64(0x9E3779B97F4A7C15)
_PAIR_SALT = np.uint64(0xD1B54A32D192ED03)
_MEMBER_SALT = np.uint64(0x8CB92BA72F3D8DD7)
_MARGIN = 1.5  # expected candidates per needed pair, at least


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser on a uint64 array (a bijection that spreads every input bit)."""
    x = np.asarray(x, dtype=np.uint64)
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def member_keys(ids: Iterable[str], seed: int = 0) -> np.ndarray:
    """A seeded 64-bit key per sample id (the same id and seed give the same key everywhere).

    >>> bool(member_keys(["a"], 0)[0] == member_keys(["b", "a"], 0)[1] != member_keys(["a"], 1)[0])
    True
    """
    prefix = f"{int(seed)}\x1f".encode()
    return np.fromiter((int.from_bytes(hashlib.blake2b(prefix + str(i).encode(), digest_size=8).digest(), "little")
                        for i in ids), dtype=np.uint64)


def position_keys(n: int, seed: int = 0) -> np.ndarray:
    """Keys for members known only by their position 0..n-1 (callers without sample ids).

    >>> keys = position_keys(3, seed=0)
    >>> keys.dtype.name, len(set(keys.tolist())), bool((keys == position_keys(3, seed=0)).all())
    ('uint64', 3, True)
    """
    base = np.uint64(int.from_bytes(hashlib.blake2b(f"{int(seed)}".encode(), digest_size=8).digest(), "little"))
    with np.errstate(over="ignore"):
        return _mix(np.arange(n, dtype=np.uint64) * _BUCKET_SALT + base)


def salted(keys: np.ndarray, salt: int | str) -> np.ndarray:
    """Other keys for the same members (one independent family per salt).

    >>> keys = position_keys(4)
    >>> bool((salted(keys, "a") == salted(keys, "a")).all()), bool((salted(keys, "a") != salted(keys, "b")).all())
    (True, True)
    """
    digest = hashlib.blake2b(str(salt).encode(), digest_size=8).digest()
    return _mix(np.asarray(keys, dtype=np.uint64) ^ np.uint64(int.from_bytes(digest, "little")))


def bottom(keys: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k members with the smallest key, in key order: a uniform sample of k members
    without replacement that keeps its members when others join or leave.

    >>> bottom(np.array([5, 1, 9, 3], dtype=np.uint64), 2).tolist()
    [1, 3]
    """
    rank = _mix(np.asarray(keys, dtype=np.uint64) ^ _MEMBER_SALT)
    if k >= len(rank):
        return np.argsort(rank, kind="stable")
    chosen = np.argpartition(rank, k - 1)[:k]
    return chosen[np.argsort(rank[chosen], kind="stable")]


def pair_priority(key_a: np.ndarray, key_b: np.ndarray) -> np.ndarray:
    """A uniform 64-bit priority per unordered pair of keys (symmetric in a and b).

    >>> a, b = position_keys(2)
    >>> bool(pair_priority(a, b) == pair_priority(b, a))
    True
    """
    a, b = np.asarray(key_a, dtype=np.uint64), np.asarray(key_b, dtype=np.uint64)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    with np.errstate(over="ignore"):
        return _mix(_mix(lo ^ _PAIR_SALT) + hi)


def _buckets(keys: np.ndarray, bits: int) -> np.ndarray:
    if bits <= 0:
        return np.zeros(len(keys), dtype=np.uint64)
    return _mix(np.asarray(keys, dtype=np.uint64) ^ _BUCKET_SALT) >> np.uint64(64 - bits)


def _expand(starts: np.ndarray, stops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (r, s) with starts[r] <= s < stops[r], as two flat arrays."""
    counts = np.maximum(stops - starts, 0)
    owner = np.repeat(np.arange(len(starts)), counts)
    offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    return owner, starts[owner] + offsets


def _within_candidates(keys: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """All pairs (i, j), i != j, of members in the same bucket; each unordered pair once."""
    bucket = _buckets(keys, bits)
    order = np.argsort(bucket, kind="stable")
    sorted_bucket = bucket[order]
    ends = np.searchsorted(sorted_bucket, sorted_bucket, side="right")
    first, second = _expand(np.arange(1, len(order) + 1), ends)
    return order[first], order[second]


def _cross_candidates(keys_a: np.ndarray, keys_b: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """All pairs (i of a, j of b) whose members share a bucket."""
    bucket_a, bucket_b = _buckets(keys_a, bits), _buckets(keys_b, bits)
    order_b = np.argsort(bucket_b, kind="stable")
    sorted_b = bucket_b[order_b]
    i, pos = _expand(np.searchsorted(sorted_b, bucket_a, side="left"), np.searchsorted(sorted_b, bucket_a, side="right"))
    return i, order_b[pos]


def _sample(candidates, keys_a: np.ndarray, keys_b: np.ndarray, n_pairs: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """The m smallest-priority candidates, at the finest bucket level that offers m of them: about
    1.5m to 3m are expected there, so a few members more or less almost never change the level."""
    bits = max(0, int(np.floor(np.log2(n_pairs / (_MARGIN * m)))))
    while True:
        i, j = candidates(bits)
        if len(i) >= m or bits == 0:
            break
        bits -= 1
    priority = pair_priority(keys_a[i], keys_b[j])
    if len(i) > m:
        keep = np.argpartition(priority, m - 1)[:m]
        i, j, priority = i[keep], j[keep], priority[keep]
    order = np.argsort(priority, kind="stable")
    return _frozen(i[order]), _frozen(j[order])


def _frozen(values: np.ndarray) -> np.ndarray:
    values = np.ascontiguousarray(values, dtype=np.int64)
    values.flags.writeable = False
    return values


@functools.lru_cache(maxsize=512)
def _within_cached(raw: bytes, m: int) -> tuple[np.ndarray, np.ndarray]:
    keys = np.frombuffer(raw, dtype=np.uint64)
    n = len(keys)
    return _sample(lambda bits: _within_candidates(keys, bits), keys, keys, n * (n - 1) // 2, m)


def within_pairs(keys: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """min(m, n(n-1)/2) distinct unordered pairs (i, j), i != j, of the members with these keys.

    Positions index `keys`; the set chosen depends on the keys, not on their order.

    >>> keys = position_keys(30)
    >>> i, j = within_pairs(keys, 50)
    >>> len(i), bool((i != j).all()), len({frozenset(p) for p in zip(i.tolist(), j.tolist())})
    (50, True, 50)
    """
    keys = np.ascontiguousarray(keys, dtype=np.uint64)
    n = len(keys)
    if m < 1:
        raise ValueError(f"the pair budget must be at least 1, got {m}")
    if n < 2:
        return _frozen(np.zeros(0)), _frozen(np.zeros(0))
    if m >= n * (n - 1) // 2:
        i, j = np.triu_indices(n, k=1)
        return _frozen(i), _frozen(j)
    return _within_cached(keys.tobytes(), int(m))


def cross_pairs(keys_a: np.ndarray, keys_b: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """min(m, n_a n_b) distinct pairs (i of a, j of b), chosen as `within_pairs` chooses.

    >>> i, j = cross_pairs(position_keys(20, 1), position_keys(15, 2), 40)
    >>> len(set(zip(i.tolist(), j.tolist())))
    40
    """
    keys_a = np.ascontiguousarray(keys_a, dtype=np.uint64)
    keys_b = np.ascontiguousarray(keys_b, dtype=np.uint64)
    if m < 1:
        raise ValueError(f"the pair budget must be at least 1, got {m}")
    n_pairs = len(keys_a) * len(keys_b)
    if m >= n_pairs:
        i, j = np.divmod(np.arange(n_pairs), len(keys_b))
        return _frozen(i), _frozen(j)
    return _sample(lambda bits: _cross_candidates(keys_a, keys_b, bits), keys_a, keys_b, n_pairs, int(m))
