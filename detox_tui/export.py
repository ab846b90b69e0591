"""CSV export of the tables of a view. No Textual: the app writes screenshots itself."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from detox_tui.records import PromptDetail, Table

_METRIC_COLUMNS = ("generation_id", "variant", "step", "token", "probability",
                   "prompt_dependence", "entropy", "entropy_rise", "is_spike")  # fmt: skip


def export_stem(view: str, stamp: str) -> str:
    """Return the file name stem of an export, e.g. `detox-tui-prompts-20261204-203000`."""
    return f"detox-tui-{view}-{stamp}"


def write_csv(table: Table, folder: Path, stem: str) -> Path:
    """Write `table` to `<folder>/<stem>-<table title as a slug>.csv` and return the path.

    The folder is created if needed. None becomes an empty field.
    """
    folder.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^a-z0-9]+", "-", table.title.lower()).strip("-")
    path = folder / f"{stem}-{slug}.csv"
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(table.columns)
        writer.writerows(table.rows)
    return path


def detail_metrics_table(detail: PromptDetail, title: str | None = None) -> Table:
    """Return the per-step metrics of every generation of a prompt as one table."""
    rows = [
        (generation.generation_id, variant, m.step, m.token, m.probability,
         m.prompt_dependence, m.entropy, m.entropy_rise, m.is_spike)
        for variant, generation in detail.generations.items()
        for m in generation.metrics
    ]  # fmt: skip
    return Table(title or f"token metrics {detail.prompt_id}", _METRIC_COLUMNS, rows)
