"""Stage finetune: LoRA counter-narrative fine-tuning (the FT variant).

Run: ``python -m stages.finetune``. Trains a LoRA adapter with trl's SFTTrainer on the
prepared prompt/completion pairs; the loss covers the counter-narrative reply only. The
adapter is saved in peft format to ``data/models/ft_adapter`` (load it with
``PeftModel.from_pretrained``). An interrupted run resumes from its last checkpoint.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
from datasets import Dataset
from transformers.trainer_utils import get_last_checkpoint
from trl import SFTConfig, SFTTrainer

from stages.checkpoints import checkpoint_dir, finish, fingerprint
from stages.modeling import ADAPTER_DIRS, BASE_DIR, base_location, load_model, load_tokenizer, lora_config
from stages.params import load_params, seed_everything, setup_logging, stage_args
from stages.tables import read_table

log = logging.getLogger("stages.finetune")

EXAMPLES = Path("data/prepared/ft_examples.parquet")
METRICS = Path("metrics/finetune.json")


def fit_length(examples, tokenizer, max_length: int) -> tuple[list[str], int]:
    """Drop the oldest turns of each prompt until prompt, reply and EOS fit max_length.

    The reply and the hate-speech turn it answers always stay; trl's own truncation would
    cut the end of the sequence, which is the reply. Returns the prompts and how many
    were shortened.
    """
    prompts, n_shortened = [], 0
    for prompt, completion in zip(examples["prompt"], examples["completion"]):
        budget = max_length - len(tokenizer(completion, add_special_tokens=False).input_ids) - 1
        lines = prompt.split("\n")
        while len(lines) > 2 and len(tokenizer("\n".join(lines), add_special_tokens=False).input_ids) > budget:
            lines = lines[1:]
        n_shortened += len(lines) < len(prompt.split("\n"))
        prompts.append("\n".join(lines))
    return prompts, n_shortened


def main() -> None:
    args = stage_args(__doc__)
    setup_logging()
    params = load_params(args.params)
    section, seed = params["finetune"], params["base"]["seed"]
    seed_everything(seed)

    location = base_location()
    tokenizer = load_tokenizer(location)
    tokenizer.padding_side = "right"  # training pads on the right; generation on the left
    model = load_model(location, params["model"]["dtype"])
    examples = read_table(EXAMPLES, "ft_examples")
    prompts, n_shortened = fit_length(examples, tokenizer, section["max_length"])
    dataset = Dataset.from_dict({"prompt": prompts, "completion": list(examples["completion"])})
    log.info("%d of %d examples lost their oldest turns to fit %d tokens",
             n_shortened, len(prompts), section["max_length"])

    key = fingerprint([section, params["model"], seed], [EXAMPLES, BASE_DIR])
    output_dir = checkpoint_dir("finetune", key)
    config = SFTConfig(
        output_dir=str(output_dir),
        num_train_epochs=section["epochs"],
        per_device_train_batch_size=section["batch_size"],
        learning_rate=section["learning_rate"],
        max_length=section["max_length"],
        completion_only_loss=True,
        seed=seed,
        save_strategy="steps", save_steps=20, save_total_limit=1,
        logging_steps=10, report_to="none", use_cpu=not torch.cuda.is_available(),
        dataloader_num_workers=0,
    )
    trainer = SFTTrainer(
        model=model, args=config, train_dataset=dataset, processing_class=tokenizer,
        peft_config=lora_config(section, params["model"]["family"]),
    )
    resume = get_last_checkpoint(str(output_dir))
    if resume:
        log.info("resuming from %s", resume)
    result = trainer.train(resume_from_checkpoint=resume)

    # Under `accelerate launch` every process ends with the same adapter, so rank 0 alone writes it.
    if not trainer.is_world_process_zero():
        return
    trainer.model.save_pretrained(ADAPTER_DIRS["FT"])
    METRICS.parent.mkdir(exist_ok=True)
    metrics = {"train_loss": round(result.training_loss, 4), "examples": len(dataset),
               "examples_shortened": n_shortened, "processes": trainer.accelerator.num_processes}
    METRICS.write_text(json.dumps(metrics, indent=2) + "\n")
    finish("finetune")


if __name__ == "__main__":
    main()
