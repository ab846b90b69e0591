"""Mean curves with their intervals, one per variant or per results file."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widget import Widget

from detox_tui.records import CurvePoint
from detox_tui.rendering import render_curves


class CurvePlot(Widget):
    """Curves keyed by legend label, redrawn at the widget's size on every refresh."""

    def __init__(self, title: str, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.title = title
        self.curves: dict[str, Sequence[CurvePoint]] = {}
        self.step: int | None = None

    def render(self) -> Text:
        """Draw the curves to fit the content region."""
        size = self.content_size
        return render_curves(self.curves, size.width, size.height, self.title, self.step)

    def show_curves(self, curves: dict[str, Sequence[CurvePoint]], step: int | None = None) -> None:
        """Plot `curves` in place of the current ones, with a line at `step` unless it is None."""
        self.curves = dict(curves)
        self.step = step
        self.refresh()
