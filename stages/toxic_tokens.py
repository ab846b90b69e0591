"""Locating the toxic tokens of a generation, to compare entropy spikes against.

Where Perspective span scores exist for a generation (character offsets with a TOXICITY
value), a generated token is toxic when it overlaps a span scoring above 0.5. Otherwise
the offline scorer reads the generation's prefixes token by token, and a token is toxic
when adding it raises the prefix's toxicity by more than ``analysis.toxic_rise``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from stages.scorers import Scorer, toxicity_values

SPAN_THRESHOLD = 0.5


def char_offsets(tokens: list[str]) -> np.ndarray:
    """(n, 2) start and end character offset of each decoded token in their concatenation."""
    ends = np.cumsum([len(t) for t in tokens])
    return np.stack([ends - np.array([len(t) for t in tokens]), ends], axis=1) if tokens else np.zeros((0, 2), int)


def from_spans(tokens: list[str], spans: pd.DataFrame) -> np.ndarray:
    """Boolean mask of the tokens that overlap a toxic span (columns begin, end, value)."""
    offsets = char_offsets(tokens)
    toxic = np.zeros(len(tokens), dtype=bool)
    for span in spans[spans["value"] > SPAN_THRESHOLD].itertuples():
        toxic |= (offsets[:, 0] < span.end) & (offsets[:, 1] > span.begin)
    return toxic


def from_prefix_rise(tokens_by_generation: dict[str, list[str]], scorer: Scorer, rise: float) -> dict[str, np.ndarray]:
    """Boolean masks of the tokens whose addition raises the prefix toxicity by more than ``rise``.

    All prefixes of all generations go to the scorer in one batch.
    """
    prefixes, owners = [], []
    for generation_id, tokens in tokens_by_generation.items():
        text = ""
        for token in tokens:
            text += token
            prefixes.append(text)
            owners.append(generation_id)
    values = np.array([np.nan if v is None else v for v in toxicity_values(scorer, prefixes)], dtype=float)

    masks, start = {}, 0
    for generation_id, tokens in tokens_by_generation.items():
        toxicity = np.nan_to_num(values[start : start + len(tokens)], nan=0.0)
        start += len(tokens)
        masks[generation_id] = np.diff(toxicity, prepend=0.0) > rise
    return masks
