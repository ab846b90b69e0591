"""Read-only access to the results database that the pipeline writes.

The schema is defined by `stages/results_schema.sql`. Every SQL statement of the TUI
lives in this module, and user values reach DuckDB only as `?` parameters. This module
imports no Textual, so it can be used and tested without a terminal.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

DEFAULT_DATABASE = Path("data/results/results.duckdb")

VARIANTS = ("PT", "FT", "RL")
"""Model variants in display order: pre-trained, fine-tuned, reinforcement-learned."""

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

# ORDER BY clauses for the prompt list. Column names cannot be bound as parameters, so
# callers pick one of these fixed clauses by key.
PROMPT_SORTS = {
    "pt_toxicity": "pt_toxicity DESC NULLS LAST, prompt_id",
    "prompt_toxicity": "prompt_toxicity DESC NULLS LAST, prompt_id",
    "n_spikes": "n_spikes DESC, prompt_id",
    "prompt_id": "prompt_id",
}
SORT_LABELS = {
    "pt_toxicity": "PT toxicity",
    "prompt_toxicity": "prompt toxicity",
    "n_spikes": "spikes",
    "prompt_id": "prompt id",
}


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
class PromptSummary:
    """One row of the `prompt_overview` view, with None for each toxicity not scored."""

    prompt_id: str
    text: str
    prompt_toxicity: float | None
    pt_toxicity: float | None
    ft_toxicity: float | None
    rl_toxicity: float | None
    n_spikes: int


@dataclass(frozen=True)
class AttributedToken:
    """A token of the attributed sequence with its attribution for one generated step.

    `value` is None for the step's own token and for every later position.
    """

    position: int
    token: str
    is_generated: bool
    step: int | None
    value: float | None


@dataclass(frozen=True)
class TokenMetric:
    """Prompt dependence, entropy (bits) and spike flag of one generated token."""

    step: int
    token: str
    probability: float | None
    prompt_dependence: float
    entropy: float
    entropy_rise: float | None
    is_spike: bool


@dataclass(frozen=True)
class Score:
    """One row of `scores`, where `reason` explains why `value` is None."""

    scorer: str
    scorer_version: str
    attribute: str
    value: float | None
    reason: str | None


@dataclass(frozen=True)
class Generation:
    """A variant's reply with its per-step metrics and scores."""

    generation_id: str
    variant: str
    model: str
    adapter: str | None
    text: str
    n_tokens: int
    metrics: tuple[TokenMetric, ...]
    scores: tuple[Score, ...]

    @property
    def n_steps(self) -> int:
        """Number of generated tokens that have metrics."""
        return len(self.metrics)


@dataclass(frozen=True)
class PromptDetail:
    """A prompt with its generations keyed by variant and their tokens at step 0."""

    prompt_id: str
    text: str
    prompt_toxicity: float | None
    generations: dict[str, Generation]
    tokens: dict[str, tuple[AttributedToken, ...]]

    @property
    def n_steps(self) -> int:
        """Number of steps of the longest generation."""
        return max((g.n_steps for g in self.generations.values()), default=0)

    def spike_steps(self) -> list[int]:
        """Return the sorted steps at which any variant has a spike."""
        steps = {
            metric.step
            for generation in self.generations.values()
            for metric in generation.metrics
            if metric.is_spike
        }
        return sorted(steps)


def variant_order(variant: str) -> tuple[int, str]:
    """Return a sort key that puts PT, FT, RL first and any other variant after."""
    if variant in VARIANTS:
        return (VARIANTS.index(variant), variant)
    return (len(VARIANTS), variant)


class ResultsDatabase:
    """A read-only connection to a results database.

    Methods may be called from several threads, because each one runs on its own
    DuckDB cursor.

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
        try:
            self._connection = duckdb.connect(str(self.path), read_only=True)
        except duckdb.Error as error:
            raise ResultsQueryError(f"failed to open {self.path}: {error}") from error
        self._check_schema()

    def close(self) -> None:
        """Close the connection. Later queries raise ResultsQueryError."""
        self._connection.close()

    def __enter__(self) -> ResultsDatabase:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def list_prompts(self, sort: str = "pt_toxicity") -> list[PromptSummary]:
        """Return every row of `prompt_overview`.

        Args:
            sort: A key of PROMPT_SORTS. The default puts the most toxic PT
                generations first and unscored ones last.

        Raises:
            ValueError: `sort` is not a key of PROMPT_SORTS.
        """
        if sort not in PROMPT_SORTS:
            raise ValueError(f"invalid sort key {sort!r}, expected one of {list(PROMPT_SORTS)}")
        sql = f"""
            SELECT prompt_id, text, prompt_toxicity, pt_toxicity, ft_toxicity,
                   rl_toxicity, n_spikes
            FROM prompt_overview
            ORDER BY {PROMPT_SORTS[sort]}
        """
        return [PromptSummary(*row) for row in self._fetch(sql)]

    def load_prompt_detail(self, prompt_id: str) -> PromptDetail:
        """Load a prompt, its generations, their metrics and scores, and step 0 tokens.

        Raises:
            PromptNotFoundError: No prompt has this id.
        """
        rows = self._fetch(
            "SELECT prompt_id, text, prompt_toxicity FROM prompt_overview WHERE prompt_id = ?",
            [prompt_id],
        )
        if not rows:
            raise PromptNotFoundError(f"prompt not found: {prompt_id}")
        generations = {g.variant: g for g in self.load_generations(prompt_id)}
        tokens = {
            variant: self.load_step_tokens(generation.generation_id, 0)
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
        generations = [
            Generation(
                *row,
                metrics=tuple(self.load_token_metrics(row[0])),
                scores=tuple(self.load_scores(row[0])),
            )
            for row in rows
        ]
        return sorted(generations, key=lambda g: variant_order(g.variant))

    def load_token_metrics(self, generation_id: str) -> list[TokenMetric]:
        """Return the metrics of every generated token of a generation, by step."""
        rows = self._fetch(
            """
            SELECT step, token, probability, prompt_dependence, entropy, entropy_rise,
                   is_spike
            FROM token_metrics
            WHERE generation_id = ?
            ORDER BY step
            """,
            [generation_id],
        )
        return [TokenMetric(*row) for row in rows]

    def load_scores(self, text_id: str) -> list[Score]:
        """Return every score of a prompt or generation, by scorer and attribute."""
        rows = self._fetch(
            """
            SELECT scorer, scorer_version, attribute, value, reason
            FROM scores
            WHERE text_id = ?
            ORDER BY scorer, attribute, scorer_version
            """,
            [text_id],
        )
        return [Score(*row) for row in rows]

    def load_step_tokens(self, generation_id: str, step: int) -> tuple[AttributedToken, ...]:
        """Return every token of a generation with its attribution for one step.

        Tokens without an attribution row for the step get value None.
        """
        # NOTE: attributions has no index. DuckDB skips row groups by their min-max
        # statistics, which helps only while the results stage writes the rows grouped by
        # generation. The query time on a full-size file has not been measured.
        rows = self._fetch(
            """
            SELECT t.position, t.token, t.is_generated, t.step, a.value
            FROM tokens AS t
            LEFT JOIN attributions AS a
              ON a.generation_id = t.generation_id
             AND a.position = t.position
             AND a.step = ?
            WHERE t.generation_id = ?
            ORDER BY t.position
            """,
            [step, generation_id],
        )
        return tuple(AttributedToken(*row) for row in rows)

    def load_run_info(self) -> dict[str, str]:
        """Return the key-value facts of the run that wrote the file."""
        return dict(self._fetch("SELECT key, value FROM run_info ORDER BY key"))

    def _check_schema(self) -> None:
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

    def _fetch(self, sql: str, parameters: Sequence[object] = ()) -> list[tuple]:
        with self._cursor() as cursor:
            return cursor.execute(sql, parameters).fetchall()

    @contextmanager
    def _cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        try:
            with self._connection.cursor() as cursor:
                yield cursor
        except duckdb.Error as error:
            raise ResultsQueryError(f"query on {self.path} failed: {error}") from error
