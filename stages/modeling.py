"""Loading the base model, its tokenizer and the LoRA adapters the way every stage does.

The base_model stage writes ``data/models/base/model.json``. For a built-in tiny model
the weights sit next to it. For a Hub id or an outside path the file names that location,
so a multi-GB checkpoint is not copied into the DVC cache.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from peft import LoraConfig, PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from stages.families import get_family
from stages.tables import VARIANTS

BASE_DIR = Path("data/models/base")
ADAPTER_DIRS = {"FT": Path("data/models/ft_adapter"), "RL": Path("data/models/rl_adapter")}
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def base_location(base_dir: Path = BASE_DIR) -> str:
    """Return what ``from_pretrained`` should load: the local copy, a Hub id or a path."""
    info_file = base_dir / "model.json"
    if not info_file.is_file():
        raise FileNotFoundError(f"{info_file} not found; run `dvc repro base_model` first")
    return json.loads(info_file.read_text())["location"]


def get_dtype(name: str) -> torch.dtype:
    try:
        return DTYPES[name]
    except KeyError:
        raise ValueError(f"unknown model.dtype {name!r}; choose one of {sorted(DTYPES)}") from None


def load_tokenizer(location: str) -> PreTrainedTokenizerBase:
    """Load a tokenizer set up for batched generation: left padding, a pad token."""
    tokenizer = AutoTokenizer.from_pretrained(location)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token  # GPT-NeoX and Falcon ship no pad token
    return tokenizer


def device() -> torch.device:
    """This process's GPU (``LOCAL_RANK`` under a launcher) when there is one, else the CPU."""
    if not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))


def load_model(location: str, dtype: str, adapter: Path | None = None,
               attn_implementation: str | None = None) -> PreTrainedModel:
    """Load the base model in eval mode on the device, with a LoRA adapter merged in when given.

    ``attn_implementation="eager"`` is needed to read attention weights (the attention
    attribution method); the default lets transformers choose.
    """
    model = AutoModelForCausalLM.from_pretrained(
        location, dtype=get_dtype(dtype), attn_implementation=attn_implementation
    ).to(device())
    if adapter is not None:

        if not (adapter / "adapter_config.json").is_file():
            raise FileNotFoundError(f"no LoRA adapter in {adapter}; run the stage that trains it")
        # Merging gives a plain transformers model, which generation and inseq handle as is.
        model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    return model.eval()


def load_variant(variant: str, dtype: str,
                 attn_implementation: str | None = None) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load the model of a variant: PT is the base model, FT and RL add their adapter."""
    location = base_location()
    adapter = ADAPTER_DIRS.get(variant)
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; expected one of {VARIANTS}")
    return load_model(location, dtype, adapter, attn_implementation), load_tokenizer(location)


def lora_config(section: dict, family_name: str) -> LoraConfig:
    """LoRA settings of a training stage; target modules default to the family's."""
    targets = section["target_modules"] or list(get_family(family_name).lora_targets)
    return LoraConfig(
        r=section["lora_r"], lora_alpha=section["lora_alpha"], lora_dropout=section["lora_dropout"],
        target_modules=targets, task_type="CAUSAL_LM",
    )
