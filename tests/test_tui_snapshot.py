"""SVG snapshot of the main screen, compared with pytest-textual-snapshot.

Update the stored snapshot with `pytest tests/test_tui_snapshot.py --snapshot-update`
after an intended change of the layout, and review the new SVG before committing it.
"""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot
from tui_fixtures import results_db  # noqa: F401

from detox_tui.app import DetoxLensApp


async def wait_for_detail(pilot: Pilot) -> None:
    """Wait until the prompt list and the first prompt's detail are on screen."""
    await pilot.pause()
    while any(not worker.is_finished for worker in pilot.app.workers):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


def test_main_screen_80x24(results_db: Path, snap_compare) -> None:  # noqa: F811
    # Nothing on this screen depends on the time or on the database path, and the
    # DataTable cursor does not blink, so the snapshot is stable.
    app = DetoxLensApp(results_db)
    assert snap_compare(app, terminal_size=(80, 24), run_before=wait_for_detail)
