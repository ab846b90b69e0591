"""The attribution tensor store: compressed shards of matrices plus an index table.

``data/attributions/index.parquet`` records which ``shard-*.npz`` contains each generation; a
shard stores ``<generation_id>`` (the (n_generated, n_positions) matrix) and
``<generation_id>.probability`` (the step probabilities). Shards are written byte for
byte the same from the same arrays, so DVC treats a rerun with equal results as unchanged.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path
from typing import Iterator, NamedTuple

import numpy as np

from stages.tables import read_table

FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # numpy's savez stamps the current time into each entry


class IndexEntry(NamedTuple):
    generation_id: str
    shard: str
    n_prompt_tokens: int
    n_generated_tokens: int
    tokens_match: bool
    skip_reason: str | None


def write_shard(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write arrays as a compressed ``.npz`` that ``np.load`` reads, atomically and reproducibly."""
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(arrays):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=FIXED_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue())
    os.replace(tmp, path)


def read_index(store: Path) -> list[IndexEntry]:
    frame = read_table(store / "index.parquet", "attribution_index")
    frame["skip_reason"] = frame["skip_reason"].astype(object).where(frame["skip_reason"].notna(), None)
    return [IndexEntry(*row) for row in frame[list(IndexEntry._fields)].itertuples(index=False)]


def iter_matrices(store: Path) -> Iterator[tuple[IndexEntry, np.ndarray, np.ndarray]]:
    """Yield (index entry, scores, probability) per attributed generation, one shard open at a time.

    Generations without a matrix (empty, or skipped with a reason) are left out.
    """
    entries = [e for e in read_index(store) if e.skip_reason is None]
    for shard in sorted({e.shard for e in entries}):
        with np.load(store / f"{shard}.npz") as arrays:
            for entry in (e for e in entries if e.shard == shard):
                yield entry, arrays[entry.generation_id], arrays[f"{entry.generation_id}.probability"]


def load_matrix(store: Path, generation_id: str) -> tuple[np.ndarray, np.ndarray]:
    """Read one generation's scores and probabilities: one index lookup, one shard read."""
    entry = next((e for e in read_index(store) if e.generation_id == generation_id), None)
    if entry is None or entry.skip_reason is not None:
        raise KeyError(f"no attribution matrix for generation {generation_id!r} in {store}")
    with np.load(store / f"{entry.shard}.npz") as arrays:
        return arrays[generation_id], arrays[f"{generation_id}.probability"]
