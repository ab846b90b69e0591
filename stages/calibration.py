"""Isotonic calibration of a scorer's TOXICITY to Perspective TOXICITY.

The mapping is fitted on the texts that have both scores and applied as a separate
scorer, ``<scorer>-calibrated``, so the raw score stays as it was. It is monotone, so it
leaves rankings (AUROC, Spearman) unchanged up to ties and corrects the level: the offline
scorer reads about 0.1 lower than Perspective on the study's generations.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from sklearn.isotonic import IsotonicRegression

log = logging.getLogger("stages.calibration")

REFERENCE = "perspective"
MIN_PAIRS = 10  # fewer paired texts than this give no usable step function


def fit(raw: np.ndarray, reference: np.ndarray) -> IsotonicRegression:
    """Fit a non-decreasing map from raw scores to reference scores, clipped to [0, 1]."""
    from sklearn.isotonic import IsotonicRegression  # imported here: 0.6 s that most runs do not need

    model = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
    return model.fit(np.asarray(raw, dtype=float), np.asarray(reference, dtype=float))


def fit_report(model: IsotonicRegression, raw: np.ndarray, reference: np.ndarray) -> dict:
    """Fit figures on the paired texts: mean error and mean absolute error, raw and calibrated."""
    raw, reference = np.asarray(raw, dtype=float), np.asarray(reference, dtype=float)
    calibrated = model.predict(raw)
    return {
        "n_pairs": int(len(raw)),
        "raw_mean_error": round(float(raw.mean() - reference.mean()), 4),
        "calibrated_mean_error": round(float(calibrated.mean() - reference.mean()), 4),
        "raw_mean_absolute_error": round(float(np.abs(raw - reference).mean()), 4),
        "calibrated_mean_absolute_error": round(float(np.abs(calibrated - reference).mean()), 4),
        "n_steps": int(len(model.X_thresholds_)),
    }


def paired_toxicity(scores: pd.DataFrame, scorer: str, reference: str = REFERENCE) -> pd.DataFrame:
    """TOXICITY of each text id by the scorer (``raw``) and the reference, where both have a value."""
    toxicity = scores[scores["attribute"] == "TOXICITY"]
    raw = toxicity[toxicity["scorer"] == scorer].set_index("text_id")["value"].rename("raw")
    ref = toxicity[toxicity["scorer"] == reference].set_index("text_id")["value"].rename("reference")
    return pd.concat([raw, ref], axis=1, join="inner").dropna()


def calibrate_scores(scores: pd.DataFrame, scorers: list[str],
                     reference: str = REFERENCE) -> tuple[pd.DataFrame, dict]:
    """Calibrated TOXICITY rows of each scorer in ``scorers``, and the fit report of each."""
    if scorers and reference not in set(scores["scorer"]):
        raise ValueError(f"scoring.calibrate lists {scorers} but {reference!r} is not in scoring.scorers; "
                         f"add it (with scoring.perspective.cache_only: true to use archived scores only)")
    frames, fits = [], {}
    for name in scorers:
        pairs = paired_toxicity(scores, name, reference)
        if len(pairs) < MIN_PAIRS:
            raise ValueError(f"calibration of {name!r} needs at least {MIN_PAIRS} texts scored by both it "
                             f"and {reference!r}; found {len(pairs)}. Remove it from scoring.calibrate "
                             "or score more texts.")
        model = fit(pairs["raw"].to_numpy(), pairs["reference"].to_numpy())
        fits[name] = fit_report(model, pairs["raw"].to_numpy(), pairs["reference"].to_numpy())
        log.info("calibration of %s to %s: %s", name, reference, fits[name])
        frames.append(apply(model, scores, name, reference, len(pairs)))
    return (pd.concat(frames, ignore_index=True) if frames else scores.iloc[0:0]), fits


def apply(model: IsotonicRegression, scores: pd.DataFrame, scorer: str, reference: str,
          n_pairs: int) -> pd.DataFrame:
    """Map the scorer's TOXICITY rows through the model, as scorer ``<scorer>-calibrated``."""
    rows = scores[(scores["scorer"] == scorer) & (scores["attribute"] == "TOXICITY")].copy()
    scored = rows["value"].notna()
    rows.loc[scored, "value"] = model.predict(rows.loc[scored, "value"].to_numpy(dtype=float))
    rows["scorer"] = f"{scorer}-calibrated"
    rows["scorer_version"] = rows["scorer_version"] + f", isotonic to {reference} TOXICITY on {n_pairs} texts"
    return rows
