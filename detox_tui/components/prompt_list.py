"""The table of prompts with their toxicities and spike counts."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.events import Resize
from textual.widgets import DataTable

from detox_tui.messages import PromptSelected
from detox_tui.queries import PromptSummary
from detox_tui.rendering import format_value, truncate_line

# Columns after the prompt text as (key, label, width). The prompt text column between
# the id and these columns takes the remaining width.
_NUMBER_COLUMNS = (
    ("prompt_toxicity", "Prompt tox", 10),
    ("pt_toxicity", "PT", 4),
    ("ft_toxicity", "FT", 4),
    ("rl_toxicity", "RL", 4),
    ("n_spikes", "Spikes", 6),
)
_SCROLLBAR_WIDTH = 2
_MIN_TEXT_WIDTH = 10


class PromptList(DataTable):
    """A table with one row per prompt of `prompt_overview`.

    Highlighting a row selects its prompt, so PromptSelected is posted when the cursor
    moves to a row and when Enter is pressed.
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.prompts: list[PromptSummary] = []
        self.sort = "pt_toxicity"
        self._text_width = 0

    @on(DataTable.RowHighlighted)
    @on(DataTable.RowSelected)
    def _select_row(self, event: DataTable.RowHighlighted | DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(PromptSelected(event.row_key.value))

    @on(Resize)
    def _fit_text_column(self, event: Resize) -> None:
        if self.prompts and self._fitting_text_width() != self._text_width:
            self._rebuild(self.highlighted_prompt_id)

    def show_prompts(self, prompts: list[PromptSummary], sort: str) -> None:
        """Replace the rows, keeping the cursor on the same prompt where it is still listed."""
        previous_id = self.highlighted_prompt_id
        self.prompts = prompts
        self.sort = sort
        self._rebuild(previous_id)

    @property
    def highlighted_prompt_id(self) -> str | None:
        """The id of the prompt under the cursor, or None for an empty table."""
        if not self.prompts or not self.is_valid_row_index(self.cursor_row):
            return None
        return self.prompts[self.cursor_row].prompt_id

    def _rebuild(self, previous_id: str | None) -> None:
        self.clear(columns=True)
        self._text_width = self._fitting_text_width()
        self._add_columns()
        for prompt in self.prompts:
            self.add_row(*self._cells(prompt), key=prompt.prompt_id)
        ids = [prompt.prompt_id for prompt in self.prompts]
        if previous_id in ids:
            self.move_cursor(row=ids.index(previous_id))

    def _add_columns(self) -> None:
        self.add_column(self._label("prompt_id", "ID"), key="prompt_id", width=self._id_width())
        self.add_column("Prompt", key="text", width=self._text_width)
        for key, label, width in _NUMBER_COLUMNS:
            self.add_column(self._label(key, label), key=key, width=width)

    def _label(self, key: str, label: str) -> Text:
        if key != self.sort:
            return Text(label)
        arrow = "▲" if key == "prompt_id" else "▼"
        return Text(f"{label}{arrow}", style="bold")

    def _cells(self, prompt: PromptSummary) -> list[Text]:
        numbers = [
            format_value(prompt.prompt_toxicity),
            format_value(prompt.pt_toxicity),
            format_value(prompt.ft_toxicity),
            format_value(prompt.rl_toxicity),
            str(prompt.n_spikes),
        ]
        return [
            Text(prompt.prompt_id),
            truncate_line(prompt.text, self._text_width),
            *(Text(number, justify="right") for number in numbers),
        ]

    def _id_width(self) -> int:
        return max((len(prompt.prompt_id) for prompt in self.prompts), default=2)

    def _fitting_text_width(self) -> int:
        # Each column is padded by cell_padding cells on both sides.
        n_columns = len(_NUMBER_COLUMNS) + 2
        fixed = self._id_width() + sum(width for _, _, width in _NUMBER_COLUMNS)
        padding = 2 * self.cell_padding * n_columns
        available = self.size.width - fixed - padding - _SCROLLBAR_WIDTH
        return max(available, _MIN_TEXT_WIDTH)
