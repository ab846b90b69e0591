"""Rich renderables for tokens, scores and entropy curves.

Pure functions of query results: no Textual, no database. The widgets call them on the
main thread, because plotext draws on one global figure and is not thread-safe.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

# Written against plotext 6.1, which draws through `plotext.figure` (signal, draw, build).
# The module-level plotext.plot() and plotext.build() of plotext 5 are gone in 6.1, so this
# module needs plotext>=6.1.
import plotext
from rich.color import Color
from rich.style import Style
from rich.text import Text

from detox_tui.queries import AttributedToken, Score, TokenMetric

MISSING = "—"

# Characters that would break a one-line layout or reorder the text around them.
_VISIBLE_CONTROLS = {"\n": "⏎", "\r": "␍", "\t": "⇥"}
_BIDI_CONTROLS = {
    "\u061c", "\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",
    "\u2066", "\u2067", "\u2068", "\u2069",
}  # fmt: skip

# Backgrounds at zero and at maximum attribution. Prompt tokens shade to blue, generated
# tokens to amber.
_SHADE_ZERO = (40, 40, 46)
_SHADE_PROMPT = (38, 110, 235)
_SHADE_GENERATED = (230, 140, 20)
_SELECTED_STYLE = Style(color="black", bgcolor="bright_yellow", bold=True)
_LATER_STYLE = Style(dim=True)


def escape_controls(text: str) -> str:
    """Replace control characters of a token or text with visible symbols.

    Newlines become ⏎, carriage returns ␍ and tabs ⇥. Other control characters (Unicode
    category Cc) and the bidirectional controls become `<U+XXXX>`, so that the text can
    neither move the cursor nor reverse the text after it. An empty string becomes ∅,
    so that an empty token stays visible.
    """
    if not text:
        return "∅"
    parts = []
    for char in text:
        if char in _VISIBLE_CONTROLS:
            parts.append(_VISIBLE_CONTROLS[char])
        elif char in _BIDI_CONTROLS or unicodedata.category(char) == "Cc":
            parts.append(f"<U+{ord(char):04X}>")
        else:
            parts.append(char)
    return "".join(parts)


def truncate_line(text: str, width: int) -> Text:
    """Return `text` on one line, cut with an ellipsis to at most `width` cells."""
    line = Text(escape_controls(text) if text else "", no_wrap=True)
    line.truncate(max(width, 1), overflow="ellipsis")
    return line


def format_value(value: float | None, digits: int = 2) -> str:
    """Format a probability or score with `digits` decimals, or — when it is None."""
    return MISSING if value is None else f"{value:.{digits}f}"


def shade(value: float, generated: bool) -> Color:
    """Return the background for an attribution `value` in [0, 1] relative to the step's maximum."""
    value = min(max(value, 0.0), 1.0)
    target = _SHADE_GENERATED if generated else _SHADE_PROMPT
    rgb = (round(a + (b - a) * value) for a, b in zip(_SHADE_ZERO, target, strict=True))
    return Color.from_rgb(*rgb)


def render_tokens(tokens: Sequence[AttributedToken], step: int | None) -> Text:
    """Render the attributed sequence with every earlier token shaded for `step`.

    Prompt tokens are underlined on a blue scale and generated tokens on an amber scale.
    Shading is relative to the largest attribution of the step. The token at `step` is
    highlighted and later tokens are dimmed.
    """
    if not any(token.is_generated for token in tokens):
        return Text("(empty generation)", style="italic")
    peak = max((t.value for t in tokens if t.value is not None), default=0.0) or 1.0
    text = Text()
    for token in tokens:
        text.append(escape_controls(token.token), _token_style(token, step, peak))
    return text


def _token_style(token: AttributedToken, step: int | None, peak: float) -> Style:
    if token.is_generated and token.step == step:
        return _SELECTED_STYLE
    if token.is_generated and step is not None and token.step is not None and token.step > step:
        return _LATER_STYLE
    value = 0.0 if token.value is None else token.value / peak
    background = shade(value, token.is_generated)
    foreground = "white" if value < 0.6 else "black"
    return Style(color=foreground, bgcolor=background, underline=not token.is_generated)


def render_step_status(metrics: Sequence[TokenMetric], step: int) -> Text:
    """Describe the selected step of one generation: token, entropy, prompt dependence."""
    if not metrics:
        return Text("no generated tokens", style="italic")
    last_step = metrics[-1].step
    metric = next((m for m in metrics if m.step == step), None)
    if metric is None:
        return Text(f"step {step}: no token, the last step is {last_step}", style="dim")
    text = Text.assemble(
        f"step {step}/{last_step} ",
        (repr(escape_controls(metric.token)), "bold"),
        f" · entropy {metric.entropy:.2f} bits",
        f" · prompt dep. {metric.prompt_dependence:.2f}",
    )
    if metric.is_spike:
        text.append(" · spike", style="bold red")
    return text


def render_scores(scores: Sequence[Score]) -> Text:
    """List every score as `scorer version attribute value`, or the reason for a NULL value."""
    if not scores:
        return Text("no scores", style="italic")
    lines = []
    for score in scores:
        line = Text(f"{score.scorer} {score.scorer_version} {score.attribute} ")
        if score.value is None:
            line.append(f"{MISSING} ({score.reason or 'no reason given'})", style="italic")
        else:
            line.append(format_value(score.value), style="bold")
        lines.append(line)
    return Text("\n").join(lines)


def render_entropy_plot(metrics: Sequence[TokenMetric], step: int, width: int, height: int) -> Text:
    """Plot entropy over steps with spikes as red triangles and a line at `step`.

    Args:
        metrics: Per-step metrics of one generation, ordered by step.
        step: The selected step, drawn as a vertical line.
        width: Plot width in terminal cells.
        height: Plot height in terminal cells.
    """
    if not metrics:
        return Text("no entropy curve", style="italic")
    if width < 20 or height < 4:
        return render_sparkline(metrics, step)
    steps = [metric.step for metric in metrics]
    figure = plotext.figure
    figure.clear()
    figure.theme("dark")
    figure.plot_size(width, height)
    curve_marker = plotext.marker("braille", pixel="cyan")
    curve = figure.signal(steps, [m.entropy for m in metrics], marker=curve_marker)
    curve.lines()
    figure.draw(curve)
    spikes = [metric for metric in metrics if metric.is_spike]
    if spikes:
        spike_marker = plotext.marker("▲", pixel="red")
        entropies = [metric.entropy for metric in spikes]
        figure.draw(figure.signal([m.step for m in spikes], entropies, marker=spike_marker))
    if steps[0] <= step <= steps[-1]:
        figure.line(step, orientation="vertical", pixel=plotext.pixel("yellow", "black"))
    figure.ruler("x").ticks(integer_ticks(len(metrics), max_ticks=max(2, width // 8)))
    return Text.from_ansi(figure.build().string(), no_wrap=True)


def integer_ticks(n_steps: int, max_ticks: int) -> list[int]:
    """Return x ticks for steps 0 to `n_steps - 1`: about `max_ticks` evenly spaced ones.

    The stride is chosen so that at most `max_ticks` ticks start at 0; the last step is
    appended when the stride skips it.
    """
    stride = max(1, -(-n_steps // max_ticks))
    ticks = list(range(0, n_steps, stride))
    if ticks[-1] != n_steps - 1:
        ticks.append(n_steps - 1)
    return ticks


def render_sparkline(metrics: Sequence[TokenMetric], step: int) -> Text:
    """Draw entropy as one line of block characters, spikes red, the selected step reversed."""
    blocks = "▁▂▃▄▅▆▇█"
    values = [metric.entropy for metric in metrics]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    text = Text(no_wrap=True)
    for metric in metrics:
        level = round((metric.entropy - low) / span * (len(blocks) - 1))
        style = Style(color="red" if metric.is_spike else "cyan", reverse=metric.step == step)
        text.append(blocks[level], style)
    return text
