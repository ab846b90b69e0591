"""The comparison of one prompt's curves in two results files, e.g. two experiments."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.table import Table as RichTable
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Select, Static
from textual.worker import get_current_worker

from detox_tui.components.curve_plot import CurvePlot
from detox_tui.export import detail_metrics_table
from detox_tui.messages import ComparisonLoaded, SourcesFound
from detox_tui.queries import (
    VARIANTS,
    PromptDetail,
    PromptNotFoundError,
    ResultsDatabase,
)
from detox_tui.records import CurvePoint, Table, TokenMetric
from detox_tui.rendering import escape_controls


class CompareScreen(Screen[None]):
    """Entropy and prompt dependence of the same prompt from two results files.

    The two selects list the sources the app found: the opened file, the workspace's
    results and every DVC experiment whose results are in the local cache. Each
    variant gets one plot per metric with a curve per source, and a line at the
    selected step, whose token and values in each source are listed above the plots.
    Left and right (or h and l) move the step. Esc or c closes the screen.

    Args:
        prompt_id: The prompt to compare.
        step: The step selected when the screen opens.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,c", "app.pop_screen", "Back", key_display="Esc"),
        Binding("left,h", "previous_step", "Prev step", key_display="←/h"),
        Binding("right,l", "next_step", "Next step", key_display="→/l"),
    ]

    def __init__(self, prompt_id: str, step: int = 0) -> None:
        super().__init__()
        self.prompt_id = prompt_id
        self.step = step
        self.sources: dict[str, Path] = {}
        self.details: dict[str, PromptDetail | None] = {}
        self._databases: dict[Path, ResultsDatabase] = {}

    def compose(self) -> ComposeResult:
        yield Static(Text(f"Finding results files to compare for {self.prompt_id}…"), id="compare-header")
        with Horizontal(id="compare-sources"):
            yield Select((), prompt="first results file", id="source-a", compact=True)
            yield Select((), prompt="second results file", id="source-b", compact=True)
        yield Static(id="compare-step")
        with VerticalScroll(id="compare-plots"):
            for variant in VARIANTS:
                yield CurvePlot(f"{variant} entropy (bits)", id=f"compare-entropy-{variant}", classes="curves")
                yield CurvePlot(
                    f"{variant} prompt dependence", id=f"compare-dependence-{variant}", classes="curves"
                )
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.find_sources()

    def on_unmount(self) -> None:
        for database in self._databases.values():
            database.close()

    @on(SourcesFound)
    def _offer_sources(self, message: SourcesFound) -> None:
        self.sources = message.sources
        options = [(name, name) for name in message.sources]
        names = list(message.sources)
        for select_id, default in (("#source-a", names[:1]), ("#source-b", names[1:2])):
            select = self.query_one(select_id, Select)
            select.set_options(options)
            if default:
                select.value = default[0]
        if len(names) < 2:
            self._header("Only one results file was found, so there is nothing to compare.")

    @on(Select.Changed)
    def _compare(self, event: Select.Changed) -> None:
        event.stop()
        first = self.query_one("#source-a", Select).value
        second = self.query_one("#source-b", Select).value
        if isinstance(first, str) and isinstance(second, str):
            self.load_comparison(first, second)

    @on(ComparisonLoaded)
    def _show(self, message: ComparisonLoaded) -> None:
        self.details = message.details
        missing = [name for name, detail in message.details.items() if detail is None]
        header = f"Prompt {message.prompt_id}: " + " vs ".join(message.details)
        if missing:
            header += f" · not in {', '.join(missing)}"
        self._header(header)
        self.step = min(self.step, max(self._n_steps() - 1, 0))
        self._draw()

    def action_previous_step(self) -> None:
        """Select the previous generated token in every plot."""
        if self.step > 0:
            self.step -= 1
            self._draw()

    def action_next_step(self) -> None:
        """Select the next generated token in every plot."""
        if self.step < self._n_steps() - 1:
            self.step += 1
            self._draw()

    def _n_steps(self) -> int:
        return max((detail.n_steps for detail in self.details.values() if detail is not None), default=0)

    def _draw(self) -> None:
        self.query_one("#compare-step", Static).update(step_table(self.details, self.step))
        for variant in VARIANTS:
            for metric, prefix in (("entropy", "compare-entropy"), ("prompt_dependence", "compare-dependence")):
                curves = {name: metric_curve(detail, variant, metric) for name, detail in self.details.items()}
                self.query_one(f"#{prefix}-{variant}", CurvePlot).show_curves(curves, self.step)

    def export_tables(self) -> list[Table]:
        """Return the per-step metrics of the prompt in each source for CSV export."""
        return [
            detail_metrics_table(detail, f"{name} token metrics {detail.prompt_id}")
            for name, detail in self.details.items()
            if detail is not None
        ]

    def _header(self, text: str) -> None:
        self.query_one("#compare-header", Static).update(Text(text))

    @work(thread=True, exclusive=True, group="sources")
    def find_sources(self) -> None:
        """List the results files to compare and post SourcesFound to this screen."""
        sources = self.app.run_query("list the results files", self.app.comparison_sources)
        if sources is not None:
            self.post_message(SourcesFound(sources))

    @work(thread=True, exclusive=True, group="comparison")
    def load_comparison(self, first: str, second: str) -> None:
        """Load the prompt from both sources and post ComparisonLoaded to this screen."""
        details: dict[str, PromptDetail | None] = {}
        for name in dict.fromkeys((first, second)):
            detail = self.app.run_query(f"load {self.prompt_id} from {name}", self._load, name)
            if get_current_worker().is_cancelled:
                return
            details[name] = detail
        self.post_message(ComparisonLoaded(self.prompt_id, details))

    def _load(self, name: str) -> PromptDetail | None:
        path = self.sources[name]
        if path == self.app.database.path:
            database = self.app.database
        elif path in self._databases:
            database = self._databases[path]
        else:
            database = self._databases[path] = ResultsDatabase(path)
        try:
            return database.load_prompt_detail(self.prompt_id)
        except PromptNotFoundError:
            return None


def step_table(details: dict[str, PromptDetail | None], step: int) -> RichTable:
    """Tabulate the token, entropy and prompt dependence at `step` by variant and source."""
    table = RichTable(title=f"step {step}", title_justify="left", box=None, padding=(0, 2, 0, 0))
    table.add_column("variant", style="bold")
    for name in details:
        table.add_column(name)
    for variant in VARIANTS:
        cells = []
        for detail in details.values():
            metric = step_metric(detail, variant, step)
            if metric is None:
                cells.append("–")
            else:
                token = repr(escape_controls(metric.token))
                cells.append(f"{token}  {metric.entropy:.2f} bits  dependence {metric.prompt_dependence:.2f}")
        table.add_row(variant, *cells)
    return table


def step_metric(detail: PromptDetail | None, variant: str, step: int) -> TokenMetric | None:
    """Return the metrics of one generation at `step`, or None where it has no such step."""
    if detail is None or variant not in detail.generations:
        return None
    return detail.generations[variant].metric_at(step)


def metric_curve(detail: PromptDetail | None, variant: str, metric: str) -> list[CurvePoint]:
    """Return one generation's metric per step as curve points without an interval."""
    if detail is None or variant not in detail.generations:
        return []
    points = []
    for m in detail.generations[variant].metrics:
        value = getattr(m, metric)
        points.append(CurvePoint(variant, m.step, 1, value, value, value))
    return points
