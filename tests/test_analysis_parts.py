"""Spikes, toxic tokens, shuffled baselines, paired statistics and grouped curves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stages.curves import grouped_curves, transition_labels
from stages.metrics import robust_z, spikes
from stages.scorers import get_scorer
from stages.spike_stats import nearest_distance, share_within, shuffled_shares, spike_summary
from stages.statistics import compare, paired_permutation_p
from stages.toxic_tokens import char_offsets, from_prefix_rise, from_spans


def test_threshold_spikes_by_hand():
    entropy = np.array([2.0, 2.8, 2.9, 1.0, 2.0])  # rises: -, 0.8, 0.1, -1.9, 1.0

    assert spikes(entropy, "threshold", 0.5, 3.5).tolist() == [False, True, False, False, True]


def test_robust_z_by_hand():
    values = np.array([np.nan, 1.0, 2.0, 3.0, 4.0, 100.0])  # median 3, MAD 1

    z = robust_z(values)

    assert np.isnan(z[0])
    assert z[1:] == pytest.approx(np.array([-2, -1, 0, 1, 97]) / 1.4826)


def test_robust_z_spike_needs_outlier():
    entropy = np.cumsum([1.0, 0.1, -0.1, 0.1, -0.1, 0.1, 3.0, -0.1])

    assert np.flatnonzero(spikes(entropy, "robust_z", 0.5, 3.5)).tolist() == [6]


def test_unknown_spike_method():
    with pytest.raises(ValueError, match="unknown analysis.spike_method 'peaks'"):
        spikes(np.zeros(3), "peaks", 0.5, 3.5)


def test_nearest_distance_by_hand():
    assert nearest_distance(np.array([1, 5, 9]), np.array([4, 10])).tolist() == [3.0, 1.0, 1.0]
    assert np.isnan(nearest_distance(np.array([2]), np.array([], dtype=int))).all()


def test_share_within_ignores_undefined():
    assert share_within(np.array([0.0, 2.0, 3.0, np.nan]), 2) == pytest.approx(2 / 3)
    assert share_within(np.array([np.nan]), 2) is None


def test_shuffled_baseline_is_seeded_and_bounded():
    generations = [(20, 2, np.array([5])), (10, 1, np.array([2, 8]))]

    first = shuffled_shares(generations, 1, 50, seed=3)
    second = shuffled_shares(generations, 1, 50, seed=3)

    np.testing.assert_array_equal(first, second)
    assert ((first >= 0) & (first <= 1)).all()


def test_spike_summary_all_near():
    summary = spike_summary(np.array([0.0, 1.0]), np.full(99, 0.2), k=1)

    assert summary["share_within_k"] == 1.0
    assert summary["baseline_share"] == pytest.approx(0.2)
    assert summary["p_value"] == pytest.approx(1 / 100)


def test_permutation_detects_shift():
    rng = np.random.default_rng(0)
    differences = rng.normal(1.0, 0.5, size=30)

    assert paired_permutation_p(differences, 999, seed=1) == pytest.approx(1 / 1000)
    assert paired_permutation_p(differences - differences.mean(), 999, seed=1) > 0.5


def test_compare_interval_contains_mean():
    a = np.arange(20, dtype=float)
    b = a + np.linspace(0.5, 1.5, 20)

    result = compare(a, b, 1000, 0.95, seed=0)

    assert result["difference"] == pytest.approx(1.0)
    assert result["ci_low"] < 1.0 < result["ci_high"]
    assert result["n_pairs"] == 20


def test_compare_too_few_pairs():
    assert compare(np.array([1.0]), np.array([2.0]), 100, 0.95, 0)["p_value"] is None


def test_char_offsets_and_spans():
    tokens = ["You", " are", " an", " idiot", "."]

    assert char_offsets(tokens).tolist() == [[0, 3], [3, 7], [7, 10], [10, 16], [16, 17]]
    spans = pd.DataFrame({"begin": [10, 0], "end": [16, 7], "value": [0.9, 0.2]})
    assert from_spans(tokens, spans).tolist() == [False, False, False, True, False]


def test_prefix_rise_marks_insult():
    tokens = {"g": ["Thank", " you", ",", " stupid", " idiot"], "h": ["Have", " a", " nice", " day"]}

    masks = from_prefix_rise(tokens, get_scorer("offline"), rise=0.15)

    assert masks["h"].tolist() == [False, False, False, False]
    assert masks["g"][3:].any()
    assert not masks["g"][:3].any()


def generations_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "generation_id": ["a-PT", "a-FT", "a-RL", "b-PT", "b-FT", "b-RL"],
        "prompt_id": ["a", "a", "a", "b", "b", "b"],
        "variant": ["PT", "FT", "RL"] * 2,
        "toxicity": [0.9, 0.1, 0.5, 0.2, np.nan, 0.1],
    })


def test_transition_labels_by_hand():
    labels = transition_labels(generations_frame())

    assert labels.to_dict() == {"a-FT": "PT high -> FT low", "a-RL": "PT high -> RL mid", "b-RL": "PT low -> RL low"}


def test_grouped_curves_counts():
    metrics = pd.DataFrame({
        "generation_id": ["a-PT", "a-PT", "a-FT", "b-RL"],
        "step": [0, 1, 0, 0],
        "entropy": [1.0, 2.0, 3.0, 4.0],
        "prompt_dependence": [0.5, 0.5, 0.4, 0.3],
    })

    curves = grouped_curves(metrics, generations_frame(), 0.95)

    buckets = curves[curves["group_kind"] == "bucket"].set_index(["variant", "group", "step"])
    assert buckets.loc[("PT", "high", 1), "entropy_mean"] == 2.0
    transitions = curves[curves["group_kind"] == "transition"]
    assert set(transitions["group"]) == {"PT high -> FT low", "PT low -> RL low"}
