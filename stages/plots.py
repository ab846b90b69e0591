"""Entropy and prompt-dependence curves as DVC plot data (CSV) and a PNG with 95% bands."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on servers and CI
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

CURVES = {"entropy": "entropy (bits)", "prompt_dependence": "prompt dependence"}


def write_curve_plots(curves: pd.DataFrame, variants: tuple[str, ...], out_dir: Path) -> None:
    """Write ``<metric>_curves.csv`` (one column per variant) and ``<metric>_curves.png``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for metric, label in CURVES.items():
        wide = curves.pivot(index="step", columns="variant", values=f"{metric}_mean")
        wide = wide.reindex(columns=[v for v in variants if v in wide.columns])
        wide.reset_index().to_csv(out_dir / f"{metric}_curves.csv", index=False, float_format="%.6f")

        fig, ax = plt.subplots(figsize=(7, 4))
        for variant in wide.columns:
            rows = curves[curves["variant"] == variant]
            ax.plot(rows["step"], rows[f"{metric}_mean"], label=variant)
            ax.fill_between(rows["step"], rows[f"{metric}_ci_low"], rows[f"{metric}_ci_high"], alpha=0.2)
        ax.set_xlabel("generated token")
        ax.set_ylabel(label)
        ax.legend()
        fig.tight_layout()
        fig.savefig(out_dir / f"{metric}_curves.png", dpi=120)
        plt.close(fig)


def write_group_plots(groups: pd.DataFrame, out_dir: Path) -> None:
    """Write ``entropy_by_<group_kind>.png``: one panel per variant, one line per group, 95% bands."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for kind, frame in groups.groupby("group_kind"):
        variants = list(dict.fromkeys(frame["variant"]))
        fig, axes = plt.subplots(1, len(variants), figsize=(5 * len(variants), 4), squeeze=False, sharey=True)
        for ax, variant in zip(axes[0], variants):
            for group, rows in frame[frame["variant"] == variant].groupby("group"):
                ax.plot(rows["step"], rows["entropy_mean"], label=f"{group} (n={rows['n'].max()})")
                ax.fill_between(rows["step"], rows["entropy_ci_low"], rows["entropy_ci_high"], alpha=0.15)
            ax.set_title(variant)
            ax.set_xlabel("generated token")
            ax.legend(fontsize="small")
        axes[0][0].set_ylabel(CURVES["entropy"])
        fig.tight_layout()
        fig.savefig(out_dir / f"entropy_by_{kind}.png", dpi=110)
        plt.close(fig)
