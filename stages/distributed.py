"""Splitting a stage's work across the processes of `accelerate launch`, and meeting at the end.

Under ``accelerate launch`` (torchrun) every process runs the whole stage script. Each
takes the work items whose index modulo the process count equals its rank, writes them as
checkpoint shards, and waits for the others. Rank 0 then merges all shards in index
order, so the output does not depend on the number of processes. Started as plain
``python``, there is one process of rank 0 and nothing to wait for.
"""

from __future__ import annotations

import os

from accelerate import PartialState


def world() -> tuple[int, int]:
    """(rank, number of processes) from the launcher's environment."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def is_mine(index: int) -> bool:
    rank, size = world()
    return index % size == rank


def wait_for_everyone() -> None:
    """Block until every process reaches this point (a no-op for one process)."""
    if world()[1] > 1:
        PartialState().wait_for_everyone()


def is_main() -> bool:
    return world()[0] == 0
