"""The entropy curve of one generation over its steps."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widget import Widget

from detox_tui.queries import TokenMetric
from detox_tui.rendering import render_entropy_plot


class EntropyPlot(Widget):
    """Entropy in bits per step, spikes marked, a vertical line at the selected step.

    Redrawn at the widget's size on every refresh, so it follows the layout.
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.metrics: tuple[TokenMetric, ...] = ()
        self.step = 0

    def render(self) -> Text:
        """Draw the plot to fit the content region."""
        size = self.content_size
        return render_entropy_plot(self.metrics, self.step, size.width, size.height)

    def show_curve(self, metrics: Sequence[TokenMetric], step: int) -> None:
        """Plot `metrics` with `step` selected."""
        self.metrics = tuple(metrics)
        self.step = step
        self.refresh()
