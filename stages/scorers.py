"""Toxicity scorers behind one interface, with Perspective API attribute names.

A scorer returns, for each text, one ``Score`` per attribute it provides. A text it cannot
score gets ``value=None`` and a reason, never 0: a 0 would read as "not toxic" and, as an
RL reward, as the best possible answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import version
from typing import Protocol, Sequence

ATTRIBUTES = ("TOXICITY", "SEVERE_TOXICITY", "IDENTITY_ATTACK", "INSULT", "PROFANITY", "THREAT")


@dataclass(frozen=True)
class Score:
    attribute: str
    value: float | None
    reason: str | None = None


class Scorer(Protocol):
    name: str
    version: str              # package version or model hash: the provenance of every score
    attributes: tuple[str, ...]

    def score(self, texts: Sequence[str]) -> list[list[Score]]:
        """Score a batch of texts; one list of Scores (one per attribute) per text."""


class OfflineScorer:
    """alt-profanity-check: a linear classifier shipped inside its PyPI wheel, read as TOXICITY.

    It runs offline at tens of thousands of texts per second on one core.
    """

    name = "offline"
    attributes = ("TOXICITY",)

    def __init__(self) -> None:
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
                results.append([Score("TOXICITY", None, "empty or whitespace-only text")])
        return results


SCORERS = {"offline": OfflineScorer}


def get_scorer(name: str) -> Scorer:
    try:
        factory = SCORERS[name]
    except KeyError:
        raise ValueError(f"unknown scorer {name!r}; choose from {sorted(SCORERS)}") from None
    return factory()


def toxicity_values(scorer: Scorer, texts: Sequence[str]) -> list[float | None]:
    """TOXICITY of each text by the scorer, None where it gave no score."""
    values = []
    for scores in scorer.score(texts):
        toxicity = [s for s in scores if s.attribute == "TOXICITY"]
        values.append(toxicity[0].value if toxicity else None)
    return values
