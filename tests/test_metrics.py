"""Prompt dependence and entropy against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from stages.metrics import mean_ci, normalize_rows, prompt_dependence, prompt_entropy, rises
from stages.toxicity_table import bucket, toxicity_table

NAN = np.nan
# Two prompt positions, then two generated tokens. Row t covers positions before its token.
SCORES = np.array([
    [1.0, 3.0, NAN, NAN],   # step 0: prompt only
    [2.0, 2.0, 4.0, NAN],   # step 1: prompt and the first generated token
])


def test_prompt_dependence_by_hand():
    assert prompt_dependence(SCORES, 2) == pytest.approx([1.0, 0.5])


def test_entropy_by_hand():
    # step 0: p = (1/4, 3/4); step 1: p = (1/2, 1/2)
    expected_0 = -(0.25 * math.log2(0.25) + 0.75 * math.log2(0.75))
    assert prompt_entropy(SCORES, 2) == pytest.approx([expected_0, 1.0])


def test_entropy_bounds():
    one_hot = np.array([[0.0, 5.0, 0.0]])
    uniform = np.array([[1.0, 1.0, 1.0, 1.0]])

    assert prompt_entropy(one_hot, 3) == pytest.approx([0.0])
    assert prompt_entropy(uniform, 4) == pytest.approx([2.0])


def test_zero_row_has_zero_entropy():
    assert prompt_entropy(np.zeros((1, 3)), 3) == pytest.approx([0.0])


def test_normalize_ignores_nan_positions():
    normalized = normalize_rows(SCORES)

    assert normalized.sum(axis=1) == pytest.approx([1.0, 1.0])
    assert normalized[0, 2:] == pytest.approx([0.0, 0.0])


def test_rises_start_undefined():
    result = rises(np.array([1.0, 3.0, 2.5]))

    assert math.isnan(result[0])
    assert result[1:] == pytest.approx([2.0, -0.5])


def test_mean_ci_by_hand():
    mean, low, high = mean_ci(np.array([1.0, 2.0, 3.0]), 0.95)

    # t(0.975, df=2) = 4.302653; sd = 1; half width = 4.302653 / sqrt(3)
    assert mean == pytest.approx(2.0)
    assert high - mean == pytest.approx(4.302653 / math.sqrt(3), rel=1e-5)
    assert mean - low == pytest.approx(high - mean)


def test_bucket_edges():
    assert [bucket(v) for v in (0.0, 0.3299, 0.33, 0.66, 0.6601)] == ["low", "low", "mid", "mid", "high"]
    assert bucket(float("nan")) is None


def test_toxicity_table_counts_unscored():
    generations = pd.DataFrame({
        "variant": ["PT", "PT", "PT", "FT"],
        "toxicity": [0.9, 0.1, NAN, 0.5],
        "prompt_toxicity": [0.8, 0.2, 0.9, 0.8],
    })

    table = toxicity_table(generations, ("PT", "FT"), 0.5).set_index(["variant", "subset"])

    pt_all = table.loc[("PT", "all")]
    assert pt_all["n"] == 3
    assert pt_all["n_scored"] == 2
    assert pt_all["mean_toxicity"] == pytest.approx(0.5)
    assert pt_all["share_high"] == pytest.approx(0.5)
    assert table.loc[("PT", "toxic_prompts"), "n"] == 2
    assert table.loc[("FT", "all"), "share_mid"] == pytest.approx(1.0)
