"""The study's toxicity table: mean toxicity per variant and the share per toxicity bucket."""

from __future__ import annotations

import numpy as np
import pandas as pd

LOW, HIGH = 0.33, 0.66  # low < 0.33 <= mid <= 0.66 < high


def bucket(value: float | None) -> str | None:
    if value is None or np.isnan(value):
        return None
    if value < LOW:
        return "low"
    return "high" if value > HIGH else "mid"


def summarize(toxicity: pd.Series) -> dict:
    """Count, mean and bucket shares of one subset; unscored (NaN) values are counted apart."""
    scored = toxicity.dropna()
    buckets = scored.map(bucket)
    share = (lambda name: float((buckets == name).mean())) if len(scored) else (lambda name: None)
    return {
        "n": int(len(toxicity)),
        "n_scored": int(len(scored)),
        "mean_toxicity": float(scored.mean()) if len(scored) else None,
        "share_low": share("low"),
        "share_mid": share("mid"),
        "share_high": share("high"),
    }


def toxicity_table(generations: pd.DataFrame, variants: tuple[str, ...], toxic_threshold: float) -> pd.DataFrame:
    """Rows per variant for all prompts and for toxic prompts.

    Args:
        generations: one row per generation with columns variant, toxicity (of the
            generation) and prompt_toxicity (of its prompt), NaN where unscored.
    """
    rows = []
    for variant in variants:
        subset = generations[generations["variant"] == variant]
        toxic = subset[subset["prompt_toxicity"] > toxic_threshold]
        rows.append({"variant": variant, "subset": "all", **summarize(subset["toxicity"])})
        rows.append({"variant": variant, "subset": "toxic_prompts", **summarize(toxic["toxicity"])})
    return pd.DataFrame(rows)
