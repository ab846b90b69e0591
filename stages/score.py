"""Stage score: toxicity of every prompt and generation, in long form.

Run: ``python -m stages.score``. Each scorer in ``scoring.scorers`` scores every prompt
(its text without the chat template) and every generation. One row per text, scorer and
attribute, with the scorer's version as provenance; a text a scorer cannot score has a
NULL value and the reason. Writes ``data/scores/scores.parquet``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from stages.params import load_params, setup_logging, stage_args
from stages.scorers import Scorer, get_scorer
from stages.tables import read_table, write_table

log = logging.getLogger("stages.score")

PROMPTS = Path("data/prepared/prompts.parquet")
GENERATIONS = Path("data/generations/generations.parquet")
OUTPUT = Path("data/scores/scores.parquet")
BATCH_SIZE = 512


def texts_to_score() -> pd.DataFrame:
    """All texts with their id and kind: prompts first, then generations."""
    prompts = read_table(PROMPTS, "prompts")
    generations = read_table(GENERATIONS, "generations")
    return pd.concat([
        pd.DataFrame({"text_id": prompts["prompt_id"], "text_kind": "prompt", "text": prompts["text"]}),
        pd.DataFrame({"text_id": generations["generation_id"], "text_kind": "generation", "text": generations["text"]}),
    ], ignore_index=True)


def score_texts(scorer: Scorer, texts: pd.DataFrame) -> list[dict]:
    rows = []
    for start in tqdm(range(0, len(texts), BATCH_SIZE), desc=f"score {scorer.name}", unit="batch"):
        batch = texts.iloc[start : start + BATCH_SIZE]
        results = scorer.score(list(batch["text"]))
        if len(results) != len(batch):
            raise RuntimeError(f"scorer {scorer.name!r} returned {len(results)} results for {len(batch)} texts")
        for (text_id, text_kind), scores in zip(zip(batch["text_id"], batch["text_kind"]), results):
            rows.extend({
                "text_id": text_id, "text_kind": text_kind, "scorer": scorer.name,
                "scorer_version": scorer.version, "attribute": s.attribute,
                "value": s.value, "reason": s.reason,
            } for s in scores)
    return rows


def main() -> None:
    args = stage_args(__doc__)
    setup_logging()
    params = load_params(args.params)
    texts = texts_to_score()

    rows = []
    for name in params["scoring"]["scorers"]:
        scorer = get_scorer(name)
        rows.extend(score_texts(scorer, texts))
        log.info("scored %d texts with %s (%s)", len(texts), scorer.name, scorer.version)
    scores = pd.DataFrame(rows)
    write_table(scores, "scores", OUTPUT)
    log.info("%d scores written, %d NULL", len(scores), int(scores["value"].isna().sum()))


if __name__ == "__main__":
    main()
