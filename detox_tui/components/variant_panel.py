"""One variant's generation: step status, tokens, span scores, curves, scores."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from detox_tui.components.entropy_plot import EntropyPlot
from detox_tui.components.score_list import ScoreList
from detox_tui.components.span_list import SpanList
from detox_tui.components.token_view import TokenView
from detox_tui.queries import AttributedToken, Generation
from detox_tui.rendering import render_step_status


class VariantPanel(Vertical):
    """The generation of one model variant (PT, FT or RL) for the selected prompt."""

    def __init__(self, variant: str) -> None:
        super().__init__(id=f"variant-{variant}", classes="variant")
        self.variant = variant
        self.generation: Generation | None = None
        self.border_title = variant

    def compose(self) -> ComposeResult:
        yield Static("", classes="step-status")
        yield TokenView(classes="tokens")
        yield SpanList("", classes="spans")
        yield EntropyPlot("entropy", classes="entropy")
        yield EntropyPlot("prompt_dependence", classes="dependence")
        yield ScoreList("", classes="scores")

    def show_generation(
        self, generation: Generation | None, tokens: Sequence[AttributedToken], step: int
    ) -> None:
        """Show a generation with its tokens attributed for `step`, or a placeholder for None."""
        self.generation = generation
        self.set_class(generation is None, "-missing")
        self.set_class(generation is not None and generation.n_steps == 0, "-empty")
        if generation is None:
            self.border_subtitle = ""
            self.query_one(".step-status", Static).update(Text("(no generation)", style="italic"))
            self.query_one(TokenView).show_tokens((), None)
            self.query_one(SpanList).show_spans((), ())
            for plot in self.query(EntropyPlot):
                plot.show_curve((), 0)
            self.query_one(ScoreList).show_scores(())
            return
        self.border_subtitle = generation.adapter or "base model"
        self.query_one(ScoreList).show_scores(generation.scores)
        self.show_step(step)
        self.show_tokens(tokens, step)

    def show_step(self, step: int) -> None:
        """Update the step status and the plot's step line.

        The tokens follow in show_tokens once the attributions of the step are loaded.
        """
        if self.generation is None:
            return
        metrics = self.generation.metrics
        self.query_one(".step-status", Static).update(render_step_status(metrics, step))
        for plot in self.query(EntropyPlot):
            plot.show_curve(metrics, step)

    def show_tokens(self, tokens: Sequence[AttributedToken], step: int) -> None:
        """Show the tokens attributed for `step`."""
        if self.generation is not None:
            self.query_one(TokenView).show_tokens(tokens, step)
            self.query_one(SpanList).show_spans(self.generation.spans, tokens)
