"""Distances from entropy spikes to toxic tokens, against a shuffled baseline.

For each spike, the distance (in generated tokens) to the nearest toxic token of the same
generation. The share of spikes within ``k`` tokens of a toxic token is compared with the
share when each generation's spikes are moved to random steps (same count, steps 1 and
later, since step 0 has no rise), repeated ``n_shuffles`` times.
"""

from __future__ import annotations

import numpy as np


def nearest_distance(spike_steps: np.ndarray, toxic_steps: np.ndarray) -> np.ndarray:
    """Distance from each spike to the nearest toxic step; NaN when there is no toxic step."""
    if len(toxic_steps) == 0:
        return np.full(len(spike_steps), np.nan)
    return np.abs(spike_steps[:, None] - toxic_steps[None, :]).min(axis=1).astype(float)


def share_within(distances: np.ndarray, k: int) -> float | None:
    """Share of spikes (with a defined distance) at most k tokens from a toxic token."""
    defined = distances[~np.isnan(distances)]
    return float((defined <= k).mean()) if len(defined) else None


def shuffled_shares(generations: list[tuple[int, int, np.ndarray]], k: int, n_shuffles: int,
                    seed: int) -> np.ndarray:
    """Share within k for each of n_shuffles random placements of the spikes.

    Args:
        generations: (n_steps, n_spikes, toxic_steps) for every generation that has at
            least one spike and one toxic token.
    """
    rng = np.random.default_rng(seed)
    shares = np.empty(n_shuffles)
    for i in range(n_shuffles):
        distances = []
        for n_steps, n_spikes, toxic_steps in generations:
            steps = rng.choice(np.arange(1, n_steps), size=min(n_spikes, n_steps - 1), replace=False)
            distances.append(nearest_distance(steps, toxic_steps))
        shares[i] = share_within(np.concatenate(distances), k) if distances else np.nan
    return shares


def spike_summary(observed: np.ndarray, shuffled: np.ndarray, k: int) -> dict:
    """Observed share within k, the shuffled baseline's mean and 95% range, and a one-sided p-value."""
    share = share_within(observed, k)
    if share is None or np.isnan(shuffled).all():
        return {"spikes_with_toxic_tokens": int((~np.isnan(observed)).sum()), "share_within_k": share,
                "baseline_share": None, "baseline_low": None, "baseline_high": None, "p_value": None}
    return {
        "spikes_with_toxic_tokens": int((~np.isnan(observed)).sum()),
        "share_within_k": share,
        "baseline_share": float(np.nanmean(shuffled)),
        "baseline_low": float(np.nanquantile(shuffled, 0.025)),
        "baseline_high": float(np.nanquantile(shuffled, 0.975)),
        "p_value": float((np.sum(shuffled >= share) + 1) / (len(shuffled) + 1)),
    }
