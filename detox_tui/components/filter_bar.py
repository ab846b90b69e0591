"""The search field and status line above the prompt list."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Input, Static

from detox_tui.messages import SearchChanged
from detox_tui.queries import SORT_LABELS, PromptFilter, PromptPage


class FilterBar(Horizontal):
    """A search field and a line with the page, the sort key and the active filters.

    Every edit of the search field posts SearchChanged. The other filters are set by
    the app's bindings and only shown here.
    """

    def compose(self) -> ComposeResult:
        yield Input(placeholder="/ search prompts and generations", id="search", compact=True)
        yield Static("", id="list-status")

    @on(Input.Changed, "#search")
    def _search(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(SearchChanged(event.value))

    @on(Input.Submitted, "#search")
    def _leave_search(self, event: Input.Submitted) -> None:
        event.stop()
        self.app.query_one("#prompt-list").focus()

    def show_status(self, page: PromptPage, sort: str, prompt_filter: PromptFilter) -> None:
        """Describe the page on display, the sort key and the filters."""
        if page.total == 0:
            rows = "no matching prompt"
        else:
            last = page.offset + len(page.prompts)
            rows = f"{page.offset + 1:,}–{last:,} of {page.total:,}"
        status = Text.assemble(
            (rows, "bold"),
            f" · by {SORT_LABELS[sort]} · ",
            (prompt_filter.describe(), "italic"),
        )
        status.no_wrap = True
        status.overflow = "ellipsis"
        self.query_one("#list-status", Static).update(status)
