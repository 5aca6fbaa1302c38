"""The Python API: open a store, pick a run, get its tables and figures.

    >>> import grokviz
    >>> store = grokviz.open("data")                  # doctest: +SKIP
    >>> run = store.run("demo")                       # doctest: +SKIP
    >>> run.table("pathways").head()                  # doctest: +SKIP
    >>> run.figure("sankey", step=run.steps()[-1])    # doctest: +SKIP

`StoreHandle` lists runs and runs the analysis; `Run` (grokviz.api.run) reads one run. Both
read snapshots of complete files, so they are safe beside a running extraction.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from grokviz.api.figures import KINDS
from grokviz.api.run import Run
from grokviz.config import AnalyzeConfig
from grokviz.store.layout import Store
from grokviz.store.summary import store_summary


class StoreHandle:
    """A grokviz store folder."""

    def __init__(self, root: str | Path, create: bool = False) -> None:
        self.store = Store(root, create=create)

    def __repr__(self) -> str:
        return f"grokviz.open({str(self.store.root)!r})"

    def runs(self) -> list[str]:
        """Names of the runs in the store."""
        return self.store.runs()

    def run(self, name: str) -> Run:
        """One run, read through a snapshot of its complete files."""
        return Run(self.store, name)

    def info(self) -> dict[str, Any]:
        """What the store holds: runs, model shapes, groups, checkpoints (as `grokviz info --json`)."""
        return store_summary(self.store)

    def analyze(self, run: str, **settings: Any):
        """Run (or reuse) the analysis of a run; settings as `grokviz.config.AnalyzeConfig`."""
        from grokviz.analysis.run import analyze

        return analyze(AnalyzeConfig(run=run, **settings), self.store, progress=False)


def open_store(root: str | Path = "data", create: bool = False) -> StoreHandle:
    """Open the store at `root` (an error when there is none, unless `create`)."""
    return StoreHandle(root, create=create)


__all__ = ["Run", "StoreHandle", "open_store", "KINDS"]
