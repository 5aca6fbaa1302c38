"""One checkpoint of the analysis in parts a cache can keep: per-sample results and group results.

`sample_part` is what a checkpoint alone decides: every sample's pathway, kept experts,
consistency, mean layer cosine and loss, and the routing entropy. It depends
on the checkpoint's files and the pathway settings only, so `grokviz.analysis.run` caches it per
checkpoint. Group results (distances, bands, nulls) depend on which samples a group holds, which
changes when checkpoints are added (t* is measured against the last one); `GroupCache` keys each
group's rows by its name and a hash of its members, so a group whose members did not change is
never computed twice, and the results equal a recomputation from scratch. Pure: no store.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa

from grokviz import names
from grokviz.analysis import flows, pathway_stats
from grokviz.figures import sankey
from grokviz.metrics.health import routing_entropy

PART_COLUMNS = [names.SAMPLE_ID, "pathway", "n_kept", "consistency", "mean_cosine", names.LOSS]


@dataclasses.dataclass
class StepPart:
    """Per-sample results of one checkpoint."""

    table: pd.DataFrame  # PART_COLUMNS (+ step), one row per sample in file order
    n_layers: int  # layers of each pathway: its per-layer strings are the pathway split on "-"
    entropy: np.ndarray  # shape: (n_layers,)  mean routing entropy over samples
    flows: pd.DataFrame | None = None  # `flows.step_flows` rows, when computed with the part (not kept with it)

    def to_arrow(self) -> pa.Table:
        """As one table: the columns, and the entropy in the schema metadata."""
        table = pa.Table.from_pandas(self.table[PART_COLUMNS], preserve_index=False)
        return table.replace_schema_metadata({b"entropy": self.entropy.astype(np.float64).tobytes(),
                                              b"layers": str(self.n_layers).encode()})

    @staticmethod
    def from_arrow(table: pa.Table, step: int) -> StepPart:
        frame = table.to_pandas()
        entropy = np.frombuffer(table.schema.metadata[b"entropy"], dtype=np.float64)
        part = frame[PART_COLUMNS].assign(**{names.STEP: step})
        return StepPart(part, int(table.schema.metadata[b"layers"]), entropy)


def sample_part(step: int, frame: pd.DataFrame, dist: np.ndarray, router: list[np.ndarray], tau: float | None,
                top_k: int | None, weights: str, cosine: str, tokens: pathway_stats.StepTokens | None,
                groups: np.ndarray | None = None) -> StepPart:
    """Pathways, consistency and entropy of every sample of one checkpoint; with each row's group
    and the flows' tau, also the groups' per-sample flows, from the same ranking."""
    sums = flows.FlowSums(groups, *dist.shape[1:]) if groups is not None and top_k is None \
        and tau == sankey.FLOW_TAU else None
    table = pathway_stats.step_pathways(step, frame, dist, router, tau, top_k, weights, cosine, tokens,
                                        sums.add if sums is not None else None)
    return StepPart(table, dist.shape[1], routing_entropy(dist).mean(axis=0),
                    sums.table(step, dist) if sums is not None else None)


def members_key(ids) -> str:
    """A short hash of a group's members (order does not matter).

    >>> members_key(["b", "a"]) == members_key(["a", "b"])
    True
    >>> members_key((["a"], ["b"])) == members_key((["b"], ["a"]))  # a tuple: its parts, in order
    False
    """
    if isinstance(ids, tuple):
        return "+".join(members_key(part) for part in ids)
    joined = "\n".join(sorted(map(str, ids)))
    return hashlib.sha256(joined.encode()).hexdigest()[:16]


class MemberKeys(pathway_stats.ByIdentity):
    """`members_key` of each group, computed once per member array (hashing 10,000 sorted ids costs
    milliseconds each time)."""

    def __init__(self) -> None:
        super().__init__(members_key)

    def __call__(self, members) -> str:
        if isinstance(members, tuple):  # built afresh at each checkpoint: its parts are the same arrays
            return "+".join(self(part) for part in members)
        return super().__call__(members)


class GroupCache:
    """Rows per (name, members): reused when present, computed and remembered when not."""

    def __init__(self, rows: pd.DataFrame | None = None, keyed: Callable[[object], str] = members_key) -> None:
        self.keyed = keyed
        self.entries: dict[str, list[dict]] = {}
        self.used: set[str] = set()
        self.computed = 0  # entries computed this call (nothing to write back when 0)
        if rows is not None and len(rows):
            self.entries = dict(zip(rows["cache_key"].astype(str), map(json.loads, rows["rows"])))

    def rows(self, name: str, members, compute: Callable[[], list[dict]]) -> list[dict]:
        """The rows of `name` with these members (computed by `compute` unless cached)."""
        key = f"{name}|{self.keyed(members)}"
        if key not in self.entries:
            self.entries[key] = compute()
            self.computed += 1
        self.used.add(key)
        return self.entries[key]

    def frame(self) -> pd.DataFrame:
        """The entries in use this call, one row each: `cache_key` and its rows as JSON (what is
        written back; JSON keeps each value's type, so cached rows build the same frame as fresh ones)."""
        used = sorted(self.used)
        return pd.DataFrame({"cache_key": used, "rows": [json.dumps(self.entries[k], default=_plain) for k in used]})


def _plain(value):
    """NumPy scalars as the Python numbers JSON writes."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot cache a {type(value).__name__}")


def seed_of(seed: int, name: str) -> int:
    """A per-group seed, so a group's sampled pairs do not depend on which other groups exist.

    >>> seed_of(0, "math") == seed_of(0, "math") != seed_of(0, "code")
    True
    """
    return int(hashlib.sha256(f"{seed}:{name}".encode()).hexdigest()[:8], 16)
