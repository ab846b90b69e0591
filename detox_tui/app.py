"""The detox-tui application: a filtered prompt list above the detail of the selected prompt."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import TypeVar

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.events import Resize
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Input
from textual.worker import get_current_worker

from detox_tui.bindings import APP_ACTIONS, MAIN_SCREEN_ACTIONS, app_bindings
from detox_tui.components import (
    AggregateScreen,
    CompareScreen,
    DetailView,
    FilterBar,
    HelpScreen,
    PromptList,
)
from detox_tui.export import detail_metrics_table, export_stem, write_csv
from detox_tui.messages import (
    AttributionsLoaded,
    DetailLoaded,
    ExportFinished,
    PromptSelected,
    PromptsLoaded,
    QueryFailed,
    SearchChanged,
    StepChanged,
)
from detox_tui.queries import (
    PROMPT_SORTS,
    SORT_LABELS,
    VARIANTS,
    PromptDetail,
    PromptFilter,
    ResultsDatabase,
    ResultsError,
)
from detox_tui.records import Table
from detox_tui.workspace import find_result_sources

ResultType = TypeVar("ResultType")

# Below this terminal width the three variants are stacked instead of side by side.
NARROW_WIDTH = 120

# Rows per page of the prompt list. A DataTable takes about 1 ms per row to fill, so
# pages keep the first paint fast on results with hundreds of thousands of prompts.
PAGE_SIZE = 500

# Values that the filter bindings cycle through; None means no condition.
BUCKET_CYCLE = (None, "low", "mid", "high", "unscored")
VARIANT_CYCLE = (None, *VARIANTS)
SPIKES_CYCLE = (None, True, False)

# Actions that stay inactive while the search field has the focus, so that its
# cursor keys move in the text.
_TEXT_EDITING_ACTIONS = {"previous_step", "next_step"}


class DetoxLensApp(App[None]):
    """Browse prompts, their PT, FT and RL generations, attributions and entropy spikes.

    Args:
        database: Path of the results DuckDB file, opened read-only.
        origin: How the file was found, e.g. "workspace", shown in a notification when
            the app starts.
        sources: Results files that the comparison offers, by name. None: the opened
            file, the workspace's results and the cached DVC experiments, found when
            the comparison opens.
        export_dir: Folder of exported CSV and SVG files (default: the working folder).

    Raises:
        ResultsError: The database is missing, cannot be opened or lacks the schema.
    """

    TITLE = "detox-lens"
    CSS_PATH = "app.tcss"
    BINDINGS = app_bindings()

    selected_prompt_id: reactive[str | None] = reactive(None)
    sort = reactive("pt_toxicity")
    stacked = reactive(False)

    def __init__(
        self,
        database: str | Path,
        *,
        origin: str | None = None,
        sources: dict[str, Path] | None = None,
        export_dir: str | Path | None = None,
    ) -> None:
        super().__init__()
        self.database = ResultsDatabase(database)
        self.origin = origin
        self.prompt_filter = PromptFilter()
        self.page_offset = 0
        self.total_prompts = 0
        self.sources = sources
        self.export_dir = Path(export_dir) if export_dir is not None else Path.cwd()

    def compose(self) -> ComposeResult:
        yield FilterBar(id="filter-bar")
        yield PromptList(id="prompt-list")
        yield DetailView(id="detail")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.stacked = self.size.width < NARROW_WIDTH
        self._reload_prompts()
        self.query_one(PromptList).focus()
        if self.origin is not None:
            self.notify(f"{self.database.path} ({self.origin})", title="Opened", timeout=4)

    def on_unmount(self) -> None:
        self.database.close()

    @on(Resize)
    def _choose_layout(self, event: Resize) -> None:
        self.stacked = event.size.width < NARROW_WIDTH

    @on(SearchChanged)
    def _search(self, message: SearchChanged) -> None:
        self._set_filter(text=message.text)

    @on(PromptsLoaded)
    def _show_prompts(self, message: PromptsLoaded) -> None:
        self.page_offset = message.page.offset
        self.total_prompts = message.page.total
        self.prompt_list.show_prompts(message.prompts, message.sort)
        self.query_one(FilterBar).show_status(message.page, message.sort, message.prompt_filter)
        if not message.prompts:
            self.detail_view.show_message("No prompt matches the filter.")

    @on(PromptSelected)
    def _select_prompt(self, message: PromptSelected) -> None:
        self.selected_prompt_id = message.prompt_id

    @on(DetailLoaded)
    def _show_detail(self, message: DetailLoaded) -> None:
        if message.detail.prompt_id == self.selected_prompt_id:
            self.detail_view.show_detail(message.detail)

    @on(StepChanged)
    def _load_step(self, message: StepChanged) -> None:
        detail = self.detail_view.detail
        if detail is not None and detail.prompt_id == message.prompt_id:
            self.load_attributions(detail, message.step)

    @on(AttributionsLoaded)
    def _show_attributions(self, message: AttributionsLoaded) -> None:
        self.detail_view.show_attributions(message)

    @on(ExportFinished)
    def _report_export(self, message: ExportFinished) -> None:
        names = "\n".join(str(path) for path in message.paths)
        self.notify(names, title="Exported", timeout=6)

    @on(QueryFailed)
    def _report_failure(self, message: QueryFailed) -> None:
        self.notify(str(message.error), title=f"Failed to {message.task}", severity="error")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in _TEXT_EDITING_ACTIONS and isinstance(self.focused, Input):
            return False
        return self._acts_on(action, self.screen)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """List the named actions in the command palette after Textual's own commands.

        `screen` is the screen under the palette, and only the actions that apply to it are listed.
        """
        yield from super().get_system_commands(screen)
        for named in APP_ACTIONS:
            if self._acts_on(named.action, screen):
                yield SystemCommand(named.label, named.help, partial(self.run_action, named.action))

    def _acts_on(self, action: str, screen: Screen) -> bool:
        # The priority bindings would otherwise act on the main screen under other screens.
        if action in MAIN_SCREEN_ACTIONS:
            return screen is self._main_screen
        return not (action == "export" and screen.is_modal)

    def watch_selected_prompt_id(self, prompt_id: str | None) -> None:
        if prompt_id is not None:
            self.load_detail(prompt_id)

    def watch_stacked(self, stacked: bool) -> None:
        self.detail_view.set_class(stacked, "-stacked")

    def action_help(self) -> None:
        """Open the list of key bindings."""
        self.push_screen(HelpScreen())

    def action_previous_step(self) -> None:
        """Select the previous generated token."""
        self.detail_view.step -= 1

    def action_next_step(self) -> None:
        """Select the next generated token."""
        self.detail_view.step += 1

    def action_next_spike(self) -> None:
        """Jump to the next step that is a spike in any variant."""
        self._jump_to_spike(forward=True)

    def action_previous_spike(self) -> None:
        """Jump to the previous step that is a spike in any variant."""
        self._jump_to_spike(forward=False)

    def action_toggle_layout(self) -> None:
        """Switch the variants between side by side and stacked."""
        self.stacked = not self.stacked

    def action_focus_search(self) -> None:
        """Move the focus to the search field."""
        self.query_one("#search", Input).focus()

    def action_cycle_sort(self) -> None:
        """Sort the prompt list by the next key of PROMPT_SORTS."""
        keys = list(PROMPT_SORTS)
        self.sort = keys[(keys.index(self.sort) + 1) % len(keys)]
        self.notify(f"Sorting by {SORT_LABELS[self.sort]}", timeout=2)
        self.page_offset = 0
        self._reload_prompts()

    def action_cycle_bucket(self) -> None:
        """Filter by the next toxicity bucket."""
        self._set_filter(bucket=_next(BUCKET_CYCLE, self.prompt_filter.bucket))

    def action_cycle_variant(self) -> None:
        """Restrict the filters to the next variant."""
        self._set_filter(variant=_next(VARIANT_CYCLE, self.prompt_filter.variant))

    def action_cycle_spikes(self) -> None:
        """Filter by the next spike condition."""
        self._set_filter(spikes=_next(SPIKES_CYCLE, self.prompt_filter.spikes))

    def action_next_page(self) -> None:
        """Show the next page of the prompt list."""
        if self.page_offset + PAGE_SIZE < self.total_prompts:
            self.page_offset += PAGE_SIZE
            self._reload_prompts()

    def action_previous_page(self) -> None:
        """Show the previous page of the prompt list."""
        if self.page_offset > 0:
            self.page_offset = max(0, self.page_offset - PAGE_SIZE)
            self._reload_prompts()

    def action_show_aggregates(self) -> None:
        """Open the aggregate view."""
        self.push_screen(AggregateScreen())

    def action_compare(self) -> None:
        """Open the comparison of the selected prompt in two results files."""
        if self.selected_prompt_id is None:
            self.notify("Select a prompt to compare first.", timeout=3)
            return
        self.push_screen(CompareScreen(self.selected_prompt_id, self.detail_view.step))

    def action_export(self) -> None:
        """Write an SVG screenshot and the CSV tables of the current view."""
        screen = self.screen
        view = {AggregateScreen: "aggregates", CompareScreen: "comparison"}.get(type(screen), "prompts")
        stem = export_stem(view, time.strftime("%Y%m%d-%H%M%S"))
        try:
            self.export_dir.mkdir(parents=True, exist_ok=True)
            svg = Path(self.save_screenshot(f"{stem}.svg", str(self.export_dir)))
        except OSError as error:
            self.log.error(f"Failed to export to {self.export_dir}: {error}")
            self.notify(str(error), title="Failed to export", severity="error")
            return
        if view == "prompts":
            detail = self.detail_view.detail
            self.export_tables(stem, svg, self._export_prompt_tables, detail)
        else:
            self.export_tables(stem, svg, lambda tables=screen.export_tables(): tables)

    @property
    def prompt_list(self) -> PromptList:
        """The table of prompts."""
        return self._main_screen.query_one(PromptList)

    @property
    def detail_view(self) -> DetailView:
        """The detail of the selected prompt."""
        return self._main_screen.query_one(DetailView)

    @property
    def _main_screen(self) -> Screen:
        return self.screen_stack[0]

    def comparison_sources(self) -> dict[str, Path]:
        """Return the results files that the comparison offers, by name."""
        if self.sources is not None:
            return self.sources
        return find_result_sources(self.database.path)

    def run_query(
        self, task: str, query: Callable[..., ResultType], *args: object
    ) -> ResultType | None:
        """Run `query(*args)` in a thread worker; a failure becomes an error toast and None."""
        try:
            return query(*args)
        except ResultsError as error:
            self.log.error(f"Failed to {task}: {error}")
            self.post_message(QueryFailed(task, error))
            return None

    def _set_filter(self, **changes: object) -> None:
        values = {**self.prompt_filter.__dict__, **changes}
        self.prompt_filter = PromptFilter(**values)
        self.page_offset = 0
        self._reload_prompts()

    def _reload_prompts(self) -> None:
        self.load_prompts(self.sort, self.prompt_filter, self.page_offset)

    def _export_prompt_tables(self, detail: PromptDetail | None) -> list[Table]:
        tables = [self.database.export_prompts(self.sort, self.prompt_filter)]
        if detail is not None:
            tables.append(detail_metrics_table(detail))
        return tables

    def _jump_to_spike(self, forward: bool) -> None:
        detail = self.detail_view.detail
        if detail is None:
            return
        step = self.detail_view.step
        if forward:
            candidates = [spike for spike in detail.spike_steps() if spike > step]
        else:
            candidates = [spike for spike in reversed(detail.spike_steps()) if spike < step]
        if candidates:
            self.detail_view.step = candidates[0]
        else:
            self.notify("No further spike in this direction.", timeout=2)

    def _post_unless_cancelled(
        self, message: PromptsLoaded | DetailLoaded | AttributionsLoaded
    ) -> None:
        if not get_current_worker().is_cancelled:
            self.post_message(message)

    @work(thread=True, exclusive=True, group="prompts")
    def load_prompts(self, sort: str, prompt_filter: PromptFilter, offset: int) -> None:
        """Fetch a page of the prompt list and post PromptsLoaded."""
        load = self.database.load_prompt_page
        page = self.run_query("load the prompt list", load, sort, prompt_filter, offset, PAGE_SIZE)
        if page is not None:
            self._post_unless_cancelled(PromptsLoaded(page, sort, prompt_filter))

    @work(thread=True, exclusive=True, group="detail")
    def load_detail(self, prompt_id: str) -> None:
        """Fetch the detail of a prompt and post DetailLoaded."""
        task = f"load prompt {prompt_id}"
        detail = self.run_query(task, self.database.load_prompt_detail, prompt_id)
        if detail is not None:
            self._post_unless_cancelled(DetailLoaded(detail))

    @work(thread=True, exclusive=True, group="attributions")
    def load_attributions(self, detail: PromptDetail, step: int) -> None:
        """Fetch every variant's tokens attributed for `step` and post AttributionsLoaded."""
        ids = {variant: g.generation_id for variant, g in detail.generations.items()}
        task = f"load the attributions of prompt {detail.prompt_id} at step {step}"
        load = self.database.load_tokens_for_step
        by_id = self.run_query(task, load, list(ids.values()), step)
        if by_id is None:
            return
        tokens = {variant: by_id.get(generation_id, ()) for variant, generation_id in ids.items()}
        self._post_unless_cancelled(AttributionsLoaded(detail.prompt_id, step, tokens))

    @work(thread=True, group="export")
    def export_tables(
        self, stem: str, screenshot: Path, tables: Callable[..., list[Table]], *args: object
    ) -> None:
        """Write the CSV files of `tables(*args)` and post ExportFinished with every path."""
        listed = self.run_query("export the tables", tables, *args)
        if listed is None:
            return
        try:
            paths = [write_csv(table, self.export_dir, stem) for table in listed]
        except OSError as error:
            self.post_message(QueryFailed("export the tables", error))
            return
        self.post_message(ExportFinished([screenshot, *paths]))


def _next(cycle: tuple, current: object) -> object:
    return cycle[(cycle.index(current) + 1) % len(cycle)]
