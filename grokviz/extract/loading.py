"""Open a checkpoint for inference: device and dtype, the model with its family adapter, the
tokenizer, and the model shape a run records.

The only module that calls `from_pretrained`. Weights load with safetensors (pickle `.bin`
files only through `torch.load(weights_only=True)`, transformers' default); `trust_remote_code`
only when asked. Errors name the checkpoint and what is wrong.
"""

from __future__ import annotations

import torch

from grokviz.config import Device
from grokviz.errors import ModelError
from grokviz.extract.adapters import Adapter, adapter_for
from grokviz.inputs import checkpoints as ckpts


def pick_device(device: Device, dtype: str | None) -> tuple[torch.device, torch.dtype]:
    """CUDA (bf16) when asked or available under `auto`, else CPU (fp32)."""
    use_cuda = device == Device.CUDA or (device == Device.AUTO and torch.cuda.is_available())
    if device == Device.CUDA and not torch.cuda.is_available():
        raise ModelError("--device cuda asked for, but no CUDA device is available")
    chosen = dtype or ("bfloat16" if use_cuda else "float32")
    return torch.device("cuda" if use_cuda else "cpu"), getattr(torch, chosen)


def load_model(checkpoint: ckpts.Checkpoint, device: torch.device, dtype: torch.dtype,
               trust_remote_code: bool = False) -> tuple[torch.nn.Module, Adapter]:
    """Load one checkpoint for inference; errors name the checkpoint and what is wrong."""
    from transformers import AutoConfig, AutoModelForCausalLM

    where = f"{checkpoint.path}" + (f"@{checkpoint.revision}" if checkpoint.revision else "")
    try:
        config = AutoConfig.from_pretrained(checkpoint.path, revision=checkpoint.revision,
                                            trust_remote_code=trust_remote_code)
    except Exception as err:
        hint = ("; it ships its own model code: pass --trust-remote-code only if you trust it"
                if "custom code" in str(err) and not trust_remote_code else "")
        raise ModelError(f"{where}: cannot read the model config ({type(err).__name__}: "
                         f"{str(err).splitlines()[0] if str(err) else ''}){hint}") from None
    adapter = adapter_for(config.model_type)
    try:
        model = AutoModelForCausalLM.from_pretrained(
            checkpoint.path, revision=checkpoint.revision, dtype=dtype,
            trust_remote_code=trust_remote_code)
    except Exception as err:
        raise ModelError(f"{where}: cannot load the weights ({type(err).__name__}: "
                         f"{str(err).splitlines()[0] if str(err) else ''})") from None
    return model.to(device).eval(), adapter


def model_info(model: torch.nn.Module, adapter: Adapter) -> dict:
    """The shape every checkpoint of a run must share."""
    routers = adapter.routers(model)
    config = model.config
    return {
        "model_type": config.model_type, "n_layers": len(routers),
        "n_experts": adapter.num_experts(config), "top_k": int(config.num_experts_per_tok),
        "vocab_size": int(config.vocab_size), "hidden_size": int(config.hidden_size),
        "decoder_layers": [index for index, _ in routers],
    }


def load_tokenizer(source: str, revision: str | None, trust_remote_code: bool):
    """The checkpoint's tokenizer (or the one given with --tokenizer)."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(source, revision=revision,
                                             trust_remote_code=trust_remote_code)
    except Exception as err:
        raise ModelError(f"{source}: cannot load a tokenizer ({type(err).__name__})") from None
