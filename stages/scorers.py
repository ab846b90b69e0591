"""Toxicity scorers behind one interface, with Perspective API attribute names.

A scorer returns, for each text, one ``Score`` per attribute it provides. A text it cannot
score gets ``value=None`` and a reason, never 0: a 0 would read as "not toxic" and, as an
RL reward, as the best possible answer.

Scorers, chosen by name in ``scoring.scorers``:

- ``offline``: alt-profanity-check, a scikit-learn classifier shipped in its wheel (TOXICITY);
- ``hf``: any sequence-classification model, settings in ``scoring.hf`` (``stages/hf_scorer.py``);
- ``perspective``: the Perspective API, settings in ``scoring.perspective`` (``stages/perspective.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import version
from typing import Any, Callable, Protocol, Sequence

ATTRIBUTES = ("TOXICITY", "SEVERE_TOXICITY", "IDENTITY_ATTACK", "INSULT", "PROFANITY", "THREAT")
EMPTY_TEXT = "empty or whitespace-only text"


@dataclass(frozen=True)
class Score:
    attribute: str
    value: float | None
    reason: str | None = None               # why value is None, or a note such as truncation
    spans: tuple[tuple[int, int, float], ...] = ()  # (begin, end, value), character offsets
    cacheable: bool = True                  # False for transient failures, retried on the next run


class Scorer(Protocol):
    name: str
    version: str              # package version or model hash: the provenance of every score
    attributes: tuple[str, ...]
    batch_size: int           # texts per call of score(); the score cache commits per batch

    def score(self, texts: Sequence[str]) -> list[list[Score]]:
        """Score a batch of texts; one list of Scores (one per attribute) per text."""


def unscored(attributes: Sequence[str], reason: str, cacheable: bool = True) -> list[Score]:
    """NULL scores with the reason, one per attribute."""
    return [Score(attribute, None, reason, cacheable=cacheable) for attribute in attributes]


class OfflineScorer:
    """alt-profanity-check: a linear classifier shipped inside its PyPI wheel, read as TOXICITY.

    It runs offline at tens of thousands of texts per second on one core.
    """

    name = "offline"
    attributes = ("TOXICITY",)
    batch_size = 2048

    def __init__(self, settings: dict | None = None) -> None:
        from profanity_check import predict_prob

        self._predict_prob = predict_prob
        self.version = f"alt-profanity-check=={version('alt-profanity-check')}"

    def score(self, texts: Sequence[str]) -> list[list[Score]]:
        scorable = [i for i, text in enumerate(texts) if text.strip()]
        values = self._predict_prob([texts[i] for i in scorable]) if scorable else []
        by_index = dict(zip(scorable, values))

        results = []
        for i in range(len(texts)):
            if i in by_index:
                results.append([Score("TOXICITY", float(by_index[i]))])
            else:
                results.append(unscored(self.attributes, EMPTY_TEXT))
        return results


def _hf(settings: dict) -> Scorer:
    from stages.hf_scorer import HFScorer  # imported here: only this scorer needs torch

    return HFScorer(settings)


def _perspective(settings: dict) -> Scorer:
    from stages.perspective import PerspectiveScorer

    return PerspectiveScorer(settings)


SCORERS: dict[str, Callable[[dict], Any]] = {"offline": OfflineScorer, "hf": _hf, "perspective": _perspective}


def get_scorer(name: str, scoring: dict | None = None) -> Scorer:
    """Build the named scorer from its settings, ``scoring[name]`` in params.yaml (may be absent)."""
    try:
        factory = SCORERS[name]
    except KeyError:
        raise ValueError(f"unknown scorer {name!r}; choose from {sorted(SCORERS)}") from None
    return factory((scoring or {}).get(name) or {})


def toxicity_values(scorer: Scorer, texts: Sequence[str]) -> list[float | None]:
    """TOXICITY of each text by the scorer, None where it gave no score."""
    values = []
    for scores in scorer.score(texts):
        toxicity = [s for s in scores if s.attribute == "TOXICITY"]
        values.append(toxicity[0].value if toxicity else None)
    return values
