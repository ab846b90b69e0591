"""Messages that widgets and workers post to the app, named as past-tense events."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from detox_tui.queries import AttributedToken, PromptDetail, PromptSummary


class PromptsLoaded(Message):
    """A worker fetched the prompt list."""

    def __init__(self, prompts: list[PromptSummary], sort: str) -> None:
        super().__init__()
        self.prompts = prompts
        self.sort = sort


class PromptSelected(Message):
    """The user highlighted or selected a prompt in the list."""

    def __init__(self, prompt_id: str) -> None:
        super().__init__()
        self.prompt_id = prompt_id


class DetailLoaded(Message):
    """A worker fetched the detail of a prompt, with tokens attributed for step 0."""

    def __init__(self, detail: PromptDetail) -> None:
        super().__init__()
        self.detail = detail


class StepChanged(Message):
    """The selected generated-token step changed for the prompt on display."""

    def __init__(self, prompt_id: str, step: int) -> None:
        super().__init__()
        self.prompt_id = prompt_id
        self.step = step


class AttributionsLoaded(Message):
    """A worker fetched every variant's tokens attributed for one step."""

    def __init__(
        self, prompt_id: str, step: int, tokens: dict[str, tuple[AttributedToken, ...]]
    ) -> None:
        super().__init__()
        self.prompt_id = prompt_id
        self.step = step
        self.tokens = tokens


class QueryFailed(Message):
    """A worker's query failed. `task` names what it was loading."""

    def __init__(self, task: str, error: Exception) -> None:
        super().__init__()
        self.task = task
        self.error = error
