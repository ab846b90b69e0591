"""Resuming interrupted work: fingerprints of a stage's inputs name its checkpoints.

DVC deletes a stage's outputs before it runs, so partial work lives in
``data/checkpoints/`` (ignored by git and DVC) under a fingerprint of everything the
result depends on. A rerun with the same inputs resumes; changed inputs start afresh.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

CHECKPOINT_ROOT = Path("data/checkpoints")


def file_digest(path: Path, digest: "hashlib._Hash") -> None:
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)


def fingerprint(config: object, files: list[Path | str]) -> str:
    """Hash a JSON-serialisable config and the contents of files (directories recursively)."""
    digest = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode())
    for item in map(Path, files):
        paths = sorted(p for p in item.rglob("*") if p.is_file()) if item.is_dir() else [item]
        for path in paths:
            digest.update(str(path).encode())
            file_digest(path, digest)
    return digest.hexdigest()[:16]


def checkpoint_dir(stage: str, key: str) -> Path:
    """Return the stage's checkpoint folder for this fingerprint, removing stale ones."""
    stage_root = CHECKPOINT_ROOT / stage
    if stage_root.is_dir():
        for old in stage_root.iterdir():
            if old.name != key:
                shutil.rmtree(old, ignore_errors=True)
    path = stage_root / key
    path.mkdir(parents=True, exist_ok=True)
    return path


def finish(stage: str) -> None:
    """Remove a stage's checkpoints once its outputs are complete."""
    shutil.rmtree(CHECKPOINT_ROOT / stage, ignore_errors=True)
