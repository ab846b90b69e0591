"""Evaluation prompts from the three sources the study's prompts come in.

- a Hugging Face dataset id (or a local dataset folder) in the RealToxicityPrompts schema,
- a local JSONL file (or URL) in that schema,
- a CSV of the study's released generations, whose ``prompts`` column is template-wrapped.

RealToxicityPrompts rows go through the study's filter: prompt and continuation toxicity
both above the threshold, text = prompt + continuation. A row whose toxicity is NULL
cannot pass the filter and is recorded as dropped with that reason.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from stages.downloads import fetch, is_url
from stages.families import Family

HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")
DATA_SUFFIXES = {".jsonl", ".json", ".csv", ".parquet", ".txt", ".gz"}


def read_rtp_records(location: str, split: str) -> list[dict]:
    """Read RealToxicityPrompts rows from a JSONL file, a URL, a dataset folder or a Hub id."""
    path = Path(location)
    if path.is_dir() or looks_like_hub_id(location):
        from datasets import load_dataset  # imported here: only this source needs it

        try:
            return list(load_dataset(location, split=split))
        except (ConnectionError, FileNotFoundError, ValueError) as error:
            raise FileNotFoundError(
                f"data.prompts {location!r} not found as a local file, and loading it as a Hugging Face dataset "
                f"failed: {error}. Check the path, or the dataset id and network access."
            ) from error

    records = []
    with fetch(location).open(encoding="utf-8") as f:
        for line_number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise ValueError(f"{location}:{line_number}: invalid JSON ({error.msg})") from None
    return records


def looks_like_hub_id(location: str) -> bool:
    """``owner/name`` that is no local path, no URL, and has no data-file extension."""
    return (
        not Path(location).exists()
        and not is_url(location)
        and HUB_ID.match(location) is not None
        and Path(location).suffix.lower() not in DATA_SUFFIXES
    )


def _toxicity(part: dict | None) -> float | None:
    value = (part or {}).get("toxicity")
    return None if value is None or pd.isna(value) else float(value)


def rtp_prompts(records: list[dict], source: str, family: Family, threshold: float) -> tuple[list[dict], list[dict]]:
    """Apply the study's filter to RealToxicityPrompts rows; return (prompts, dropped rows)."""
    prompts, dropped = [], []
    for row, record in enumerate(records):
        prompt, continuation = record.get("prompt") or {}, record.get("continuation") or {}
        text = (prompt.get("text") or "") + (continuation.get("text") or "")
        prompt_tox, continuation_tox = _toxicity(prompt), _toxicity(continuation)

        reason = None
        if not text.strip():
            reason = "empty prompt and continuation text"
        elif prompt_tox is None or continuation_tox is None:
            reason = "prompt or continuation toxicity is null"
        elif not (prompt_tox > threshold and continuation_tox > threshold):
            reason = f"prompt or continuation toxicity not above {threshold}"
        if reason:
            dropped.append({"source": source, "row": row, "reason": reason})
            continue

        prompts.append({
            "source": source, "source_row": row, "text": text, "prompt": family.wrap_prompt(text),
            "source_toxicity": prompt_tox, "continuation_toxicity": continuation_tox,
            "template_complete": True,
        })
    return prompts, dropped


def study_csv_prompts(location: str, family: Family) -> tuple[list[dict], list[dict]]:
    """Read the study's released generations CSV and unwrap its template-wrapped prompts."""
    frame = pd.read_csv(fetch(location), keep_default_na=False)  # rows hold embedded newlines and quotes
    if "prompts" not in frame.columns:
        raise ValueError(f"{location}: no 'prompts' column; found {list(frame.columns)}")

    prompts, dropped = [], []
    for row, wrapped in enumerate(frame["prompts"]):
        text, complete = family.unwrap_prompt(wrapped)
        if not text.strip():
            dropped.append({"source": location, "row": row, "reason": "empty prompt text"})
            continue
        prompts.append({
            "source": location, "source_row": row, "text": text, "prompt": family.wrap_prompt(text),
            "source_toxicity": None, "continuation_toxicity": None, "template_complete": complete,
        })
    return prompts, dropped


def load_prompts(location: str, split: str, family: Family, threshold: float) -> tuple[list[dict], list[dict]]:
    """Load evaluation prompts from any supported source; return (prompts, dropped rows)."""
    if location.lower().split("?")[0].endswith(".csv"):
        prompts, dropped = study_csv_prompts(location, family)
    else:
        prompts, dropped = rtp_prompts(read_rtp_records(location, split), location, family, threshold)
    for prompt in prompts:
        prompt["prompt_id"] = f"p{prompt['source_row']:06d}"
    return prompts, dropped


def sample_prompts(prompts: list[dict], n: int, seed: int) -> tuple[list[dict], list[dict]]:
    """Keep n prompts chosen at random with the seed, in source order (all when n is 0)."""
    if n <= 0 or n >= len(prompts):
        return prompts, []
    frame = pd.DataFrame(prompts)
    keep = frame.sample(n=n, random_state=seed).sort_values("source_row")
    left_out = frame.drop(keep.index)
    dropped = [{"source": r.source, "row": int(r.source_row), "reason": "prompt not sampled (data.n_prompts)"}
               for r in left_out.itertuples()]
    return keep.to_dict("records"), dropped
