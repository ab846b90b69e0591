"""One explicit Arrow schema per pipeline table, and Parquet reading and writing by it.

Writing through a fixed schema means a shard whose optional columns are all NULL still
has typed columns, so every shard of a table reads back together with the others.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

VARIANTS = ("PT", "FT", "RL")  # the variant column: base model, fine-tuned, reinforced

# Columns of a mean curve: per variant and step, mean and 95% interval of each statistic.
CURVE_FIELDS = [
    ("variant", pa.string()),
    ("step", pa.int32()),
    ("n", pa.int32()),
    *[(f"{stat}_{part}", pa.float64())
      for stat in ("entropy", "prompt_dependence") for part in ("mean", "ci_low", "ci_high")],
]

SCHEMAS: dict[str, pa.Schema] = {
    # prepare: fine-tuning examples, one per counter-narrative reply.
    "ft_examples": pa.schema([
        ("dialogue_id", pa.int64()),
        ("turn_id", pa.int64()),             # turn id of the counter-narrative reply
        ("target", pa.string()),             # DIALOCONAN TARGET (group targeted)
        ("n_context_turns", pa.int32()),     # earlier turns in the prompt
        ("prompt", pa.string()),             # earlier turns in the chat template, ends with the bot tag
        ("completion", pa.string()),         # the reply; the loss covers only this part
    ]),
    # prepare: RL prompts, one per hate-speech turn with its antecedents.
    "rl_prompts": pa.schema([
        ("dialogue_id", pa.int64()),
        ("turn_id", pa.int64()),
        ("target", pa.string()),
        ("prompt", pa.string()),
    ]),
    # prepare: evaluation prompts.
    "prompts": pa.schema([
        ("prompt_id", pa.string()),
        ("source", pa.string()),
        ("source_row", pa.int64()),
        ("text", pa.string()),
        ("prompt", pa.string()),
        ("source_toxicity", pa.float64()),
        ("continuation_toxicity", pa.float64()),
        ("template_complete", pa.bool_()),   # false when a wrapped source prompt was cut short
    ]),
    # prepare: every input row not carried forward, with the reason.
    "dropped_rows": pa.schema([
        ("source", pa.string()),
        ("row", pa.int64()),
        ("reason", pa.string()),
    ]),
    # generate: one row per (prompt, variant).
    "generations": pa.schema([
        ("generation_id", pa.string()),
        ("prompt_id", pa.string()),
        ("variant", pa.string()),
        ("model", pa.string()),
        ("adapter", pa.string()),
        ("text", pa.string()),
        ("n_tokens", pa.int32()),
        ("token_ids", pa.list_(pa.int32())),  # generated token ids, special tokens removed
    ]),
    # score: long form, one row per text, scorer and attribute.
    "scores": pa.schema([
        ("text_id", pa.string()),
        ("text_kind", pa.string()),
        ("scorer", pa.string()),
        ("scorer_version", pa.string()),
        ("attribute", pa.string()),
        ("value", pa.float64()),
        ("reason", pa.string()),
    ]),
    # score: Perspective span scores, character offsets into the scored text.
    "span_scores": pa.schema([
        ("text_id", pa.string()),
        ("scorer", pa.string()),
        ("scorer_version", pa.string()),
        ("attribute", pa.string()),
        ("begin", pa.int32()),
        ("end", pa.int32()),
        ("value", pa.float64()),
    ]),
    # attribute: where each generation's attribution matrix is stored.
    "attribution_index": pa.schema([
        ("generation_id", pa.string()),
        ("shard", pa.string()),
        ("n_prompt_tokens", pa.int32()),
        ("n_generated_tokens", pa.int32()),
        ("tokens_match", pa.bool_()),  # re-tokenised text gives the stored generation's tokens
        ("skip_reason", pa.string()),  # why no matrix was stored (empty generation, no token ids)
    ]),
    # attribute: the token at each position of each attributed sequence.
    "tokens": pa.schema([
        ("generation_id", pa.string()),
        ("position", pa.int32()),
        ("token", pa.string()),
        ("is_generated", pa.bool_()),
        ("step", pa.int32()),        # index among generated tokens, NULL for prompt tokens
    ]),
    # analyze: per generated token.
    "token_metrics": pa.schema([
        ("generation_id", pa.string()),
        ("step", pa.int32()),
        ("token", pa.string()),
        ("probability", pa.float64()),
        ("prompt_dependence", pa.float64()),
        ("entropy", pa.float64()),
        ("entropy_rise", pa.float64()),
        ("is_spike", pa.bool_()),
    ]),
    # analyze: mean curves per variant and step.
    "entropy_curves": pa.schema(CURVE_FIELDS),
    # analyze: curves per toxicity bucket and per bucket transition between variants.
    "group_curves": pa.schema([
        ("group_kind", pa.string()),         # 'bucket' or 'transition'
        ("group", pa.string()),              # e.g. 'high', or 'PT high -> FT low'
        *CURVE_FIELDS,
    ]),
    # analyze: generated tokens marked toxic, and how.
    "toxic_tokens": pa.schema([
        ("generation_id", pa.string()),
        ("step", pa.int32()),
        ("source", pa.string()),             # 'span scores' or 'offline prefix rise'
    ]),
    # analyze: each spike's distance to the nearest toxic token of its generation.
    "spike_distances": pa.schema([
        ("generation_id", pa.string()),
        ("step", pa.int32()),
        ("distance", pa.float64()),          # in generated tokens; NaN without toxic tokens
    ]),
    # analyze: spike-to-toxic-token share against the shuffled baseline, per variant and 'all'.
    "spike_summary": pa.schema([
        ("variant", pa.string()),
        ("n_spikes", pa.int32()),
        ("spikes_with_toxic_tokens", pa.int32()),
        ("share_within_k", pa.float64()),
        ("baseline_share", pa.float64()),
        ("baseline_low", pa.float64()),
        ("baseline_high", pa.float64()),
        ("p_value", pa.float64()),
    ]),
    # analyze: paired differences between variants (variant_b - variant_a) per prompt.
    "comparisons": pa.schema([
        ("metric", pa.string()),             # 'entropy' or 'prompt_dependence' (per-generation means)
        ("variant_a", pa.string()),
        ("variant_b", pa.string()),
        ("n_pairs", pa.int32()),
        ("difference", pa.float64()),
        ("ci_low", pa.float64()),
        ("ci_high", pa.float64()),
        ("p_value", pa.float64()),
    ]),
    # analyze: the study's toxicity table.
    "toxicity_table": pa.schema([
        ("variant", pa.string()),
        ("subset", pa.string()),
        ("n", pa.int32()),
        ("n_scored", pa.int32()),
        ("mean_toxicity", pa.float64()),
        ("share_low", pa.float64()),
        ("share_mid", pa.float64()),
        ("share_high", pa.float64()),
    ]),
}


def to_table(rows: pd.DataFrame | Iterable[dict], name: str) -> pa.Table:
    """Convert rows to an Arrow table of the named schema; extra or missing columns raise."""
    schema = SCHEMAS[name]
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    if frame.empty and len(frame.columns) == 0:
        return schema.empty_table()
    missing = set(schema.names) - set(frame.columns)
    extra = set(frame.columns) - set(schema.names)
    if missing or extra:
        raise ValueError(
            f"rows for table {name!r} do not match its schema: missing {sorted(missing)}, "
            f"unexpected {sorted(extra)}"
        )
    return pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False)


def write_table(rows: pd.DataFrame | Iterable[dict], name: str, path: Path | str) -> Path:
    """Write rows as Parquet with the named schema, atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(to_table(rows, name), tmp)
    os.replace(tmp, path)
    return path


def read_table(path: Path | str, name: str) -> pd.DataFrame:
    """Read a Parquet file, or a directory of Parquet shards, with the named schema."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"table {name!r} not found at {path}; run the stage that writes it")
    if path.is_dir():
        files = sorted(str(p) for p in path.glob("*.parquet"))
        dataset = ds.dataset(files, schema=SCHEMAS[name], format="parquet")
        return dataset.to_table().to_pandas()
    return pq.read_table(path, schema=SCHEMAS[name]).to_pandas()
