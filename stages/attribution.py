"""Attributing stored generations to their prompt, on the exact stored token ids.

Two implementations give the same numbers:

- ``inseq``: any inseq method, one generation per call. inseq's ``attribute`` re-tokenises
  text, and a sampled generation often re-tokenises to other tokens than the model
  produced (byte-level BPE has many splits of one string), so we build inseq's encoding
  from the stored ids and call the method's ``prepare_and_attribute`` directly.
- ``batched``: input x gradient and saliency in plain torch. Under causal attention one
  forward pass over prompt + generation yields every step's target probability exactly
  as inseq's step-by-step prefix passes do, and one vectorised backward pass
  (``is_grads_batched``) yields all steps' gradients. Sequences are right-padded, which
  no real token can attend to, so several generations share a pass. A test checks it
  against inseq within 1e-4.

Both return, per generation, ``scores`` of shape (n_generated, n_prompt + n_generated):
row t scores generated token t against every position, NaN at and after the token's own
position, and the (n_generated,) probability of each generated token.
"""

from __future__ import annotations

import inseq
import numpy as np
import torch
from inseq.data import BatchEncoding
from inseq.data.attribution import merge_attributions

BATCHED_METHODS = ("input_x_gradient", "saliency")
Example = tuple[list[int], list[int]]  # (prompt ids, generated ids)
Result = tuple[np.ndarray, np.ndarray]  # (scores (T_gen, T_total), probability (T_gen,))


def uses_batched(method: str, implementation: str) -> bool:
    """Whether the plain-torch path serves this method (``attribution.implementation``)."""
    if implementation not in ("auto", "inseq"):
        raise ValueError(f"unknown attribution.implementation {implementation!r}; choose auto or inseq")
    return implementation == "auto" and method in BATCHED_METHODS


def mask_future(scores: np.ndarray, n_prompt: int) -> np.ndarray:
    """Set NaN at and after each step's own position."""
    n_generated, n_total = scores.shape
    own = n_prompt + np.arange(n_generated)[:, None]
    return np.where(np.arange(n_total)[None, :] >= own, np.nan, scores).astype(np.float32)


# -- batched plain-torch path ------------------------------------------------------------


def batched_gradient(model, examples: list[Example], method: str, step_chunk: int = 32) -> list[Result]:
    """Input x gradient or saliency of several generations in one forward pass.

    The attributed function is the probability of each generated token, as inseq's
    default; scores are the L2 norm over the hidden size.
    """
    lengths = [len(p) + len(g) for p, g in examples]
    n_prompts = torch.tensor([len(p) for p, _ in examples])
    n_generated = max(len(g) for _, g in examples)
    ids = torch.zeros(len(examples), max(lengths), dtype=torch.long)  # pad id is irrelevant: right padding
    for row, (prompt, generated) in enumerate(examples):
        ids[row, : lengths[row]] = torch.tensor(prompt + generated)
    ids = ids.to(model.device)

    embeddings = model.get_input_embeddings()(ids).detach().requires_grad_(True)  # (B, L, H)
    log_probs = model(inputs_embeds=embeddings).logits.float().log_softmax(-1)  # (B, L, V)

    steps = torch.arange(n_generated)
    target_pos = (n_prompts[:, None] + steps[None, :]).clamp(max=ids.shape[1] - 1).to(model.device)  # (B, G)
    valid = (steps[None, :] < torch.tensor([len(g) for _, g in examples])[:, None]).to(model.device)
    targets = ids.gather(1, target_pos)
    probability = log_probs.gather(1, (target_pos - 1)[..., None].expand(-1, -1, log_probs.shape[-1]))
    probability = probability.gather(2, targets[..., None]).squeeze(-1).exp() * valid  # (B, G)

    chunks = []
    for start in range(0, n_generated, step_chunk):
        stop = min(start + step_chunk, n_generated)
        grad_outputs = torch.zeros(stop - start, *probability.shape, device=model.device)
        grad_outputs[torch.arange(stop - start), :, torch.arange(start, stop)] = 1.0
        (grads,) = torch.autograd.grad(
            probability, embeddings, grad_outputs=grad_outputs, is_grads_batched=True, retain_graph=True
        )  # (chunk, B, L, H)
        attributed = grads * embeddings.detach() if method == "input_x_gradient" else grads.abs()
        chunks.append(attributed.float().norm(dim=-1))  # (chunk, B, L)
    scores = torch.cat(chunks).permute(1, 0, 2).detach().cpu().numpy()  # (B, G, L)

    results = []
    for row, (prompt, generated) in enumerate(examples):
        matrix = scores[row, : len(generated), : lengths[row]]
        results.append((mask_future(matrix, len(prompt)), probability[row, : len(generated)].detach().cpu().numpy()))
    return results


# -- inseq path --------------------------------------------------------------------------


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


def step_probability(model, prompt_ids: list[int], generated_ids: list[int]) -> np.ndarray:
    """Probability of each generated token under forced decoding, from one forward pass."""
    ids = torch.tensor([prompt_ids + generated_ids], device=model.device)
    with torch.no_grad():
        probs = model(input_ids=ids).logits[0].float().softmax(-1)  # (L, V)
    positions = torch.arange(len(prompt_ids) - 1, ids.shape[1] - 1, device=model.device)
    return probs[positions, ids[0, positions + 1]].cpu().numpy()


def attribute_ids(attribution_model, prompt_ids: list[int], generated_ids: list[int],
                  method_args: dict | None = None) -> Result:
    """Attribute each generated token to every earlier token with inseq, by forced decoding.

    Gradient and perturbation methods give (T_total, T_gen, hidden) attributions, reduced
    by the L2 norm over the hidden size; attention gives (T_total, T_gen, layers, heads),
    reduced by the mean over layers and heads.
    """
    tokenizer = attribution_model.tokenizer
    method = attribution_model.attribution_method
    final_step = method.is_final_step_method  # attention: no per-step scores from inseq
    outputs = method.prepare_and_attribute(
        "",  # a decoder-only model reads its prompt from the target sequence and attr_pos_start
        encode_ids(tokenizer, prompt_ids + generated_ids).to(attribution_model.device),
        attr_pos_start=len(prompt_ids),
        show_progress=False,
        step_scores=[] if final_step else ["probability"],
        attributed_fn=attribution_model.get_attributed_fn(None),
        attribution_args=method_args or {},
    )
    attribution = merge_attributions(outputs).sequence_attributions[0]

    target = attribution.target_attributions.float()
    if attribution_model.attribution_method.method_name == "attention":
        target = target.flatten(2).mean(dim=-1)
    elif target.ndim == 3:
        target = target.norm(dim=-1)
    scores = mask_future(target.abs().T.cpu().numpy(), len(prompt_ids))
    if final_step:
        probability = step_probability(attribution_model.model, prompt_ids, generated_ids)
    else:
        probability = attribution.step_scores["probability"].float().cpu().numpy()
    return scores, probability
