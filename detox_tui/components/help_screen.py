"""A modal screen that lists every key binding."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from detox_tui.bindings import APP_ACTIONS, WIDGET_KEYS


class HelpScreen(ModalScreen[None]):
    """Key bindings of the app and of the focused widgets. Esc, q or ? closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss", "Close", key_display="Esc"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(self._table())
        # Its own footer, so that the main screen's "q Quit" does not show through.
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#help").border_title = "Key bindings"

    def _table(self) -> Table:
        table = Table(box=None, show_header=False, expand=True)
        table.add_column("keys", style="bold", no_wrap=True)
        table.add_column("action", ratio=1)
        for action in APP_ACTIONS:
            table.add_row(action.key_display, action.help)
        for keys, help_text in WIDGET_KEYS:
            table.add_row(keys, help_text)
        return table
