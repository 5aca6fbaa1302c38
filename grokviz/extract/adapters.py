"""One small adapter per MoE family: where its routers are and how many experts it has.

Selected by `config.model_type`. Every supported family's router in transformers 5.x is a
`*TopKRouter` module inside each sparse decoder layer whose forward returns
`(router_logits, top_k_weights, top_k_index)` and whose `weight` is the (E, d) matrix METHOD.md
section 4 needs. Hooks on those modules see exactly what the model used (DESIGN.md: more
robust than the `router_logits` the model returns, which vary by version). Torch lives here
and in capture/extract only.
"""

from __future__ import annotations

import dataclasses

import torch

from grokviz.errors import ModelError


@dataclasses.dataclass(frozen=True)
class Adapter:
    """How to find a family's routers; `experts_field` names its expert count in the config."""

    family: str
    experts_field: str
    router_class_suffix: str = "topkrouter"

    def routers(self, model: torch.nn.Module) -> list[tuple[int, torch.nn.Module]]:
        """(decoder layer index, router module) for every sparse layer, in depth order."""
        layers = _decoder_layers(model)
        found = []
        for index, layer in enumerate(layers):
            routers = [m for m in layer.modules()
                       if type(m).__name__.lower().endswith(self.router_class_suffix)]
            if len(routers) > 1:
                raise ModelError(f"{self.family}: layer {index} has {len(routers)} routers")
            if routers:
                found.append((index, routers[0]))
        if not found:
            raise ModelError(f"{self.family}: no router modules found in the decoder layers")
        return found

    def num_experts(self, config) -> int:
        """E, the number of routed experts."""
        return int(getattr(config, self.experts_field))


ADAPTERS: dict[str, Adapter] = {
    "olmoe": Adapter("olmoe", "num_experts"),
    "mixtral": Adapter("mixtral", "num_local_experts"),
    "qwen2_moe": Adapter("qwen2_moe", "num_experts"),
    "qwen3_moe": Adapter("qwen3_moe", "num_experts"),
    "granitemoe": Adapter("granitemoe", "num_local_experts"),
    "gpt_oss": Adapter("gpt_oss", "num_local_experts"),
}


def adapter_for(model_type: str) -> Adapter:
    """The adapter of a family, or an error naming the supported ones.

    >>> adapter_for("olmoe").experts_field
    'num_experts'
    """
    try:
        return ADAPTERS[model_type]
    except KeyError:
        supported = ", ".join(sorted(ADAPTERS))
        raise ModelError(f"model type {model_type!r} is not a supported MoE family "
                         f"(supported: {supported})") from None


def _decoder_layers(model: torch.nn.Module) -> torch.nn.ModuleList:
    base = getattr(model, "model", model)
    layers = getattr(base, "layers", None)
    if layers is None:
        raise ModelError(f"{type(model).__name__}: no decoder layers at model.model.layers")
    return layers


def router_weights(routers: list[tuple[int, torch.nn.Module]]) -> list[torch.Tensor]:
    """Each sparse layer's router weight matrix, (E, d), on the CPU in float32."""
    return [module.weight.detach().float().cpu() for _, module in routers]
