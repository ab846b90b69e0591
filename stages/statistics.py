"""Paired comparisons of two variants: bootstrap confidence intervals and permutation tests.

Each prompt contributes one paired difference (for example its FT generation's mean
entropy minus its PT generation's). Resampling is over prompts.
"""

from __future__ import annotations

import numpy as np


def paired_bootstrap_ci(differences: np.ndarray, n_resamples: int, level: float, seed: int) -> tuple[float, float]:
    """Percentile confidence interval of the mean paired difference."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(differences), size=(n_resamples, len(differences)))
    means = differences[picks].mean(axis=1)
    tail = (1 - level) / 2
    return float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))


def paired_permutation_p(differences: np.ndarray, n_permutations: int, seed: int) -> float:
    """Two-sided p-value of a zero mean difference, by random sign flips of the pairs.

    Returns (count of |permuted mean| >= |observed mean| + 1) / (n_permutations + 1).
    """
    rng = np.random.default_rng(seed)
    signs = rng.choice([-1.0, 1.0], size=(n_permutations, len(differences)))
    permuted = np.abs((signs * differences).mean(axis=1))
    observed = abs(differences.mean())
    return float((np.sum(permuted >= observed - 1e-12) + 1) / (n_permutations + 1))


def compare(values_a: np.ndarray, values_b: np.ndarray, n_resamples: int, level: float, seed: int) -> dict:
    """Mean difference b - a of paired values with its bootstrap interval and permutation p-value."""
    differences = np.asarray(values_b, dtype=float) - np.asarray(values_a, dtype=float)
    if len(differences) < 2:
        return {"n_pairs": int(len(differences)), "difference": None, "ci_low": None, "ci_high": None, "p_value": None}
    low, high = paired_bootstrap_ci(differences, n_resamples, level, seed)
    return {
        "n_pairs": int(len(differences)),
        "difference": float(differences.mean()),
        "ci_low": low,
        "ci_high": high,
        "p_value": paired_permutation_p(differences, n_resamples, seed + 1),
    }
