"""Stage prepare: DIALOCONAN to fine-tuning examples and RL prompts; evaluation prompts.

Run: ``python -m stages.prepare`` (``dvc repro prepare``). Reads ``base``, ``model.family``
and ``data`` from params.yaml; writes ``data/prepared/`` and ``metrics/prepare.json``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd

from stages.dialogues import prepare_dialogues
from stages.downloads import fetch
from stages.families import check_tiny_family, get_family
from stages.params import load_params, seed_everything, setup_logging, stage_args
from stages.prompt_sources import load_prompts, sample_prompts
from stages.tables import write_table

log = logging.getLogger("stages.prepare")

OUT_DIR = Path("data/prepared")
METRICS = Path("metrics/prepare.json")


def main() -> None:
    args = stage_args(__doc__)
    setup_logging()
    params = load_params(args.params)
    data, seed = params["data"], params["base"]["seed"]
    family = get_family(params["model"]["family"])
    check_tiny_family(params["model"]["name"], family)
    seed_everything(seed)

    # Dialogues: fine-tuning examples and RL prompts.
    dialogues = pd.read_csv(fetch(data["dialoconan"]), keep_default_na=True)
    examples, rl_prompts, dialogue_drops, dialogue_counts = prepare_dialogues(
        dialogues, family, data["n_dialogues"], seed, data["dialoconan"]
    )
    log.info("dialogues: %s", dialogue_counts)

    # Evaluation prompts.
    prompts, prompt_drops = load_prompts(
        data["prompts"], data["prompts_split"], family, data["toxicity_threshold"]
    )
    n_passed = len(prompts)
    prompts, not_sampled = sample_prompts(prompts, data["n_prompts"], seed)
    log.info("prompts: %d passed the filter, %d kept", n_passed, len(prompts))

    # Outputs. The dropped rows come first, so an empty result can be explained from them.
    dropped = dialogue_drops + prompt_drops + not_sampled
    write_table(pd.DataFrame(dropped, columns=["source", "row", "reason"]), "dropped_rows",
                OUT_DIR / "dropped_rows.parquet")
    if not examples:
        raise ValueError(f"{data['dialoconan']}: no HS turn with a CN reply, so no fine-tuning example; "
                         f"see {OUT_DIR / 'dropped_rows.parquet'}")
    if not prompts:
        raise ValueError(
            f"{data['prompts']}: no prompt passed the filter (data.toxicity_threshold="
            f"{data['toxicity_threshold']}); see {OUT_DIR / 'dropped_rows.parquet'}"
        )
    write_table(examples, "ft_examples", OUT_DIR / "ft_examples.parquet")
    write_table(rl_prompts, "rl_prompts", OUT_DIR / "rl_prompts.parquet")
    write_table(prompts, "prompts", OUT_DIR / "prompts.parquet")

    prompt_counts = {
        "rows_dropped": len(prompt_drops),
        "passed_filter": n_passed,
        "rows_not_sampled": len(not_sampled),
        "templates_incomplete": sum(not p["template_complete"] for p in prompts),
        "kept": len(prompts),
    }
    METRICS.parent.mkdir(exist_ok=True)
    METRICS.write_text(json.dumps({"dialogues": dialogue_counts, "prompts": prompt_counts}, indent=2) + "\n")


if __name__ == "__main__":
    main()
