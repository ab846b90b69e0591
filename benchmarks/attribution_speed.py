"""Attributions per second of the attribute stage against a per-example loop and a lower bound.

Run from the repository root after ``dvc repro`` (it reads the base model and the PT
generations): ``python benchmarks/attribution_speed.py [N]``. On the same model and the
same N generations (default 32) it times, input x gradient in each case:

- loop: one ``inseq`` ``attribute`` call per generation, on text, as the study's code did;
- stage: the attribute stage's implementation (``Attributor``, batched plain torch);
- bound: per generation, one forward pass and one batched backward pass over all its
  generated tokens (``torch.autograd.grad(..., is_grads_batched=True)``), no other work.

Prints attributions per second and the ratios stage/loop (target >= 2) and
stage time/bound time (target <= 1.5).
"""

from __future__ import annotations

import sys
import time

import torch

from stages.attribute import Attributor
from stages.params import load_params
from stages.tables import read_table


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 32
    params = load_params()
    params["attribution"].update(method="input_x_gradient", implementation="auto")
    torch.set_num_threads(torch.get_num_threads())

    generations = read_table("data/generations/generations.parquet", "generations")
    prompts = read_table("data/prepared/prompts.parquet", "prompts").set_index("prompt_id")["prompt"]
    rows = generations[(generations["variant"] == "PT") & (generations["n_tokens"] > 0)].head(n)
    attributor = Attributor("PT", params)
    tokenizer = attributor.tokenizer
    examples = [(tokenizer(prompts[r.prompt_id]).input_ids, [int(i) for i in r.token_ids]) for r in rows.itertuples()]
    texts = [(prompts[r.prompt_id], prompts[r.prompt_id] + r.text) for r in rows.itertuples()]
    n_tokens = sum(len(g) for _, g in examples)

    from stages.attribution import batched_gradient, load_attribution_model

    inseq_model = load_attribution_model(attributor.model, tokenizer, "input_x_gradient")
    attributor.attribute(examples[:2])  # warm-up: first calls allocate and compile kernels

    loop = timed(lambda: [inseq_model.attribute(p, t, show_progress=False) for p, t in texts])
    stage = timed(lambda: attributor.attribute(examples))
    bound = timed(lambda: [batched_gradient(attributor.model, [e], "input_x_gradient") for e in examples])

    print(f"{len(examples)} generations, {n_tokens} generated tokens, base model {params['model']['name']}, "
          f"{torch.get_num_threads()} threads, attribution.batch_size {attributor.batch_size}")
    for name, seconds in [("loop (inseq per example)", loop), ("stage", stage), ("bound (1 fwd + 1 bwd each)", bound)]:
        print(f"{name:28s} {seconds:7.2f} s  {len(examples) / seconds:8.1f} attributions/s")
    print(f"stage vs loop: {loop / stage:.2f}x faster (target >= 2)")
    print(f"stage time / bound time: {stage / bound:.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
