"""Messages that widgets and workers post to the app, named as past-tense events."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from pathlib import Path

    from detox_tui.queries import AttributedToken, PromptDetail, PromptFilter, PromptPage
    from detox_tui.records import Aggregates


class PromptsLoaded(Message):
    """A worker fetched a page of the filtered, sorted prompt list."""

    def __init__(self, page: PromptPage, sort: str, prompt_filter: PromptFilter) -> None:
        super().__init__()
        self.page = page
        self.prompts = page.prompts
        self.sort = sort
        self.prompt_filter = prompt_filter


class SearchChanged(Message):
    """The user edited the text of the prompt list's search field."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


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


class AggregatesLoaded(Message):
    """A worker fetched the tables and curves of the aggregate view."""

    def __init__(self, aggregates: Aggregates) -> None:
        super().__init__()
        self.aggregates = aggregates


class ComparisonLoaded(Message):
    """A worker fetched one prompt's detail from each of two results files.

    `details` maps each source name to the prompt's detail, or to None where that
    file has no such prompt.
    """

    def __init__(self, prompt_id: str, details: dict[str, PromptDetail | None]) -> None:
        super().__init__()
        self.prompt_id = prompt_id
        self.details = details


class SourcesFound(Message):
    """A worker listed the results files that the comparison can open, by name."""

    def __init__(self, sources: dict[str, Path]) -> None:
        super().__init__()
        self.sources = sources


class ExportFinished(Message):
    """A worker wrote the CSV files of an export."""

    def __init__(self, paths: list[Path]) -> None:
        super().__init__()
        self.paths = paths
