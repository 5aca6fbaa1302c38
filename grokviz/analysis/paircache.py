"""Distances of sampled pairs at one checkpoint, kept so a later analysis reads instead of computing.

A pair is known by the keys of its two members (`grokviz.metrics.pair_sample.member_keys`, seeded
hashes of sample ids); its value is one distance, or one per layer. Because sampled pairs are stable
when a group's members change (`pair_sample`), a group that gained or lost a few members since the
last analysis finds nearly all of its pairs here and computes only the new ones. Distances are
exact integers, so results read from the cache equal a recomputation bit for bit. Pure NumPy;
`grokviz.analysis.run` stores one table per checkpoint and kind in the step cache.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa

from grokviz.metrics.pair_sample import pair_priority


class PairCache:
    """(lo key, hi key) -> `width` int distances; lookups by the pair's priority, checked on both keys."""

    def __init__(self, width: int, table: pa.Table | None = None,
                 load: Callable[[], pa.Table | None] | None = None) -> None:
        self.width = width
        # with `load`, the stored table is read on first use: a checkpoint whose groups all come from
        # the step cache never reads its pairs
        self._load = load if load is not None else (lambda: table)
        self._ready = False
        self.new: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.computed = 0  # pairs computed (not found) since loading
        self.found = 0  # pairs read

    def _ensure(self) -> None:
        if not self._ready:
            self._index(self._load())
            self._ready = True

    def _index(self, table: pa.Table | None) -> None:
        width = self.width
        lo = hi = np.zeros(0, dtype=np.uint64)
        values = np.zeros((0, width), dtype=np.int32)
        if table is not None and table.num_rows and table.num_columns == width + 2:
            lo, hi = (table.column(c).to_numpy().astype(np.uint64) for c in ("lo", "hi"))
            values = np.column_stack([table.column(f"d{k}").to_numpy() for k in range(width)]).astype(np.int32)
        priority = pair_priority(lo, hi)
        order = np.argsort(priority, kind="stable")
        self.priority, self.lo, self.hi, self.values = priority[order], lo[order], hi[order], values[order]
        self.used = np.zeros(len(order), dtype=bool)

    def get(self, keys_a: np.ndarray, keys_b: np.ndarray, compute: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """(m, width) distances of the pairs (keys_a[k], keys_b[k]); the missing ones from `compute(mask)`."""
        self._ensure()
        a, b = np.asarray(keys_a, dtype=np.uint64), np.asarray(keys_b, dtype=np.uint64)
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        priority = pair_priority(lo, hi)
        out = np.empty((len(lo), self.width), dtype=np.int64)
        hit = np.zeros(len(lo), dtype=bool)
        if len(self.priority):
            pos = np.minimum(np.searchsorted(self.priority, priority), len(self.priority) - 1)
            hit = (self.priority[pos] == priority) & (self.lo[pos] == lo) & (self.hi[pos] == hi)
            out[hit] = self.values[pos[hit]]
            self.used[pos[hit]] = True
            self.found += int(hit.sum())
        missing = ~hit
        if missing.any():
            fresh = np.asarray(compute(missing), dtype=np.int64).reshape(int(missing.sum()), self.width)
            out[missing] = fresh
            self.new.append((lo[missing], hi[missing], fresh))
            self.computed += int(missing.sum())
        return out

    def to_arrow(self) -> pa.Table:
        """The pairs read or computed since loading (each once): what the next analysis needs."""
        self._ensure()
        parts = [(self.lo[self.used], self.hi[self.used], self.values[self.used]), *self.new]
        lo = np.concatenate([p[0] for p in parts])
        hi = np.concatenate([p[1] for p in parts])
        values = np.concatenate([p[2] for p in parts]).astype(np.int32)
        # one row per priority: two different pairs with the same 64-bit priority (about never) keep one,
        # and the other is simply computed again next time
        _, first = np.unique(pair_priority(lo, hi), return_index=True)
        columns = {"lo": pa.array(lo[first]), "hi": pa.array(hi[first])}
        columns |= {f"d{k}": pa.array(values[first, k]) for k in range(self.width)}
        return pa.table(columns)
