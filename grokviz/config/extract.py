"""`ExtractConfig`: the settings of one `grokviz extract` call, saved in the run's provenance."""

from __future__ import annotations

import dataclasses
from typing import Any

from grokviz.config.base import Device, RouteSpan, _positive, check_run_name, to_jsonable
from grokviz.errors import InputError


@dataclasses.dataclass(frozen=True)
class ExtractConfig:
    """Settings of one `grokviz extract` call; saved in the run's provenance."""

    run: str
    model: str
    samples: str
    revisions: tuple[str, ...] = ()
    steps: tuple[int, ...] = ()
    tokenizer: str | None = None
    device: Device = Device.AUTO
    dtype: str | None = None  # None: bf16 on CUDA, fp32 on CPU
    max_length: int = 2048
    token_budget: int = 16384
    token_routes: int | None = 8  # per group, first N samples; None = all
    route_span: RouteSpan = RouteSpan.AUTO
    shard: tuple[int, int] = (0, 1)
    part_size: int = 256
    trust_remote_code: bool = False
    token_means: bool = True  # each token id's mean routing per checkpoint (the token-identity null)

    def __post_init__(self) -> None:
        check_run_name(self.run)
        object.__setattr__(self, "device", Device(self.device))
        object.__setattr__(self, "route_span", RouteSpan(self.route_span))
        for name in ("max_length", "token_budget", "part_size"):
            _positive(getattr(self, name), name)
        if self.token_routes is not None and self.token_routes < 0:
            raise InputError("must be >= 0 or 'all'", field="token_routes")
        index, count = self.shard
        if not (count >= 1 and 0 <= index < count):
            raise InputError(f"shard must be i/n with 0 <= i < n, got {index}/{count}", field="shard")
        if self.revisions and self.steps:
            raise InputError("give either revisions or steps, not both", field="revisions")
        if self.dtype not in (None, "float32", "bfloat16", "float16"):
            raise InputError(f"dtype must be float32, bfloat16 or float16, got {self.dtype!r}",
                             field="dtype")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe provenance record."""
        return to_jsonable(self)
