"""Stage analyze: prompt dependence, entropy and spikes per generated token; toxicity table.

Run: ``python -m stages.analyze``. Reads the attribution tensors, the generations and the
scores; writes ``data/analysis/`` tables, ``metrics/analysis.json`` (for ``dvc exp show``)
and the curves under ``plots/`` (for ``dvc plots show``).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from stages.metrics import mean_ci, prompt_dependence, prompt_entropy, rises
from stages.params import load_params, setup_logging, stage_args
from stages.plots import write_curve_plots
from stages.tables import VARIANTS, read_table, write_table
from stages.tensor_store import iter_matrices
from stages.toxicity_table import toxicity_table

log = logging.getLogger("stages.analyze")

OUT_DIR = Path("data/analysis")
METRICS = Path("metrics/analysis.json")


def token_metrics(spike_threshold: float) -> pd.DataFrame:
    """One row per generated token of every attributed generation."""
    tokens = read_table("data/attributions/tokens.parquet", "tokens")
    generated = tokens[tokens["is_generated"]].set_index(["generation_id", "step"])["token"]
    rows = []
    for entry, scores, probability in iter_matrices(Path("data/attributions")):
        dependence = prompt_dependence(scores, entry.n_prompt_tokens)
        entropy = prompt_entropy(scores, entry.n_prompt_tokens)
        rise = rises(entropy)
        for step in range(len(entropy)):
            rows.append({
                "generation_id": entry.generation_id, "step": step,
                "token": generated[(entry.generation_id, step)],
                "probability": float(probability[step]),
                "prompt_dependence": float(dependence[step]), "entropy": float(entropy[step]),
                "entropy_rise": None if step == 0 else float(rise[step]),
                "is_spike": bool(step > 0 and rise[step] > spike_threshold),
            })
    return pd.DataFrame(rows)


def curves(metrics: pd.DataFrame, generations: pd.DataFrame, level: float) -> pd.DataFrame:
    """Mean entropy and prompt dependence per variant and step, with confidence intervals."""
    frame = metrics.merge(generations[["generation_id", "variant"]], on="generation_id")
    rows = []
    for (variant, step), group in frame.groupby(["variant", "step"], sort=True):
        entropy = mean_ci(group["entropy"].to_numpy(), level)
        dependence = mean_ci(group["prompt_dependence"].to_numpy(), level)
        rows.append({
            "variant": variant, "step": int(step), "n": len(group),
            "entropy_mean": entropy[0], "entropy_ci_low": entropy[1], "entropy_ci_high": entropy[2],
            "prompt_dependence_mean": dependence[0], "prompt_dependence_ci_low": dependence[1],
            "prompt_dependence_ci_high": dependence[2],
        })
    return pd.DataFrame(rows)


def per_variant_summary(metrics: pd.DataFrame, generations: pd.DataFrame, level: float) -> dict:
    """Mean over generations of each generation's mean entropy and prompt dependence."""
    per_generation = metrics.groupby("generation_id").agg(
        entropy=("entropy", "mean"), prompt_dependence=("prompt_dependence", "mean"),
        spikes=("is_spike", "sum"),
    ).join(generations.set_index("generation_id")["variant"])
    summary = {}
    for variant in VARIANTS:
        group = per_generation[per_generation["variant"] == variant]
        entropy = mean_ci(group["entropy"].to_numpy(), level)
        dependence = mean_ci(group["prompt_dependence"].to_numpy(), level)
        summary[variant] = {
            "entropy": round(entropy[0], 4), "entropy_ci": [round(entropy[1], 4), round(entropy[2], 4)],
            "prompt_dependence": round(dependence[0], 4),
            "prompt_dependence_ci": [round(dependence[1], 4), round(dependence[2], 4)],
            "spikes_per_generation": round(float(group["spikes"].mean()), 4) if len(group) else None,
            "generations": int(len(group)),
        }
    return summary


def scored_generations(params: dict) -> pd.DataFrame:
    """Generations with their toxicity and their prompt's, by the primary scorer."""
    generations = read_table("data/generations/generations.parquet", "generations")
    scores = read_table("data/scores/scores.parquet", "scores")
    primary = params["scoring"]["scorers"][0]
    toxicity = scores[(scores["scorer"] == primary) & (scores["attribute"] == "TOXICITY")]
    toxicity = toxicity.set_index("text_id")["value"]
    return generations.assign(
        toxicity=generations["generation_id"].map(toxicity),
        prompt_toxicity=generations["prompt_id"].map(toxicity),
    )


def main() -> None:
    args = stage_args(__doc__)
    setup_logging()
    params = load_params(args.params)
    section = params["analysis"]

    generations = scored_generations(params)
    metrics = token_metrics(section["spike_threshold"])
    curve_table = curves(metrics, generations, section["ci_level"])
    table = toxicity_table(generations, VARIANTS, section["toxic_threshold"])

    write_table(metrics, "token_metrics", OUT_DIR / "token_metrics.parquet")
    write_table(curve_table, "entropy_curves", OUT_DIR / "entropy_curves.parquet")
    write_table(table, "toxicity_table", OUT_DIR / "toxicity_table.parquet")
    write_curve_plots(curve_table, VARIANTS, Path("plots"))

    summary = per_variant_summary(metrics, generations, section["ci_level"])
    toxicity: dict[str, dict] = {variant: {} for variant in VARIANTS}
    for row in table.itertuples():
        toxicity[row.variant][row.subset] = {
            "mean": _round(row.mean_toxicity), "low": _round(row.share_low), "mid": _round(row.share_mid),
            "high": _round(row.share_high), "n_scored": row.n_scored,
        }
    METRICS.parent.mkdir(exist_ok=True)
    METRICS.write_text(json.dumps({"toxicity": toxicity, "attribution": summary}, indent=2) + "\n")
    log.info("analysis: %s", json.dumps(summary))


def _round(value: float | None) -> float | None:
    return None if value is None or np.isnan(value) else round(float(value), 4)


if __name__ == "__main__":
    main()
