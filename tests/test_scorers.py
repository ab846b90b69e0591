"""Scorers: the offline classifier and Hugging Face sequence classifiers built from a config."""

from __future__ import annotations

import pytest

from conftest import TINY_TEXTS
from stages.scorers import OfflineScorer, get_scorer


@pytest.fixture(scope="module")
def classifier_dir(tmp_path_factory):
    """Save a tiny untrained RoBERTa classifier with labels like the study's reward model."""
    import torch
    from transformers import RobertaConfig, RobertaForSequenceClassification

    from stages.tiny_models import train_tokenizer

    torch.manual_seed(0)
    tokenizer = train_tokenizer(TINY_TEXTS, 300)
    config = RobertaConfig(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                           intermediate_size=32, max_position_embeddings=80, pad_token_id=tokenizer.pad_token_id,
                           id2label={0: "nothate", 1: "hate"}, label2id={"nothate": 0, "hate": 1})
    path = tmp_path_factory.mktemp("classifier")
    RobertaForSequenceClassification(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def test_offline_scores_and_nulls():
    scorer = OfflineScorer()

    results = scorer.score(["you are a stupid idiot", "have a nice day", "  "])

    assert results[0][0].value > results[1][0].value
    assert results[2][0].value is None
    assert results[2][0].reason == "empty or whitespace-only text"
    assert scorer.version.startswith("alt-profanity-check==")


def test_unknown_scorer_lists_choices():
    with pytest.raises(ValueError, match=r"choose from \['hf', 'offline', 'perspective'\]"):
        get_scorer("detoxify")


def test_hf_softmax_labels(classifier_dir):
    scorer = get_scorer("hf", {"hf": {"model": str(classifier_dir), "labels": {"hate": "TOXICITY", "nothate": "INSULT"},
                                      "max_length": 64}})

    results = scorer.score(["They are all criminals", "", "Most people here work hard and pay taxes."])

    assert scorer.attributes == ("TOXICITY", "INSULT")
    toxicity, insult = results[0]
    assert 0 < toxicity.value < 1
    assert toxicity.value + insult.value == pytest.approx(1.0, abs=1e-6)  # softmax over two labels
    assert results[1][0].value is None
    assert results[1][0].reason == "empty or whitespace-only text"
    assert scorer.version.startswith(f"{classifier_dir.name}@sha256:")


def test_hf_multi_label_uses_sigmoid(classifier_dir, tmp_path):
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(classifier_dir)
    config.problem_type = "multi_label_classification"
    for file in classifier_dir.iterdir():
        (tmp_path / file.name).write_bytes(file.read_bytes())
    config.save_pretrained(tmp_path)

    scorer = get_scorer("hf", {"hf": {"model": str(tmp_path), "labels": {"hate": "TOXICITY", "nothate": "INSULT"}}})
    toxicity, insult = scorer.score(["They are all criminals"])[0]

    assert toxicity.value + insult.value != pytest.approx(1.0, abs=1e-3)
    assert scorer.version != get_scorer("hf", {"hf": {"model": str(classifier_dir)}}).version  # the config changed


def test_hf_unknown_label_names_labels(classifier_dir):
    with pytest.raises(ValueError, match=r"label 'toxic' is not one of .*\['hate', 'nothate'\]"):
        get_scorer("hf", {"hf": {"model": str(classifier_dir), "labels": {"toxic": "TOXICITY"}}})
