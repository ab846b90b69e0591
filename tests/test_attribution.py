"""Attribution on stored token ids: inseq path, batched path, and their agreement."""

from __future__ import annotations

import numpy as np
import pytest

from stages.attribution import attribute_ids, batched_gradient, load_attribution_model
from stages.modeling import load_model, load_tokenizer

PROMPT = "<human>: They are all criminals.\n<bot>:"
REPLY = " Crime rates do not depend on where someone was born."
OTHER_PROMPTS = ['<human>: "You people ruin everything".\n<bot>: ', "<human>: Why?\n<bot>:"]
OTHER_REPLIES = [" Most people here work hard.", " Judging a whole group by a few cases is unfair to all."]


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    return load_model(str(tiny_model_dir), "float32"), load_tokenizer(str(tiny_model_dir))


def encode(tokenizer, prompt: str, reply: str) -> tuple[list[int], list[int]]:
    return tokenizer(prompt).input_ids, tokenizer(reply, add_special_tokens=False).input_ids


@pytest.mark.parametrize("method", ["input_x_gradient", "saliency"])
def test_inseq_path_matches_text_api(tiny, method):
    model, tokenizer = tiny
    prompt_ids, reply_ids = encode(tokenizer, PROMPT, REPLY)
    assert tokenizer(PROMPT + REPLY).input_ids == prompt_ids + reply_ids  # the text path is unambiguous here
    attribution_model = load_attribution_model(model, tokenizer, method)

    scores, probability = attribute_ids(attribution_model, prompt_ids, reply_ids)

    reference = attribution_model.attribute(PROMPT, PROMPT + REPLY, step_scores=["probability"], show_progress=False)
    expected = reference.sequence_attributions[0].target_attributions.norm(dim=-1).T.numpy()
    assert scores.shape == (len(reply_ids), len(prompt_ids) + len(reply_ids))
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-10, equal_nan=True)
    np.testing.assert_allclose(
        probability, reference.sequence_attributions[0].step_scores["probability"].numpy(), rtol=1e-5
    )


@pytest.mark.parametrize("method", ["input_x_gradient", "saliency"])
def test_batched_matches_inseq(tiny, method):
    model, tokenizer = tiny
    examples = [encode(tokenizer, p, r) for p, r in zip([PROMPT, *OTHER_PROMPTS], [REPLY, *OTHER_REPLIES])]
    attribution_model = load_attribution_model(model, tokenizer, method)

    batched = batched_gradient(model, examples, method, step_chunk=4)

    for (prompt_ids, reply_ids), (scores, probability) in zip(examples, batched):
        expected_scores, expected_probability = attribute_ids(attribution_model, prompt_ids, reply_ids)
        scale = np.nanmax(expected_scores)
        np.testing.assert_allclose(scores / scale, expected_scores / scale, atol=1e-4, equal_nan=True)
        np.testing.assert_allclose(probability, expected_probability, atol=1e-4)


def test_batched_matches_one_at_a_time(tiny):
    model, tokenizer = tiny
    examples = [encode(tokenizer, p, r) for p, r in zip([PROMPT, *OTHER_PROMPTS], [REPLY, *OTHER_REPLIES])]

    together = batched_gradient(model, examples, "input_x_gradient")
    alone = [batched_gradient(model, [example], "input_x_gradient")[0] for example in examples]

    for (scores, probability), (scores_1, probability_1) in zip(together, alone):
        scale = np.nanmax(scores_1)
        np.testing.assert_allclose(scores / scale, scores_1 / scale, atol=1e-4, equal_nan=True)
        np.testing.assert_allclose(probability, probability_1, atol=1e-4)


def test_positions_after_token_are_nan(tiny):
    model, tokenizer = tiny
    prompt_ids, reply_ids = encode(tokenizer, PROMPT, REPLY)

    ((scores, _),) = batched_gradient(model, [(prompt_ids, reply_ids)], "input_x_gradient")

    for step in range(len(reply_ids)):
        own = len(prompt_ids) + step
        assert not np.isnan(scores[step, :own]).any()
        assert np.isnan(scores[step, own:]).all()


def test_non_canonical_ids_are_attributed_as_stored(tiny):
    model, tokenizer = tiny
    prompt_ids = tokenizer(PROMPT).input_ids
    # Spell " Crime" byte by byte: a split that re-tokenising the text would never give back.
    split_ids = [tokenizer.convert_tokens_to_ids(t) for t in ["Ġ", "C", "r", "i", "m", "e"]]
    assert tokenizer(PROMPT + " Crime").input_ids != prompt_ids + split_ids
    attribution_model = load_attribution_model(model, tokenizer, "input_x_gradient")

    scores, probability = attribute_ids(attribution_model, prompt_ids, split_ids)

    assert scores.shape == (6, len(prompt_ids) + 6)
    assert probability.shape == (6,)


@pytest.mark.parametrize(("method", "args"), [("integrated_gradients", {"n_steps": 4}), ("attention", {})])
def test_other_methods_give_matrices(tiny_model_dir, method, args):
    attention = "eager" if method == "attention" else None
    model = load_model(str(tiny_model_dir), "float32", attn_implementation=attention)
    tokenizer = load_tokenizer(str(tiny_model_dir))
    prompt_ids, reply_ids = encode(tokenizer, PROMPT, REPLY)
    attribution_model = load_attribution_model(model, tokenizer, method)

    scores, probability = attribute_ids(attribution_model, prompt_ids, reply_ids, args)

    assert scores.shape == (len(reply_ids), len(prompt_ids) + len(reply_ids))
    assert np.isfinite(scores[0, : len(prompt_ids)]).all()
    assert ((probability > 0) & (probability <= 1)).all()
