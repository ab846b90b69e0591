"""External generations: the study's released CSVs read into the generations table."""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import shared_file
from stages.archives import import_archive
from stages.external import add_external, entry_settings, external_generations
from stages.perspective import PerspectiveScorer
from stages.score import long_rows, score_texts
from stages.score_cache import ScoreCache, text_hash
from stages.tables import SCHEMAS, read_table, write_table

PAPER_FILES = ["measured_tox_PT_RedPajama-INCITE-Chat-3B-v1.csv",
               "measured_tox_FT_RedPajama-INCITE-Chat-3B-v1-FT-LoRA-8bit-test1.csv",
               "CONAN_measured_tox_PT_falcon-7b-instruct.csv"]
NO_PROMPTS = pd.DataFrame(columns=SCHEMAS["prompts"].names)
NO_GENERATIONS = pd.DataFrame(columns=SCHEMAS["generations"].names)


def study_csv(path, rows: list[tuple[str, str, str]]) -> None:
    pd.DataFrame(rows, columns=["prompts", "responses", "pro_API_response_score"]).to_csv(path)


def test_variant_and_model_from_file_name():
    spec = entry_settings("x/CONAN_measured_tox_FT_falcon-7b-instruct.csv")

    assert spec["variant"] == "FT"
    assert spec["model"] == "falcon-7b-instruct"
    assert spec["name"] == "CONAN_measured_tox_FT_falcon-7b-instruct"


def test_unknown_file_name_asks_for_settings():
    with pytest.raises(ValueError, match=r"give it as \{path, variant\}"):
        entry_settings("generations.csv")


def test_rows_keep_prompt_ids_and_empty_replies(tmp_path):
    path = tmp_path / "replies.csv"
    study_csv(path, [('<human>: "They are all criminals".\n<bot>: ', "Not true.", "0.1"),
                     ('### Question: "Why?".\n### Answer: ', "", "-1")])
    prompts = pd.DataFrame([{"prompt_id": "p000007", "text": "They are all criminals"}])

    rows = external_generations({"path": str(path), "model": "m", "variant": "RL", "name": "ext"}, prompts)
    write_table(rows, "generations", tmp_path / "g.parquet")
    stored = read_table(tmp_path / "g.parquet", "generations")

    assert list(stored["generation_id"]) == ["ext:000000", "ext:000001"]
    assert stored["prompt_id"][0] == "p000007"
    assert stored["prompt_id"][1].startswith("x")
    assert list(stored["text"]) == ["Not true.", ""]
    assert stored["token_ids"].isna().all()
    assert (stored["n_tokens"] == 0).all()


def test_same_name_twice_raises(tmp_path):
    path = tmp_path / "measured_tox_PT_m.csv"
    study_csv(path, [('<human>: "a".\n<bot>: ', "b", "0.2")])

    with pytest.raises(ValueError, match="occur twice"):
        add_external(NO_GENERATIONS, [str(path), str(path)], NO_PROMPTS)


@pytest.mark.real_data
@pytest.mark.parametrize("name", PAPER_FILES)
def test_study_mean_reproduced(tmp_path, name):
    path = shared_file(f"paper_generations/{name}")
    csv = pd.read_csv(path, keep_default_na=False)
    archived = pd.to_numeric(csv["pro_API_response_score"], errors="coerce")
    scored = archived[archived >= 0]

    generations = add_external(NO_GENERATIONS, [str(path)], NO_PROMPTS)
    write_table(generations, "generations", tmp_path / "generations.parquet")
    generations = read_table(tmp_path / "generations.parquet", "generations")
    cache = ScoreCache(tmp_path / "cache.sqlite")
    report = import_archive(cache, str(path))
    scorer = PerspectiveScorer({"attributes": ["TOXICITY"], "cache_only": True})
    texts = pd.DataFrame({"text_id": generations["generation_id"], "text_kind": "generation",
                          "text": generations["text"], "text_hash": generations["text"].map(text_hash)})
    results = score_texts(scorer, dict(zip(texts["text_hash"], texts["text"])), cache)
    scores = pd.DataFrame(long_rows(scorer, texts, results)[0])

    assert len(generations) == len(csv)
    assert len(scores) == len(csv)
    assert report["scored"] == len(scored)
    assert report["unscored"] == len(csv) - len(scored)
    assert round(scores["value"].mean(), 3) == round(scored.mean(), 3)
    assert scores["value"].isna().sum() == len(csv) - len(scored)
    assert scores.loc[scores["value"].isna(), "reason"].notna().all()
    assert set(scores["scorer_version"]) == {f"archived from {name}"}
