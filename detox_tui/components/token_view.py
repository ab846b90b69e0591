"""The attributed token sequence of one generation at the selected step."""

from __future__ import annotations

from collections.abc import Sequence

from textual.widgets import Static

from detox_tui.queries import AttributedToken
from detox_tui.rendering import render_tokens


class TokenView(Static):
    """Prompt and generated tokens, each earlier token shaded by its attribution."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__("", id=id, classes=classes)
        self.tokens: tuple[AttributedToken, ...] = ()
        self.step: int | None = None

    def show_tokens(self, tokens: Sequence[AttributedToken], step: int | None) -> None:
        """Show `tokens`, whose values are the attributions of generated step `step`."""
        self.tokens = tuple(tokens)
        self.step = step
        self.update(render_tokens(self.tokens, step))
