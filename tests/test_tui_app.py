"""Pilot tests of the detox-tui app on the fixture database.

The async tests run under asyncio.run through `run_async`, so that they need no pytest
plugin for async tests.
"""

from __future__ import annotations

import asyncio
import functools
import io
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import Static
from tui_fixtures import results_db  # noqa: F401

from detox_tui.app import DetoxLensApp
from detox_tui.components import DetailView, HelpScreen, PromptList, TokenView, VariantPanel

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


def panel(app: DetoxLensApp, variant: str) -> VariantPanel:
    return app.query_one(f"#variant-{variant}", VariantPanel)


@pytest.mark.parametrize("size", SIZES)
@run_async
async def test_opens_with_three_prompts(results_db: Path, size: tuple[int, int]) -> None:  # noqa: F811
    app = DetoxLensApp(results_db)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        prompt_list = app.query_one(PromptList)
        assert prompt_list.row_count == 3
        assert prompt_list.highlighted_prompt_id == "p000002"
        assert app.selected_prompt_id == "p000002"


@pytest.mark.parametrize("size", SIZES)
@run_async
async def test_selecting_prompt_shows_variants(results_db: Path, size: tuple[int, int]) -> None:  # noqa: F811
    app = DetoxLensApp(results_db)
    async with app.run_test(size=size) as pilot:
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


@pytest.mark.parametrize("size", SIZES)
@run_async
async def test_right_arrow_changes_step(results_db: Path, size: tuple[int, int]) -> None:  # noqa: F811
    app = DetoxLensApp(results_db)
    async with app.run_test(size=size) as pilot:
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
        assert prompt_list.sort == "prompt_toxicity"
        assert [p.prompt_id for p in prompt_list.prompts] == ["p000001", "p000002", "p000003"]
        assert prompt_list.highlighted_prompt_id == "p000002", "the cursor stays on its prompt"


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
        for keys in ("q", "?", "←/h", "→/l", "n", "N", "v", "s", "Enter"):
            assert keys in help_text
        await pilot.press("right")
        await pilot.pause()
        assert app.query_one(DetailView).step == 0, "step keys are inactive under help"
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


@pytest.mark.parametrize("size", SIZES)
@run_async
async def test_q_exits(results_db: Path, size: tuple[int, int]) -> None:  # noqa: F811
    app = DetoxLensApp(results_db)
    async with app.run_test(size=size) as pilot:
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
        assert app.query_one(PromptList).row_count == 3
