"""The key bindings of the app, as one table of named actions.

The app binds APP_ACTIONS, the footer shows those marked `show`, and the help screen
lists them together with WIDGET_KEYS, the keys that the focused widget handles itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class NamedAction:
    """A key binding of the app.

    Attributes:
        keys: Comma-separated Textual key names, e.g. "right,l".
        action: Name of the app's `action_<name>` method.
        label: Short description shown in the footer.
        help: One sentence for the help screen.
        key_display: How the footer and help screen spell the keys.
        show: Whether the footer shows the binding.
        priority: Whether the binding takes precedence over the focused widget's own
            binding for the same key (the prompt list binds left and right to scrolling).
    """

    keys: str
    action: str
    label: str
    help: str
    key_display: str
    show: bool = True
    priority: bool = False

    def to_binding(self) -> Binding:
        """Build the Textual binding of this action."""
        return Binding(
            self.keys,
            self.action,
            self.label,
            show=self.show,
            key_display=self.key_display,
            priority=self.priority,
        )


APP_ACTIONS = (
    NamedAction("q", "quit", "Quit", "Quit detox-tui.", "q"),
    NamedAction("question_mark", "help", "Help", "Show this list of key bindings.", "?"),
    NamedAction(
        "left,h",
        "previous_step",
        "Prev step",
        "Select the previous generated token in all three variants.",
        "←/h",
        show=False,
        priority=True,
    ),
    NamedAction(
        "right,l",
        "next_step",
        "Next step",
        "Select the next generated token in all three variants.",
        "→/l",
        show=False,
        priority=True,
    ),
    NamedAction(
        "n",
        "next_spike",
        "Next spike",
        "Jump to the next step that is a spike in any variant.",
        "n",
        show=False,
    ),
    NamedAction(
        "N",
        "previous_spike",
        "Prev spike",
        "Jump to the previous step that is a spike in any variant.",
        "N",
        show=False,
    ),
    NamedAction(
        "v",
        "toggle_layout",
        "Layout",
        "Switch the variants between side by side and stacked, until the terminal is resized.",
        "v",
        show=False,
    ),
    NamedAction(
        "slash",
        "focus_search",
        "Search",
        "Search prompt ids and the texts of prompts and generations (literal, case-insensitive).",
        "/",
    ),
    NamedAction(
        "s",
        "cycle_sort",
        "Sort",
        "Sort the prompt list by the next key: PT, FT or RL toxicity, prompt toxicity, "
        "largest drop PT→FT, PT→RL or FT→RL, spikes, prompt id.",
        "s",
    ),
    NamedAction(
        "b",
        "cycle_bucket",
        "Bucket",
        "Filter by toxicity bucket: any, low (< 0.33), mid, high (> 0.66), unscored; of the "
        "filtered variant, or of any variant.",
        "b",
    ),
    NamedAction(
        "t",
        "cycle_variant",
        "Variant",
        "Filter by variant: any, PT, FT, RL. Keeps prompts with that variant's generation "
        "and applies the bucket and spike filters to it.",
        "t",
        show=False,
    ),
    NamedAction(
        "x",
        "cycle_spikes",
        "Spikes",
        "Filter by spikes: any, with spikes, without spikes.",
        "x",
        show=False,
    ),
    NamedAction(
        "right_square_bracket",
        "next_page",
        "Next page",
        "Show the next page of the prompt list.",
        "]",
        show=False,
    ),
    NamedAction(
        "left_square_bracket",
        "previous_page",
        "Prev page",
        "Show the previous page of the prompt list.",
        "[",
        show=False,
    ),
    NamedAction(
        "a",
        "show_aggregates",
        "Aggregates",
        "Open the aggregate view: toxicity table, bucket transitions, mean curves with "
        "intervals and spike statistics.",
        "a",
    ),
    NamedAction(
        "c",
        "compare",
        "Compare",
        "Compare the selected prompt's curves in two results files, e.g. two experiments.",
        "c",
    ),
    NamedAction(
        "e",
        "export",
        "Export",
        "Export the current view: a CSV file per table and an SVG screenshot.",
        "e",
    ),
)

# Actions that act on the prompt list and detail view, inactive on the other screens.
MAIN_SCREEN_ACTIONS = frozenset(
    {
        "previous_step",
        "next_step",
        "next_spike",
        "previous_spike",
        "toggle_layout",
        "focus_search",
        "cycle_sort",
        "cycle_bucket",
        "cycle_variant",
        "cycle_spikes",
        "next_page",
        "previous_page",
        "show_aggregates",
        "compare",
    }
)

# Keys that the focused widget or screen handles, listed on the help screen only.
WIDGET_KEYS = (
    ("↑/↓", "Move in the prompt list; the highlighted prompt opens in the detail view."),
    ("Enter", "Select the highlighted prompt, or leave the search field."),
    ("PgUp/PgDn", "Move a page in the prompt list, or scroll the focused detail view."),
    ("Tab", "Move the focus between the search field, the prompt list and the detail view."),
    ("Esc", "Leave the search field, or close this help screen, the aggregate view or the comparison."),
    ("^p", "Open the command palette: every action above by name, and Textual's commands."),
)


def app_bindings() -> list[Binding]:
    """Return the Textual bindings of APP_ACTIONS."""
    return [action.to_binding() for action in APP_ACTIONS]
