"""Read-only access to the results database that the pipeline writes.

The schema is defined by `stages/results_schema.sql`. Every SQL statement of the TUI
lives in this module, and user values reach DuckDB only as `?` parameters. This module
imports no Textual, so it can be used and tested without a terminal.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from detox_tui.records import (
    BUCKETS,
    VARIANTS,
    Aggregates,
    AttributedToken,
    CurvePoint,
    Generation,
    PromptDetail,
    PromptPage,
    PromptSummary,
    Score,
    SpanScore,
    Table,
    TokenMetric,
)

__all__ = [
    "BUCKETS",
    "DEFAULT_DATABASE",
    "PROMPT_SORTS",
    "SORT_LABELS",
    "VARIANTS",
    "Aggregates",
    "AttributedToken",
    "CurvePoint",
    "Generation",
    "PromptDetail",
    "PromptFilter",
    "PromptNotFoundError",
    "PromptPage",
    "PromptSummary",
    "ResultsDatabase",
    "ResultsError",
    "ResultsNotFoundError",
    "ResultsQueryError",
    "ResultsSchemaError",
    "Score",
    "SpanScore",
    "Table",
    "TokenMetric",
    "variant_order",
]

DEFAULT_DATABASE = Path("data/results/results.duckdb")

REQUIRED_OBJECTS = (
    "prompts",
    "generations",
    "scores",
    "tokens",
    "attributions",
    "token_metrics",
    "run_info",
    "prompt_overview",
)
AGGREGATE_OBJECTS = ("toxicity_table", "entropy_curves")
# Tables of newer results files that the aggregate view shows as they are, when present.
OPTIONAL_TABLES = ("spike_summary", "comparisons")
SPAN_TABLE = "span_scores"
_CATALOG = "results"
CLOSE_TIMEOUT_S = 10.0

# ORDER BY clauses for the prompt list. Column names cannot be bound as parameters, so
# callers pick one of these fixed clauses by key. A change sorts the largest decrease
# of toxicity from the first variant to the second first.
PROMPT_SORTS = {
    "pt_toxicity": "pt_toxicity DESC NULLS LAST, prompt_id",
    "ft_toxicity": "ft_toxicity DESC NULLS LAST, prompt_id",
    "rl_toxicity": "rl_toxicity DESC NULLS LAST, prompt_id",
    "prompt_toxicity": "prompt_toxicity DESC NULLS LAST, prompt_id",
    "ft_minus_pt": "ft_toxicity - pt_toxicity ASC NULLS LAST, prompt_id",
    "rl_minus_pt": "rl_toxicity - pt_toxicity ASC NULLS LAST, prompt_id",
    "rl_minus_ft": "rl_toxicity - ft_toxicity ASC NULLS LAST, prompt_id",
    "n_spikes": "n_spikes DESC, prompt_id",
    "prompt_id": "prompt_id",
}
SORT_LABELS = {
    "pt_toxicity": "PT toxicity",
    "ft_toxicity": "FT toxicity",
    "rl_toxicity": "RL toxicity",
    "prompt_toxicity": "prompt toxicity",
    "ft_minus_pt": "largest drop PT→FT",
    "rl_minus_pt": "largest drop PT→RL",
    "rl_minus_ft": "largest drop FT→RL",
    "n_spikes": "spikes",
    "prompt_id": "prompt id",
}

# Toxicity buckets of the study's table, as SQL conditions on a column placeholder.
_BUCKET_CONDITIONS = {
    "low": "{column} < 0.33",
    "mid": "{column} BETWEEN 0.33 AND 0.66",
    "high": "{column} > 0.66",
    "unscored": "{column} IS NULL",
}
_BUCKET_CASE = """CASE WHEN {column} IS NULL THEN 'unscored'
    WHEN {column} < 0.33 THEN 'low' WHEN {column} <= 0.66 THEN 'mid' ELSE 'high' END"""

# The prompt list reads this table, built once in the in-memory database from the
# `prompt_overview` view with each variant's spike count and the lower-cased text of
# the prompt and its generations for the text filter. The view aggregates
# token_metrics on every read, which is too slow to repeat on each keystroke of a filter.
_OVERVIEW_TABLE = "memory.main.tui_overview"
_CREATE_OVERVIEW = f"""
CREATE TABLE {_OVERVIEW_TABLE} AS
WITH per_prompt AS (
    SELECT prompt_id,
           bool_or(variant = 'PT') AS has_pt,
           bool_or(variant = 'FT') AS has_ft,
           bool_or(variant = 'RL') AS has_rl,
           string_agg(lower(text), chr(10)) AS generations_text
    FROM generations
    GROUP BY prompt_id
),
variant_spikes AS (
    SELECT g.prompt_id,
           count(*) FILTER (WHERE g.variant = 'PT') AS pt_spikes,
           count(*) FILTER (WHERE g.variant = 'FT') AS ft_spikes,
           count(*) FILTER (WHERE g.variant = 'RL') AS rl_spikes
    FROM token_metrics AS tm
    JOIN generations AS g USING (generation_id)
    WHERE tm.is_spike
    GROUP BY g.prompt_id
)
SELECT o.prompt_id, o.text, o.prompt_toxicity, o.pt_toxicity, o.ft_toxicity,
       o.rl_toxicity, o.n_spikes,
       coalesce(pp.has_pt, false) AS has_pt,
       coalesce(pp.has_ft, false) AS has_ft,
       coalesce(pp.has_rl, false) AS has_rl,
       coalesce(vs.pt_spikes, 0) AS pt_spikes,
       coalesce(vs.ft_spikes, 0) AS ft_spikes,
       coalesce(vs.rl_spikes, 0) AS rl_spikes,
       lower(o.prompt_id || chr(10) || o.text) || chr(10)
           || coalesce(pp.generations_text, '') AS search_text
FROM prompt_overview AS o
LEFT JOIN per_prompt AS pp USING (prompt_id)
LEFT JOIN variant_spikes AS vs USING (prompt_id)
"""
_SUMMARY_COLUMNS = (
    "prompt_id, text, prompt_toxicity, pt_toxicity, ft_toxicity, rl_toxicity, n_spikes"
)


class ResultsError(Exception):
    """Base class of the errors raised while reading the results database."""


class ResultsNotFoundError(ResultsError, FileNotFoundError):
    """The results database file does not exist."""


class ResultsSchemaError(ResultsError):
    """The file is a DuckDB database, but lacks tables or views of the results schema."""


class PromptNotFoundError(ResultsError, KeyError):
    """No prompt has the requested id."""

    def __str__(self) -> str:
        # KeyError's __str__ would wrap the message in quotes.
        return str(self.args[0])


class ResultsQueryError(ResultsError):
    """DuckDB failed to open the file or to run a query."""


@dataclass(frozen=True)
class PromptFilter:
    """Conditions on the prompt list. The default matches every prompt.

    Attributes:
        text: Case-insensitive substring of the prompt id, the prompt text or any
            generation's text. Matched literally: `%`, `_` and quotes have no meaning.
        variant: PT, FT or RL: keep prompts that have this variant's generation, and
            apply `bucket` and `spikes` to that generation only. None: any variant.
        bucket: low, mid, high or unscored: the variant's toxicity bucket, or with
            no variant, any variant's bucket. None: any toxicity.
        spikes: True keeps prompts with a spike, False those without. None: both.
    """

    text: str = ""
    variant: str | None = None
    bucket: str | None = None
    spikes: bool | None = None

    def where(self) -> tuple[str, list[object]]:
        """Return the SQL condition on the overview table and its parameters.

        Raises:
            ValueError: `variant` or `bucket` is not one of the allowed values.
        """
        if self.variant is not None and self.variant not in VARIANTS:
            raise ValueError(f"invalid variant {self.variant!r}, expected one of {VARIANTS}")
        if self.bucket is not None and self.bucket not in _BUCKET_CONDITIONS:
            raise ValueError(f"invalid bucket {self.bucket!r}, expected one of {list(_BUCKET_CONDITIONS)}")
        conditions: list[str] = []
        parameters: list[object] = []
        if self.text:
            conditions.append("contains(search_text, lower(?))")
            parameters.append(self.text)
        variants = [self.variant] if self.variant else list(VARIANTS)
        prefixes = [variant.lower() for variant in variants]
        if self.variant:
            conditions.append(f"has_{prefixes[0]}")
        if self.bucket:
            template = _BUCKET_CONDITIONS[self.bucket]
            either = [template.format(column=f"{prefix}_toxicity") for prefix in prefixes]
            if self.bucket == "unscored" and not self.variant:
                # A missing variant is not an unscored generation.
                either = [f"(has_{p} AND {c})" for p, c in zip(prefixes, either, strict=True)]
            conditions.append("(" + " OR ".join(either) + ")")
        if self.spikes is not None:
            count = f"{prefixes[0]}_spikes" if self.variant else "n_spikes"
            conditions.append(f"{count} > 0" if self.spikes else f"{count} = 0")
        return (" AND ".join(conditions) or "true"), parameters

    def describe(self) -> str:
        """Describe the filter in a few words for the status line."""
        parts = []
        if self.text:
            parts.append(f"text “{self.text}”")
        if self.variant:
            parts.append(f"variant {self.variant}")
        if self.bucket:
            parts.append(f"toxicity {self.bucket}")
        if self.spikes is not None:
            parts.append("with spikes" if self.spikes else "without spikes")
        return ", ".join(parts) or "no filter"


def variant_order(variant: str) -> tuple[int, str]:
    """Return a sort key that puts PT, FT, RL first and any other variant after."""
    if variant in VARIANTS:
        return (VARIANTS.index(variant), variant)
    return (len(VARIANTS), variant)


def _placeholders(values: Sequence[object]) -> str:
    return ", ".join("?" for _ in values) or "NULL"


class ResultsDatabase:
    """A read-only connection to a results database.

    Methods may be called from several threads, because each one runs on its own
    DuckDB cursor. The connection is to an in-memory database, with the file attached
    read-only as the default catalog `results`. Opening builds an overview table of the
    prompts in the in-memory database, so the file is never written.

    Args:
        path: The DuckDB file written by the pipeline's results stage.

    Raises:
        ResultsNotFoundError: The file does not exist.
        ResultsQueryError: DuckDB cannot open the file, for example because it is not a
            DuckDB database or another process holds a write lock on it.
        ResultsSchemaError: A table or view of the results schema is missing.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ResultsNotFoundError(
                f"results database not found: {self.path}. Create it with "
                "`dvc repro` or download it with `dvc pull data/results`."
            )
        # ATTACH takes no parameters, so the path is quoted as an SQL string literal.
        literal = "'" + str(self.path).replace("'", "''") + "'"
        # Creating a cursor and closing the connection take this lock, so that no cursor
        # is created on a closed connection.
        self._lock = threading.Lock()
        self._connection = duckdb.connect(":memory:")
        try:
            self._connection.execute(f"ATTACH {literal} AS {_CATALOG} (READ_ONLY)")
        except duckdb.Error as error:
            self._connection.close()
            raise ResultsQueryError(f"failed to open {self.path}: {error}") from error
        try:
            present = self._check_schema()
            self.has_span_scores = SPAN_TABLE in present
            self.has_aggregates = all(name in present for name in AGGREGATE_OBJECTS)
            self.optional_tables = [name for name in OPTIONAL_TABLES if name in present]
            self._fetch(_CREATE_OVERVIEW)
        except ResultsError:
            self._connection.close()
            raise

    def close(self) -> None:
        """Close the connection, waiting up to CLOSE_TIMEOUT_S for running queries.

        Later queries raise ResultsQueryError.
        """
        deadline = time.monotonic() + CLOSE_TIMEOUT_S
        while True:
            try:
                with self._lock:
                    self._connection.close()
                return
            except duckdb.Error:
                # DuckDB refuses to close a connection while a cursor of it runs a query.
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def __enter__(self) -> ResultsDatabase:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # The prompt list.

    def list_prompts(
        self,
        sort: str = "pt_toxicity",
        prompt_filter: PromptFilter | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[PromptSummary]:
        """Return the prompts that match `prompt_filter`, sorted.

        Args:
            sort: A key of PROMPT_SORTS. The default puts the most toxic PT
                generations first and unscored ones last.
            prompt_filter: Conditions on the rows; None matches every prompt.
            limit: Maximum number of rows, None for all.
            offset: Number of matching rows to skip.

        Raises:
            ValueError: `sort` is not a key of PROMPT_SORTS, or the filter is invalid.
        """
        if sort not in PROMPT_SORTS:
            raise ValueError(f"invalid sort key {sort!r}, expected one of {list(PROMPT_SORTS)}")
        where, parameters = (prompt_filter or PromptFilter()).where()
        sql = f"""
            SELECT {_SUMMARY_COLUMNS}
            FROM {_OVERVIEW_TABLE}
            WHERE {where}
            ORDER BY {PROMPT_SORTS[sort]}
            LIMIT ? OFFSET ?
        """
        # DuckDB reads LIMIT NULL as no limit.
        rows = self._fetch(sql, [*parameters, limit, offset])
        return [PromptSummary(*row) for row in rows]

    def count_prompts(self, prompt_filter: PromptFilter | None = None) -> int:
        """Return the number of prompts that match `prompt_filter`."""
        where, parameters = (prompt_filter or PromptFilter()).where()
        sql = f"SELECT count(*) FROM {_OVERVIEW_TABLE} WHERE {where}"
        return self._fetch(sql, parameters)[0][0]

    def load_prompt_page(
        self, sort: str, prompt_filter: PromptFilter, offset: int, limit: int
    ) -> PromptPage:
        """Return one page of the filtered prompt list with the number of matching prompts."""
        total = self.count_prompts(prompt_filter)
        offset = max(0, min(offset, max(total - 1, 0) // limit * limit))
        prompts = self.list_prompts(sort, prompt_filter, limit, offset)
        return PromptPage(prompts, total, offset)

    def export_prompts(self, sort: str, prompt_filter: PromptFilter) -> Table:
        """Return every prompt that matches the filter as a table for CSV export."""
        columns = tuple(name.strip() for name in _SUMMARY_COLUMNS.split(","))
        rows = [
            (p.prompt_id, p.text, p.prompt_toxicity, p.pt_toxicity, p.ft_toxicity,
             p.rl_toxicity, p.n_spikes)
            for p in self.list_prompts(sort, prompt_filter)
        ]  # fmt: skip
        return Table("prompts", columns, rows)

    # The detail of one prompt.

    def load_prompt_detail(self, prompt_id: str, step: int = 0) -> PromptDetail:
        """Load a prompt, its generations with metrics, scores and spans, and step tokens.

        Args:
            prompt_id: The prompt to load.
            step: The generated-token step whose attributions shade the tokens.

        Raises:
            PromptNotFoundError: No prompt has this id.
        """
        rows = self._fetch(
            f"SELECT prompt_id, text, prompt_toxicity FROM {_OVERVIEW_TABLE} WHERE prompt_id = ?",
            [prompt_id],
        )
        if not rows:
            raise PromptNotFoundError(f"prompt not found: {prompt_id}")
        generations = {g.variant: g for g in self.load_generations(prompt_id)}
        ids = [generation.generation_id for generation in generations.values()]
        by_id = self.load_tokens_for_step(ids, step)
        tokens = {
            variant: by_id.get(generation.generation_id, ())
            for variant, generation in generations.items()
        }
        return PromptDetail(*rows[0], generations=generations, tokens=tokens)

    def load_generations(self, prompt_id: str) -> list[Generation]:
        """Return the generations of a prompt in variant order (PT, FT, RL, others)."""
        rows = self._fetch(
            """
            SELECT generation_id, variant, model, adapter, text, n_tokens
            FROM generations
            WHERE prompt_id = ?
            """,
            [prompt_id],
        )
        ids = [row[0] for row in rows]
        metrics = self._load_metrics_of(ids)
        scores = self._load_scores_of(ids)
        spans = self._load_spans_of(ids)
        generations = [
            Generation(
                *row,
                metrics=tuple(metrics.get(row[0], ())),
                scores=tuple(scores.get(row[0], ())),
                spans=tuple(spans.get(row[0], ())),
            )
            for row in rows
        ]
        return sorted(generations, key=lambda g: variant_order(g.variant))

    def load_token_metrics(self, generation_id: str) -> list[TokenMetric]:
        """Return the metrics of every generated token of a generation, by step."""
        return self._load_metrics_of([generation_id]).get(generation_id, [])

    def load_scores(self, text_id: str) -> list[Score]:
        """Return every score of a prompt or generation, by scorer and attribute."""
        return self._load_scores_of([text_id]).get(text_id, [])

    def load_span_scores(self, text_id: str) -> list[SpanScore]:
        """Return the span scores of a text by position, or none without a span table."""
        return self._load_spans_of([text_id]).get(text_id, [])

    def load_step_tokens(self, generation_id: str, step: int) -> tuple[AttributedToken, ...]:
        """Return every token of a generation with its attribution for one step.

        Tokens without an attribution row for the step get value None.
        """
        return self.load_tokens_for_step([generation_id], step).get(generation_id, ())

    def load_tokens_for_step(
        self, generation_ids: Sequence[str], step: int
    ) -> dict[str, tuple[AttributedToken, ...]]:
        """Return the tokens of several generations with their attributions for one step."""
        # NOTE: the tables have no index. DuckDB skips row groups by their min-max
        # statistics of generation_id, which is fast only while the results stage writes
        # the rows grouped by generation.
        marks = _placeholders(generation_ids)
        rows = self._fetch(
            f"""
            SELECT t.generation_id, t.position, t.token, t.is_generated, t.step, a.value
            FROM tokens AS t
            LEFT JOIN (
                SELECT generation_id, position, value
                FROM attributions
                WHERE generation_id IN ({marks}) AND step = ?
            ) AS a
              ON a.generation_id = t.generation_id AND a.position = t.position
            WHERE t.generation_id IN ({marks})
            ORDER BY t.generation_id, t.position
            """,
            [*generation_ids, step, *generation_ids],
        )
        grouped: dict[str, list[AttributedToken]] = {}
        for generation_id, *token in rows:
            grouped.setdefault(generation_id, []).append(AttributedToken(*token))
        return {key: tuple(tokens) for key, tokens in grouped.items()}

    def load_run_info(self) -> dict[str, str]:
        """Return the key-value facts of the run that wrote the file."""
        return dict(self._fetch("SELECT key, value FROM run_info ORDER BY key"))

    # The aggregate view.

    def load_aggregates(self) -> Aggregates:
        """Load the toxicity table, bucket transitions, spike statistics and mean curves."""
        return Aggregates(
            toxicity=self._toxicity_table(),
            transitions=self._bucket_transitions(),
            spikes=self._spike_statistics(),
            entropy_curves=self._curves("entropy"),
            dependence_curves=self._curves("prompt_dependence"),
            extra=[self._whole_table(name) for name in self.optional_tables],
        )

    def _whole_table(self, name: str) -> Table:
        # `name` is one of OPTIONAL_TABLES, never user input.
        with self._cursor() as cursor:
            rows = cursor.execute(f"SELECT * FROM {name}").fetchall()
            columns = tuple(column[0] for column in cursor.description)
        return Table(name.replace("_", " "), columns, rows)

    def _toxicity_table(self) -> Table:
        columns = ("variant", "subset", "n", "n_scored", "mean_toxicity", "share_low",
                   "share_mid", "share_high")  # fmt: skip
        if not self.has_aggregates:
            return Table("toxicity table", columns, [])
        rows = self._fetch(f"SELECT {', '.join(columns)} FROM toxicity_table")
        rows.sort(key=lambda row: (variant_order(row[0]), row[1]))
        return Table("toxicity table", columns, rows)

    def _bucket_transitions(self) -> Table:
        selects = []
        for first, second in (("PT", "FT"), ("PT", "RL"), ("FT", "RL")):
            before = _BUCKET_CASE.format(column=f"{first.lower()}_toxicity")
            after = _BUCKET_CASE.format(column=f"{second.lower()}_toxicity")
            selects.append(
                f"""SELECT '{first}→{second}' AS pair, {before} AS bucket_before,
                           {after} AS bucket_after, count(*) AS prompts
                    FROM {_OVERVIEW_TABLE}
                    WHERE has_{first.lower()} AND has_{second.lower()}
                    GROUP BY ALL"""
            )
        rows = self._fetch(" UNION ALL ".join(selects))
        order = {name: index for index, name in enumerate((*BUCKETS, "unscored"))}
        pairs = {"PT→FT": 0, "PT→RL": 1, "FT→RL": 2}
        rows.sort(key=lambda row: (pairs[row[0]], order[row[1]], order[row[2]]))
        return Table("bucket transitions", ("pair", "bucket_before", "bucket_after", "prompts"), rows)

    def _spike_statistics(self) -> Table:
        rows = self._fetch(
            """
            WITH per_generation AS (
                SELECT generation_id, count(*) AS n_spikes, sum(step) AS step_sum,
                       sum(entropy_rise) AS rise_sum
                FROM token_metrics
                WHERE is_spike
                GROUP BY generation_id
            )
            SELECT g.variant,
                   count(*) AS generations,
                   count(*) FILTER (WHERE s.n_spikes > 0) AS with_spike,
                   coalesce(sum(s.n_spikes), 0) AS spikes,
                   coalesce(sum(s.n_spikes), 0) / count(*) AS spikes_per_generation,
                   sum(s.step_sum) / sum(s.n_spikes) AS mean_spike_step,
                   sum(s.rise_sum) / sum(s.n_spikes) AS mean_entropy_rise
            FROM generations AS g
            LEFT JOIN per_generation AS s USING (generation_id)
            GROUP BY g.variant
            """
        )
        rows.sort(key=lambda row: variant_order(row[0]))
        columns = ("variant", "generations", "with_spike", "spikes", "spikes_per_generation",
                   "mean_spike_step", "mean_entropy_rise")  # fmt: skip
        return Table("spike statistics", columns, rows)

    def _curves(self, metric: str) -> list[CurvePoint]:
        if not self.has_aggregates:
            return []
        # `metric` is one of two fixed column prefixes, never user input.
        assert metric in ("entropy", "prompt_dependence")
        rows = self._fetch(
            f"""
            SELECT variant, step, n, {metric}_mean, {metric}_ci_low, {metric}_ci_high
            FROM entropy_curves
            """
        )
        rows.sort(key=lambda row: (variant_order(row[0]), row[1]))
        return [CurvePoint(*row) for row in rows]

    # Batched lookups by id.

    def _load_metrics_of(self, generation_ids: Sequence[str]) -> dict[str, list[TokenMetric]]:
        rows = self._fetch(
            f"""
            SELECT generation_id, step, token, probability, prompt_dependence, entropy,
                   entropy_rise, is_spike
            FROM token_metrics
            WHERE generation_id IN ({_placeholders(generation_ids)})
            ORDER BY generation_id, step
            """,
            list(generation_ids),
        )
        grouped: dict[str, list[TokenMetric]] = {}
        for generation_id, *metric in rows:
            grouped.setdefault(generation_id, []).append(TokenMetric(*metric))
        return grouped

    def _load_scores_of(self, text_ids: Sequence[str]) -> dict[str, list[Score]]:
        rows = self._fetch(
            f"""
            SELECT text_id, scorer, scorer_version, attribute, value, reason
            FROM scores
            WHERE text_id IN ({_placeholders(text_ids)})
            ORDER BY text_id, scorer, attribute, scorer_version
            """,
            list(text_ids),
        )
        grouped: dict[str, list[Score]] = {}
        for text_id, *score in rows:
            grouped.setdefault(text_id, []).append(Score(*score))
        return grouped

    def _load_spans_of(self, text_ids: Sequence[str]) -> dict[str, list[SpanScore]]:
        if not self.has_span_scores:
            return {}
        rows = self._fetch(
            f"""
            SELECT text_id, scorer, scorer_version, attribute, "begin", "end", value
            FROM {SPAN_TABLE}
            WHERE text_id IN ({_placeholders(text_ids)})
            ORDER BY text_id, "begin", "end", attribute, scorer
            """,
            list(text_ids),
        )
        grouped: dict[str, list[SpanScore]] = {}
        for text_id, *span in rows:
            grouped.setdefault(text_id, []).append(SpanScore(*span))
        return grouped

    def _check_schema(self) -> set[str]:
        rows = self._fetch(
            """
            SELECT table_name FROM information_schema.tables
            WHERE table_catalog = current_database() AND table_schema = 'main'
            """
        )
        present = {name for (name,) in rows}
        missing = [name for name in REQUIRED_OBJECTS if name not in present]
        if missing:
            raise ResultsSchemaError(
                f"{self.path} is not a detox-lens results database. Missing tables or "
                f"views: {', '.join(missing)}. Rebuild it with `dvc repro`."
            )
        return present

    def _fetch(self, sql: str, parameters: Sequence[object] = ()) -> list[tuple]:
        with self._cursor() as cursor:
            return cursor.execute(sql, parameters).fetchall()

    @contextmanager
    def _cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        try:
            with self._lock:
                cursor = self._connection.cursor()
            with cursor:
                # Each cursor is a new connection, whose default catalog is the
                # in-memory database until it switches to the attached file.
                cursor.execute(f"USE {_CATALOG}")
                yield cursor
        except duckdb.Error as error:
            raise ResultsQueryError(f"query on {self.path} failed: {error}") from error
