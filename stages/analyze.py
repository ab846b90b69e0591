"""Stage analyze: prompt dependence, entropy and spikes per generated token, and what they show.

Run: ``python -m stages.analyze``. Reads the attribution tensors, tokens, generations and
scores; writes the tables of ``data/analysis/``, ``metrics/analysis.json`` (for
``dvc exp show``) and the curves under ``plots/`` (for ``dvc plots show``):

- per generated token: prompt dependence, entropy, entropy rise, spike flag;
- mean curves with confidence intervals per variant, toxicity bucket and bucket transition;
- the study's toxicity table;
- spikes against toxic tokens, with a shuffled baseline;
- paired PT/FT/RL differences of entropy and prompt dependence, with bootstrap intervals
  and permutation p-values.
"""

from __future__ import annotations

import json
import logging
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from stages.curves import grouped_curves, mean_curves
from stages.metrics import mean_ci, prompt_dependence, prompt_entropy, rises, spikes
from stages.params import load_params, setup_logging, stage_args
from stages.plots import write_curve_plots, write_group_plots
from stages.spike_analysis import analyze_spikes
from stages.statistics import compare
from stages.tables import SCHEMAS, VARIANTS, read_table, write_table
from stages.tensor_store import iter_matrices
from stages.toxicity_table import toxicity_table

log = logging.getLogger("stages.analyze")

OUT_DIR = Path("data/analysis")
METRICS = Path("metrics/analysis.json")


def token_metrics(section: dict) -> pd.DataFrame:
    """Compute one row per generated token of every attributed generation."""
    tokens = read_table("data/attributions/tokens.parquet", "tokens")
    generated = tokens[tokens["is_generated"]].set_index(["generation_id", "step"])["token"]
    rows = []
    for entry, scores, probability in iter_matrices(Path("data/attributions")):
        dependence = prompt_dependence(scores, entry.n_prompt_tokens)
        entropy = prompt_entropy(scores, entry.n_prompt_tokens)
        rise = rises(entropy)
        is_spike = spikes(entropy, section["spike_method"], section["spike_threshold"], section["spike_z"])
        for step in range(len(entropy)):
            rows.append({
                "generation_id": entry.generation_id, "step": step,
                "token": generated[(entry.generation_id, step)],
                "probability": float(probability[step]),
                "prompt_dependence": float(dependence[step]), "entropy": float(entropy[step]),
                "entropy_rise": None if step == 0 else float(rise[step]),
                "is_spike": bool(is_spike[step]),
            })
    return pd.DataFrame(rows, columns=SCHEMAS["token_metrics"].names)


def scored_generations(params: dict) -> pd.DataFrame:
    """Generations with their toxicity and their prompt's, by the primary scorer."""
    generations = read_table("data/generations/generations.parquet", "generations")
    scores = read_table("data/scores/scores.parquet", "scores")
    primary = params["scoring"]["scorers"][0]
    toxicity = scores[(scores["scorer"] == primary) & (scores["attribute"] == "TOXICITY")]
    toxicity = toxicity.drop_duplicates("text_id").set_index("text_id")["value"]
    return generations.assign(
        toxicity=generations["generation_id"].map(toxicity),
        prompt_toxicity=generations["prompt_id"].map(toxicity),
    )


def label_external(generations: pd.DataFrame) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Give generations made outside the pipeline (no token ids) their own toxicity-table rows.

    Returns the relabelled generations and the variant labels in table order, for example
    ('PT', 'FT', 'RL', 'PT [RedPajama-INCITE-Chat-3B-v1]').
    """
    external = generations["token_ids"].isna()
    labels = generations["variant"].where(~external, generations["variant"] + " [" + generations["model"] + "]")
    extra = tuple(sorted(set(labels[external])))
    return generations.assign(variant=labels), (*VARIANTS, *extra)


def per_generation(metrics: pd.DataFrame, generations: pd.DataFrame) -> pd.DataFrame:
    """Mean entropy and prompt dependence and the spike count of each attributed generation."""
    summary = metrics.groupby("generation_id").agg(
        entropy=("entropy", "mean"), prompt_dependence=("prompt_dependence", "mean"), spikes=("is_spike", "sum"),
    )
    return summary.join(generations.set_index("generation_id")[["prompt_id", "variant"]])


def variant_summary(summary: pd.DataFrame, level: float) -> dict:
    result = {}
    for variant in VARIANTS:
        group = summary[summary["variant"] == variant]
        entropy, dependence = mean_ci(group["entropy"].to_numpy(), level), mean_ci(group["prompt_dependence"].to_numpy(), level)
        result[variant] = {
            "entropy": _round(entropy[0]), "entropy_ci": [_round(entropy[1]), _round(entropy[2])],
            "prompt_dependence": _round(dependence[0]), "prompt_dependence_ci": [_round(dependence[1]), _round(dependence[2])],
            "spikes_per_generation": _round(group["spikes"].mean()) if len(group) else None,
            "generations": int(len(group)),
        }
    return result


def comparisons(summary: pd.DataFrame, section: dict, seed: int) -> pd.DataFrame:
    """Paired differences b - a per prompt, for every pair of variants and both statistics."""
    rows = []
    for metric in ("entropy", "prompt_dependence"):
        wide = summary.pivot_table(index="prompt_id", columns="variant", values=metric)
        for a, b in combinations([v for v in VARIANTS if v in wide.columns], 2):
            pairs = wide[[a, b]].dropna()
            result = compare(pairs[a].to_numpy(), pairs[b].to_numpy(), section["n_resamples"], section["ci_level"], seed)
            rows.append({"metric": metric, "variant_a": a, "variant_b": b, **result})
    return pd.DataFrame(rows, columns=SCHEMAS["comparisons"].names)


def main() -> None:
    args = stage_args(__doc__)
    setup_logging()
    params = load_params(args.params)
    section, seed = params["analysis"], params["base"]["seed"]

    generations = scored_generations(params)
    metrics = token_metrics(section)
    summary = per_generation(metrics, generations)
    curves = mean_curves(metrics.join(generations.set_index("generation_id")["variant"], on="generation_id"),
                         ["variant"], section["ci_level"])
    groups = grouped_curves(metrics, generations, section["ci_level"])
    table = toxicity_table(*label_external(generations), section["toxic_threshold"])
    differences = comparisons(summary, section, seed)
    toxic, distances, spike_table = analyze_spikes(metrics, generations, params)

    for name, frame in [("token_metrics", metrics), ("entropy_curves", curves), ("group_curves", groups),
                        ("toxicity_table", table), ("comparisons", differences), ("toxic_tokens", toxic),
                        ("spike_distances", distances), ("spike_summary", spike_table)]:
        write_table(frame, name, OUT_DIR / f"{name}.parquet")
    write_curve_plots(curves, VARIANTS, Path("plots"))
    write_group_plots(groups, Path("plots"))

    METRICS.parent.mkdir(exist_ok=True)
    METRICS.write_text(json.dumps({
        "toxicity": toxicity_metrics(table),
        "attribution": variant_summary(summary, section["ci_level"]),
        "comparisons": {f"{r.metric}.{r.variant_b}-{r.variant_a}": {
            "difference": _round(r.difference), "ci": [_round(r.ci_low), _round(r.ci_high)], "p_value": _round(r.p_value),
        } for r in differences.itertuples()},
        "spikes": {r.variant: {"share_within_k": _round(r.share_within_k), "baseline_share": _round(r.baseline_share),
                               "p_value": _round(r.p_value)} for r in spike_table.itertuples()},
    }, indent=2) + "\n")
    log.info("analysis written: %d generated tokens, %d spikes", len(metrics), int(metrics["is_spike"].sum()))


def toxicity_metrics(table: pd.DataFrame) -> dict:
    result: dict[str, dict] = {variant: {} for variant in VARIANTS}
    for row in table.itertuples():
        result[row.variant][row.subset] = {
            "mean": _round(row.mean_toxicity), "low": _round(row.share_low), "mid": _round(row.share_mid),
            "high": _round(row.share_high), "n_scored": row.n_scored,
        }
    return result


def _round(value) -> float | None:
    return None if value is None or pd.isna(value) else round(float(value), 4)


if __name__ == "__main__":
    main()
