"""Stage generate: PT, FT and RL generations for every evaluation prompt.

Run: ``python -m stages.generate``. Batched generation with left padding and the study's
decoding settings (``generate`` in params.yaml). Each batch is seeded from ``base.seed``,
the variant and the batch index, so a run resumed after an interruption produces the
same generations as an uninterrupted one. Generations made elsewhere (``generate.external``,
see ``stages/external.py``) are appended. Writes ``data/generations/generations.parquet``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import torch
from tqdm.auto import tqdm

from stages.checkpoints import checkpoint_dir, finish, fingerprint
from stages.distributed import is_main, is_mine, wait_for_everyone, world
from stages.external import add_external
from stages.modeling import ADAPTER_DIRS, BASE_DIR, base_location, load_variant
from stages.params import load_params, setup_logging, stage_args
from stages.tables import VARIANTS, read_table, write_table

log = logging.getLogger("stages.generate")

PROMPTS = Path("data/prepared/prompts.parquet")
OUTPUT = Path("data/generations/generations.parquet")


def generated_ids(sequences: torch.Tensor, n_prompt: int, eos_id: int) -> list[list[int]]:
    """Cut each row after the prompt and at its first EOS: the generated token ids."""
    rows = []
    for row in sequences[:, n_prompt:].tolist():  # (B, T_new)
        rows.append(row[: row.index(eos_id)] if eos_id in row else row)
    return rows


def generate_batch(model, tokenizer, prompts: list[str], settings: dict, seed: int) -> list[list[int]]:
    inputs = tokenizer(prompts, return_tensors="pt", padding=True).to(model.device)
    torch.manual_seed(seed)
    with torch.no_grad():
        sequences = model.generate(
            **inputs,
            max_new_tokens=settings["max_new_tokens"],
            min_new_tokens=settings["min_new_tokens"],
            do_sample=settings["do_sample"],
            temperature=settings["temperature"],
            top_p=settings["top_p"],
            top_k=settings["top_k"],
            no_repeat_ngram_size=settings["no_repeat_ngram_size"],
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
    return generated_ids(sequences, inputs["input_ids"].shape[1], tokenizer.eos_token_id)


def generate_variant(variant: str, prompts: pd.DataFrame, params: dict, shard_dir: Path) -> None:
    """Generate one variant batch by batch, skipping batches finished by an earlier run."""
    settings, seed = params["generate"], params["base"]["seed"]
    batches = [prompts.iloc[i : i + settings["batch_size"]] for i in range(0, len(prompts), settings["batch_size"])]
    todo = [(i, b) for i, b in enumerate(batches)
            if is_mine(i) and not (shard_dir / f"{variant}-{i:05d}.parquet").exists()]
    log.info("%s: process %d of %d generates %d of %d batches", variant, *world(), len(todo), len(batches))
    if not todo:
        return
    model, tokenizer = load_variant(variant, params["model"]["dtype"])
    adapter = str(ADAPTER_DIRS[variant]) if variant in ADAPTER_DIRS else None

    for index, batch in tqdm(todo, desc=f"generate {variant}", unit="batch"):
        batch_seed = seed + 100_000 * VARIANTS.index(variant) + index
        ids = generate_batch(model, tokenizer, list(batch["prompt"]), settings, batch_seed)
        rows = [{
            "generation_id": f"{prompt_id}-{variant}", "prompt_id": prompt_id, "variant": variant,
            "model": params["model"]["name"], "adapter": adapter,
            "text": tokenizer.decode(token_ids, skip_special_tokens=True),
            "n_tokens": len(token_ids), "token_ids": token_ids,
        } for prompt_id, token_ids in zip(batch["prompt_id"], ids)]
        write_table(rows, "generations", shard_dir / f"{variant}-{index:05d}.parquet")


def main() -> None:
    args = stage_args(__doc__)
    setup_logging()
    params = load_params(args.params)
    prompts = read_table(PROMPTS, "prompts")

    settings = {k: v for k, v in params["generate"].items() if k != "external"}  # external rows need no model
    key = fingerprint([settings, params["model"], params["base"]],
                      [PROMPTS, BASE_DIR, *ADAPTER_DIRS.values()])
    shard_dir = checkpoint_dir("generate", key)
    for variant in VARIANTS:
        generate_variant(variant, prompts, params, shard_dir)
    wait_for_everyone()
    if not is_main():
        return

    generations = read_table(shard_dir, "generations").sort_values(["variant", "prompt_id"], key=_variant_order)
    generations = add_external(generations, params["generate"].get("external") or [], prompts)
    write_table(generations, "generations", OUTPUT)
    log.info("%d generations written to %s (base model %s)", len(generations), OUTPUT, base_location())
    finish("generate")


def _variant_order(column: pd.Series) -> pd.Series:
    return column.map(VARIANTS.index) if column.name == "variant" else column


if __name__ == "__main__":
    main()
