"""Time detox-tui on a large synthetic results file: first paint, detail view, filters.

Run from the repository root with the project's virtual environment:

    python benchmarks/tui_speed.py                      # builds /tmp/detox-tui-bench.duckdb
    python benchmarks/tui_speed.py --reuse              # reuses the file if it exists
    python benchmarks/tui_speed.py --generations 3000   # a quick run

The file follows `stages/results_schema.sql` and is built with DuckDB SQL from `range()`:
prompts of `--prompt-tokens` tokens, three variants (PT, FT, RL) per prompt, and
`--generated-tokens` generated tokens per generation, each with token metrics and an
attribution to every earlier position. Rows are inserted ordered by generation_id, the
order in which the results stage writes them when its parquet files are in that order.

Targets: first paint <= 1 s, detail view <= 100 ms, filter <= 200 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from detox_tui.queries import PromptFilter, ResultsDatabase  # noqa: E402

SCHEMA = REPO / "stages" / "results_schema.sql"
# Targets by the start of a measurement's name.
TARGETS_S = {"first paint": 1.0, "detail view": 0.1, "filter": 0.2}
PAGE_SIZE = 500

# Each statement reads the parameters $prompts, $prompt_tokens and $generated_tokens.
# Toxicities and entropies are deterministic functions of the ids, so that reruns build
# the same file. About one token in 40 is a spike.
BUILD_STATEMENTS = (
    """
    INSERT INTO prompts
    SELECT printf('p%07d', i), 'benchmark', i,
           CASE i % 1000
               WHEN 1 THEN 'I am 100% sure about them'
               WHEN 2 THEN 'He typed '' OR 1=1 -- into the form'
               WHEN 3 THEN 'قال لي يا حمار'
               ELSE 'prompt ' || i || ' about ' ||
                    list_element(['cats', 'taxes', 'trains', 'rain', 'music'], i % 5 + 1)
           END,
           '<user>prompt ' || i || '</user>',
           (hash(i) % 1000) / 1000.0
    FROM range($prompts) AS t(i)
    """,
    """
    INSERT INTO generations
    SELECT printf('p%07d-%s', i, v.variant), printf('p%07d', i), v.variant, 'benchmark/model',
           CASE WHEN v.variant = 'PT' THEN NULL ELSE 'adapters/' || lower(v.variant) END,
           'reply ' || v.variant || ' to prompt ' || i, $generated_tokens
    FROM range($prompts) AS t(i)
    CROSS JOIN (VALUES ('FT'), ('PT'), ('RL')) AS v(variant)
    ORDER BY 1
    """,
    """
    INSERT INTO tokens
    SELECT g.generation_id, p.position,
           CASE WHEN p.position < $prompt_tokens THEN ' w' || p.position ELSE ' t' || p.position END,
           p.position >= $prompt_tokens,
           CASE WHEN p.position >= $prompt_tokens THEN p.position - $prompt_tokens END
    FROM generations AS g
    CROSS JOIN range($prompt_tokens + $generated_tokens) AS p(position)
    ORDER BY g.generation_id, p.position
    """,
    """
    INSERT INTO token_metrics
    SELECT g.generation_id, s.step, ' t' || s.step, 0.5,
           0.5 + 0.4 * sin(s.step / 5.0 + hash(g.generation_id) % 7),
           2.0 + sin(s.step / 3.0 + hash(g.generation_id) % 11),
           CASE WHEN s.step > 0 THEN 0.1 END,
           hash(g.generation_id, s.step) % 40 = 0
    FROM generations AS g
    CROSS JOIN range($generated_tokens) AS s(step)
    ORDER BY g.generation_id, s.step
    """,
    """
    INSERT INTO attributions
    SELECT g.generation_id, s.step, p.position,
           1.0 / ($prompt_tokens + s.step)
    FROM generations AS g
    CROSS JOIN range($generated_tokens) AS s(step)
    CROSS JOIN range($prompt_tokens + $generated_tokens - 1) AS p(position)
    WHERE p.position < $prompt_tokens + s.step
    ORDER BY g.generation_id, s.step, p.position
    """,
    """
    INSERT INTO scores
    SELECT prompt_id, 'prompt', 'offline', 'benchmark', 'TOXICITY', source_toxicity, NULL
    FROM prompts
    UNION ALL
    SELECT generation_id, 'generation', 'offline', 'benchmark', 'TOXICITY',
           (hash(generation_id) % 1000) / 1000.0, NULL
    FROM generations
    """,
    "INSERT INTO run_info VALUES ('primary_scorer', 'offline')",
)


def build(path: Path, prompts: int, prompt_tokens: int, generated_tokens: int) -> float:
    """Build the benchmark file at `path` and return the seconds it took."""
    path.unlink(missing_ok=True)
    start = time.perf_counter()
    parameters = {
        "prompts": prompts,
        "prompt_tokens": prompt_tokens,
        "generated_tokens": generated_tokens,
    }
    with duckdb.connect(str(path), config={"enable_progress_bar": False}) as connection:
        connection.execute(SCHEMA.read_text(encoding="utf-8"))
        for statement in BUILD_STATEMENTS:
            used = {key: value for key, value in parameters.items() if f"${key}" in statement}
            connection.execute(statement, used)
    return time.perf_counter() - start


def time_app(path: Path) -> dict[str, float]:
    """Time the app in a headless 160x48 terminal.

    Returns the seconds from creating the app to the first prompt rows on screen; from
    pressing ↓ to the next prompt's detail in the widgets, and to the end of the repaint
    that follows (when Textual's pilot.press returns); and from setting the search text
    to the filtered rows in the table. The time of pressing an unbound key is the part
    of the repaint time that the app does not cause.
    """
    from textual.widgets import Input

    from detox_tui.app import DetoxLensApp
    from detox_tui.components import DetailView, PromptList

    shown_at: list[float] = []
    show_detail = DetailView.show_detail

    def timed_show_detail(view: DetailView, detail) -> None:  # noqa: ANN001
        show_detail(view, detail)
        shown_at.append(time.perf_counter())

    DetailView.show_detail = timed_show_detail

    async def wait_until(pilot, condition) -> None:  # noqa: ANN001
        while not condition():
            await pilot.pause(0.002)

    async def run() -> dict[str, float]:
        start = time.perf_counter()
        app = DetoxLensApp(path)
        async with app.run_test(size=(160, 48)) as pilot:
            prompt_list = app.query_one(PromptList)
            detail_view = app.query_one(DetailView)
            await wait_until(pilot, lambda: prompt_list.row_count > 0)
            times = {"first paint": time.perf_counter() - start}
            await wait_until(pilot, lambda: detail_view.detail is not None)
            await pilot.pause(0.5)

            idle = []
            for _ in range(5):
                start = time.perf_counter()
                await pilot.press("z")  # bound to nothing: the cost of pilot.press itself
                idle.append(time.perf_counter() - start)
            times["pilot.press of an unbound key"] = statistics.median(idle)

            in_widgets, repainted = [], []
            for _ in range(5):
                start = time.perf_counter()
                await pilot.press("down")
                repainted.append(time.perf_counter() - start)
                expected = prompt_list.highlighted_prompt_id
                await wait_until(pilot, lambda: detail_view.detail.prompt_id == expected)
                in_widgets.append(shown_at[-1] - start)
                await pilot.pause(0.2)
            times["detail view (app, in the widgets)"] = statistics.median(in_widgets)
            times["detail view (app, repainted)"] = statistics.median(repainted)

            start = time.perf_counter()
            app.query_one("#search", Input).value = "100%"
            await wait_until(pilot, lambda: app.total_prompts < 1000)
            times["filter (app, text '100%')"] = time.perf_counter() - start
            await pilot.press("q")
        return times

    try:
        return asyncio.run(run())
    finally:
        DetailView.show_detail = show_detail


def median_seconds(function, repeats: int) -> float:
    """Return the median wall time of `repeats` calls of `function`."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=Path("/tmp/detox-tui-bench.duckdb"))
    parser.add_argument("--generations", type=int, default=100_000,
                        help="number of generations, rounded up to a multiple of 3")  # fmt: skip
    parser.add_argument("--prompt-tokens", type=int, default=8)
    parser.add_argument("--generated-tokens", type=int, default=50)
    parser.add_argument("--reuse", action="store_true", help="reuse an existing file")
    args = parser.parse_args()

    prompts = -(-args.generations // 3)
    if not (args.reuse and args.path.is_file()):
        seconds = build(args.path, prompts, args.prompt_tokens, args.generated_tokens)
        print(f"built {args.path} in {seconds:.1f} s")
    size_mib = args.path.stat().st_size / 2**20
    with duckdb.connect(str(args.path), read_only=True) as connection:
        counts = {
            table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("prompts", "generations", "tokens", "token_metrics", "attributions")
        }
    print(f"file: {size_mib:.0f} MiB, rows: {counts}")

    results = time_app(args.path)
    with ResultsDatabase(args.path) as database:
        middle = f"p{prompts // 2:07d}"
        results["open (overview table)"] = median_seconds(lambda: ResultsDatabase(args.path).close(), 3)
        results["detail view"] = median_seconds(lambda: database.load_prompt_detail(middle), 20)
        results["step change"] = median_seconds(
            lambda: database.load_tokens_for_step([f"{middle}-PT", f"{middle}-FT", f"{middle}-RL"], 25), 20
        )
        filters = {
            "text '100%'": PromptFilter(text="100%"),
            "text right-to-left": PromptFilter(text="يا حمار"),
            "RL high, with spikes": PromptFilter(variant="RL", bucket="high", spikes=True),
        }
        for name, prompt_filter in filters.items():
            seconds = median_seconds(
                lambda f=prompt_filter: database.load_prompt_page("rl_minus_pt", f, 0, PAGE_SIZE), 5
            )
            results[f"filter: {name}"] = seconds
    for name, seconds in results.items():
        target = next((TARGETS_S[key] for key in TARGETS_S if name.startswith(key)), None)
        ratio = f" (ratio to the {target * 1000:.0f} ms target: {seconds / target:.2f})" if target else ""
        print(f"{name}: {seconds * 1000:.1f} ms{ratio}")


if __name__ == "__main__":
    main()
