"""Start a training stage in one process or under ``accelerate launch``, as params.yaml sets.

Run: ``python -m stages.launch finetune`` (or ``reinforce``, ``generate``, ``attribute``). Reads the ``compute``
section of params.yaml and replaces itself with the stage's process:

- ``launcher: python`` runs ``python -m stages.<stage>`` in this process's place;
- ``launcher: accelerate`` runs ``accelerate launch -m stages.<stage>`` with
  ``num_processes`` processes. With more than one process it passes ``--multi_gpu``,
  which starts the processes through torchrun; on a machine without a GPU the stages
  train on the CPU (``use_cpu``), so the processes talk over gloo.
"""

from __future__ import annotations

import argparse
import os
import sys

from stages.params import PARAMS_FILE, load_params

STAGES = ("finetune", "reinforce", "generate", "attribute")
LAUNCHERS = ("python", "accelerate")


def launch_command(stage: str, compute: dict, params_file: str) -> list[str]:
    """Build the command line that runs the stage with the configured launcher."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; choose one of {list(STAGES)}")
    launcher, n_processes = compute["launcher"], int(compute["num_processes"])
    module = ["-m", f"stages.{stage}", "--params", params_file]
    if launcher == "python":
        return [sys.executable, *module]
    if launcher != "accelerate":
        raise ValueError(f"unknown compute.launcher {launcher!r}; choose one of {list(LAUNCHERS)}")
    if n_processes < 1:
        raise ValueError(f"compute.num_processes must be at least 1, got {n_processes}")
    # Explicit settings, so that an accelerate config file in the user's home does not
    # silently change the precision or compile the model.
    command = [sys.executable, "-m", "accelerate.commands.launch",
               "--num_processes", str(n_processes), "--num_machines", "1",
               "--mixed_precision", "no", "--dynamo_backend", "no",
               "--main_process_port", str(compute["main_process_port"])]
    if n_processes > 1:
        command.append("--multi_gpu")
    return [*command, *module]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("stage", choices=STAGES, help="training stage to start")
    parser.add_argument("--params", default=str(PARAMS_FILE), help="params file to read (default: params.yaml)")
    args = parser.parse_args()
    command = launch_command(args.stage, load_params(args.params)["compute"], args.params)
    print("launching:", " ".join(command), file=sys.stderr, flush=True)
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
