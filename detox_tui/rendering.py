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
from rich import box
from rich.color import Color
from rich.console import Group
from rich.style import Style
from rich.table import Table as RichTable
from rich.text import Text

from detox_tui.records import (
    BUCKETS,
    AttributedToken,
    CurvePoint,
    Score,
    SpanScore,
    Table,
    TokenMetric,
)

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
GENERATION_MARK = " ▶ "
_GENERATION_MARK_STYLE = Style(color="bright_magenta", bold=True)
_CURVE_COLORS = {"PT": "cyan", "FT": "green", "RL": "magenta"}
_OTHER_COLORS = ("yellow", "blue", "red", "white")


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

    Prompt tokens are underlined on a blue scale and generated tokens on an amber scale,
    and GENERATION_MARK separates the two. Shading is relative to the largest attribution of the step. The token at `step` is
    highlighted and later tokens are dimmed.
    """
    if not any(token.is_generated for token in tokens):
        return Text("(empty generation)", style="italic")
    peak = max((t.value for t in tokens if t.value is not None), default=0.0) or 1.0
    text = Text()
    previous_generated = False
    for token in tokens:
        if token.is_generated and not previous_generated:
            text.append(GENERATION_MARK, _GENERATION_MARK_STYLE)
        previous_generated = token.is_generated
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
    """Plot entropy over steps with spikes as red triangles and a line at `step`."""
    return render_metric_plot(metrics, step, width, height, "entropy")


def render_metric_plot(
    metrics: Sequence[TokenMetric], step: int, width: int, height: int, metric: str
) -> Text:
    """Plot a per-step metric with spikes as red triangles and a line at `step`.

    Args:
        metrics: Per-step metrics of one generation, ordered by step.
        step: The selected step, drawn as a vertical line.
        width: Plot width in terminal cells.
        height: Plot height in terminal cells.
        metric: "entropy" (bits) or "prompt_dependence" (share of the attribution).
    """
    if not metrics:
        return Text(f"no {metric.replace('_', ' ')} curve", style="italic")
    if width < 20 or height < 4:
        return render_sparkline(metrics, step, metric)
    steps = [m.step for m in metrics]
    values = [getattr(m, metric) for m in metrics]
    figure = _new_figure(width, height)
    figure.title(METRIC_LABELS[metric])
    curve = figure.signal(steps, values, marker=plotext.marker("braille", pixel="cyan"))
    curve.lines()
    figure.draw(curve)
    spikes = [(m.step, getattr(m, metric)) for m in metrics if m.is_spike]
    if spikes:
        spike_marker = plotext.marker("▲", pixel="red")
        spike_steps, spike_values = zip(*spikes, strict=True)
        figure.draw(figure.signal(list(spike_steps), list(spike_values), marker=spike_marker))
    if steps[0] <= step <= steps[-1]:
        figure.line(step, orientation="vertical", pixel=plotext.pixel("yellow", "black"))
    figure.ruler("x").ticks(integer_ticks(len(metrics), max_ticks=max(2, width // 8)))
    return Text.from_ansi(figure.build().string(), no_wrap=True)


METRIC_LABELS = {"entropy": "entropy (bits)", "prompt_dependence": "prompt dependence"}


def render_curves(
    curves: dict[str, Sequence[CurvePoint]], width: int, height: int, title: str, step: int | None = None
) -> Text:
    """Plot mean curves by name, each with its interval as two dim lines (the band).

    Args:
        curves: Points of each curve, ordered by step, keyed by the legend label.
        width: Plot width in terminal cells.
        height: Plot height in terminal cells.
        title: Title above the plot.
        step: The selected step, drawn as a vertical line; None draws no line.
    """
    curves = {name: points for name, points in curves.items() if points}
    if not curves:
        return Text(f"{title}: no curves in this results file", style="italic")
    if width < 20 or height < 6:
        return Text(f"{title}: the terminal is too small for the plot", style="italic")
    figure = _new_figure(width, height)
    figure.title(title)
    n_steps = max(point.step for points in curves.values() for point in points) + 1
    for index, (name, points) in enumerate(curves.items()):
        color = _curve_color(name, index)
        steps = [point.step for point in points]
        has_band = any(p.ci_low != p.ci_high for p in points)
        for bound in ([p.ci_low for p in points], [p.ci_high for p in points]) if has_band else ():
            band = figure.signal(steps, bound, marker=plotext.marker("braille", pixel=color))
            band.lines()
            figure.draw(band)
        mean_marker = plotext.marker("•", pixel=plotext.pixel(color, style="bold"))
        mean = figure.signal(steps, [p.mean for p in points], marker=mean_marker)
        mean.lines()
        mean.label(name)
        figure.draw(mean)
    if step is not None and 0 <= step < n_steps:
        figure.line(step, orientation="vertical", pixel=plotext.pixel("yellow", "black"))
    figure.ruler("x").ticks(integer_ticks(n_steps, max_ticks=max(2, width // 8)))
    return Text.from_ansi(figure.build().string(), no_wrap=True)


def _curve_color(name: str, index: int) -> str:
    for variant, color in _CURVE_COLORS.items():
        if name.startswith(variant):
            return color
    return _OTHER_COLORS[index % len(_OTHER_COLORS)]


def _new_figure(width: int, height: int):  # noqa: ANN202 (plotext has no public figure type)
    figure = plotext.figure
    figure.clear()
    # plotext limits plots to the size of the terminal it detects, which is unrelated to
    # the widget's size under Textual (80 columns when no terminal is attached).
    figure.parent().limit(False, False)
    figure.theme("dark")
    figure.plot_size(width, height)
    return figure


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


def render_sparkline(metrics: Sequence[TokenMetric], step: int, metric: str = "entropy") -> Text:
    """Draw a metric as one line of block characters, spikes red, the selected step reversed."""
    blocks = "▁▂▃▄▅▆▇█"
    values = [getattr(m, metric) for m in metrics]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    text = Text(no_wrap=True)
    for m, value in zip(metrics, values, strict=True):
        level = round((value - low) / span * (len(blocks) - 1))
        style = Style(color="red" if m.is_spike else "cyan", reverse=m.step == step)
        text.append(blocks[level], style)
    return text


def token_spans(tokens: Sequence[AttributedToken]) -> list[tuple[int, int, int]]:
    """Return (step, begin, end) character offsets of the generated tokens in their text.

    The offsets assume that the generation's text is the concatenation of its decoded
    generated tokens, which holds for the tokenizers of the pipeline's models.
    """
    offsets = []
    begin = 0
    for token in tokens:
        if token.is_generated and token.step is not None:
            end = begin + len(token.token)
            offsets.append((token.step, begin, end))
            begin = end
    return offsets


def render_spans(spans: Sequence[SpanScore], tokens: Sequence[AttributedToken]) -> Text:
    """List span scores, each with the generated tokens (steps) whose characters it covers."""
    if not spans:
        return Text()
    offsets = token_spans(tokens)
    by_step = {t.step: t.token for t in tokens if t.is_generated}
    lines = []
    for span in spans:
        steps = [step for step, begin, end in offsets if begin < span.end and end > span.begin]
        covered = "".join(by_step[step] for step in steps)
        if not steps:
            where = "no token"
        elif len(steps) == 1:
            where = f"step {steps[0]}"
        else:
            where = f"steps {steps[0]}–{steps[-1]}"
        line = Text.assemble(
            ("└ ", "dim"),
            (f"{span.attribute} {format_value(span.value)}", "bold"),
            f" {span.scorer} {span.scorer_version} ",
            (escape_controls(covered) if covered else MISSING, "reverse"),
            (f" chars {span.begin}–{span.end}, {where}", "dim"),
        )
        line.no_wrap = True
        line.overflow = "ellipsis"
        lines.append(line)
    return Text("\n").join(lines)


def render_table(table: Table) -> RichTable | Text:
    """Render a query result table with floats to 3 decimals and None as —."""
    if not table.rows:
        return Text(f"{table.title}: no rows", style="italic")
    rich_table = RichTable(title=table.title, box=box.SIMPLE_HEAD, title_justify="left")
    for column in table.columns:
        numeric = isinstance(table.rows[0][table.columns.index(column)], int | float)
        rich_table.add_column(column.replace("_", " "), justify="right" if numeric else "left")
    for row in table.rows:
        rich_table.add_row(*(_cell(value) for value in row))
    return rich_table


def _cell(value: object) -> str:
    if value is None:
        return MISSING
    if isinstance(value, float):
        return f"{value:.3f}"
    return escape_controls(str(value))


def render_transitions(table: Table) -> Group | Text:
    """Render bucket transitions as one matrix per pair of variants, buckets before in rows.

    `table` has the columns pair, bucket_before, bucket_after, prompts.
    """
    if not table.rows:
        return Text("bucket transitions: no rows", style="italic")
    buckets = [*BUCKETS, "unscored"]
    counts = {(pair, before, after): n for pair, before, after, n in table.rows}
    pairs = list(dict.fromkeys(row[0] for row in table.rows))
    matrices = []
    for pair in pairs:
        first, second = pair.split("→")
        matrix = RichTable(
            title=f"prompts by toxicity bucket, {pair}", box=box.SIMPLE_HEAD, title_justify="left"
        )
        matrix.add_column(f"{first} \\ {second}")
        for bucket in buckets:
            matrix.add_column(bucket, justify="right")
        for before in buckets:
            cells = [str(counts.get((pair, before, after), 0)) for after in buckets]
            matrix.add_row(before, *cells)
        matrices.append(matrix)
    return Group(*matrices)
