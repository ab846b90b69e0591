"""The aggregate view: the study's tables and mean curves over all generations."""

from __future__ import annotations

from typing import ClassVar

from rich.console import Group
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from detox_tui.components.curve_plot import CurvePlot
from detox_tui.messages import AggregatesLoaded
from detox_tui.records import Aggregates, CurvePoint, Table
from detox_tui.rendering import render_table, render_transitions


class AggregateScreen(Screen[None]):
    """Toxicity table, bucket transitions, mean curves with 95% intervals, spike statistics.

    The tables load in a thread worker when the screen opens. Esc or a closes it.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,a", "app.pop_screen", "Back", key_display="Esc"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.aggregates: Aggregates | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="aggregates"):
            yield Static(Text("Loading the aggregates…", style="italic"), id="toxicity-table")
            yield Static("", id="transitions")
            yield CurvePlot("mean entropy (bits), 95% interval", id="entropy-curves", classes="curves")
            yield CurvePlot("mean prompt dependence, 95% interval", id="dependence-curves", classes="curves")
            yield Static("", id="spike-statistics")
            yield Static("", id="extra-tables")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#aggregates").border_title = "Aggregates"
        self.load_aggregates()

    @on(AggregatesLoaded)
    def _show(self, message: AggregatesLoaded) -> None:
        aggregates = message.aggregates
        self.aggregates = aggregates
        self.query_one("#toxicity-table", Static).update(render_table(aggregates.toxicity))
        self.query_one("#transitions", Static).update(render_transitions(aggregates.transitions))
        self.query_one("#spike-statistics", Static).update(render_table(aggregates.spikes))
        extra = Group(*(render_table(table) for table in aggregates.extra))
        self.query_one("#extra-tables", Static).update(extra)
        self.query_one("#entropy-curves", CurvePlot).show_curves(by_variant(aggregates.entropy_curves))
        self.query_one("#dependence-curves", CurvePlot).show_curves(
            by_variant(aggregates.dependence_curves)
        )

    def export_tables(self) -> list[Table]:
        """Return the tables on display for CSV export, none while loading."""
        return self.aggregates.tables() if self.aggregates else []

    @work(thread=True, exclusive=True, group="aggregates")
    def load_aggregates(self) -> None:
        """Fetch the aggregates and post AggregatesLoaded to this screen."""
        aggregates = self.app.run_query("load the aggregates", self.app.database.load_aggregates)
        if aggregates is not None:
            self.post_message(AggregatesLoaded(aggregates))


def by_variant(points: list[CurvePoint]) -> dict[str, list[CurvePoint]]:
    """Group curve points by variant, keeping their order."""
    grouped: dict[str, list[CurvePoint]] = {}
    for point in points:
        grouped.setdefault(point.variant, []).append(point)
    return grouped
