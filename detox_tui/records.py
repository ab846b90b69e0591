"""Records that the query layer returns: plain frozen dataclasses, no SQL, no Textual."""

from __future__ import annotations

from dataclasses import dataclass, field

VARIANTS = ("PT", "FT", "RL")
"""Model variants in display order: pre-trained, fine-tuned, reinforcement-learned."""

BUCKETS = ("low", "mid", "high")
"""Toxicity buckets of the study's table: < 0.33, 0.33 to 0.66, > 0.66."""


@dataclass(frozen=True)
class PromptSummary:
    """One row of the `prompt_overview` view, with None for each toxicity not scored."""

    prompt_id: str
    text: str
    prompt_toxicity: float | None
    pt_toxicity: float | None
    ft_toxicity: float | None
    rl_toxicity: float | None
    n_spikes: int


@dataclass(frozen=True)
class PromptPage:
    """A page of the filtered, sorted prompt list.

    Attributes:
        prompts: The rows of this page.
        total: Number of prompts that match the filter, on all pages.
        offset: Index of the first row of this page among the matching prompts.
    """

    prompts: list[PromptSummary]
    total: int
    offset: int


@dataclass(frozen=True)
class AttributedToken:
    """A token of the attributed sequence with its attribution for one generated step.

    `value` is None for the step's own token and for every later position.
    """

    position: int
    token: str
    is_generated: bool
    step: int | None
    value: float | None


@dataclass(frozen=True)
class TokenMetric:
    """Prompt dependence, entropy (bits) and spike flag of one generated token."""

    step: int
    token: str
    probability: float | None
    prompt_dependence: float
    entropy: float
    entropy_rise: float | None
    is_spike: bool


@dataclass(frozen=True)
class Score:
    """One row of `scores`, where `reason` explains why `value` is None."""

    scorer: str
    scorer_version: str
    attribute: str
    value: float | None
    reason: str | None


@dataclass(frozen=True)
class SpanScore:
    """A score of a character span of a text: `begin` inclusive, `end` exclusive."""

    scorer: str
    scorer_version: str
    attribute: str
    begin: int
    end: int
    value: float | None


@dataclass(frozen=True)
class Generation:
    """A variant's reply with its per-step metrics and scores."""

    generation_id: str
    variant: str
    model: str
    adapter: str | None
    text: str
    n_tokens: int
    metrics: tuple[TokenMetric, ...]
    scores: tuple[Score, ...]
    spans: tuple[SpanScore, ...] = field(default=())

    @property
    def n_steps(self) -> int:
        """Number of generated tokens that have metrics."""
        return len(self.metrics)

    def metric_at(self, step: int) -> TokenMetric | None:
        """Return the metrics of the token at `step`, or None when the generation has no such step."""
        return next((metric for metric in self.metrics if metric.step == step), None)


@dataclass(frozen=True)
class PromptDetail:
    """A prompt with its generations keyed by variant and their tokens at step 0."""

    prompt_id: str
    text: str
    prompt_toxicity: float | None
    generations: dict[str, Generation]
    tokens: dict[str, tuple[AttributedToken, ...]]

    @property
    def n_steps(self) -> int:
        """Number of steps of the longest generation."""
        return max((g.n_steps for g in self.generations.values()), default=0)

    def spike_steps(self) -> list[int]:
        """Return the sorted steps at which any variant has a spike."""
        steps = {
            metric.step
            for generation in self.generations.values()
            for metric in generation.metrics
            if metric.is_spike
        }
        return sorted(steps)


@dataclass(frozen=True)
class Table:
    """Column names and rows of a table for display and CSV export."""

    title: str
    columns: tuple[str, ...]
    rows: list[tuple]


@dataclass(frozen=True)
class CurvePoint:
    """One step of a variant's mean entropy or prompt dependence curve with its interval."""

    variant: str
    step: int
    n: int
    mean: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class Aggregates:
    """The study-level tables and curves of the aggregate view.

    Attributes:
        toxicity: The `toxicity_table` of the results file.
        transitions: Prompts per pair of variants and pair of toxicity buckets.
        spikes: Spike statistics per variant.
        entropy_curves: Mean entropy per variant and step, with 95% intervals.
        dependence_curves: Mean prompt dependence per variant and step, with intervals.
        extra: Tables of newer results files shown as they are (spike_summary,
            comparisons), where the file has them.
    """

    toxicity: Table
    transitions: Table
    spikes: Table
    entropy_curves: list[CurvePoint]
    dependence_curves: list[CurvePoint]
    extra: list[Table] = field(default_factory=list)

    def tables(self) -> list[Table]:
        """Return every table, including the curves as one table, for CSV export."""
        curve_columns = ("variant", "step", "n", "mean", "ci_low", "ci_high")
        curves = [
            Table(
                f"{name} curves",
                curve_columns,
                [(p.variant, p.step, p.n, p.mean, p.ci_low, p.ci_high) for p in points],
            )
            for name, points in (
                ("entropy", self.entropy_curves),
                ("prompt dependence", self.dependence_curves),
            )
        ]
        return [self.toxicity, self.transitions, self.spikes, *self.extra, *curves]
