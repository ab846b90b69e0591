"""Fidelity of the offline scorers to Perspective TOXICITY on the study's released generations.

Run: ``python benchmarks/fidelity.py [FOLDER]`` (default ``../shared/data/paper_generations``).
For each CSV of the study's generations, on the rows with a Perspective score
(``pro_API_response_score`` >= 0) and a non-empty response, it prints per scorer:
AUROC with Perspective > 0.5 as the label, Spearman correlation, and the error of the
set-level mean toxicity (scorer mean - Perspective mean). Scorers: ``offline``
(alt-profanity-check, scored here) and ``reward`` (the study's reward model, from the
CSV's ``response_score`` column). Calibrated rows use an isotonic map fitted on the
other files (leave one file out). The last tables fit the map on each file and apply it
to each other file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import rankdata, spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stages.calibration import fit  # noqa: E402
from stages.scorers import OfflineScorer, toxicity_values  # noqa: E402

DEFAULT_FOLDER = Path(__file__).resolve().parents[2] / "shared" / "data" / "paper_generations"
SCORERS = ("offline", "reward")


def load(path: Path, scorer: OfflineScorer) -> pd.DataFrame:
    """Scored rows of one CSV: response text, Perspective TOXICITY and each scorer's value."""
    frame = pd.read_csv(path, keep_default_na=False)
    perspective = pd.to_numeric(frame["pro_API_response_score"], errors="coerce")
    keep = (perspective >= 0) & (frame["responses"].str.strip() != "")
    rows = pd.DataFrame({"text": frame.loc[keep, "responses"], "perspective": perspective[keep],
                         "reward": pd.to_numeric(frame.loc[keep, "response_score"], errors="coerce")})
    rows["offline"] = toxicity_values(scorer, list(rows["text"]))
    return rows.assign(file=path.name).reset_index(drop=True)


def auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve by the Mann-Whitney rank sum (ties count one half)."""
    ranks = rankdata(scores)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def figures(perspective: pd.Series, values: pd.Series) -> dict:
    labels = perspective.to_numpy() > 0.5
    return {"n": len(values), "auroc": auroc(labels, values.to_numpy()),
            "spearman": float(spearmanr(values, perspective).statistic),
            "mean_error": float(values.mean() - perspective.mean())}


def leave_one_out(data: pd.DataFrame, scorer: str) -> pd.Series:
    """Calibrated values of each file from an isotonic map fitted on all other files."""
    calibrated = pd.Series(np.nan, index=data.index)
    for name, rows in data.groupby("file"):
        others = data[data["file"] != name]
        calibrated[rows.index] = fit(others[scorer], others["perspective"]).predict(rows[scorer])
    return calibrated


def cross_file(data: pd.DataFrame, scorer: str) -> pd.DataFrame:
    """Mean error on each file (columns) after fitting on each other file (rows); raw on the diagonal."""
    files = sorted(data["file"].unique())
    table = pd.DataFrame(index=files, columns=files, dtype=float)
    for fitted in files:
        model = fit(data.loc[data["file"] == fitted, scorer], data.loc[data["file"] == fitted, "perspective"])
        for applied in files:
            rows = data[data["file"] == applied]
            values = rows[scorer] if fitted == applied else pd.Series(model.predict(rows[scorer]))
            table.loc[fitted, applied] = values.mean() - rows["perspective"].mean()
    return table


def report(data: pd.DataFrame) -> pd.DataFrame:
    lines = []
    for scorer in SCORERS:
        data[f"{scorer}_calibrated"] = leave_one_out(data, scorer)
        for name, rows in [*data.groupby("file"), ("pooled", data)]:
            for kind, column in (("raw", scorer), ("calibrated", f"{scorer}_calibrated")):
                figure = figures(rows["perspective"], rows[column])
                lines.append({"file": name, "scorer": scorer, "kind": kind, **figure})
    return pd.DataFrame(lines)


def markdown(frame: pd.DataFrame, index: bool = False) -> str:
    """Format the frame as a Markdown table, floats with three decimals."""
    frame = frame.reset_index() if index else frame
    cells = [[f"{v:.3f}" if isinstance(v, float) else str(v) for v in row] for row in frame.itertuples(index=False)]
    header = [str(c) if c != "index" else "" for c in frame.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in cells])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", nargs="?", default=str(DEFAULT_FOLDER), help="folder of the study's CSVs")
    folder = Path(parser.parse_args().folder)
    paths = sorted(folder.glob("*.csv"))
    if not paths:
        raise SystemExit(f"no CSV files in {folder}; give the folder of the study's released generations")

    scorer = OfflineScorer()
    data = pd.concat([load(path, scorer) for path in paths], ignore_index=True)
    print(markdown(report(data)))
    for name in SCORERS:
        print(f"\nmean error of {name}, fitted on the row's file, applied to the column's (raw on the diagonal):\n")
        print(markdown(cross_file(data, name), index=True))


if __name__ == "__main__":
    main()
