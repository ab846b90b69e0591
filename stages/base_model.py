"""Stage base_model: the pre-trained (PT) model every later stage starts from.

Run: ``python -m stages.base_model``. ``model.name`` is a Hub id, a local path, or a
built-in tiny model (tiny-neox, tiny-falcon) that is trained here on the prepared text and
saved with ``save_pretrained``, so later stages load every kind the same way.
"""

from __future__ import annotations

import json
import logging
import shutil

from transformers import AutoConfig

from stages.families import check_model_type, get_family
from stages.modeling import BASE_DIR
from stages.params import load_params, seed_everything, setup_logging, stage_args
from stages.tables import read_table
from stages.tiny_models import TINY_MODELS, build_model, pack_blocks, pretrain, train_tokenizer

log = logging.getLogger("stages.base_model")


def pipeline_texts() -> tuple[list[str], list[str]]:
    """Return (tokenizer texts, pre-training texts) from the prepared tables.

    The tokenizer is trained on everything the pipeline will feed the model, templates
    included. Pre-training uses only the dialogue turns as plain text, so the PT model continues a
    chat prompt in the style of that text, replying with hate speech and counter-narrative
    alike, as an unaligned base model does.
    """
    examples = read_table("data/prepared/ft_examples.parquet", "ft_examples")
    rl_prompts = read_table("data/prepared/rl_prompts.parquet", "rl_prompts")
    prompts = read_table("data/prepared/prompts.parquet", "prompts")
    tokenizer_texts = (
        list(examples["prompt"] + examples["completion"]) + list(rl_prompts["prompt"]) + list(prompts["prompt"])
    )
    turns = sorted(set(examples["completion"].str.strip()) | set(rl_prompts["prompt"].map(last_turn)))
    return tokenizer_texts, turns


def last_turn(transcript: str) -> str:
    """Return the text of the last user turn of a rendered transcript."""
    line = transcript.rsplit("\n", 2)[-2]
    return line.split(": ", 1)[1] if ": " in line else line


def save_tiny(name: str, tiny: dict, seed: int) -> dict:
    tokenizer_texts, turns = pipeline_texts()
    tokenizer = train_tokenizer(tokenizer_texts, tiny["vocab_size"])
    model = build_model(name, tokenizer, tiny)
    blocks = pack_blocks(turns, tokenizer)
    log.info("pre-training %s (%d parameters) on %d blocks", name, model.num_parameters(), len(blocks))
    loss = pretrain(model, blocks, tiny, seed)

    model.save_pretrained(BASE_DIR)
    tokenizer.save_pretrained(BASE_DIR)
    return {"location": str(BASE_DIR), "pretrain_loss": round(loss, 4), "parameters": model.num_parameters()}


def main() -> None:
    args = stage_args(__doc__)
    setup_logging()
    params = load_params(args.params)
    model_params, seed = params["model"], params["base"]["seed"]
    family = get_family(model_params["family"])
    seed_everything(seed)

    shutil.rmtree(BASE_DIR, ignore_errors=True)
    BASE_DIR.mkdir(parents=True)
    name = model_params["name"]
    if name in TINY_MODELS:
        info = save_tiny(name, model_params["tiny"], seed)
    else:
        info = {"location": name}  # Hub id or path: loaded from there by later stages

    config = AutoConfig.from_pretrained(info["location"])
    check_model_type(family, config.model_type)
    info.update({"name": name, "model_type": config.model_type, "family": family.name})
    (BASE_DIR / "model.json").write_text(json.dumps(info, indent=2) + "\n")
    log.info("base model: %s", info)


if __name__ == "__main__":
    main()
