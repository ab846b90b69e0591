"""Tests of detox_tui.queries against a small real results database."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import duckdb
import pytest
from tui_fixtures import (  # noqa: F401
    INJECTION_TEXT,
    TRICKY_TEXT,
    build_results_database,
    results_db,
    results_db_template,
)

from detox_tui.queries import (
    PromptFilter,
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
    assert [p.prompt_id for p in prompts] == ["p000002", "p000001", "p000003", "p000004"]
    assert [p.pt_toxicity for p in prompts] == [0.95, 0.91, 0.03, None]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("prompt_toxicity", ["p000001", "p000002", "p000003", "p000004"]),
        ("n_spikes", ["p000001", "p000002", "p000003", "p000004"]),
        ("prompt_id", ["p000001", "p000002", "p000003", "p000004"]),
        ("rl_toxicity", ["p000001", "p000002", "p000003", "p000004"]),
        ("rl_minus_pt", ["p000002", "p000001", "p000003", "p000004"]),
        ("rl_minus_ft", ["p000001", "p000003", "p000002", "p000004"]),
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


def matching_ids(database: ResultsDatabase, **conditions: object) -> list[str]:
    """Return the ids of the prompts that match a filter, by prompt id."""
    prompts = database.list_prompts("prompt_id", PromptFilter(**conditions))
    return [prompt.prompt_id for prompt in prompts]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("' OR 1=1 --", ["p000004"]),
        ("100%", ["p000001"]),
        ("%", ["p000001"]),
        ("_", []),
        ('"', ["p000001"]),
        ("; DROP TABLE prompts; --", []),
        ("يا حمار", ["p000001"]),
        ("حمار", ["p000001"]),
        ("🤬", ["p000001"]),
        ("SKY", ["p000003"]),
        ("scatter", ["p000003"]),
        ("p000002", ["p000002"]),
        ("", ["p000001", "p000002", "p000003", "p000004"]),
    ],
)
def test_text_filter_is_literal(database: ResultsDatabase, text: str, expected: list[str]) -> None:
    assert matching_ids(database, text=text) == expected
    assert database.count_prompts(PromptFilter(text=text)) == len(expected)


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        ({"bucket": "high"}, ["p000001", "p000002"]),
        ({"bucket": "low"}, ["p000001", "p000002", "p000003"]),
        ({"bucket": "unscored"}, ["p000002"]),
        ({"variant": "PT", "bucket": "high"}, ["p000001", "p000002"]),
        ({"variant": "RL", "bucket": "high"}, []),
        ({"variant": "FT", "bucket": "unscored"}, ["p000002"]),
        ({"variant": "FT"}, ["p000001", "p000002", "p000003"]),
        ({"spikes": True}, ["p000001"]),
        ({"spikes": False}, ["p000002", "p000003", "p000004"]),
        ({"variant": "RL", "spikes": True}, []),
        ({"variant": "PT", "spikes": True, "text": "100%"}, ["p000001"]),
    ],
)
def test_bucket_variant_spike_filters(
    database: ResultsDatabase, conditions: dict, expected: list[str]
) -> None:
    assert matching_ids(database, **conditions) == expected


def test_filter_rejects_unknown_values(database: ResultsDatabase) -> None:
    with pytest.raises(ValueError, match="invalid variant"):
        database.count_prompts(PromptFilter(variant="XX"))
    with pytest.raises(ValueError, match="invalid bucket"):
        database.count_prompts(PromptFilter(bucket="1=1"))


def test_prompt_page_offset_and_total(database: ResultsDatabase) -> None:
    page = database.load_prompt_page("prompt_id", PromptFilter(), offset=2, limit=2)
    assert page.total == 4
    assert page.offset == 2
    assert [p.prompt_id for p in page.prompts] == ["p000003", "p000004"]
    past_end = database.load_prompt_page("prompt_id", PromptFilter(), offset=10, limit=2)
    assert past_end.offset == 2, "an offset past the end shows the last page"
    empty = database.load_prompt_page("prompt_id", PromptFilter(text="nothing"), 0, 2)
    assert (empty.total, empty.offset, empty.prompts) == (0, 0, [])


def test_prompt_without_generations(database: ResultsDatabase) -> None:
    detail = database.load_prompt_detail("p000004")
    assert detail.text == INJECTION_TEXT
    assert detail.generations == {}
    assert detail.n_steps == 0


def test_span_scores_of_generation(database: ResultsDatabase) -> None:
    spans = database.load_prompt_detail("p000001").generations["PT"].spans
    assert [(s.attribute, s.begin, s.end, s.value) for s in spans] == [
        ("TOXICITY", 0, 4, 0.2),
        ("INSULT", 5, 12, 0.93),
    ]
    assert database.load_prompt_detail("p000001").generations["FT"].spans == ()


def test_missing_span_table_is_optional(tmp_path: Path) -> None:
    path = build_results_database(tmp_path / "no-spans.duckdb", span_scores=False)
    with ResultsDatabase(path) as database:
        assert not database.has_span_scores
        assert database.load_span_scores("p000001-PT") == []
        assert database.load_prompt_detail("p000001").generations["PT"].spans == ()


def test_aggregates(database: ResultsDatabase) -> None:
    aggregates = database.load_aggregates()
    toxicity = {row[0]: row for row in aggregates.toxicity.rows}
    assert list(toxicity) == ["PT", "FT", "RL"]
    assert toxicity["FT"][2:4] == (3, 2), "n and n_scored"
    assert [(p.variant, p.step) for p in aggregates.entropy_curves][:4] == [
        ("PT", 0), ("PT", 1), ("PT", 2), ("PT", 3)
    ]
    transitions = {row[:3]: row[3] for row in aggregates.transitions.rows}
    assert transitions[("PT→FT", "high", "low")] == 1
    assert transitions[("PT→FT", "high", "unscored")] == 1
    assert transitions[("PT→RL", "high", "low")] == 2
    assert sum(n for (pair, *_), n in transitions.items() if pair == "FT→RL") == 3
    spikes = {row[0]: row for row in aggregates.spikes.rows}
    assert list(spikes) == ["PT", "FT", "RL"]
    assert spikes["PT"][1:4] == (3, 1, 1)
    assert spikes["PT"][5] == 2.0, "mean spike step"
    assert spikes["FT"][3] == 0
    titles = [table.title for table in aggregates.tables()]
    assert titles[:3] == ["toxicity table", "bucket transitions", "spike statistics"]
    assert titles[-2:] == ["entropy curves", "prompt dependence curves"]
    assert set(titles[3:-2]) <= {"spike summary", "comparisons"}


def test_aggregates_read_curves(results_db: Path) -> None:  # noqa: F811
    path = results_db
    with duckdb.connect(str(path)) as connection:
        connection.execute("DELETE FROM entropy_curves")
        connection.execute("DELETE FROM toxicity_table")
        connection.execute(
            "INSERT INTO entropy_curves VALUES ('RL', 0, 3, 1.0, 0.8, 1.2, 0.9, 0.8, 1.0),"
            " ('PT', 1, 3, 2.0, 1.5, 2.5, 0.7, 0.6, 0.8), ('PT', 0, 3, 1.5, 1.0, 2.0, 0.9, 0.8, 1.0)"
        )
        connection.execute("INSERT INTO toxicity_table VALUES ('RL', 'all', 3, 3, 0.03, 1, 0, 0)")
    with ResultsDatabase(path) as database:
        aggregates = database.load_aggregates()
    assert [(p.variant, p.step) for p in aggregates.entropy_curves] == [("PT", 0), ("PT", 1), ("RL", 0)]
    assert aggregates.dependence_curves[1].mean == 0.7
    assert aggregates.toxicity.rows == [("RL", "all", 3, 3, 0.03, 1.0, 0.0, 0.0)]


def test_export_prompts_follows_filter(database: ResultsDatabase) -> None:
    table = database.export_prompts("prompt_id", PromptFilter(bucket="high"))
    assert table.columns[:2] == ("prompt_id", "text")
    assert [row[0] for row in table.rows] == ["p000001", "p000002"]


def test_opens_file_replaced_during_read(results_db: Path, tmp_path: Path) -> None:  # noqa: F811
    # The results stage builds a new file under a temporary name and renames it over
    # the old one, so a reader keeps the complete old file open.
    with ResultsDatabase(results_db) as database:
        replacement = tmp_path / "results.duckdb.tmp"
        shutil.copyfile(results_db, replacement)
        with duckdb.connect(str(replacement)) as connection:
            connection.execute("DELETE FROM prompts WHERE prompt_id = 'p000004'")
        replacement.replace(results_db)
        assert database.count_prompts() == 4
    with ResultsDatabase(results_db) as reopened:
        assert reopened.count_prompts() == 3


def test_opens_while_another_process_writes(results_db: Path) -> None:  # noqa: F811
    # A writer in another process holds DuckDB's file lock; opening must still work
    # or fail with an error that names the file.
    import subprocess
    import sys

    writer = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('locked', flush=True); time.sleep(30)",
         str(results_db)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert writer.stdout.readline().strip() == "locked"
        with pytest.raises(ResultsQueryError, match="failed to open"):
            ResultsDatabase(results_db)
    finally:
        writer.kill()
        writer.wait()
