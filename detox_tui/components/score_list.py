"""The toxicity scores of one generation."""

from __future__ import annotations

from collections.abc import Sequence

from textual.widgets import Static

from detox_tui.queries import Score
from detox_tui.rendering import render_scores


class ScoreList(Static):
    """The rows of `scores` for a generation, each NULL value with its reason."""

    def show_scores(self, scores: Sequence[Score]) -> None:
        """Replace the listed scores."""
        self.update(render_scores(scores))
