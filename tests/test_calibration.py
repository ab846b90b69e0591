"""Isotonic calibration to Perspective, and the fidelity figures recomputed from stored scores."""

from __future__ import annotations

import importlib.util
import itertools
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from conftest import REPO, SHARED_DATA, shared_file
from stages.calibration import calibrate_scores, fit
from stages.external import add_external
from stages.tables import SCHEMAS, read_table, write_table

PAPER_FILES = ["measured_tox_PT_RedPajama-INCITE-Chat-3B-v1.csv",
               "measured_tox_FT_RedPajama-INCITE-Chat-3B-v1-FT-LoRA-8bit-test1.csv",
               "CONAN_measured_tox_PT_falcon-7b-instruct.csv"]


def load_benchmark():
    spec = importlib.util.spec_from_file_location("fidelity", REPO / "benchmarks/fidelity.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def long_scores(raw: np.ndarray, reference: np.ndarray) -> pd.DataFrame:
    ids = [f"t{i}" for i in range(len(raw))]
    rows = [{"text_id": i, "text_kind": "generation", "scorer": scorer, "scorer_version": "v",
             "attribute": "TOXICITY", "value": value, "reason": None if value == value else "empty"}
            for scorer, values in (("offline", raw), ("perspective", reference)) for i, value in zip(ids, values)]
    return pd.DataFrame(rows)


def test_fit_corrects_offset_and_clips():
    rng = np.random.default_rng(0)
    reference = rng.uniform(0.1, 1.0, 500)
    raw = np.clip(reference - 0.1 + rng.normal(0, 0.02, 500), 0, 1)

    model = fit(raw, reference)

    assert abs(model.predict(raw).mean() - reference.mean()) < 0.01
    assert np.all(np.diff(model.predict(np.linspace(0, 1, 50))) >= 0)
    assert 0.0 <= model.predict([-5.0])[0] <= model.predict([5.0])[0] <= 1.0


def test_calibrated_rows_are_a_separate_scorer():
    rng = np.random.default_rng(1)
    reference = rng.uniform(0, 1, 40)
    raw = reference * 0.8
    raw[3] = np.nan

    rows, fits = calibrate_scores(long_scores(raw, reference), ["offline"])

    assert set(rows["scorer"]) == {"offline-calibrated"}
    assert len(rows) == 40
    assert rows["value"].isna().sum() == 1
    assert rows["scorer_version"].iloc[0] == "v, isotonic to perspective TOXICITY on 39 texts"
    assert fits["offline"]["n_pairs"] == 39
    assert abs(fits["offline"]["calibrated_mean_error"]) < abs(fits["offline"]["raw_mean_error"])


def test_calibration_without_perspective_raises():
    scores = long_scores(np.array([0.1, 0.2]), np.array([0.3, 0.4]))
    scores = scores[scores["scorer"] == "offline"]

    with pytest.raises(ValueError, match="'perspective' is not in scoring.scorers"):
        calibrate_scores(scores, ["offline"])


@pytest.mark.real_data
def test_fit_on_one_file_lowers_error_on_others():
    if not all((SHARED_DATA / "paper_generations" / name).is_file() for name in PAPER_FILES):
        pytest.skip(f"real data not available: {SHARED_DATA / 'paper_generations'} is incomplete")
    fidelity = load_benchmark()
    scorer = fidelity.OfflineScorer()
    data = {name: fidelity.load(SHARED_DATA / "paper_generations" / name, scorer) for name in PAPER_FILES}

    for fitted, applied in itertools.permutations(PAPER_FILES, 2):
        model = fit(data[fitted]["offline"], data[fitted]["perspective"])
        target = data[applied]
        raw_error = target["offline"].mean() - target["perspective"].mean()
        calibrated_error = model.predict(target["offline"]).mean() - target["perspective"].mean()
        assert raw_error < -0.05, applied  # the raw offline scorer reads low
        assert abs(calibrated_error) < abs(raw_error), (fitted, applied)


@pytest.mark.real_data
def test_stored_scores_give_benchmark_figures(tmp_path):
    name = "measured_tox_PT_RedPajama-INCITE-Chat-3B-v1.csv"
    path = shared_file(f"paper_generations/{name}")
    generations = add_external(pd.DataFrame(columns=SCHEMAS["generations"].names), [str(path)],
                               pd.DataFrame(columns=SCHEMAS["prompts"].names))
    write_table(generations, "generations", tmp_path / "data/generations/generations.parquet")
    write_table(pd.DataFrame(columns=SCHEMAS["prompts"].names), "prompts", tmp_path / "data/prepared/prompts.parquet")
    scoring = {"scorers": ["offline", "perspective"], "archives": [str(path)], "calibrate": ["offline"],
               "perspective": {"attributes": ["TOXICITY"], "cache_only": True}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"scoring": scoring}))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("PERSPECTIVE_API_KEY", None)

    result = subprocess.run([sys.executable, "-m", "stages.score"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)

    assert result.returncode == 0, result.stderr[-3000:]
    scores = read_table(tmp_path / "data/scores/scores.parquet", "scores")
    wide = scores.pivot(index="text_id", columns="scorer", values="value").dropna()
    labels = wide["perspective"] > 0.5
    fidelity = load_benchmark()
    expected = fidelity.figures(*[fidelity.load(path, fidelity.OfflineScorer())[c] for c in ("perspective", "offline")])
    assert len(wide) == expected["n"]
    assert roc_auc_score(labels, wide["offline"]) == pytest.approx(expected["auroc"], abs=1e-9)
    assert spearmanr(wide["offline"], wide["perspective"]).statistic == pytest.approx(expected["spearman"], abs=1e-9)
    assert roc_auc_score(labels, wide["offline-calibrated"]) > 0.85
    metrics = yaml.safe_load((tmp_path / "metrics/score.json").read_text())
    assert metrics["calibration"]["offline"]["n_pairs"] == expected["n"]
