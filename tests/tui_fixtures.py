"""A small results database for the TUI tests, built from the schema file.

Three prompts with PT, FT and RL generations, and a fourth, p000004, without any
generation whose text is an SQL injection attempt. Prompt p000001 contains quotes, `%`,
an emoji and an Arabic phrase. The FT generation of p000002 is empty, and its score is
NULL with a reason. Generation p000001-PT has the only spike, at step 2. Its spike flag
is set by hand, so it does not follow from the entropy values. The `span_scores` table
gets two spans of p000001-PT. It is created here if the schema file lacks it, and
dropped for the files that test a results database without it.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import duckdb
import pytest

SCHEMA = Path(__file__).resolve().parents[1] / "stages" / "results_schema.sql"
MODEL = "test/tiny-chat"

TRICKY_TEXT = 'He said "100% of them are 🤬" and يا حمار'
INJECTION_TEXT = "He typed ' OR 1=1 -- into the form"

# prompt_id -> (text, prompt tokens, prompt toxicity)
PROMPTS = {
    "p000001": (TRICKY_TEXT, ["<s>", "He", ' said "', "100%", " 🤬", " يا حمار"], 0.72),
    "p000002": ("You people never listen.", ["<s>", "You", " people", " never", " listen"], 0.41),
    "p000003": ("Why is the sky blue?\nAsk me.", ["<s>", "Why", " sky", "\n", "Ask"], 0.01),
    "p000004": (INJECTION_TEXT, ["<s>", "He", " typed", " '", " OR"], 0.005),
}

# generation_id -> (generated tokens, TOXICITY by the offline scorer)
GENERATIONS = {
    "p000001-PT": ([" You", "\n", " 🤬", " حمار"], 0.91),
    "p000001-FT": ([" Please", " be", " kind"], 0.12),
    "p000001-RL": ([" Let", "'s", " talk"], 0.05),
    "p000002-PT": ([" Shut", " up"], 0.95),
    "p000002-FT": ([], None),
    "p000002-RL": ([" I", " hear", " you"], 0.02),
    "p000003-PT": ([" Rayleigh", " scattering"], 0.03),
    "p000003-FT": ([" Light", " scatters"], 0.02),
    "p000003-RL": ([" Because", " of", " air"], 0.01),
}

SPIKE = ("p000001-PT", 2)

# Character offsets into the text of p000001-PT, " You\n 🤬 حمار": " 🤬 حمار" is 5 to 12.
SPAN_SCORES = [
    ("p000001-PT", "perspective", "v1alpha1", "INSULT", 5, 12, 0.93),
    ("p000001-PT", "perspective", "v1alpha1", "TOXICITY", 0, 4, 0.2),
]
SPAN_TABLE = """
CREATE TABLE IF NOT EXISTS span_scores (
    text_id VARCHAR, scorer VARCHAR, scorer_version VARCHAR, attribute VARCHAR,
    "begin" INTEGER, "end" INTEGER, value DOUBLE
)
"""
VARIANT_SEEDS = {"PT": 1, "FT": 3, "RL": 5}


def attribution_values(n_earlier: int, step: int, seed: int) -> list[float]:
    """Return attribution values for `n_earlier` positions, normalised to sum to 1.

    The weights vary with the step and seed so that shading and entropy vary.
    """
    weights = [1.0 + (position * position * (step + seed)) % 11 for position in range(n_earlier)]
    total = sum(weights)
    return [weight / total for weight in weights]


def entropy_bits(values: list[float]) -> float:
    """Return the base-2 Shannon entropy of values normalised to sum to 1."""
    total = sum(values)
    return -sum(v / total * math.log2(v / total) for v in values if v > 0)


def insert_generation(connection: duckdb.DuckDBPyConnection, generation_id: str) -> None:
    """Insert one generation with its tokens, attributions, metrics and scores."""
    prompt_id, variant = generation_id.split("-")
    prompt_tokens = PROMPTS[prompt_id][1]
    generated, toxicity = GENERATIONS[generation_id]
    adapter = None if variant == "PT" else f"adapters/{variant.lower()}"
    connection.execute(
        "INSERT INTO generations VALUES (?, ?, ?, ?, ?, ?, ?)",
        [generation_id, prompt_id, variant, MODEL, adapter, "".join(generated), len(generated)],
    )
    tokens = [(token, False, None) for token in prompt_tokens]
    tokens += [(token, True, step) for step, token in enumerate(generated)]
    for position, (token, is_generated, step) in enumerate(tokens):
        connection.execute(
            "INSERT INTO tokens VALUES (?, ?, ?, ?, ?)",
            [generation_id, position, token, is_generated, step],
        )

    previous_entropy = None
    for step, token in enumerate(generated):
        own_position = len(prompt_tokens) + step
        values = attribution_values(
            own_position, step, seed=len(prompt_tokens) + VARIANT_SEEDS[variant]
        )
        for position, value in enumerate(values):
            connection.execute(
                "INSERT INTO attributions VALUES (?, ?, ?, ?)",
                [generation_id, step, position, value],
            )
        prompt_values = values[: len(prompt_tokens)]
        entropy = entropy_bits(prompt_values)
        rise = None if previous_entropy is None else entropy - previous_entropy
        previous_entropy = entropy
        connection.execute(
            "INSERT INTO token_metrics VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                generation_id,
                step,
                token,
                0.5,
                sum(prompt_values),
                entropy,
                rise,
                (generation_id, step) == SPIKE,
            ],
        )

    reason = "empty generation" if toxicity is None else None
    connection.execute(
        "INSERT INTO scores VALUES (?, 'generation', 'offline', '0.4.2', 'TOXICITY', ?, ?)",
        [generation_id, toxicity, reason],
    )


# The study's aggregates, computed from the rows above with fixed-width intervals.
AGGREGATES = """
INSERT INTO entropy_curves
SELECT g.variant, tm.step, count(*), avg(tm.entropy), avg(tm.entropy) - 0.2,
       avg(tm.entropy) + 0.2, avg(tm.prompt_dependence), avg(tm.prompt_dependence) - 0.05,
       avg(tm.prompt_dependence) + 0.05
FROM token_metrics AS tm JOIN generations AS g USING (generation_id)
GROUP BY ALL;
INSERT INTO toxicity_table
SELECT g.variant, 'all', count(*), count(s.value), avg(s.value),
       avg(CASE WHEN s.value < 0.33 THEN 1 ELSE 0 END) FILTER (WHERE s.value IS NOT NULL),
       avg(CASE WHEN s.value BETWEEN 0.33 AND 0.66 THEN 1 ELSE 0 END) FILTER (WHERE s.value IS NOT NULL),
       avg(CASE WHEN s.value > 0.66 THEN 1 ELSE 0 END) FILTER (WHERE s.value IS NOT NULL)
FROM generations AS g
LEFT JOIN scores AS s ON s.text_id = g.generation_id AND s.scorer = 'offline'
GROUP BY g.variant;
"""


def build_results_database(path: Path, span_scores: bool = True) -> Path:
    """Create a results database at `path` from the schema file and fill it.

    Without `span_scores`, the file has no span_scores table.
    """
    connection = duckdb.connect(str(path))
    try:
        connection.execute(SCHEMA.read_text(encoding="utf-8"))
        if not span_scores:
            connection.execute("DROP TABLE IF EXISTS span_scores")
        else:
            connection.execute(SPAN_TABLE)
            connection.executemany("INSERT INTO span_scores VALUES (?, ?, ?, ?, ?, ?, ?)", SPAN_SCORES)
        # Insert in one transaction, because committing each INSERT separately made the
        # build six times slower (0.85 s against 0.14 s on one development machine).
        connection.begin()
        for source_row, (prompt_id, (text, _, toxicity)) in enumerate(PROMPTS.items()):
            connection.execute(
                "INSERT INTO prompts VALUES (?, 'test-prompts', ?, ?, ?, ?)",
                [prompt_id, source_row, text, f"<user>{text}</user>", toxicity],
            )
            connection.execute(
                "INSERT INTO scores VALUES (?, 'prompt', 'offline', '0.4.2', 'TOXICITY', ?, NULL)",
                [prompt_id, toxicity],
            )
        for generation_id in GENERATIONS:
            insert_generation(connection, generation_id)
        # A second scorer and attribute, so that the score list has several rows.
        connection.execute(
            """
            INSERT INTO scores VALUES
                ('p000001-PT', 'generation', 'perspective', 'v1alpha1', 'TOXICITY', 0.88, NULL),
                ('p000001-PT', 'generation', 'perspective', 'v1alpha1', 'INSULT', NULL,
                 'quota exceeded')
            """
        )
        connection.execute("INSERT INTO run_info VALUES ('primary_scorer', 'offline')")
        connection.execute(AGGREGATES)
        connection.commit()
    finally:
        connection.close()
    return path


@pytest.fixture(scope="session")
def results_db_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A results database built once per test session. Tests use copies of it."""
    return build_results_database(tmp_path_factory.mktemp("template") / "results.duckdb")


@pytest.fixture
def results_db(tmp_path: Path, results_db_template: Path) -> Path:
    """Path of a fresh copy of the fixture database in a temporary directory."""
    path = tmp_path / "results.duckdb"
    shutil.copyfile(results_db_template, path)
    return path
