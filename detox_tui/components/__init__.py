"""The widgets and screens of the TUI, one per module."""

from __future__ import annotations

from detox_tui.components.aggregate_screen import AggregateScreen
from detox_tui.components.compare_screen import CompareScreen
from detox_tui.components.curve_plot import CurvePlot
from detox_tui.components.detail_view import DetailView
from detox_tui.components.entropy_plot import EntropyPlot
from detox_tui.components.filter_bar import FilterBar
from detox_tui.components.help_screen import HelpScreen
from detox_tui.components.prompt_list import PromptList
from detox_tui.components.score_list import ScoreList
from detox_tui.components.span_list import SpanList
from detox_tui.components.token_view import TokenView
from detox_tui.components.variant_panel import VariantPanel

__all__ = [
    "AggregateScreen",
    "CompareScreen",
    "CurvePlot",
    "DetailView",
    "EntropyPlot",
    "FilterBar",
    "HelpScreen",
    "PromptList",
    "ScoreList",
    "SpanList",
    "TokenView",
    "VariantPanel",
]
