"""The detail of the selected prompt: its text and one panel per variant."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Container, VerticalScroll
from textual.reactive import reactive
from textual.widgets import Static

from detox_tui.components.variant_panel import VariantPanel
from detox_tui.messages import AttributionsLoaded, StepChanged
from detox_tui.queries import VARIANTS, PromptDetail
from detox_tui.rendering import escape_controls, format_value


class DetailView(VerticalScroll):
    """The selected prompt with its PT, FT and RL generations side by side or stacked.

    `step` is the generated-token step selected in all variants. Changing it posts
    StepChanged so that the app can load the attributions of that step.
    """

    step = reactive(0)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.detail: PromptDetail | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text("Loading prompts…", style="italic"), id="prompt-header")
        with Container(id="variants"):
            for variant in VARIANTS:
                yield VariantPanel(variant)

    def validate_step(self, step: int) -> int:
        last = self.detail.n_steps - 1 if self.detail else 0
        return min(max(step, 0), max(last, 0))

    def watch_step(self, step: int) -> None:
        if self.detail is None:
            return
        for panel in self.query(VariantPanel):
            panel.show_step(step)
        self.post_message(StepChanged(self.detail.prompt_id, step))

    def show_detail(self, detail: PromptDetail) -> None:
        """Show a prompt with its tokens attributed for step 0, and select step 0."""
        self.detail = detail
        # Skip watch_step, because the detail already contains the step 0 attributions.
        self.set_reactive(DetailView.step, 0)
        self.query_one("#prompt-header", Static).update(self._header(detail))
        for panel in self.query(VariantPanel):
            generation = detail.generations.get(panel.variant)
            panel.show_generation(generation, detail.tokens.get(panel.variant, ()), 0)

    def show_attributions(self, message: AttributionsLoaded) -> None:
        """Show tokens attributed for a step, unless the prompt or step has changed since."""
        if self.detail is None or message.prompt_id != self.detail.prompt_id:
            return
        if message.step != self.step:
            return
        for panel in self.query(VariantPanel):
            panel.show_tokens(message.tokens.get(panel.variant, ()), message.step)

    def show_message(self, text: str) -> None:
        """Replace the prompt header with a status message, e.g. for an empty database."""
        self.query_one("#prompt-header", Static).update(Text(text, style="italic"))

    def _spikes_label(self, detail: PromptDetail) -> str:
        steps = detail.spike_steps()
        if not steps:
            return " · no spikes"
        return " · spikes at step " + ", ".join(str(step) for step in steps)

    def _header(self, detail: PromptDetail) -> Text:
        return Text.assemble(
            (detail.prompt_id, "bold"),
            f" · prompt toxicity {format_value(detail.prompt_toxicity)}",
            f" · {detail.n_steps} steps",
            self._spikes_label(detail),
            "\n",
            (escape_controls(detail.text), "underline"),
        )
