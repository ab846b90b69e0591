"""Prompt dependence, entropy, spikes and confidence intervals of attribution matrices.

An attribution matrix has shape (n_generated, n_positions). Row t scores generated token
t against every position of prompt + generation, and positions at or after the token's
own are NaN. The first ``n_prompt`` positions are the prompt (chat template included).
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def normalize_rows(scores: np.ndarray) -> np.ndarray:
    """Scale each row to sum to 1 over its defined (non-NaN) positions."""
    filled = np.nan_to_num(np.abs(scores.astype(np.float64)), nan=0.0)  # stored float32; sums in float64
    totals = filled.sum(axis=1, keepdims=True)
    return np.divide(filled, totals, out=np.zeros_like(filled), where=totals > 0)


def prompt_dependence(scores: np.ndarray, n_prompt: int) -> np.ndarray:
    """Share of each row's attribution on the prompt positions, shape (n_generated,)."""
    normalized = normalize_rows(scores)
    return normalized[:, :n_prompt].sum(axis=1)


def prompt_entropy(scores: np.ndarray, n_prompt: int) -> np.ndarray:
    """Base-2 Shannon entropy of each row's attribution over prompt positions, in bits.

    The prompt part of a row is renormalised to a distribution first, so the entropy
    ranges from 0 (all weight on one prompt token) to log2(n_prompt) (uniform).
    """
    prompt = normalize_rows(scores[:, :n_prompt])
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(prompt > 0, prompt * np.log2(prompt), 0.0)
    return -terms.sum(axis=1)


def rises(values: np.ndarray) -> np.ndarray:
    """Change from the previous step; NaN at step 0."""
    return np.concatenate([[np.nan], np.diff(values)]) if len(values) else values


def mean_ci(values: np.ndarray, level: float) -> tuple[float, float, float]:
    """Mean and Student-t confidence interval; the interval collapses to the mean for n < 2."""
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(values.mean())
    if len(values) < 2:
        return mean, mean, mean
    half = stats.t.ppf((1 + level) / 2, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return mean, mean - half, mean + half


def robust_z(values: np.ndarray) -> np.ndarray:
    """Robust z-score: distance from the median in units of 1.4826 x the median absolute deviation.

    NaN entries are ignored and stay NaN; a zero MAD (all values equal) gives z = 0.
    """
    finite = values[~np.isnan(values)]
    if len(finite) == 0:
        return np.full_like(values, np.nan)
    median = np.median(finite)
    mad = 1.4826 * np.median(np.abs(finite - median))
    if mad == 0:
        return np.where(np.isnan(values), np.nan, 0.0)
    return (values - median) / mad


def spikes(entropy: np.ndarray, method: str, threshold: float, z_threshold: float) -> np.ndarray:
    """Steps whose entropy rise marks a spike, as a boolean mask; step 0 never is one.

    Args:
        entropy: (n_generated,) entropy per step, in bits.
        method: ``threshold`` (rise above ``threshold`` bits) or ``robust_z`` (the rise's
            robust z-score within the generation above ``z_threshold``).
    """
    rise = rises(entropy)
    if method == "threshold":
        score, limit = rise, threshold
    elif method == "robust_z":
        score, limit = robust_z(rise), z_threshold
    else:
        raise ValueError(f"unknown analysis.spike_method {method!r}; choose threshold or robust_z")
    with np.errstate(invalid="ignore"):
        return np.nan_to_num(score, nan=-np.inf) > limit
