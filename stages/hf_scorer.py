"""Sequence-classification models from the Hugging Face Hub (or a local folder) as scorers.

Settings are ``scoring.hf`` in params.yaml: ``model`` (Hub id or path), ``labels`` (model
label -> Perspective attribute), ``batch_size`` and ``max_length``. Documented examples:
the study's reward model ``facebook/roberta-hate-speech-dynabench-r4-target`` with
``{hate: TOXICITY}``, and the multi-label ``unitary/toxic-bert`` with ``{toxic: TOXICITY,
severe_toxic: SEVERE_TOXICITY, obscene: PROFANITY, threat: THREAT, insult: INSULT,
identity_hate: IDENTITY_ATTACK}``. A multi-label model (``problem_type`` is
``multi_label_classification``) gets a sigmoid per label, any other a softmax.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Sequence

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from stages.scorers import ATTRIBUTES, EMPTY_TEXT, Score, unscored

DEFAULTS = {"model": "facebook/roberta-hate-speech-dynabench-r4-target", "labels": {"hate": "TOXICITY"},
            "batch_size": 32, "max_length": 512}


def model_hash(location: str, config) -> str:
    """Provenance of a model: the Hub commit it was loaded from, or a hash of a local folder's files."""
    path = Path(location)
    if not path.is_dir():
        return f"{location}@{getattr(config, '_commit_hash', None) or 'unknown revision'}"
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(file.relative_to(path).as_posix().encode())
        digest.update(file.read_bytes())
    return f"{path.name}@sha256:{digest.hexdigest()[:16]}"


class HFScorer:
    name = "hf"

    def __init__(self, settings: dict) -> None:
        settings = {**DEFAULTS, **settings}
        self.model = AutoModelForSequenceClassification.from_pretrained(settings["model"]).eval()
        self.tokenizer = AutoTokenizer.from_pretrained(settings["model"])
        self.batch_size, self.max_length = int(settings["batch_size"]), int(settings["max_length"])
        self.label_index = self._label_index(settings["labels"], settings["model"])
        self.attributes = tuple(self.label_index)
        self.multi_label = self.model.config.problem_type == "multi_label_classification"
        self.version = model_hash(settings["model"], self.model.config)

    def _label_index(self, labels: dict, location: str) -> dict[str, int]:
        """Attribute -> output index, from the model's id2label and the labels setting."""
        by_label = {str(name): int(i) for i, name in self.model.config.id2label.items()}
        index = {}
        for label, attribute in labels.items():
            if label not in by_label:
                raise ValueError(f"scoring.hf.labels: label {label!r} is not one of {location}'s labels "
                                 f"{sorted(by_label)}")
            if attribute not in ATTRIBUTES:
                raise ValueError(f"scoring.hf.labels: {attribute!r} is not a Perspective attribute {ATTRIBUTES}")
            index[attribute] = by_label[label]
        return index

    def score(self, texts: Sequence[str]) -> list[list[Score]]:
        scorable = [i for i, text in enumerate(texts) if text.strip()]
        probabilities = self._probabilities([texts[i] for i in scorable]) if scorable else None
        results = [unscored(self.attributes, EMPTY_TEXT) for _ in texts]
        for row, i in enumerate(scorable):
            results[i] = [Score(a, float(probabilities[row, j])) for a, j in self.label_index.items()]
        return results

    @torch.no_grad()
    def _probabilities(self, texts: list[str]) -> torch.Tensor:
        inputs = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
        logits = self.model(**inputs).logits  # (B, n_labels)
        return torch.sigmoid(logits) if self.multi_label else torch.softmax(logits, dim=-1)
