"""Tests of detox_tui.queries against a small real results database."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import pytest
from tui_fixtures import TRICKY_TEXT, results_db  # noqa: F401

from detox_tui.queries import (
    ResultsDatabase,
    ResultsNotFoundError,
    ResultsQueryError,
    ResultsSchemaError,
)


@pytest.fixture
def database(results_db: Path):  # noqa: F811
    with ResultsDatabase(results_db) as database:
        yield database


def test_prompt_list_sorted_by_pt_toxicity(database: ResultsDatabase) -> None:
    prompts = database.list_prompts()
    assert [p.prompt_id for p in prompts] == ["p000002", "p000001", "p000003"]
    assert [p.pt_toxicity for p in prompts] == [0.95, 0.91, 0.03]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("prompt_toxicity", ["p000001", "p000002", "p000003"]),
        ("n_spikes", ["p000001", "p000002", "p000003"]),
        ("prompt_id", ["p000001", "p000002", "p000003"]),
    ],
)
def test_prompt_list_other_sorts(database: ResultsDatabase, sort: str, expected: list[str]) -> None:
    assert [p.prompt_id for p in database.list_prompts(sort)] == expected


def test_prompt_list_rejects_unknown_sort(database: ResultsDatabase) -> None:
    with pytest.raises(ValueError, match="invalid sort key"):
        database.list_prompts("text; DROP TABLE prompts")


def test_prompt_list_row_contents(database: ResultsDatabase) -> None:
    by_id = {p.prompt_id: p for p in database.list_prompts()}
    tricky = by_id["p000001"]
    assert tricky.text == TRICKY_TEXT
    assert tricky.prompt_toxicity == 0.72
    assert (tricky.ft_toxicity, tricky.rl_toxicity) == (0.12, 0.05)
    assert tricky.n_spikes == 1
    assert by_id["p000002"].ft_toxicity is None
    assert by_id["p000002"].n_spikes == 0


def test_prompt_detail_has_three_variants(database: ResultsDatabase) -> None:
    detail = database.load_prompt_detail("p000001")
    assert detail.text == TRICKY_TEXT
    assert list(detail.generations) == ["PT", "FT", "RL"]
    assert detail.generations["PT"].adapter is None
    assert detail.generations["FT"].adapter == "adapters/ft"
    assert detail.n_steps == 4
    assert detail.spike_steps() == [2]


def test_prompt_detail_metrics_and_step_zero_tokens(database: ResultsDatabase) -> None:
    detail = database.load_prompt_detail("p000001")
    metrics = detail.generations["PT"].metrics
    assert [m.step for m in metrics] == [0, 1, 2, 3]
    assert [m.is_spike for m in metrics] == [False, False, True, False]
    assert metrics[0].entropy_rise is None
    tokens = detail.tokens["PT"]
    assert [t.token for t in tokens if t.is_generated] == [" You", "\n", " 🤬", " حمار"]
    assert all(t.value is not None for t in tokens if not t.is_generated)


def test_prompt_detail_empty_generation(database: ResultsDatabase) -> None:
    detail = database.load_prompt_detail("p000002")
    empty = detail.generations["FT"]
    assert empty.text == ""
    assert empty.n_tokens == 0
    assert empty.metrics == ()
    assert not any(t.is_generated for t in detail.tokens["FT"])


def test_prompt_detail_unknown_id_is_parameterised(database: ResultsDatabase) -> None:
    # A quote in the id would break a formatted query, but as a parameter it matches no row.
    with pytest.raises(KeyError, match="prompt not found"):
        database.load_prompt_detail("p000001' OR '1'='1")


def test_step_tokens_attribution_row(database: ResultsDatabase) -> None:
    tokens = database.load_step_tokens("p000001-PT", 2)
    assert [t.position for t in tokens] == list(range(10))
    own = next(t for t in tokens if t.step == 2)
    earlier = [t for t in tokens if t.position < own.position]
    assert own.position == 8
    assert own.value is None
    assert all(t.value is None for t in tokens if t.position > own.position)
    assert math.isclose(sum(t.value for t in earlier), 1.0)


def test_step_tokens_differ_between_steps(database: ResultsDatabase) -> None:
    step_0 = [t.value for t in database.load_step_tokens("p000001-PT", 0)]
    step_1 = [t.value for t in database.load_step_tokens("p000001-PT", 1)]
    assert step_0[:6] != step_1[:6]
    assert step_0[6] is None
    assert step_1[6] is not None


def test_scores_with_null_reason(database: ResultsDatabase) -> None:
    [score] = database.load_scores("p000002-FT")
    assert score.value is None
    assert score.reason == "empty generation"
    scores = database.load_scores("p000001-PT")
    assert [(s.scorer, s.attribute) for s in scores] == [
        ("offline", "TOXICITY"),
        ("perspective", "INSULT"),
        ("perspective", "TOXICITY"),
    ]
    assert scores[1].reason == "quota exceeded"
    assert scores[2].value == 0.88


def test_run_info(database: ResultsDatabase) -> None:
    assert database.load_run_info() == {"primary_scorer": "offline"}


def test_connection_is_read_only(database: ResultsDatabase) -> None:
    with pytest.raises(duckdb.Error):
        database._connection.execute("DELETE FROM prompts")


def test_missing_file_names_path_and_fix(tmp_path: Path) -> None:
    missing = tmp_path / "absent.duckdb"
    with pytest.raises(ResultsNotFoundError) as caught:
        ResultsDatabase(missing)
    message = str(caught.value)
    assert str(missing) in message
    assert "dvc repro" in message
    assert "dvc pull data/results" in message


def test_database_without_schema(tmp_path: Path) -> None:
    path = tmp_path / "other.duckdb"
    duckdb.connect(str(path)).close()
    with pytest.raises(ResultsSchemaError, match="Missing tables or views: prompts"):
        ResultsDatabase(path)


def test_file_that_is_not_duckdb(tmp_path: Path) -> None:
    path = tmp_path / "notes.duckdb"
    path.write_text("not a database", encoding="utf-8")
    with pytest.raises(ResultsQueryError, match="failed to open"):
        ResultsDatabase(path)


def test_query_after_close(results_db: Path) -> None:  # noqa: F811
    database = ResultsDatabase(results_db)
    database.close()
    with pytest.raises(ResultsQueryError):
        database.list_prompts()
