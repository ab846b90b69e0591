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
        priority=True,
    ),
    NamedAction(
        "right,l",
        "next_step",
        "Next step",
        "Select the next generated token in all three variants.",
        "→/l",
        priority=True,
    ),
    NamedAction(
        "n",
        "next_spike",
        "Next spike",
        "Jump to the next step that is a spike in any variant.",
        "n",
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
    ),
    NamedAction(
        "s",
        "cycle_sort",
        "Sort",
        "Sort the prompt list by the next key: PT toxicity, prompt toxicity, spikes, prompt id.",
        "s",
    ),
)

# Keys that the focused widget handles, listed on the help screen only.
WIDGET_KEYS = (
    ("↑/↓", "Move in the prompt list; the highlighted prompt opens in the detail view."),
    ("Enter", "Select the highlighted prompt."),
    ("PgUp/PgDn", "Move a page in the prompt list, or scroll the focused detail view."),
    ("Tab", "Move the focus between the prompt list and the detail view."),
    ("Esc", "Close this help screen."),
)


def app_bindings() -> list[Binding]:
    """Return the Textual bindings of APP_ACTIONS."""
    return [action.to_binding() for action in APP_ACTIONS]
