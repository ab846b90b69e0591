"""Reading the attribution tensors written by the attribute stage.

``data/attributions/index.parquet`` records which ``shard-*.npz`` holds each generation; a
shard stores ``<generation_id>`` (the (n_generated, n_positions) matrix) and
``<generation_id>.probability`` (the step probabilities).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, NamedTuple

import numpy as np

from stages.tables import read_table


class IndexEntry(NamedTuple):
    generation_id: str
    shard: str
    n_prompt_tokens: int
    n_generated_tokens: int
    tokens_match: bool


def read_index(store: Path) -> list[IndexEntry]:
    frame = read_table(store / "index.parquet", "attribution_index")
    return [IndexEntry(*row) for row in frame[list(IndexEntry._fields)].itertuples(index=False)]


def iter_matrices(store: Path) -> Iterator[tuple[IndexEntry, np.ndarray, np.ndarray]]:
    """Yield (index entry, scores, probability) per attributed generation, one shard open at a time.

    Generations with no generated token have no matrix and are skipped.
    """
    entries = [e for e in read_index(store) if e.n_generated_tokens > 0]
    for shard in sorted({e.shard for e in entries}):
        with np.load(store / f"{shard}.npz") as arrays:
            for entry in (e for e in entries if e.shard == shard):
                yield entry, arrays[entry.generation_id], arrays[f"{entry.generation_id}.probability"]


def load_matrix(store: Path, generation_id: str) -> tuple[np.ndarray, np.ndarray]:
    """Read one generation's scores and probabilities: one index lookup, one shard read."""
    entry = next((e for e in read_index(store) if e.generation_id == generation_id), None)
    if entry is None or entry.n_generated_tokens == 0:
        raise KeyError(f"no attribution matrix for generation {generation_id!r} in {store}")
    with np.load(store / f"{entry.shard}.npz") as arrays:
        return arrays[generation_id], arrays[f"{generation_id}.probability"]
