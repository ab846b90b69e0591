"""Stage score: toxicity of every prompt and generation, in long form, through the score cache.

Run: ``python -m stages.score``. Each scorer in ``scoring.scorers`` scores every prompt
(its text without the chat template) and every generation. One row per text, scorer and
attribute, with the scorer's version as provenance. A text a scorer cannot score has a
NULL value and the reason. Every score goes to ``data/score_cache/`` first: a text already
cached for the scorer, version and attributes is not scored again, so a run killed midway
resumes where it stopped. Archived Perspective scores (``scoring.archives``) are imported
into the cache before scoring. Scorers in ``scoring.calibrate`` also get an isotonic
calibration to Perspective TOXICITY. Writes ``data/scores/scores.parquet``,
``data/scores/span_scores.parquet`` and ``metrics/score.json``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from stages.archives import import_archive
from stages.calibration import calibrate_scores
from stages.params import load_params, setup_logging, stage_args
from stages.perspective import PerspectiveError
from stages.score_cache import CACHE, ScoreCache, attributes_key, text_hash
from stages.scorers import Score, Scorer, get_scorer, unscored
from stages.tables import SCHEMAS, read_table, write_table

log = logging.getLogger("stages.score")

PROMPTS = Path("data/prepared/prompts.parquet")
GENERATIONS = Path("data/generations/generations.parquet")
OUTPUT = Path("data/scores/scores.parquet")
SPANS = Path("data/scores/span_scores.parquet")
METRICS = Path("metrics/score.json")
CACHE_ONLY = "no cached or archived score, and scoring.perspective.cache_only is true"


def texts_to_score() -> pd.DataFrame:
    """Collect all texts with their id, kind and hash: prompts first, then generations."""
    prompts = read_table(PROMPTS, "prompts")
    generations = read_table(GENERATIONS, "generations")
    texts = pd.concat([
        pd.DataFrame({"text_id": prompts["prompt_id"], "text_kind": "prompt", "text": prompts["text"]}),
        pd.DataFrame({"text_id": generations["generation_id"], "text_kind": "generation",
                      "text": generations["text"]}),
    ], ignore_index=True)
    return texts.assign(text_hash=texts["text"].map(text_hash))


def cached_or_archived(scorer: Scorer, hashes: list[str], cache: ScoreCache) -> dict[str, tuple[str, list[Score]]]:
    """Scores already in the cache: this scorer's own, else an archive that covers the attributes."""
    own = cache.get(hashes, scorer.name, scorer.version, scorer.attributes)
    found = {h: (scorer.version, scores) for h, scores in own.items()}
    cache_only = getattr(scorer, "cache_only", False)
    for h, (version, scores) in cache.get_archived([h for h in hashes if h not in found], scorer.name).items():
        by_attribute = {s.attribute: s for s in scores}
        if cache_only or set(scorer.attributes) <= set(by_attribute):
            found[h] = (version, [by_attribute.get(a) or Score(a, None, "attribute not in the archive")
                                  for a in scorer.attributes])
    return found


def score_texts(scorer: Scorer, texts: dict[str, str], cache: ScoreCache) -> dict[str, tuple[str, list[Score]]]:
    """Scores of every text (by hash): cached ones first, then new ones, each batch cached as it finishes."""
    results = cached_or_archived(scorer, list(texts), cache)
    missing = [h for h in texts if h not in results]
    log.info("%s: %d of %d texts already in the score cache, %d to score",
             scorer.name, len(results), len(texts), len(missing))
    if getattr(scorer, "cache_only", False):
        results.update({h: (scorer.version, unscored(scorer.attributes, CACHE_ONLY)) for h in missing})
        return results

    key = attributes_key(scorer.attributes)
    for start in tqdm(range(0, len(missing), scorer.batch_size), desc=f"score {scorer.name}", unit="batch"):
        batch = missing[start : start + scorer.batch_size]
        scores = scorer.score([texts[h] for h in batch])
        if len(scores) != len(batch):
            raise RuntimeError(f"scorer {scorer.name!r} returned {len(scores)} results for {len(batch)} texts")
        cache.put([(h, scorer.name, scorer.version, key, s) for h, s in zip(batch, scores)
                   if all(x.cacheable for x in s)])
        results.update({h: (scorer.version, s) for h, s in zip(batch, scores)})
    return results


def long_rows(scorer: Scorer, texts: pd.DataFrame, results: dict) -> tuple[list[dict], list[dict]]:
    """(score rows, span score rows) of every text id."""
    rows, spans = [], []
    for text_id, text_kind, h in zip(texts["text_id"], texts["text_kind"], texts["text_hash"]):
        version, scores = results[h]
        for s in scores:
            rows.append({"text_id": text_id, "text_kind": text_kind, "scorer": scorer.name,
                         "scorer_version": version, "attribute": s.attribute, "value": s.value, "reason": s.reason})
            spans.extend({"text_id": text_id, "scorer": scorer.name, "scorer_version": version,
                          "attribute": s.attribute, "begin": b, "end": e, "value": v} for b, e, v in s.spans)
    return rows, spans


def main() -> None:
    args = stage_args(__doc__)
    setup_logging()
    scoring = load_params(args.params)["scoring"]
    texts = texts_to_score()
    unique = dict(zip(texts["text_hash"], texts["text"]))
    cache = ScoreCache(CACHE)
    for archive in scoring.get("archives") or []:
        import_archive(cache, archive)

    rows, spans = [], []
    for name in scoring["scorers"]:
        scorer = get_scorer(name, scoring)
        try:
            results = score_texts(scorer, unique, cache)
        except PerspectiveError as error:
            raise SystemExit(f"score: {error}") from None
        new_rows, new_spans = long_rows(scorer, texts, results)
        rows.extend(new_rows)
        spans.extend(new_spans)
        log.info("scored %d texts with %s (%s)", len(texts), scorer.name, scorer.version)
    cache.close()

    scores = pd.DataFrame(rows)
    calibrated, fits = calibrate_scores(scores, scoring.get("calibrate") or [])
    scores = pd.concat([scores, calibrated], ignore_index=True)
    write_table(scores, "scores", OUTPUT)
    write_table(pd.DataFrame(spans, columns=SCHEMAS["span_scores"].names), "span_scores", SPANS)
    write_metrics(scores, fits)
    log.info("%d scores written, %d NULL; %d span scores",
             len(scores), int(scores["value"].isna().sum()), len(spans))


def write_metrics(scores: pd.DataFrame, fits: dict) -> None:
    per_scorer = {name: {"n_scores": int(len(group)), "n_null": int(group["value"].isna().sum())}
                  for name, group in scores.groupby("scorer")}
    METRICS.parent.mkdir(parents=True, exist_ok=True)
    METRICS.write_text(json.dumps({"scorers": per_scorer, "calibration": fits}, indent=2) + "\n")


if __name__ == "__main__":
    main()
