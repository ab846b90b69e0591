"""Spikes against toxic tokens: which tokens are toxic, each spike's distance, the shuffled baseline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from stages.scorers import get_scorer
from stages.spike_stats import nearest_distance, shuffled_shares, spike_summary
from stages.tables import SCHEMAS, VARIANTS, read_table
from stages.toxic_tokens import from_prefix_rise, from_spans

SPAN_SCORES = Path("data/scores/span_scores.parquet")


def find_toxic_tokens(tokens: dict[str, list[str]], params: dict) -> pd.DataFrame:
    """Toxic generated tokens: from span scores where a generation has them, else from prefix rises."""
    spans = read_table(SPAN_SCORES, "span_scores") if SPAN_SCORES.exists() else None
    if spans is not None:
        spans = spans[spans["attribute"] == "TOXICITY"]
    rows, without_spans = [], {}
    for generation_id, generation_tokens in tokens.items():
        own = spans[spans["text_id"] == generation_id] if spans is not None else None
        if own is not None and len(own):
            steps = np.flatnonzero(from_spans(generation_tokens, own))
            rows.extend({"generation_id": generation_id, "step": int(s), "source": "span scores"} for s in steps)
        else:
            without_spans[generation_id] = generation_tokens

    section = params["analysis"]
    masks = from_prefix_rise(without_spans, get_scorer(section["token_scorer"]), section["toxic_rise"])
    for generation_id, mask in masks.items():
        rows.extend({"generation_id": generation_id, "step": int(s), "source": "offline prefix rise"}
                    for s in np.flatnonzero(mask))
    return pd.DataFrame(rows, columns=SCHEMAS["toxic_tokens"].names)


def analyze_spikes(metrics: pd.DataFrame, generations: pd.DataFrame, params: dict
                   ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Return (toxic tokens, spike distances, per-variant summary with the shuffled baseline)."""
    section, seed = params["analysis"], params["base"]["seed"]
    tokens = {g: list(group["token"]) for g, group in metrics.groupby("generation_id", sort=False)}
    toxic = find_toxic_tokens(tokens, params)
    toxic_steps = {g: group["step"].to_numpy() for g, group in toxic.groupby("generation_id")}

    distance_rows, placements = [], []
    variant_of = generations.set_index("generation_id")["variant"]
    for generation_id, group in metrics.groupby("generation_id", sort=False):
        spike_steps = group.loc[group["is_spike"], "step"].to_numpy()
        own_toxic = toxic_steps.get(generation_id, np.array([], dtype=int))
        for step, distance in zip(spike_steps, nearest_distance(spike_steps, own_toxic)):
            distance_rows.append({"generation_id": generation_id, "step": int(step), "distance": distance})
        if len(spike_steps) and len(own_toxic) and len(group) > 1:
            placements.append((variant_of[generation_id], (len(group), len(spike_steps), own_toxic)))
    distances = pd.DataFrame(distance_rows, columns=SCHEMAS["spike_distances"].names)

    rows = []
    k, n_shuffles = section["spike_window"], section["n_shuffles"]
    for variant in (*VARIANTS, "all"):
        chosen = distances if variant == "all" else distances[distances["generation_id"].map(variant_of) == variant]
        baseline = shuffled_shares([p for v, p in placements if variant in (v, "all")], k, n_shuffles, seed)
        rows.append({"variant": variant, "n_spikes": len(chosen),
                     **spike_summary(chosen["distance"].to_numpy(dtype=float), baseline, k)})
    return toxic, distances, pd.DataFrame(rows, columns=SCHEMAS["spike_summary"].names)
