"""SVG snapshots of the main screens, compared with pytest-textual-snapshot.

Update the stored snapshots with `pytest tests/test_tui_snapshot.py --snapshot-update`
after an intended change of the layout, and review the new SVGs before committing them.
Nothing on these screens depends on the time or on the database path, and the DataTable
cursor does not blink, so the snapshots are stable.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot
from tui_fixtures import results_db, results_db_template  # noqa: F401

from detox_tui.app import DetoxLensApp

SIZES = [(80, 24), (160, 48)]


async def wait_for_workers(pilot: Pilot) -> None:
    """Wait until no worker runs and every posted message is handled."""
    await pilot.pause()
    while any(not worker.is_finished for worker in pilot.app.workers):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


def pressing(*keys: str):
    """Return a run_before hook that waits for the first paint, presses `keys` and waits."""

    async def run_before(pilot: Pilot) -> None:
        await wait_for_workers(pilot)
        for key in keys:
            await pilot.press(key)
            await wait_for_workers(pilot)

    return run_before


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x48"])
def test_main_screen(results_db: Path, snap_compare, size: tuple[int, int]) -> None:  # noqa: F811
    # The second prompt has the spike, and two steps right show the shading of step 2.
    app = DetoxLensApp(results_db)
    assert snap_compare(app, terminal_size=size, run_before=pressing("down", "right", "right"))


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x48"])
def test_aggregate_screen(results_db: Path, snap_compare, size: tuple[int, int]) -> None:  # noqa: F811
    app = DetoxLensApp(results_db)
    assert snap_compare(app, terminal_size=size, run_before=pressing("a"))


def test_compare_screen_160x48(results_db: Path, snap_compare) -> None:  # noqa: F811
    app = DetoxLensApp(results_db, sources={"method A": results_db, "method B": results_db})
    assert snap_compare(app, terminal_size=(160, 48), run_before=pressing("c"))


def test_help_screen_80x24(results_db: Path, snap_compare) -> None:  # noqa: F811
    app = DetoxLensApp(results_db)
    assert snap_compare(app, terminal_size=(80, 24), run_before=pressing("question_mark"))


def test_filtered_stacked_160x48(results_db: Path, snap_compare) -> None:  # noqa: F811
    # Filtered to prompts with a high-toxicity PT generation, variants stacked.
    app = DetoxLensApp(results_db)
    keys = ("b", "b", "b", "t", "v")
    assert snap_compare(app, terminal_size=(160, 48), run_before=pressing(*keys))
