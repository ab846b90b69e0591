"""Reading ``params.yaml`` and the setup every stage shares (logging, seeding)."""

from __future__ import annotations

import argparse
import logging
import random
import warnings
from pathlib import Path
from typing import Any

import yaml

PARAMS_FILE = Path("params.yaml")


def load_params(path: Path | str = PARAMS_FILE) -> dict[str, Any]:
    """Load the whole params file; raise a clear error when it is missing."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"params file not found: {path.resolve()}. Run stages from the repository root."
        )
    with path.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


def stage_args(description: str) -> argparse.Namespace:
    """Parse the arguments every stage accepts: the params file to read."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--params", default=str(PARAMS_FILE), help="params file to read (default: params.yaml)"
    )
    return parser.parse_args()


def setup_logging() -> None:
    # transformers 5 announces renames of its own internals on every training run; they
    # are not actionable here and bury the stage's log.
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"transformers\.")
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and (when installed) torch, so reruns give the same outputs."""
    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch
    except ImportError:  # analysis stages run without torch
        return
    torch.manual_seed(seed)
