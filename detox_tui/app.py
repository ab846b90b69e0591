"""The detox-tui application: a prompt list above the detail of the selected prompt."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from textual import on, work
from textual.app import App, ComposeResult
from textual.events import Resize
from textual.reactive import reactive
from textual.widgets import Footer
from textual.worker import get_current_worker

from detox_tui.bindings import app_bindings
from detox_tui.components import DetailView, HelpScreen, PromptList
from detox_tui.messages import (
    AttributionsLoaded,
    DetailLoaded,
    PromptSelected,
    PromptsLoaded,
    QueryFailed,
    StepChanged,
)
from detox_tui.queries import PROMPT_SORTS, SORT_LABELS, PromptDetail, ResultsDatabase, ResultsError

ResultType = TypeVar("ResultType")

# Below this terminal width the three variants are stacked instead of side by side.
NARROW_WIDTH = 120

_MAIN_SCREEN_ACTIONS = {
    "previous_step",
    "next_step",
    "next_spike",
    "previous_spike",
    "toggle_layout",
    "cycle_sort",
}


class DetoxLensApp(App[None]):
    """Browse prompts, their PT, FT and RL generations, attributions and entropy spikes.

    Args:
        database: Path of the results DuckDB file, opened read-only.

    Raises:
        ResultsError: The database is missing, cannot be opened or lacks the schema.
    """

    TITLE = "detox-lens"
    CSS_PATH = "app.tcss"
    BINDINGS = app_bindings()

    selected_prompt_id: reactive[str | None] = reactive(None)
    sort = reactive("pt_toxicity")
    stacked = reactive(False)

    def __init__(self, database: str | Path) -> None:
        super().__init__()
        self.database = ResultsDatabase(database)

    def compose(self) -> ComposeResult:
        yield PromptList(id="prompt-list")
        yield DetailView(id="detail")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.stacked = self.size.width < NARROW_WIDTH
        self.load_prompts(self.sort)

    def on_unmount(self) -> None:
        self.database.close()

    @on(Resize)
    def _choose_layout(self, event: Resize) -> None:
        self.stacked = event.size.width < NARROW_WIDTH

    @on(PromptsLoaded)
    def _show_prompts(self, message: PromptsLoaded) -> None:
        self.prompt_list.show_prompts(message.prompts, message.sort)
        if not message.prompts:
            self.detail_view.show_message("The results database contains no prompts.")

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

    @on(QueryFailed)
    def _report_failure(self, message: QueryFailed) -> None:
        self.notify(str(message.error), title=f"Failed to {message.task}", severity="error")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # The priority bindings would otherwise act on the main screen under the help screen.
        return not (action in _MAIN_SCREEN_ACTIONS and self.screen.is_modal)

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

    def action_cycle_sort(self) -> None:
        """Sort the prompt list by the next key of PROMPT_SORTS."""
        keys = list(PROMPT_SORTS)
        self.sort = keys[(keys.index(self.sort) + 1) % len(keys)]
        self.notify(f"Sorting by {SORT_LABELS[self.sort]}", timeout=2)
        self.load_prompts(self.sort)

    @property
    def prompt_list(self) -> PromptList:
        """The table of prompts."""
        return self.query_one(PromptList)

    @property
    def detail_view(self) -> DetailView:
        """The detail of the selected prompt."""
        return self.query_one(DetailView)

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

    def _query(
        self, task: str, query: Callable[..., ResultType], *args: object
    ) -> ResultType | None:
        # Called inside thread workers, so a failed query becomes a toast instead of a crash.
        try:
            return query(*args)
        except ResultsError as error:
            self.log.error(f"Failed to {task}: {error}")
            self.post_message(QueryFailed(task, error))
            return None

    def _post_unless_cancelled(
        self, message: PromptsLoaded | DetailLoaded | AttributionsLoaded
    ) -> None:
        if not get_current_worker().is_cancelled:
            self.post_message(message)

    @work(thread=True, exclusive=True, group="prompts")
    def load_prompts(self, sort: str) -> None:
        """Fetch the prompt list and post PromptsLoaded."""
        prompts = self._query("load the prompt list", self.database.list_prompts, sort)
        if prompts is not None:
            self._post_unless_cancelled(PromptsLoaded(prompts, sort))

    @work(thread=True, exclusive=True, group="detail")
    def load_detail(self, prompt_id: str) -> None:
        """Fetch the detail of a prompt and post DetailLoaded."""
        task = f"load prompt {prompt_id}"
        detail = self._query(task, self.database.load_prompt_detail, prompt_id)
        if detail is not None:
            self._post_unless_cancelled(DetailLoaded(detail))

    @work(thread=True, exclusive=True, group="attributions")
    def load_attributions(self, detail: PromptDetail, step: int) -> None:
        """Fetch every variant's tokens attributed for `step` and post AttributionsLoaded."""
        tokens = {}
        for variant, generation in detail.generations.items():
            task = f"load the attributions of {generation.generation_id} at step {step}"
            load = self.database.load_step_tokens
            attributed = self._query(task, load, generation.generation_id, step)
            if attributed is None or get_current_worker().is_cancelled:
                return
            tokens[variant] = attributed
        self._post_unless_cancelled(AttributionsLoaded(detail.prompt_id, step, tokens))
