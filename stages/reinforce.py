"""Stage reinforce: RL detoxification with trl and LoRA (the RL variant).

Run: ``python -m stages.reinforce``. Trains a LoRA adapter on the base model with
``GRPOTrainer`` (or ``RLOOTrainer``, ``reinforce.trainer: rloo``) on the hate-speech turns
with their antecedents. The reward of a completion is 1 - toxicity by the configured
scorer; the KL penalty against the base model is ``reinforce.kl_coef``. The adapter goes
to ``data/models/rl_adapter``; an interrupted run resumes from its last checkpoint.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Callable

import torch
from datasets import Dataset
from transformers.trainer_utils import get_last_checkpoint
from trl import GRPOConfig, GRPOTrainer, RLOOConfig, RLOOTrainer

from stages.checkpoints import checkpoint_dir, finish, fingerprint
from stages.modeling import ADAPTER_DIRS, BASE_DIR, base_location, load_model, load_tokenizer, lora_config
from stages.params import load_params, seed_everything, setup_logging, stage_args
from stages.scorers import Scorer, get_scorer, toxicity_values
from stages.tables import read_table

log = logging.getLogger("stages.reinforce")

RL_PROMPTS = Path("data/prepared/rl_prompts.parquet")
METRICS = Path("metrics/reinforce.json")
TRAINERS = {"grpo": (GRPOTrainer, GRPOConfig), "rloo": (RLOOTrainer, RLOOConfig)}


def make_reward(scorer: Scorer) -> Callable[..., list[float | None]]:
    """Build the reward function: 1 - toxicity per completion, None where unscored.

    trl skips a None reward, so an unscorable completion (for example an empty one) is
    neither rewarded as harmless nor punished.
    """

    def toxicity_reward(completions: list[str], **kwargs) -> list[float | None]:
        values = toxicity_values(scorer, completions)
        if len(values) != len(completions):
            raise RuntimeError(
                f"scorer {scorer.name!r} returned {len(values)} values for {len(completions)} completions"
            )
        unscored = sum(v is None for v in values)
        if unscored:
            log.info("%d of %d completions could not be scored and get no reward", unscored, len(values))
        return [None if v is None else 1.0 - v for v in values]

    toxicity_reward.__name__ = f"one_minus_{scorer.name}_toxicity"
    return toxicity_reward


class HideRewardInputs(logging.Filter):
    """Drop trl's warning that prints the prompt and completion of an unrewarded completion.

    The prompts are hate speech from the training data and have no place in a log. The
    reward function logs how many completions went unscored instead.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "All reward functions returned None" not in record.getMessage()


def hide_reward_inputs() -> None:
    """Add HideRewardInputs to the loggers of trl's trainers, once per logger."""
    for trainer_class, _ in TRAINERS.values():
        logger = logging.getLogger(trainer_class.__module__)
        if not any(isinstance(existing, HideRewardInputs) for existing in logger.filters):
            logger.addFilter(HideRewardInputs())


def sample_rl_prompts(path: Path, n: int, seed: int) -> list[str]:
    frame = read_table(path, "rl_prompts")
    if 0 < n < len(frame):
        frame = frame.sample(n=n, random_state=seed)
    return list(frame["prompt"])


def main() -> None:
    args = stage_args(__doc__)
    setup_logging()
    params = load_params(args.params)
    section, seed = params["reinforce"], params["base"]["seed"]
    seed_everything(seed)
    if section["trainer"] not in TRAINERS:
        raise ValueError(f"unknown reinforce.trainer {section['trainer']!r}; choose one of {sorted(TRAINERS)}")
    trainer_class, config_class = TRAINERS[section["trainer"]]
    hide_reward_inputs()

    location = base_location()
    tokenizer = load_tokenizer(location)
    model = load_model(location, params["model"]["dtype"])
    prompts = sample_rl_prompts(RL_PROMPTS, section["n_prompts"], seed)
    scorer = get_scorer(section["scorer"])

    key = fingerprint([section, params["model"], seed], [RL_PROMPTS, BASE_DIR])
    output_dir = checkpoint_dir("reinforce", key)
    config = config_class(
        output_dir=str(output_dir),
        max_steps=section["steps"],
        per_device_train_batch_size=section["batch_size"],
        num_generations=section["num_generations"],
        max_completion_length=section["max_completion_length"],
        beta=section["kl_coef"],
        learning_rate=section["learning_rate"],
        seed=seed,
        save_strategy="steps", save_steps=8, save_total_limit=1,
        logging_steps=4, report_to="none", use_cpu=not torch.cuda.is_available(),
    )
    trainer = trainer_class(
        model=model,
        reward_funcs=[make_reward(scorer)],
        args=config,
        train_dataset=Dataset.from_dict({"prompt": prompts}),
        processing_class=tokenizer,
        peft_config=lora_config(section, params["model"]["family"]),
    )
    resume = get_last_checkpoint(str(output_dir))
    if resume:
        log.info("resuming from %s", resume)
    trainer.train(resume_from_checkpoint=resume)

    # Under `accelerate launch` every process ends with the same adapter, so rank 0 alone writes it.
    if not trainer.is_world_process_zero():
        return
    trainer.model.save_pretrained(ADAPTER_DIRS["RL"])
    rewards = [row["reward"] for row in trainer.state.log_history if "reward" in row]
    METRICS.parent.mkdir(exist_ok=True)
    METRICS.write_text(json.dumps({
        "trainer": section["trainer"], "steps": trainer.state.global_step,
        "processes": trainer.accelerator.num_processes,
        "reward_first": round(rewards[0], 4) if rewards else None,
        "reward_last": round(rewards[-1], 4) if rewards else None,
    }, indent=2) + "\n")
    finish("reinforce")


if __name__ == "__main__":
    main()
