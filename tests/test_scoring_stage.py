"""The score stage as a subprocess against the loopback Perspective server.

Faults (429 with Retry-After, 500, a timeout, a 400 language error), a SIGKILL while a
request is in flight, a rerun that finishes the rest, and a retired (410) service.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO
from stages.tables import read_table, write_table
from test_perspective import KEY, FakePerspective, digest

PROMPTS = ["You people ruin everything", "They are all criminals", "Why are they so lazy?"]
GENERATIONS = ["RATE limited reply", "FAIL server reply", "SLOW reply", "bonjour tout le monde", "", "   ",
               "normal one", "normal two", "HANG reply", "after hang one", "after hang two",
               "They are all criminals"]  # the last one repeats a prompt: it is sent once
PLANS = {"RATE": ["429", "ok"], "FAIL": ["500", "ok"], "SLOW": ["timeout", "ok"],
         "bonjour": ["lang"], "HANG": ["hang", "ok"]}


def write_inputs(workdir: Path, generations: list[str]) -> None:
    prompts = [{"prompt_id": f"p{i:06d}", "source": "test", "source_row": i, "text": t, "prompt": t,
                "source_toxicity": None, "continuation_toxicity": None, "template_complete": True}
               for i, t in enumerate(PROMPTS)]
    rows = [{"generation_id": f"g{i:03d}", "prompt_id": "p000000", "variant": "PT", "model": "m",
             "adapter": None, "text": t, "n_tokens": 1, "token_ids": [1]} for i, t in enumerate(generations)]
    write_table(prompts, "prompts", workdir / "data/prepared/prompts.parquet")
    write_table(rows, "generations", workdir / "data/generations/generations.parquet")


def write_params(workdir: Path, fake: FakePerspective, **settings) -> None:
    perspective = {"endpoint": fake.url, "qps": 1000, "timeout_s": fake.timeout_s, "backoff_s": 0.01,
                   "max_retries": 3, **settings}
    (workdir / "params.yaml").write_text(yaml.safe_dump({"scoring": {"scorers": ["perspective"],
                                                                     "perspective": perspective}}))


def start_stage(workdir: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PERSPECTIVE_API_KEY": KEY}
    return subprocess.Popen([sys.executable, "-m", "stages.score"], cwd=workdir, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run_stage(workdir: Path) -> subprocess.CompletedProcess:
    process = start_stage(workdir)
    stdout, stderr = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def cached_hashes(workdir: Path) -> set[str]:
    with sqlite3.connect(workdir / "data/score_cache/scores.sqlite") as con:
        return {row[0] for row in con.execute("SELECT DISTINCT text_hash FROM scores")}


@pytest.fixture
def fake():
    server = FakePerspective(dict(PLANS))
    yield server
    server.close()


def test_faults_kill_and_resume(tmp_path, fake):
    write_inputs(tmp_path, GENERATIONS)
    write_params(tmp_path, fake)

    # first run: SIGKILL while the HANG text's request is in flight
    process = start_stage(tmp_path)
    assert fake.hanging.wait(60), process.communicate(timeout=5)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL
    cached = cached_hashes(tmp_path)
    assert digest("normal two") in cached
    assert digest("bonjour tout le monde") in cached
    assert digest("HANG reply") not in cached
    assert digest("after hang one") not in cached
    fake.release.set()

    # second run: finishes the rest, sending no cached text again
    result = run_stage(tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    expected_requests = {"RATE limited reply": 2, "FAIL server reply": 2, "SLOW reply": 2, "HANG reply": 2,
                         "bonjour tout le monde": 1, "": 0, "   ": 0, "normal one": 1, "after hang two": 1,
                         "They are all criminals": 1}
    for text, count in expected_requests.items():
        assert fake.requests[digest(text)] == count, text
    assert max(fake.answered.values()) == 1

    scores = read_table(tmp_path / "data/scores/scores.parquet", "scores")
    assert len(scores) == 6 * (len(PROMPTS) + len(GENERATIONS))
    assert not (scores["value"].isna() & scores["reason"].isna()).any()
    assert (scores["value"].dropna() > 0).any()
    by_text = scores[scores["attribute"] == "TOXICITY"].set_index("text_id")
    assert by_text.loc["g003", "value"] != by_text.loc["g003", "value"]  # NaN: language error
    assert "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE" in by_text.loc["g003", "reason"]
    assert "empty" in by_text.loc["g004", "reason"]
    assert by_text.loc["g011", "value"] == by_text.loc["p000001", "value"]
    spans = read_table(tmp_path / "data/scores/span_scores.parquet", "span_scores")
    assert set(spans["text_id"]) == set(scores.dropna(subset=["value"])["text_id"])

    # third run: everything is cached, nothing is sent
    before = sum(fake.requests.values())
    assert run_stage(tmp_path).returncode == 0
    assert sum(fake.requests.values()) == before

    # fourth run: the service is retired; the run stops with a message naming the cache
    write_inputs(tmp_path, GENERATIONS + ["fresh one", "fresh two"])
    fake.retired = True
    result = run_stage(tmp_path)
    assert result.returncode != 0
    assert "HTTP 410" in result.stderr
    assert "data/score_cache" in result.stderr
    assert "offline" in result.stderr
    assert KEY not in result.stderr + result.stdout
    assert sum(fake.requests.values()) == before + 1  # only "fresh one"

    # fifth run: cache only, new texts are NULL with the reason
    write_params(tmp_path, fake, cache_only=True)
    result = run_stage(tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    scores = read_table(tmp_path / "data/scores/scores.parquet", "scores")
    fresh = scores[scores["text_id"].isin(["g012", "g013"])]
    assert fresh["value"].isna().all()
    assert fresh["reason"].str.contains("cache_only").all()
    assert scores[scores["text_id"] == "g000"]["value"].notna().all()
    assert sum(fake.requests.values()) == before + 1
