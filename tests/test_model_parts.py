"""Families, tiny models, adapters and the RL reward."""

from __future__ import annotations

import json

import pytest
import torch
from peft import get_peft_model
from transformers import AutoConfig

from stages.families import check_model_type, get_family
from stages.modeling import load_model, lora_config
from stages.reinforce import make_reward
from stages.scorers import Score, get_scorer, toxicity_values


def test_unknown_family_lists_choices():
    with pytest.raises(ValueError, match=r"unknown model.family 'llama'; choose one of \['falcon', 'redpajama'\]"):
        get_family("llama")


def test_model_type_mismatch_names_both():
    with pytest.raises(ValueError, match="model.family is 'falcon' but the model's config.model_type is 'gpt_neox'"):
        check_model_type(get_family("falcon"), "gpt_neox")


def test_tiny_checkpoint_matches_family(tiny_model_dir):
    config = AutoConfig.from_pretrained(tiny_model_dir)
    family = "redpajama" if config.model_type == "gpt_neox" else "falcon"

    check_model_type(get_family(family), config.model_type)
    assert config.model_type in {"gpt_neox", "falcon"}


def test_lora_targets_exist_in_model(tiny_model_dir):
    model = load_model(str(tiny_model_dir), "float32")
    family = "redpajama" if model.config.model_type == "gpt_neox" else "falcon"
    section = {"lora_r": 4, "lora_alpha": 8, "lora_dropout": 0.0, "target_modules": None}

    peft_model = get_peft_model(model, lora_config(section, family))

    targets = set(get_family(family).lora_targets)
    adapted = {n.split(".lora_A")[0].rsplit(".", 1)[-1] for n, _ in peft_model.named_modules() if n.endswith("lora_A")}
    assert adapted == targets


def test_adapter_round_trip(tiny_model_dir, tmp_path):
    model = load_model(str(tiny_model_dir), "float32")
    family = "redpajama" if model.config.model_type == "gpt_neox" else "falcon"
    section = {"lora_r": 4, "lora_alpha": 8, "lora_dropout": 0.0, "target_modules": None}
    peft_model = get_peft_model(model, lora_config(section, family))
    for name, parameter in peft_model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(parameter)  # make the adapter change the output
    peft_model.save_pretrained(tmp_path / "adapter")
    ids = torch.tensor([[3, 4, 5, 6]])

    merged = load_model(str(tiny_model_dir), "float32", adapter=tmp_path / "adapter")

    assert json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())["peft_type"] == "LORA"
    torch.testing.assert_close(merged(ids).logits, peft_model.eval()(ids).logits, rtol=1e-4, atol=1e-4)


def test_missing_adapter_names_folder(tiny_model_dir, tmp_path):
    with pytest.raises(FileNotFoundError, match="no LoRA adapter in"):
        load_model(str(tiny_model_dir), "float32", adapter=tmp_path)


def test_offline_scorer_null_for_empty_text():
    scorer = get_scorer("offline")

    results = scorer.score(["you are a stupid idiot", "   ", "have a lovely day"])

    assert results[1] == [Score("TOXICITY", None, "empty or whitespace-only text")]
    assert results[0][0].value > 0.5 > results[2][0].value
    assert scorer.version.startswith("alt-profanity-check==")


def test_reward_is_one_minus_toxicity():
    scorer = get_scorer("offline")
    reward = make_reward(scorer)
    completions = ["you are a stupid idiot", "", "thank you for listening"]

    rewards = reward(completions)

    toxicity = toxicity_values(scorer, completions)
    assert rewards[0] == pytest.approx(1 - toxicity[0])
    assert rewards[1] is None  # unscorable: neither rewarded nor punished
    assert rewards[2] > rewards[0]


class ShortScorer:
    name, version, attributes = "short", "1", ("TOXICITY",)

    def score(self, texts):
        return [[Score("TOXICITY", 0.5)] for _ in texts[:-1]]


def test_reward_raises_on_missing_values():
    reward = make_reward(ShortScorer())

    with pytest.raises(RuntimeError, match="returned 1 values for 2 completions"):
        reward(["a", "b"])


def test_tiny_model_with_other_family_fails_early():
    from stages.families import check_tiny_family

    with pytest.raises(ValueError, match="'tiny-falcon' is a falcon model but model.family is 'redpajama'"):
        check_tiny_family("tiny-falcon", get_family("redpajama"))
    check_tiny_family("tiny-neox", get_family("redpajama"))
    check_tiny_family("some/hub-model", get_family("falcon"))


class NoScoreScorer:
    name, version, attributes = "none", "1", ("TOXICITY",)

    def score(self, texts):
        return [[Score("TOXICITY", None, "not scored in this test")] for _ in texts]


# trl 1.16 still calls the gradient_checkpointing names that transformers 5 renamed.
@pytest.mark.filterwarnings("ignore:.*checkpointing.*:FutureWarning")
def test_unrewarded_prompt_kept_out_of_log(tiny_model_dir, tmp_path, caplog):
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from stages.modeling import load_tokenizer
    from stages.reinforce import hide_reward_inputs

    hide_reward_inputs()
    prompt = "<human>: SECRET-PROMPT-TEXT\n<bot>:"
    config = GRPOConfig(output_dir=str(tmp_path), max_steps=1, per_device_train_batch_size=2, num_generations=2,
                        max_completion_length=4, report_to="none", use_cpu=True, save_strategy="no")
    trainer = GRPOTrainer(model=load_model(str(tiny_model_dir), "float32"),
                          reward_funcs=[make_reward(NoScoreScorer())], args=config,
                          train_dataset=Dataset.from_dict({"prompt": [prompt] * 2}),
                          processing_class=load_tokenizer(str(tiny_model_dir)))

    with caplog.at_level("INFO"):
        trainer.train()

    assert "SECRET-PROMPT-TEXT" not in caplog.text
    assert "2 of 2 completions could not be scored and get no reward" in caplog.text
