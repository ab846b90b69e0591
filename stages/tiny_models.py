"""The built-in tiny models: small GPT-NeoX and Falcon models trained on the pipeline's text.

They stand in for RedPajama-INCITE-Chat-3B (GPT-NeoX) and falcon-7b-instruct on machines
without a GPU or Hub access: same architecture classes, same chat templates, a byte-level
BPE tokenizer trained here, and a short causal-LM pre-training on the dialogue turns.
"""

from __future__ import annotations

import logging
import math

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from tqdm.auto import tqdm
from transformers import (
    FalconConfig,
    FalconForCausalLM,
    GPTNeoXConfig,
    GPTNeoXForCausalLM,
    PreTrainedModel,
    PreTrainedTokenizerFast,
)

from stages.families import TINY_MODELS

log = logging.getLogger(__name__)

EOS, PAD, UNK = "<|endoftext|>", "<|padding|>", "<|unk|>"
BLOCK_SIZE = 64  # tokens per pre-training sequence


def train_tokenizer(texts: list[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE tokenizer (the kind GPT-NeoX and Falcon use) on ``texts``."""
    tokenizer = Tokenizer(models.BPE(unk_token=UNK))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS, PAD, UNK],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # every byte stays encodable
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, eos_token=EOS, bos_token=EOS, pad_token=PAD, unk_token=UNK
    )


def build_model(name: str, tokenizer: PreTrainedTokenizerFast, tiny: dict) -> PreTrainedModel:
    """Build an untrained tiny model of the named architecture from a config."""
    common = dict(
        vocab_size=len(tokenizer),
        hidden_size=tiny["hidden_size"],
        num_hidden_layers=tiny["num_layers"],
        num_attention_heads=tiny["num_heads"],
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    if name == "tiny-neox":
        config = GPTNeoXConfig(
            intermediate_size=4 * tiny["hidden_size"],
            max_position_embeddings=tiny["max_positions"],
            **common,
        )
        return GPTNeoXForCausalLM(config)
    if name == "tiny-falcon":
        # falcon-7b layout: multi-query attention, parallel attention and MLP, rotary positions.
        config = FalconConfig(
            new_decoder_architecture=False, multi_query=True, parallel_attn=True, bias=False,
            max_position_embeddings=tiny["max_positions"], **common,
        )
        return FalconForCausalLM(config)
    raise ValueError(f"unknown tiny model {name!r}; choose one of {sorted(TINY_MODELS)}")


def pack_blocks(texts: list[str], tokenizer: PreTrainedTokenizerFast) -> torch.Tensor:
    """Concatenate the texts, each ended by EOS, into blocks of BLOCK_SIZE tokens."""
    ids: list[int] = []
    for text in texts:
        ids.extend(tokenizer(text, add_special_tokens=False).input_ids + [tokenizer.eos_token_id])
    n_blocks = len(ids) // BLOCK_SIZE
    if n_blocks == 0:
        raise ValueError(f"pre-training text has {len(ids)} tokens, fewer than one block of {BLOCK_SIZE}")
    return torch.tensor(ids[: n_blocks * BLOCK_SIZE]).view(n_blocks, BLOCK_SIZE)  # (N, T)


def pretrain(model: PreTrainedModel, blocks: torch.Tensor, tiny: dict, seed: int) -> float:
    """Train the model as a causal LM on the blocks; return the last epoch's mean loss."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=tiny["learning_rate"])
    batch_size, epochs = tiny["batch_size"], tiny["pretrain_epochs"]
    steps = epochs * math.ceil(len(blocks) / batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, tiny["learning_rate"], total_steps=steps)

    model.train()
    epoch_loss = float("nan")
    with tqdm(total=steps, desc="pre-training", unit="step") as progress:
        for epoch in range(epochs):
            losses = []
            for batch in blocks[torch.randperm(len(blocks), generator=generator)].split(batch_size):
                loss = model(input_ids=batch, labels=batch).loss
                loss.backward()
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
                losses.append(loss.item())
                progress.update()
            epoch_loss = sum(losses) / len(losses)
            progress.set_postfix(epoch=epoch, loss=f"{epoch_loss:.3f}")
    model.eval()
    return epoch_loss
