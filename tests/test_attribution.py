"""Attribution on stored token ids, for both model families."""

from __future__ import annotations

import numpy as np
import pytest

from stages.attribution import attribute_ids, load_attribution_model
from stages.modeling import load_model, load_tokenizer

PROMPT = "<human>: They are all criminals.\n<bot>:"
REPLY = " Crime rates do not depend on where someone was born."


@pytest.fixture(scope="module")
def attribution_model(tiny_model_dir):
    model = load_model(str(tiny_model_dir), "float32")
    tokenizer = load_tokenizer(str(tiny_model_dir))
    return load_attribution_model(model, tokenizer, "input_x_gradient")


def test_matches_inseq_text_api(attribution_model):
    tokenizer = attribution_model.tokenizer
    prompt_ids = tokenizer(PROMPT).input_ids
    reply_ids = tokenizer(REPLY, add_special_tokens=False).input_ids
    assert tokenizer(PROMPT + REPLY).input_ids == prompt_ids + reply_ids  # text path is unambiguous here

    scores, probability = attribute_ids(attribution_model, prompt_ids, reply_ids)

    reference = attribution_model.attribute(PROMPT, PROMPT + REPLY, step_scores=["probability"], show_progress=False)
    expected = reference.sequence_attributions[0].target_attributions.norm(dim=-1).T.numpy()
    assert scores.shape == (len(reply_ids), len(prompt_ids) + len(reply_ids))
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-8, equal_nan=True)
    np.testing.assert_allclose(
        probability, reference.sequence_attributions[0].step_scores["probability"].numpy(), rtol=1e-5
    )


def test_positions_after_token_are_nan(attribution_model):
    tokenizer = attribution_model.tokenizer
    prompt_ids = tokenizer(PROMPT).input_ids
    reply_ids = tokenizer(REPLY, add_special_tokens=False).input_ids

    scores, _ = attribute_ids(attribution_model, prompt_ids, reply_ids)

    for step in range(len(reply_ids)):
        own = len(prompt_ids) + step
        assert not np.isnan(scores[step, :own]).any()
        assert np.isnan(scores[step, own:]).all()


def test_non_canonical_ids_are_attributed_as_stored(attribution_model):
    tokenizer = attribution_model.tokenizer
    prompt_ids = tokenizer(PROMPT).input_ids
    # Spell " Crime" byte by byte: a split that re-tokenising the text would never give back.
    split_ids = [tokenizer.convert_tokens_to_ids(t) for t in ["Ġ", "C", "r", "i", "m", "e"]]
    assert tokenizer(PROMPT + " Crime").input_ids != prompt_ids + split_ids

    scores, probability = attribute_ids(attribution_model, prompt_ids, split_ids)

    assert scores.shape == (6, len(prompt_ids) + 6)
    assert probability.shape == (6,)
