"""Mean entropy and prompt-dependence curves over generated-token steps, with confidence intervals.

Curves are grouped by variant, by the generation's toxicity bucket, and by the bucket
transition from a prompt's PT generation to its FT or RL generation (for example
``PT high -> FT low``: FT generations whose PT counterpart was highly toxic).
"""

from __future__ import annotations

import pandas as pd

from stages.metrics import mean_ci
from stages.toxicity_table import bucket

STATS = ("entropy", "prompt_dependence")


def mean_curves(frame: pd.DataFrame, keys: list[str], level: float) -> pd.DataFrame:
    """Average each statistic per group and step: n, mean and interval bounds."""
    rows = []
    for group, rows_of_group in frame.groupby([*keys, "step"], sort=True):
        row = dict(zip([*keys, "step"], group))
        row["n"] = len(rows_of_group)
        for stat in STATS:
            mean, low, high = mean_ci(rows_of_group[stat].to_numpy(), level)
            row.update({f"{stat}_mean": mean, f"{stat}_ci_low": low, f"{stat}_ci_high": high})
        rows.append(row)
    return pd.DataFrame(rows)


def transition_labels(generations: pd.DataFrame) -> pd.Series:
    """Label each FT and RL generation with its prompt's PT bucket and its own, by generation_id."""
    buckets = generations.assign(bucket=generations["toxicity"].map(bucket))
    pt = buckets[buckets["variant"] == "PT"].set_index("prompt_id")["bucket"]
    others = buckets[buckets["variant"] != "PT"]
    labels = "PT " + others["prompt_id"].map(pt).astype(str) + " -> " + others["variant"] + " " + others["bucket"].astype(str)
    valid = others["prompt_id"].map(pt).notna() & others["bucket"].notna()
    return pd.Series(labels[valid].to_numpy(), index=others.loc[valid, "generation_id"])


def grouped_curves(metrics: pd.DataFrame, generations: pd.DataFrame, level: float) -> pd.DataFrame:
    """Curves per toxicity bucket and per bucket transition, in one long table.

    Returns:
        columns group_kind ('bucket' or 'transition'), group, variant, step, n and the
        mean and interval bounds of entropy and prompt dependence.
    """
    info = generations.set_index("generation_id")
    frame = metrics.join(info[["variant", "toxicity"]], on="generation_id")
    frame["bucket"] = frame["toxicity"].map(bucket)

    by_bucket = mean_curves(frame.dropna(subset=["bucket"]), ["variant", "bucket"], level)
    by_bucket = by_bucket.rename(columns={"bucket": "group"}).assign(group_kind="bucket")

    frame["transition"] = frame["generation_id"].map(transition_labels(generations))
    by_transition = mean_curves(frame.dropna(subset=["transition"]), ["variant", "transition"], level)
    by_transition = by_transition.rename(columns={"transition": "group"}).assign(group_kind="transition")

    columns = ["group_kind", "group", "variant", "step", "n"] + [
        f"{stat}_{part}" for stat in STATS for part in ("mean", "ci_low", "ci_high")
    ]
    return pd.concat([by_bucket, by_transition], ignore_index=True).reindex(columns=columns)
