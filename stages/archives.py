"""Import Perspective scores that already exist into the score cache.

Run: ``python -m stages.archives FILE [--texts TEXTS]`` (the score stage also imports every
entry of ``scoring.archives``). Perspective scores cannot be regenerated once the API is
retired, so every archived score enters the cache as scorer ``perspective`` with the
version ``archived from <file name>``. Three formats:

- a CSV of the study's released generations: ``responses`` scored by ``pro_API_response_score``
  (-1 or empty where the study got no score, stored as NULL with that reason);
- RealToxicityPrompts JSONL: the prompt's and the continuation's own scores;
- Perspective response JSONL (``request_id``, ``response``), with ``texts``: a JSONL file
  of the scored texts, line N for the request id ending in ``-N``.

Importing the same file again adds nothing.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Iterator

import pandas as pd

from stages.params import setup_logging
from stages.perspective_wire import parse_scores
from stages.score_cache import ARCHIVED, CACHE, ScoreCache, attributes_key, text_hash
from stages.scorers import Score

log = logging.getLogger("stages.archives")

Entry = tuple[str, list[Score]]  # (text, scores)


def study_csv(path: Path) -> Iterator[Entry]:
    frame = pd.read_csv(path, keep_default_na=False)  # rows hold embedded newlines and quotes
    missing = {"responses", "pro_API_response_score"} - set(frame.columns)
    if missing:
        raise ValueError(f"{path}: not a study generations CSV, missing columns {sorted(missing)}")
    for text, raw in zip(frame["responses"], frame["pro_API_response_score"]):
        value = pd.to_numeric(raw, errors="coerce")
        if pd.isna(value) or value < 0:
            archived = "empty" if str(raw).strip() == "" else str(raw)
            reason = f"no Perspective score in the archive (pro_API_response_score {archived})"
            yield text, [Score("TOXICITY", None, reason)]
        else:
            yield text, [Score("TOXICITY", float(value))]


def rtp_jsonl(records: list[dict]) -> Iterator[Entry]:
    for record in records:
        for part in (record.get("prompt") or {}, record.get("continuation") or {}):
            scores = [Score(name.upper(), float(value)) for name, value in part.items()
                      if name != "text" and isinstance(value, (int, float))]
            if part.get("text") and scores:
                yield part["text"], scores


def response_jsonl(records: list[dict], texts_path: Path) -> Iterator[Entry]:
    texts = [_text(record) for record in _jsonl(texts_path)]
    for record in records:
        index = int(str(record["request_id"]).rsplit("-", 1)[-1])
        if index >= len(texts):
            raise ValueError(f"request_id {record['request_id']!r} has no line {index} in {texts_path} "
                             f"({len(texts)} lines); give the texts file the responses were made for")
        response = record["response"]
        yield texts[index], parse_scores(response, list(response.get("attributeScores", {})), None)


def read_archive(archive: str | dict) -> Iterator[Entry]:
    """Entries of one ``scoring.archives`` item: a path, or {path, texts} for response JSONL."""
    spec = archive if isinstance(archive, dict) else {"path": archive}
    path = Path(spec["path"])
    if not path.is_file():
        raise FileNotFoundError(f"archive not found: {path}; fix scoring.archives or the path given")
    if path.suffix.lower() == ".csv":
        return study_csv(path)
    records = list(_jsonl(path))
    if records and "response" in records[0]:
        if not spec.get("texts"):
            raise ValueError(f"{path} contains Perspective responses; give the scored texts as {{path, texts}}")
        return response_jsonl(records, Path(spec["texts"]))
    return rtp_jsonl(records)


def import_archive(cache: ScoreCache, archive: str | dict) -> dict:
    """Add one archive's scores to the cache; return counts of texts, scored and unscored."""
    path = Path(archive["path"] if isinstance(archive, dict) else archive)
    version = ARCHIVED + path.name
    entries, n_scored, n_unscored = [], 0, 0
    for text, scores in read_archive(archive):
        key = attributes_key(s.attribute for s in scores)
        entries.append((text_hash(text), "perspective", version, key, scores))
        scored = any(s.value is not None for s in scores)
        n_scored, n_unscored = n_scored + scored, n_unscored + (not scored)
    added = cache.put(entries)
    report = {"archive": str(path), "texts": len(entries), "scored": n_scored, "unscored": n_unscored,
              "rows_added": added}
    log.info("archive %s: %d texts, %d with a score, %d without; %d new cache rows",
             path.name, len(entries), n_scored, n_unscored, added)
    return report


def _text(record) -> str:
    return record if isinstance(record, str) else record.get("text", "")


def _jsonl(path: Path) -> Iterator:
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as error:
                    raise ValueError(f"{path}:{number}: invalid JSON ({error.msg})") from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("archive", help="study CSV, RealToxicityPrompts JSONL or Perspective response JSONL")
    parser.add_argument("--texts", help="JSONL of the scored texts, for Perspective response JSONL")
    parser.add_argument("--cache", default=str(CACHE), help=f"score cache file (default: {CACHE})")
    args = parser.parse_args()
    setup_logging()
    cache = ScoreCache(args.cache)
    import_archive(cache, {"path": args.archive, "texts": args.texts} if args.texts else args.archive)
    cache.close()


if __name__ == "__main__":
    main()
