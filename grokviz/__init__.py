"""grokviz: see where and when an MoE LLM stops memorising and starts generalising, without a test set.

Stages (README, "Architecture"): inputs -> extract (torch) -> store (Parquet + DuckDB) ->
analysis (NumPy) -> figures -> dashboard / report / CLI. The Python API:

    import grokviz
    store = grokviz.open("data")
    run = store.run("demo")
    run.table("group_metrics")           # any table of the export contract
    run.figure("metrics", group="pow3")  # any dashboard figure by name

Importing the package imports nothing heavy; `open` loads the store layer when called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.2.0"

if TYPE_CHECKING:
    from grokviz.api import StoreHandle


def open(root: str = "data", create: bool = False) -> StoreHandle:
    """Open the grokviz store at `root` (see `grokviz.api.StoreHandle`)."""
    from grokviz.api import open_store

    return open_store(root, create=create)


__all__ = ["open", "__version__"]
