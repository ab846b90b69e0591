"""Pilot tests of the detox-tui app on the fixture database.

The async tests run under asyncio.run through `run_async`, so that they need no pytest
plugin for async tests.
"""

from __future__ import annotations

import asyncio
import csv
import functools
import io
import shutil
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
import duckdb
from textual.command import CommandPalette
from textual.pilot import Pilot
from textual.widgets import Footer, Input, Static
from tui_fixtures import results_db, results_db_template  # noqa: F401

from detox_tui.app import DetoxLensApp
from detox_tui.bindings import APP_ACTIONS
from detox_tui.components import (
    AggregateScreen,
    CompareScreen,
    CurvePlot,
    DetailView,
    EntropyPlot,
    HelpScreen,
    PromptList,
    SpanList,
    TokenView,
    VariantPanel,
)

SIZES = [(80, 24), (160, 48)]


def run_async(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Wrap an async test into a synchronous one that pytest can run.

    functools.wraps keeps the signature, so pytest still passes the test its fixtures.
    """

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


async def settle(pilot: Pilot) -> None:
    """Wait until no worker runs and every posted message is handled."""
    await pilot.pause()
    while any(not worker.is_finished for worker in pilot.app.workers):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


def static_text(widget: Static, width: int = 120) -> str:
    """Return the plain text of a Static's content, rendered at `width` cells."""
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()


def panel(app: DetoxLensApp, variant: str) -> VariantPanel:
    return app.query_one(f"#variant-{variant}", VariantPanel)


@pytest.mark.parametrize("size", SIZES)
@run_async
async def test_opens_with_four_prompts(results_db: Path, size: tuple[int, int]) -> None:  # noqa: F811
    app = DetoxLensApp(results_db)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        prompt_list = app.query_one(PromptList)
        assert prompt_list.row_count == 4
        assert prompt_list.highlighted_prompt_id == "p000002"
        assert app.selected_prompt_id == "p000002"


@run_async
async def test_selecting_prompt_shows_variants(results_db: Path) -> None:  # noqa: F811
    app = DetoxLensApp(results_db)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("down", "enter")
        await settle(pilot)
        detail = app.query_one(DetailView)
        assert detail.detail is not None
        assert detail.detail.prompt_id == "p000001"
        for variant in ("PT", "FT", "RL"):
            variant_panel = panel(app, variant)
            assert variant_panel.generation is not None
            assert variant_panel.generation.generation_id == f"p000001-{variant}"
        header = str(app.query_one("#prompt-header", Static).render())
        assert "100% of them are 🤬" in header
        assert "spikes at step 2" in header


@run_async
async def test_right_arrow_changes_step(results_db: Path) -> None:  # noqa: F811
    app = DetoxLensApp(results_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        detail = app.query_one(DetailView)
        assert detail.step == 0
        await pilot.press("right")
        await settle(pilot)
        assert detail.step == 1
        token_view = panel(app, "PT").query_one(TokenView)
        assert token_view.step == 1
        own = next(t for t in token_view.tokens if t.step == 1)
        assert own.value is None
        assert all(t.value is not None for t in token_view.tokens if t.position < own.position)
        await pilot.press("l", "l", "l")
        await settle(pilot)
        assert detail.step == 2, "p000002 has at most 3 steps, so the step stops at 2"
        await pilot.press("left", "h", "h")
        await settle(pilot)
        assert detail.step == 0


@run_async
async def test_spike_keys_jump_to_spike(results_db: Path) -> None:  # noqa: F811
    app = DetoxLensApp(results_db)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("down")
        await settle(pilot)
        detail = app.query_one(DetailView)
        await pilot.press("n")
        await settle(pilot)
        assert detail.step == 2
        assert panel(app, "PT").query_one(TokenView).step == 2
        await pilot.press("right", "N")
        await settle(pilot)
        assert detail.step == 2


@run_async
async def test_changing_prompt_resets_step(results_db: Path) -> None:  # noqa: F811
    app = DetoxLensApp(results_db)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("right")
        await settle(pilot)
        await pilot.press("down")
        await settle(pilot)
        detail = app.query_one(DetailView)
        assert detail.detail is not None
        assert detail.detail.prompt_id == "p000001"
        assert detail.step == 0
        assert panel(app, "PT").query_one(TokenView).step == 0


@run_async
async def test_empty_generation_placeholder(results_db: Path) -> None:  # noqa: F811
    app = DetoxLensApp(results_db)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        rendered = str(panel(app, "FT").query_one(TokenView).render())
        assert rendered == "(empty generation)"
        assert panel(app, "FT").has_class("-empty")


@run_async
async def test_layout_follows_width_and_toggle(results_db: Path) -> None:  # noqa: F811
    app = DetoxLensApp(results_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        detail = app.query_one(DetailView)
        assert detail.has_class("-stacked")
        assert panel(app, "FT").region.y > panel(app, "PT").region.y
        await pilot.press("v")
        await pilot.pause()
        assert not detail.has_class("-stacked")
        await pilot.resize_terminal(160, 48)
        await pilot.pause()
        assert not detail.has_class("-stacked")
        assert panel(app, "FT").region.x > panel(app, "PT").region.x
        assert panel(app, "FT").region.y == panel(app, "PT").region.y


@run_async
async def test_sort_key_cycles(results_db: Path) -> None:  # noqa: F811
    app = DetoxLensApp(results_db)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        prompt_list = app.query_one(PromptList)
        assert prompt_list.sort == "ft_toxicity"
        assert [p.prompt_id for p in prompt_list.prompts] == [
            "p000001", "p000003", "p000002", "p000004"
        ]
        assert prompt_list.highlighted_prompt_id == "p000002", "the cursor stays on its prompt"
        await pilot.press("s", "s")
        await settle(pilot)
        assert prompt_list.sort == "prompt_toxicity"
        assert [p.prompt_id for p in prompt_list.prompts] == [
            "p000001", "p000002", "p000003", "p000004"
        ]
        await pilot.press("s")
        await settle(pilot)
        assert prompt_list.sort == "ft_minus_pt"
        assert [p.prompt_id for p in prompt_list.prompts] == [
            "p000001", "p000003", "p000002", "p000004"
        ]


@pytest.mark.parametrize("size", SIZES)
@run_async
async def test_question_mark_opens_help(results_db: Path, size: tuple[int, int]) -> None:  # noqa: F811
    app = DetoxLensApp(results_db)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        console = Console(width=120, record=True, file=io.StringIO())
        console.print(app.screen.query_one(Static).content)
        help_text = console.export_text()
        for named in APP_ACTIONS:
            assert named.key_display in help_text
        for keys in ("Enter", "Esc", "^p"):
            assert keys in help_text
        await pilot.press("right")
        await pilot.pause()
        assert app.query_one(DetailView).step == 0, "step keys are inactive under help"
        footer_labels = [key.description for key in app.screen.query_one(Footer).query("FooterKey")]
        assert "Close" in footer_labels
        assert "Quit" not in footer_labels
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


@run_async
async def test_q_exits(results_db: Path) -> None:  # noqa: F811
    app = DetoxLensApp(results_db)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running
    assert app.return_code == 0


@run_async
async def test_query_failure_becomes_error_toast(results_db: Path) -> None:  # noqa: F811
    app = DetoxLensApp(results_db)
    toasts: list[tuple[str, str]] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.notify = lambda message, *, severity="information", **kwargs: toasts.append(
            (severity, message)
        )
        app.database.close()
        await pilot.press("s")
        await settle(pilot)
        assert app.is_running
        severity, message = toasts[-1]
        assert severity == "error"
        assert "query on" in message
        assert app.query_one(PromptList).row_count == 4


def list_ids(app: DetoxLensApp) -> list[str]:
    return [prompt.prompt_id for prompt in app.query_one(PromptList).prompts]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("' OR 1=1 --", ["p000004"]), ("100%", ["p000001"]), ("يا حمار", ["p000001"])],
)
@run_async
async def test_search_field_filters(results_db: Path, text: str, expected: list[str]) -> None:  # noqa: F811
    app = DetoxLensApp(results_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        app.query_one("#search", Input).insert_text_at_cursor(text)
        await settle(pilot)
        assert list_ids(app) == expected
        status = str(app.query_one("#list-status", Static).render())
        assert f"1–{len(expected)} of {len(expected)}" in status
        await pilot.press("left", "enter")
        await settle(pilot)
        assert app.query_one(DetailView).step == 0, "left moves in the text, not the step"
        assert isinstance(app.focused, PromptList)


@run_async
async def test_filter_keys_cycle(results_db: Path) -> None:  # noqa: F811
    app = DetoxLensApp(results_db)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("b")
        await settle(pilot)
        assert app.prompt_filter.bucket == "low"
        assert list_ids(app) == ["p000002", "p000001", "p000003"]
        await pilot.press("b", "b")
        await settle(pilot)
        assert app.prompt_filter.bucket == "high"
        await pilot.press("t")
        await settle(pilot)
        assert app.prompt_filter.variant == "PT"
        assert list_ids(app) == ["p000002", "p000001"]
        await pilot.press("x")
        await settle(pilot)
        assert app.prompt_filter.spikes is True
        assert list_ids(app) == ["p000001"]
        assert "variant PT, toxicity high, with spikes" in str(
            app.query_one("#list-status", Static).render()
        )
        await pilot.press("x", "x", "b", "b", "t", "t", "t")
        await settle(pilot)
        assert app.prompt_filter == type(app.prompt_filter)()
        assert len(list_ids(app)) == 4


@run_async
async def test_no_match_message(results_db: Path) -> None:  # noqa: F811
    app = DetoxLensApp(results_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.query_one("#search", Input).value = "no such text"
        await settle(pilot)
        assert app.query_one(PromptList).row_count == 0
        assert "no matching prompt" in str(app.query_one("#list-status", Static).render())
        assert "No prompt matches" in str(app.query_one("#prompt-header", Static).render())


@run_async
async def test_page_keys(results_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.setattr("detox_tui.app.PAGE_SIZE", 3)
    app = DetoxLensApp(results_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert list_ids(app) == ["p000002", "p000001", "p000003"]
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert list_ids(app) == ["p000004"]
        assert "4–4 of 4" in str(app.query_one("#list-status", Static).render())
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert app.page_offset == 3, "no page after the last"
        await pilot.press("left_square_bracket")
        await settle(pilot)
        assert list_ids(app) == ["p000002", "p000001", "p000003"]


@run_async
async def test_spans_and_dependence_plot(results_db: Path) -> None:  # noqa: F811
    app = DetoxLensApp(results_db)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("down")
        await settle(pilot)
        spans = panel(app, "PT").query_one(SpanList)
        assert spans.display
        assert "INSULT 0.93" in str(spans.render())
        assert "steps 2–3" in str(spans.render())
        assert not panel(app, "FT").query_one(SpanList).display
        plots = panel(app, "PT").query(EntropyPlot)
        assert [plot.metric for plot in plots] == ["entropy", "prompt_dependence"]
        assert "prompt dependence" in str(plots[1].render())


@run_async
async def test_prompt_without_generations(results_db: Path) -> None:  # noqa: F811
    app = DetoxLensApp(results_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("down", "down", "down")
        await settle(pilot)
        assert app.selected_prompt_id == "p000004"
        assert panel(app, "PT").has_class("-missing")
        await pilot.press("right", "n")
        await settle(pilot)
        assert app.query_one(DetailView).step == 0


@run_async
async def test_aggregate_view(results_db: Path) -> None:  # noqa: F811
    app = DetoxLensApp(results_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, AggregateScreen)
        assert screen.aggregates is not None
        assert "PT \\ FT" in static_text(screen.query_one("#transitions", Static))
        assert "spike statistics" in static_text(screen.query_one("#spike-statistics", Static))
        await pilot.press("right", "s")
        await pilot.pause()
        assert app.sort == "pt_toxicity", "main-screen keys are inactive here"
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, AggregateScreen)


@run_async
async def test_compare_view(results_db: Path, tmp_path: Path) -> None:  # noqa: F811
    other = Path(shutil.copyfile(results_db, tmp_path / "other.duckdb"))
    with duckdb.connect(str(other)) as connection:
        connection.execute("UPDATE token_metrics SET entropy = entropy + 1")
    sources = {"method A": results_db, "method B": other}
    app = DetoxLensApp(results_db, sources=sources)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        assert list(screen.details) == ["method A", "method B"]
        plot = screen.query_one("#compare-entropy-PT", CurvePlot)
        first, second = plot.curves.values()
        assert [p.mean + 1 for p in first] == pytest.approx([p.mean for p in second])
        rendered = str(plot.render())
        assert "method A" in rendered
        assert "method B" in rendered
        assert "vs" in str(screen.query_one("#compare-header", Static).render())
        tables = screen.export_tables()
        assert [table.title for table in tables] == [
            "method A token metrics p000002",
            "method B token metrics p000002",
        ]
        await pilot.press("c")
        await pilot.pause()
        assert not isinstance(app.screen, CompareScreen)


@run_async
async def test_compare_view_steps(results_db: Path, tmp_path: Path) -> None:  # noqa: F811
    other = Path(shutil.copyfile(results_db, tmp_path / "other.duckdb"))
    app = DetoxLensApp(results_db, sources={"method A": results_db, "method B": other})
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("right")
        await pilot.press("c")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        assert screen.step == 1, "the comparison opens at the main screen's step"

        await pilot.press("l")
        await pilot.pause()
        plot = screen.query_one("#compare-dependence-RL", CurvePlot)
        detail = screen.details["method A"]
        token = next(m.token for m in detail.generations["RL"].metrics if m.step == 2)
        console = Console(width=160, record=True, file=io.StringIO())
        console.print(screen.query_one("#compare-step", Static).content)
        step_text = console.export_text()
        assert screen.step == 2
        assert plot.step == 2
        assert "step 2" in step_text
        assert repr(token) in step_text
        assert "–" in step_text, "PT has no step 2 and FT has no generation"
        assert app.detail_view.step == 1, "the main screen's step stays where it was"

        for _ in range(detail.n_steps + 2):
            await pilot.press("right")
        await pilot.pause()
        assert screen.step == detail.n_steps - 1
        for _ in range(detail.n_steps + 2):
            await pilot.press("h")
        await pilot.pause()
        assert screen.step == 0


@run_async
async def test_compare_single_source(results_db: Path) -> None:  # noqa: F811
    app = DetoxLensApp(results_db, sources={"only": results_db})
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        assert "nothing to compare" in str(app.screen.query_one("#compare-header", Static).render())


@run_async
async def test_export_writes_csv_and_svg(results_db: Path, tmp_path: Path) -> None:  # noqa: F811
    export_dir = tmp_path / "exports"
    app = DetoxLensApp(results_db, export_dir=export_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("b", "b", "b")
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        names = sorted(path.name for path in export_dir.iterdir())
        assert len(names) == 3
        assert len([name for name in names if name.endswith(".svg")]) == 1
        prompts_csv = next(export_dir.glob("*-prompts.csv"))
        with prompts_csv.open(encoding="utf-8") as file:
            rows = list(csv.reader(file))
        assert rows[0][:2] == ["prompt_id", "text"]
        assert [row[0] for row in rows[1:]] == ["p000002", "p000001"], "the filtered rows"
        metrics_csv = next(export_dir.glob("*-token-metrics-p000002.csv"))
        assert "p000002-PT" in metrics_csv.read_text(encoding="utf-8")
        await pilot.press("a")
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        assert len(list(export_dir.glob("detox-tui-aggregates-*-spike-statistics.csv"))) == 1
        assert len(list(export_dir.glob("detox-tui-aggregates-*.svg"))) == 1


@run_async
async def test_export_to_unwritable_folder(results_db: Path, tmp_path: Path) -> None:  # noqa: F811
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    app = DetoxLensApp(results_db, export_dir=blocker / "exports")
    toasts: list[tuple[str, str]] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.notify = lambda message, *, severity="information", **kwargs: toasts.append(
            (severity, message)
        )
        await pilot.press("e")
        await settle(pilot)
        assert app.is_running
        assert toasts[-1][0] == "error"


@run_async
async def test_command_palette_lists_actions(results_db: Path) -> None:  # noqa: F811
    app = DetoxLensApp(results_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        for named in APP_ACTIONS:
            assert named.label in titles
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"Aggregates")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, AggregateScreen)


@run_async
async def test_every_binding_has_action(results_db: Path) -> None:  # noqa: F811
    app = DetoxLensApp(results_db)
    async with app.run_test(size=(80, 24)):
        for named in APP_ACTIONS:
            assert hasattr(app, f"action_{named.action}"), named.action


@pytest.mark.parametrize("size", SIZES)
@run_async
async def test_long_text_keeps_layout(results_db: Path, size: tuple[int, int]) -> None:  # noqa: F811
    # A 5,000-character prompt without spaces and a 300-character generated token.
    with duckdb.connect(str(results_db)) as connection:
        connection.execute("UPDATE prompts SET text = repeat('W', 5000) WHERE prompt_id = 'p000002'")
        connection.execute(
            "UPDATE tokens SET token = repeat('ش', 300) WHERE generation_id = 'p000002-PT' AND step = 1"
        )
    app = DetoxLensApp(results_db)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        width = size[0]
        assert app.selected_prompt_id == "p000002"
        for variant in ("PT", "FT", "RL"):
            assert panel(app, variant).region.right <= width
        assert app.query_one(DetailView).max_scroll_x == 0
        assert app.query_one(PromptList).region.right <= width


def test_compare_step_table_shows_controls() -> None:
    from detox_tui.components.compare_screen import step_table
    from detox_tui.records import Generation, PromptDetail, TokenMetric

    metric = TokenMetric(0, "\n\x1b[31m", 0.5, 0.6, 1.5, None, False)
    generation = Generation("g1", "RL", "tiny", None, "a b", 1, (metric,), ())
    detail = PromptDetail("p1", "prompt", None, {"RL": generation}, {})
    console = Console(width=160, record=True, file=io.StringIO())

    console.print(step_table({"method A": detail}, 0))

    text = console.export_text()
    assert "⏎" in text, "a newline token is drawn as in the detail view"
    assert "\x1b" not in text
    assert "1.50 bits" in text
