"""Archived Perspective scores imported into the score cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from conftest import REPO, shared_file
from stages.archives import import_archive
from stages.score_cache import ScoreCache, text_hash
from stages.scorers import ATTRIBUTES


def test_rtp_prompt_and_continuation_scores(tmp_path):
    cache = ScoreCache(tmp_path / "c.sqlite")
    records = [json.loads(line) for line in (REPO / "data/samples/prompts.jsonl").open()]

    report = import_archive(cache, str(REPO / "data/samples/prompts.jsonl"))

    first = records[0]
    version, scores = cache.get_archived([text_hash(first["prompt"]["text"])], "perspective")[
        text_hash(first["prompt"]["text"])]
    assert version == "archived from prompts.jsonl"
    assert {s.attribute: s.value for s in scores}["TOXICITY"] == first["prompt"]["toxicity"]
    assert "THREAT" not in {s.attribute for s in scores}  # null in the source: not a score
    continuation = cache.get_archived([text_hash(first["continuation"]["text"])], "perspective")
    assert continuation
    assert report["texts"] <= 2 * len(records)


def test_study_csv_unscored_rows_keep_reason(tmp_path):
    path = tmp_path / "measured_tox_PT_m.csv"
    pd.DataFrame({"prompts": ["a", "b", "c"], "responses": ["fine", "nul", "rien"],
                  "pro_API_response_score": ["0.25", "-1", ""]}).to_csv(path)
    cache = ScoreCache(tmp_path / "c.sqlite")

    report = import_archive(cache, str(path))
    archived = cache.get_archived([text_hash(t) for t in ["fine", "nul", "rien"]], "perspective")

    assert (report["scored"], report["unscored"]) == (1, 2)
    assert archived[text_hash("fine")][1][0].value == 0.25
    assert archived[text_hash("nul")][1][0].value is None
    assert "-1" in archived[text_hash("nul")][1][0].reason
    assert "empty" in archived[text_hash("rien")][1][0].reason


def test_second_import_adds_nothing(tmp_path):
    cache = ScoreCache(tmp_path / "c.sqlite")
    first = import_archive(cache, str(REPO / "data/samples/prompts.jsonl"))
    second = import_archive(cache, str(REPO / "data/samples/prompts.jsonl"))

    assert first["rows_added"] > 0
    assert second["rows_added"] == 0


def test_missing_archive_names_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.csv"):
        import_archive(ScoreCache(tmp_path / "c.sqlite"), str(tmp_path / "nothing.csv"))


@pytest.mark.real_data
def test_perspective_responses_with_texts(tmp_path):
    responses = shared_file("perspective/gpt2_toy_prompt_perspective.jsonl")
    texts_path = shared_file("perspective/gpt2_toy_prompt_generations.jsonl")
    texts = [json.loads(line) for line in texts_path.open()]
    first = json.loads(responses.open().readline())
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cache_path = tmp_path / "c.sqlite"

    subprocess.run([sys.executable, "-m", "stages.archives", str(responses), "--texts", str(texts_path),
                    "--cache", str(cache_path)], env=env, check=True, capture_output=True)

    archived = ScoreCache(cache_path).get_archived([text_hash(t) for t in texts], "perspective")
    assert len(archived) == len(set(texts))
    version, scores = archived[text_hash(texts[0])]
    assert version == "archived from gpt2_toy_prompt_perspective.jsonl"
    by_attribute = {s.attribute: s for s in scores}
    expected = first["response"]["attributeScores"]["TOXICITY"]
    assert by_attribute["TOXICITY"].value == expected["summaryScore"]["value"]
    assert len(by_attribute["TOXICITY"].spans) == len(expected["spanScores"])
    assert set(ATTRIBUTES) <= set(by_attribute)  # plus FLIRTATION and SEXUALLY_EXPLICIT, kept as archived
