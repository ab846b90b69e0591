"""Attributing a stored generation to its prompt with inseq, on the exact stored tokens.

inseq's ``attribute`` re-tokenises text, and a sampled generation often re-tokenises to
other tokens than the ones the model produced (byte-level BPE has many splits of one
string, and the study's template ends in a space that merges with the next word). So we
build inseq's encoding from the stored token ids and call the attribution method's
``prepare_and_attribute`` directly: the attributed targets are exactly the generated ids.
"""

from __future__ import annotations

import inseq
import numpy as np
import torch
from inseq.data import BatchEncoding
from inseq.data.attribution import merge_attributions


def load_attribution_model(model, tokenizer, method: str):
    """Wrap a loaded transformers model and tokenizer for the inseq method."""
    return inseq.load_model(model, method, tokenizer=tokenizer)


def encode_ids(tokenizer, ids: list[int]) -> BatchEncoding:
    """inseq's encoding of one sequence of token ids, with the baseline inseq would build."""
    input_ids = torch.tensor([ids])
    baseline = torch.where(
        input_ids == tokenizer.eos_token_id, input_ids, torch.full_like(input_ids, tokenizer.unk_token_id)
    )
    return BatchEncoding(
        input_ids=input_ids,
        input_tokens=[tokenizer.convert_ids_to_tokens(ids)],
        attention_mask=torch.ones_like(input_ids),
        baseline_ids=baseline,
    )


def attribute_ids(attribution_model, prompt_ids: list[int], generated_ids: list[int],
                  method_args: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Attribute each generated token to every earlier token by forced decoding.

    Returns:
        scores: (n_generated, n_prompt + n_generated) float32. Row t holds the attribution
            of generated token t to each position, the L2 norm over the hidden size for
            gradient methods; positions at or after the token's own are NaN.
        probability: (n_generated,) model probability of each generated token.
    """
    tokenizer = attribution_model.tokenizer
    encoding = encode_ids(tokenizer, prompt_ids + generated_ids).to(attribution_model.device)
    method = attribution_model.attribution_method
    outputs = method.prepare_and_attribute(
        "",  # a decoder-only model reads its prompt from the target sequence and attr_pos_start
        encoding,
        attr_pos_start=len(prompt_ids),
        show_progress=False,
        step_scores=["probability"],
        attributed_fn=attribution_model.get_attributed_fn(None),
        attribution_args=method_args or {},
    )
    attribution = merge_attributions(outputs).sequence_attributions[0]

    target = attribution.target_attributions  # (T_total, T_gen, hidden) or (T_total, T_gen)
    if target.ndim == 3:
        target = target.norm(dim=-1)
    scores = target.abs().T.float().numpy()  # (T_gen, T_total)
    probability = attribution.step_scores["probability"].float().numpy()
    return scores, probability
