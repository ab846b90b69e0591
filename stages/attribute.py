"""Stage attribute: prompt attribution of every stored generation with inseq.

Run: ``python -m stages.attribute``. Forced decoding of each generation on the model that
produced it (``attribution.method``, input x gradient by default). Writes
``data/attributions/``: ``shard-NNNNN.npz`` with one (generated x position) matrix and one
probability vector per generation, ``index.parquet`` (which shard holds which generation)
and ``tokens.parquet`` (the token text at each position). Finished shards survive an
interruption and are not recomputed.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from stages.attribution import attribute_ids, load_attribution_model
from stages.checkpoints import checkpoint_dir, finish, fingerprint
from stages.modeling import ADAPTER_DIRS, BASE_DIR, load_variant
from stages.params import load_params, setup_logging, stage_args
from stages.tables import VARIANTS, read_table, write_table

log = logging.getLogger("stages.attribute")

GENERATIONS = Path("data/generations/generations.parquet")
PROMPTS = Path("data/prepared/prompts.parquet")
OUTPUT = Path("data/attributions")


def token_rows(tokenizer, generation_id: str, prompt_ids: list[int], generated: list[int]) -> list[dict]:
    rows = []
    for position, token_id in enumerate(prompt_ids + generated):
        step = position - len(prompt_ids)
        rows.append({
            "generation_id": generation_id, "position": position,
            "token": tokenizer.decode([token_id]), "is_generated": step >= 0,
            "step": step if step >= 0 else None,
        })
    return rows


def attribute_shard(model, tokenizer, shard: pd.DataFrame, shard_name: str, method_args: dict,
                    out_dir: Path) -> None:
    """Attribute one shard of generations and write its three files atomically."""
    arrays, index, tokens = {}, [], []
    for row in shard.itertuples():
        prompt_ids = tokenizer(row.prompt).input_ids
        generated = [int(i) for i in row.token_ids]
        retokenized = tokenizer(row.prompt + row.text).input_ids
        if generated:
            scores, probability = attribute_ids(model, prompt_ids, generated, method_args)
            arrays[row.generation_id] = scores
            arrays[f"{row.generation_id}.probability"] = probability
        index.append({
            "generation_id": row.generation_id, "shard": shard_name,
            "n_prompt_tokens": len(prompt_ids), "n_generated_tokens": len(generated),
            "tokens_match": retokenized == prompt_ids + generated,
        })
        tokens.extend(token_rows(tokenizer, row.generation_id, prompt_ids, generated))

    tmp = out_dir / f"{shard_name}.tmp.npz"
    np.savez_compressed(tmp, **arrays)
    write_table(tokens, "tokens", out_dir / f"{shard_name}.tokens.parquet")
    write_table(index, "attribution_index", out_dir / f"{shard_name}.index.parquet")
    os.replace(tmp, out_dir / f"{shard_name}.npz")  # the .npz appears last: it marks the shard done


def main() -> None:
    args = stage_args(__doc__)
    setup_logging()
    params = load_params(args.params)
    section = params["attribution"]
    generations = read_table(GENERATIONS, "generations")
    prompts = read_table(PROMPTS, "prompts")[["prompt_id", "prompt"]]
    generations = generations.merge(prompts, on="prompt_id", how="left", validate="many_to_one")

    key = fingerprint([section, params["model"]], [GENERATIONS, BASE_DIR, *ADAPTER_DIRS.values()])
    work_dir = checkpoint_dir("attribute", key)
    method_args = section.get("method_args") or {}
    size = section["shard_size"]

    for variant in VARIANTS:
        rows = generations[generations["variant"] == variant].reset_index(drop=True)
        shards = [(f"shard-{variant}-{i // size:05d}", rows.iloc[i : i + size]) for i in range(0, len(rows), size)]
        todo = [(name, shard) for name, shard in shards if not (work_dir / f"{name}.npz").exists()]
        if not todo:
            continue
        model, tokenizer = load_variant(variant, params["model"]["dtype"])
        attribution_model = load_attribution_model(model, tokenizer, section["method"])
        for name, shard in tqdm(todo, desc=f"attribute {variant}", unit="shard"):
            attribute_shard(attribution_model, tokenizer, shard, name, method_args, work_dir)

    shutil.rmtree(OUTPUT, ignore_errors=True)
    OUTPUT.mkdir(parents=True)
    for suffix, table in [(".index.parquet", "attribution_index"), (".tokens.parquet", "tokens")]:
        frame = read_table_files(sorted(work_dir.glob(f"*{suffix}")), table)
        write_table(frame, table, OUTPUT / f"{suffix[1:].split('.')[0]}.parquet")
    for shard in sorted(work_dir.glob("shard-*.npz")):
        if not shard.name.endswith(".tmp.npz"):
            shutil.move(shard, OUTPUT / shard.name)
    index = read_table(OUTPUT / "index.parquet", "attribution_index")
    log.info("%d generations attributed, %d whose text re-tokenises differently",
             len(index), int((~index["tokens_match"]).sum()))
    finish("attribute")


def read_table_files(files: list[Path], name: str) -> pd.DataFrame:
    return pd.concat([read_table(f, name) for f in files], ignore_index=True)


if __name__ == "__main__":
    main()
