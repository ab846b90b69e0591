"""Stage attribute: prompt attribution of every stored generation.

Run: ``python -m stages.attribute``. Forced decoding of each generation on the model that
produced it, with ``attribution.method`` (input x gradient by default; any inseq method
for decoder-only models, its settings in ``attribution.method_args``). Writes
``data/attributions/``: ``shard-*.npz`` (see stages/tensor_store.py), ``index.parquet``
(which shard holds which generation, and why a generation has no matrix) and
``tokens.parquet`` (the token text at each position). Finished shards survive an
interruption, even kill -9, and are not recomputed. Under ``accelerate launch`` the
processes split the shards and rank 0 collects them.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from stages.attribution import attribute_ids, batched_gradient, load_attribution_model, uses_batched
from stages.checkpoints import checkpoint_dir, finish, fingerprint
from stages.distributed import is_main, is_mine, wait_for_everyone, world
from stages.modeling import ADAPTER_DIRS, BASE_DIR, load_variant
from stages.params import load_params, setup_logging, stage_args
from stages.tables import VARIANTS, read_table, write_table
from stages.tensor_store import write_shard

log = logging.getLogger("stages.attribute")

GENERATIONS = Path("data/generations/generations.parquet")
PROMPTS = Path("data/prepared/prompts.parquet")
OUTPUT = Path("data/attributions")


class Attributor:
    """One variant's model, wrapped for the configured method and implementation."""

    def __init__(self, variant: str, params: dict) -> None:
        section = params["attribution"]
        self.method, self.args = section["method"], section.get("method_args") or {}
        self.batch_size = section["batch_size"]
        self.batched = uses_batched(self.method, section["implementation"])
        attention = "eager" if self.method == "attention" else None  # weights are only exposed by eager
        self.model, self.tokenizer = load_variant(variant, params["model"]["dtype"], attention)
        self.inseq_model = None if self.batched else load_attribution_model(self.model, self.tokenizer, self.method)

    def attribute(self, examples: list[tuple[list[int], list[int]]]) -> list:
        if not self.batched:
            return [attribute_ids(self.inseq_model, p, g, self.args) for p, g in examples]
        # Batch generations of similar length: padding to the longest costs a full pass.
        order = sorted(range(len(examples)), key=lambda i: (len(examples[i][1]), len(examples[i][0])))
        results: list = [None] * len(examples)
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            for i, result in zip(batch, batched_gradient(self.model, [examples[i] for i in batch], self.method)):
                results[i] = result
        return results


def skip_reason(row) -> str | None:
    if row.token_ids is None:
        return "no token ids (generation made outside this pipeline)"
    if len(row.token_ids) == 0:
        return "empty generation"
    return None


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


def attribute_shard(attributor: Attributor, shard: pd.DataFrame, name: str, out_dir: Path) -> None:
    """Attribute one shard of generations and write its files; the .npz, written last, marks it done."""
    tokenizer = attributor.tokenizer
    index, tokens, todo = [], [], []
    for row in shard.itertuples():
        prompt_ids = tokenizer(row.prompt).input_ids
        generated = [] if row.token_ids is None else [int(i) for i in row.token_ids]
        reason = skip_reason(row)
        index.append({
            "generation_id": row.generation_id, "shard": name, "n_prompt_tokens": len(prompt_ids),
            "n_generated_tokens": len(generated),
            "tokens_match": tokenizer(row.prompt + row.text).input_ids == prompt_ids + generated,
            "skip_reason": reason,
        })
        tokens.extend(token_rows(tokenizer, row.generation_id, prompt_ids, generated))
        if reason is None:
            todo.append((row.generation_id, prompt_ids, generated))

    results = attributor.attribute([(p, g) for _, p, g in todo])
    arrays = {}
    for (generation_id, _, _), (scores, probability) in zip(todo, results):
        arrays[generation_id] = scores
        arrays[f"{generation_id}.probability"] = probability
    write_table(tokens, "tokens", out_dir / f"{name}.tokens.parquet")
    write_table(index, "attribution_index", out_dir / f"{name}.index.parquet")
    write_shard(out_dir / f"{name}.npz", arrays)


def collect(work_dir: Path) -> pd.DataFrame:
    """Move finished shards into the output folder with one index and one tokens table."""
    shutil.rmtree(OUTPUT, ignore_errors=True)
    OUTPUT.mkdir(parents=True)
    for table, suffix in [("attribution_index", ".index.parquet"), ("tokens", ".tokens.parquet")]:
        parts = [read_table(f, table) for f in sorted(work_dir.glob(f"*{suffix}"))]
        write_table(pd.concat(parts, ignore_index=True), table, OUTPUT / f"{suffix.split('.')[1]}.parquet")
    for shard in sorted(work_dir.glob("shard-*.npz")):
        shutil.move(shard, OUTPUT / shard.name)
    return read_table(OUTPUT / "index.parquet", "attribution_index")


def main() -> None:
    args = stage_args(__doc__)
    setup_logging()
    params = load_params(args.params)
    section = params["attribution"]
    prompts = read_table(PROMPTS, "prompts")[["prompt_id", "prompt"]]
    generations = read_table(GENERATIONS, "generations").merge(prompts, on="prompt_id", validate="many_to_one")

    key = fingerprint([section, params["model"]], [GENERATIONS, BASE_DIR, *ADAPTER_DIRS.values()])
    work_dir = checkpoint_dir("attribute", key)
    size = section["shard_size"]
    for variant in VARIANTS:
        rows = generations[generations["variant"] == variant].reset_index(drop=True)
        shards = [(f"shard-{variant}-{i // size:05d}", rows.iloc[i : i + size]) for i in range(0, len(rows), size)]
        todo = [(name, shard) for index, (name, shard) in enumerate(shards)
                if is_mine(index) and not (work_dir / f"{name}.npz").exists()]
        log.info("%s: process %d of %d attributes %d of %d shards", variant, *world(), len(todo), len(shards))
        if not todo:
            continue
        attributor = Attributor(variant, params)
        for name, shard in tqdm(todo, desc=f"attribute {variant}", unit="shard"):
            attribute_shard(attributor, shard, name, work_dir)

    wait_for_everyone()
    if not is_main():
        return
    index = collect(work_dir)
    log.info("%d generations attributed with %s, %d skipped, %d whose text re-tokenises differently",
             int(index["skip_reason"].isna().sum()), section["method"], int(index["skip_reason"].notna().sum()),
             int((~index["tokens_match"]).sum()))
    finish("attribute")


if __name__ == "__main__":
    main()
