"""Tests of the rich renderables in detox_tui.rendering."""

from __future__ import annotations

import pytest
from rich.cells import cell_len

from detox_tui.queries import AttributedToken, CurvePoint, Score, SpanScore, TokenMetric
from detox_tui.rendering import (
    render_curves,
    render_metric_plot,
    render_spans,
    token_spans,
    escape_controls,
    format_value,
    integer_ticks,
    render_entropy_plot,
    render_scores,
    render_sparkline,
    render_step_status,
    render_tokens,
    truncate_line,
)


def metric(step: int, entropy: float, is_spike: bool = False) -> TokenMetric:
    return TokenMetric(step, f"t{step}", 0.5, 0.8, entropy, None, is_spike)


PROMPT_AND_TWO_STEPS = (
    AttributedToken(0, "Hi", False, None, 0.75),
    AttributedToken(1, "\n", False, None, 0.25),
    AttributedToken(2, " there", True, 0, None),
    AttributedToken(3, " friend", True, 1, None),
)


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("\n", "⏎"),
        ("a\r\nb", "a␍⏎b"),
        ("\t", "⇥"),
        ("", "∅"),
        (" 🤬", " 🤬"),
        ("يا حمار", "يا حمار"),
        ("\u202eevil", "<U+202E>evil"),
        ("\x1b[31m", "<U+001B>[31m"),
        ("\x85", "<U+0085>"),
    ],
)
def test_escape_controls(token: str, expected: str) -> None:
    assert escape_controls(token) == expected


def test_truncate_line_wide_characters() -> None:
    line = truncate_line('He said "100% of them are 🤬🤬🤬🤬" and يا حمار\nagain', 20)
    assert cell_len(line.plain) <= 20
    assert line.plain.endswith("…")
    assert "\n" not in line.plain


def test_format_value() -> None:
    assert format_value(0.456) == "0.46"
    assert format_value(None) == "—"


def test_render_tokens_empty_generation() -> None:
    prompt_only = PROMPT_AND_TWO_STEPS[:2]
    assert render_tokens(prompt_only, None).plain == "(empty generation)"
    assert render_tokens((), None).plain == "(empty generation)"


def test_render_tokens_styles() -> None:
    text = render_tokens(PROMPT_AND_TWO_STEPS, 0)
    assert text.plain == "Hi⏎ ▶  there friend"
    styles = [span.style for span in text.spans]
    assert styles[0].underline, "prompt tokens are underlined"
    assert styles[0].bgcolor != styles[1].bgcolor
    assert styles[2].color.name == "bright_magenta", "the mark before the generation"
    assert styles[3].bold, "the selected step"
    assert not styles[3].underline, "generated tokens are not underlined"
    assert styles[4].dim


def test_render_step_status() -> None:
    metrics = [metric(0, 1.0), metric(1, 2.5, is_spike=True)]
    status = render_step_status(metrics, 1).plain
    assert "step 1/1" in status
    assert "entropy 2.50 bits" in status
    assert "spike" in status
    assert "no token, the last step is 1" in render_step_status(metrics, 5).plain
    assert render_step_status([], 0).plain == "no generated tokens"


def test_render_scores_null_reason() -> None:
    scores = [
        Score("offline", "0.4.2", "TOXICITY", 0.9123, None),
        Score("perspective", "v1", "INSULT", None, "quota exceeded"),
    ]
    lines = render_scores(scores).plain.splitlines()
    assert lines == [
        "offline 0.4.2 TOXICITY 0.91",
        "perspective v1 INSULT — (quota exceeded)",
    ]


@pytest.mark.parametrize("n_steps", [1, 2, 50])
def test_entropy_plot_size(n_steps: int) -> None:
    metrics = [metric(step, 1.0 + step % 3, is_spike=step == 1) for step in range(n_steps)]
    lines = render_entropy_plot(metrics, 0, 40, 8).plain.splitlines()
    assert len(lines) == 8
    assert max(cell_len(line) for line in lines) == 40


def test_plot_wider_than_80_columns() -> None:
    # plotext would cut plots to the size of the terminal it detects.
    metrics = [metric(step, 1.0 + step % 3) for step in range(10)]
    lines = render_metric_plot(metrics, 0, 150, 8, "entropy").plain.splitlines()
    assert max(cell_len(line) for line in lines) == 150


def test_entropy_plot_marks_spikes() -> None:
    metrics = [metric(0, 1.0), metric(1, 3.0, is_spike=True), metric(2, 2.0)]
    assert "▲" in render_entropy_plot(metrics, 0, 40, 8).plain


def test_entropy_plot_falls_back_to_sparkline() -> None:
    metrics = [metric(0, 1.0), metric(1, 3.0, is_spike=True)]
    assert render_entropy_plot(metrics, 0, 10, 8).plain == "▁█"
    assert render_entropy_plot([], 0, 40, 8).plain == "no entropy curve"


def test_sparkline_flat_curve() -> None:
    assert render_sparkline([metric(0, 2.0), metric(1, 2.0)], 0).plain == "▁▁"


def test_integer_ticks() -> None:
    assert integer_ticks(1, 5) == [0]
    assert integer_ticks(4, 5) == [0, 1, 2, 3]
    assert integer_ticks(100, 5) == [0, 20, 40, 60, 80, 99]


def test_prompt_dependence_plot() -> None:
    metrics = [metric(0, 1.0), metric(1, 3.0, is_spike=True), metric(2, 2.0)]
    plot = render_metric_plot(metrics, 1, 40, 8, "prompt_dependence").plain
    assert "prompt dependence" in plot
    assert "▲" in plot
    assert render_metric_plot([], 0, 40, 8, "prompt_dependence").plain == "no prompt dependence curve"


def test_curves_with_bands_and_legend() -> None:
    points = [CurvePoint("PT", step, 10, 2.0 + step, 1.5 + step, 2.5 + step) for step in range(5)]
    plot = render_curves({"PT": points, "RL": points}, 60, 12, "mean entropy").plain
    lines = plot.splitlines()
    assert len(lines) == 12
    assert "PT" in plot
    assert "RL" in plot
    assert "mean entropy" in plot
    assert render_curves({"PT": []}, 60, 12, "mean entropy").plain == "mean entropy: no curves in this results file"


def test_token_spans_offsets() -> None:
    assert token_spans(PROMPT_AND_TWO_STEPS) == [(0, 0, 6), (1, 6, 13)]


def test_render_spans_covered_tokens() -> None:
    spans = [
        SpanScore("perspective", "v1", "INSULT", 7, 13, 0.81),
        SpanScore("perspective", "v1", "TOXICITY", 40, 50, None),
        SpanScore("offline", "0.4.2", "TOXICITY", 0, 13, 0.5),
    ]
    lines = render_spans(spans, PROMPT_AND_TWO_STEPS).plain.splitlines()
    assert lines[0] == "└ INSULT 0.81 perspective v1  friend chars 7–13, step 1"
    assert lines[1] == "└ TOXICITY — perspective v1 — chars 40–50, no token"
    assert lines[2] == "└ TOXICITY 0.50 offline 0.4.2  there friend chars 0–13, steps 0–1"
    assert render_spans([], PROMPT_AND_TWO_STEPS).plain == ""
