"""Wall time and peak memory per stage of `analyze`, for `AnalyzeReport.stages` and the benchmarks.

Each timed span is logged at DEBUG on this module's logger as "analyze stage NAME: T s, peak RSS
so far N MiB", and each tally (pair distances computed or reused) as "analyze count NAME: N"
(benchmarks/bench_scale.py reads these lines).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator

log = logging.getLogger(__name__)


class Stages(dict):
    """Wall seconds per named stage, summed over repeats; each timed span is logged at DEBUG. A
    stage timed inside another (reading inside pathways) counts for itself only: the enclosing
    stage's seconds exclude it, so the stages add up to the whole.

    >>> stages = Stages()
    >>> with stages.time("outer"):
    ...     with stages.time("inner"):
    ...         _ = sum(range(10**5))
    >>> stages["outer"] < stages["inner"] + 0.05 and set(stages) == {"outer", "inner"}
    True
    """

    def __init__(self) -> None:
        super().__init__()
        self._nested: list[float] = []  # per open stage: seconds spent in stages inside it
        self.counts: dict[str, int] = {}  # tallies: what was computed and what was reused

    def count(self, name: str, n: int) -> None:
        """Add `n` to the tally `name` (logged at DEBUG)."""
        self.counts[name] = self.counts.get(name, 0) + int(n)
        log.debug("analyze count %s: %d", name, int(n))

    @contextlib.contextmanager
    def time(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        self._nested.append(0.0)
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            own = elapsed - self._nested.pop()
            if self._nested:
                self._nested[-1] += elapsed
            self[name] = self.get(name, 0.0) + own
            log.debug("analyze stage %s: %.3f s, peak RSS so far %.0f MiB", name, own, _peak_rss_mib())


def _peak_rss_mib() -> float:
    """This process's peak resident memory so far (NaN where the platform cannot say)."""
    try:
        import resource
    except ImportError:  # Windows
        return float("nan")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
