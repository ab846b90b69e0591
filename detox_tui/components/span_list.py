"""The span scores of one generation, under its tokens."""

from __future__ import annotations

from collections.abc import Sequence

from textual.widgets import Static

from detox_tui.queries import AttributedToken, SpanScore
from detox_tui.rendering import render_spans


class SpanList(Static):
    """Each span score with the generated tokens whose characters it covers."""

    def show_spans(self, spans: Sequence[SpanScore], tokens: Sequence[AttributedToken]) -> None:
        """Replace the listed spans. Hidden while there are none."""
        self.display = bool(spans)
        self.update(render_spans(spans, tokens))
