"""A per-step curve of one generation: entropy or prompt dependence."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widget import Widget

from detox_tui.queries import TokenMetric
from detox_tui.rendering import render_metric_plot


class EntropyPlot(Widget):
    """A metric per step, spikes marked, a vertical line at the selected step.

    Redrawn at the widget's size when the size, curve or step changes, so it follows the
    layout. plotext takes several milliseconds per plot, so the last drawing is reused.

    Args:
        metric: "entropy" (bits, the default) or "prompt_dependence".
    """

    def __init__(
        self, metric: str = "entropy", *, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.metric = metric
        self._drawn: tuple[object, Text] | None = None
        self.metrics: tuple[TokenMetric, ...] = ()
        self.step = 0

    def render(self) -> Text:
        """Draw the plot to fit the content region."""
        size = self.content_size
        key = (self.metrics, self.step, size)
        if self._drawn is None or self._drawn[0] != key:
            plot = render_metric_plot(self.metrics, self.step, size.width, size.height, self.metric)
            self._drawn = (key, plot)
        return self._drawn[1]

    def show_curve(self, metrics: Sequence[TokenMetric], step: int) -> None:
        """Plot `metrics` with `step` selected."""
        self.metrics = tuple(metrics)
        self.step = step
        self.refresh()
