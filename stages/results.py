"""Stage results: every table a researcher queries, in one DuckDB file.

Run: ``python -m stages.results``. Creates ``data/results/results.duckdb`` from
``stages/results_schema.sql`` (the contract with ``detox-tui``, documented in the README)
and fills it from the pipeline's Parquet tables and attribution tensors. The file is
built under a temporary name and renamed, so a reader never sees a half-written database.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from stages.metrics import normalize_rows
from stages.params import load_params, setup_logging, stage_args
from stages.tensor_store import iter_matrices

log = logging.getLogger("stages.results")

SCHEMA_SQL = Path(__file__).with_name("results_schema.sql")
OUTPUT = Path("data/results/results.duckdb")
ATTRIBUTIONS = Path("data/attributions")

# Table name -> (Parquet source, SELECT list in the schema's column order).
PARQUET_TABLES = {
    "prompts": ("data/prepared/prompts.parquet",
                "prompt_id, source, source_row, text, prompt, source_toxicity"),
    "generations": ("data/generations/generations.parquet",
                    "generation_id, prompt_id, variant, model, adapter, text, n_tokens"),
    "scores": ("data/scores/scores.parquet",
               "text_id, text_kind, scorer, scorer_version, attribute, value, reason"),
    "span_scores": ("data/scores/span_scores.parquet",
                    'text_id, scorer, scorer_version, attribute, "begin", "end", value'),
    "tokens": ("data/attributions/tokens.parquet",
               "generation_id, position, token, is_generated, step"),
    "token_metrics": ("data/analysis/token_metrics.parquet",
                      "generation_id, step, token, probability, prompt_dependence, entropy, entropy_rise, is_spike"),
    "toxicity_table": ("data/analysis/toxicity_table.parquet", "*"),
    "entropy_curves": ("data/analysis/entropy_curves.parquet", "*"),
    "group_curves": ("data/analysis/group_curves.parquet", "*"),
    "attribution_index": ("data/attributions/index.parquet",
                          "generation_id, n_prompt_tokens, n_generated_tokens, tokens_match, skip_reason"),
    "toxic_tokens": ("data/analysis/toxic_tokens.parquet", "*"),
    "spike_distances": ("data/analysis/spike_distances.parquet", "*"),
    "spike_summary": ("data/analysis/spike_summary.parquet", "*"),
    "comparisons": ("data/analysis/comparisons.parquet", "*"),
}


# Rows of one generation stored together: DuckDB's min/max zone maps then let a lookup by
# generation_id read a few row groups instead of the whole table.
ORDER_BY = {
    "tokens": "ORDER BY generation_id, position",
    "token_metrics": "ORDER BY generation_id, step",
}


def attribution_rows(store: Path) -> pd.DataFrame:
    """Long form of every normalised attribution matrix: (generation_id, step, position, value)."""
    frames = []
    for entry, scores, _ in iter_matrices(store):
        normalized = normalize_rows(scores)  # (T_gen, T_total)
        steps, positions = np.nonzero(~np.isnan(scores))
        frames.append(pd.DataFrame({
            "generation_id": entry.generation_id,
            "step": steps.astype("int32"), "position": positions.astype("int32"),
            "value": normalized[steps, positions],
        }))
    columns = ["generation_id", "step", "position", "value"]
    frames.sort(key=lambda frame: frame["generation_id"].iat[0] if len(frame) else "")  # see ORDER_BY
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def run_info(params: dict) -> pd.DataFrame:
    info = {
        "primary_scorer": params["scoring"]["scorers"][0],
        "model": params["model"]["name"],
        "attribution_method": params["attribution"]["method"],
        "spike_threshold": str(params["analysis"]["spike_threshold"]),
        "params": json.dumps(params, sort_keys=True),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "detox_lens_version": version("detox-lens"),
    }
    return pd.DataFrame({"key": list(info), "value": list(info.values())})


def build(path: Path, params: dict) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute(SCHEMA_SQL.read_text())
        for table, (source, columns) in PARQUET_TABLES.items():
            order = ORDER_BY.get(table, "")
            con.execute(f"INSERT INTO {table} SELECT {columns} FROM read_parquet(?) {order}", [source])
        attributions = attribution_rows(ATTRIBUTIONS)
        con.register("attributions_frame", attributions)
        con.execute("INSERT INTO attributions SELECT generation_id, step, position, value FROM attributions_frame")
        con.register("run_info_frame", run_info(params))
        con.execute("INSERT INTO run_info SELECT key, value FROM run_info_frame")
        counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                  for t in [*PARQUET_TABLES, "attributions"]}
    log.info("results: %s", counts)


def main() -> None:
    args = stage_args(__doc__)
    setup_logging()
    params = load_params(args.params)
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    tmp = OUTPUT.with_name(OUTPUT.name + ".tmp")
    tmp.unlink(missing_ok=True)
    build(tmp, params)
    os.replace(tmp, OUTPUT)
    log.info("wrote %s", OUTPUT)


if __name__ == "__main__":
    main()
