"""The launcher of the training stages: one process, or `accelerate launch` with several."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO
from stages.launch import launch_command
from test_pipeline import SHRINK, copy_repository, dvc, merge, write_params

COMPUTE = {"launcher": "python", "num_processes": 1, "main_process_port": 29500}


def test_python_launcher_runs_stage_module():
    command = launch_command("finetune", COMPUTE, "params.yaml")

    assert command == [sys.executable, "-m", "stages.finetune", "--params", "params.yaml"]


def test_accelerate_launcher_with_two_processes():
    command = launch_command("reinforce", {**COMPUTE, "launcher": "accelerate", "num_processes": 2}, "p.yaml")

    assert command[:3] == [sys.executable, "-m", "accelerate.commands.launch"]
    assert command[command.index("--num_processes") + 1] == "2"
    assert "--multi_gpu" in command
    assert command[-4:] == ["-m", "stages.reinforce", "--params", "p.yaml"]


def test_accelerate_launcher_with_one_process():
    command = launch_command("finetune", {**COMPUTE, "launcher": "accelerate"}, "params.yaml")

    assert command[command.index("--num_processes") + 1] == "1"
    assert "--multi_gpu" not in command


@pytest.mark.parametrize(("stage", "compute", "message"), [
    ("score", COMPUTE, "unknown stage"),
    ("finetune", {**COMPUTE, "launcher": "slurm"}, "unknown compute.launcher"),
    ("finetune", {**COMPUTE, "launcher": "accelerate", "num_processes": 0}, "at least 1"),
])
def test_launcher_rejects_invalid_settings(stage, compute, message):
    with pytest.raises(ValueError, match=message):
        launch_command(stage, compute, "params.yaml")


@pytest.mark.slow
def test_training_on_two_cpu_processes(tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    repo = copy_repository(tmp_path / "repo")
    params = merge(yaml.safe_load((REPO / "params.yaml").read_text()), SHRINK)
    params["compute"].update(launcher="accelerate", num_processes=2)
    write_params(repo, params)

    result = dvc(repo, "repro", "finetune", "reinforce")

    assert "--multi_gpu" in result.stderr + result.stdout
    assert json.loads((repo / "metrics/finetune.json").read_text())["processes"] == 2
    assert json.loads((repo / "metrics/reinforce.json").read_text())["processes"] == 2
    assert (repo / "data/models/rl_adapter/adapter_config.json").is_file()
    base = AutoModelForCausalLM.from_pretrained(repo / "data/models/base")
    model = PeftModel.from_pretrained(base, repo / "data/models/ft_adapter")
    lora_b = [p for name, p in model.named_parameters() if "lora_B" in name]
    assert lora_b
    # lora_B starts at zero, so a non-zero one shows the adapter was trained and saved
    assert any(p.abs().sum() > 0 for p in lora_b)


@pytest.mark.slow
def test_two_processes_split_generation_and_attribution(tmp_path):
    """Two processes write the same generations and attribution files as one."""
    import os
    import subprocess

    repo = copy_repository(tmp_path / "repo")
    params = merge(yaml.safe_load((REPO / "params.yaml").read_text()), SHRINK)
    params["compute"].update(launcher="accelerate", num_processes=2, main_process_port=29531)
    write_params(repo, params)

    result = dvc(repo, "repro", "attribute")

    log = result.stderr + result.stdout
    assert "--multi_gpu" in log
    # each process took its share: 5 prompts in batches of 4 make 2 batches per variant
    assert "PT: process 0 of 2 generates 1 of 2 batches" in log
    assert "PT: process 1 of 2 generates 1 of 2 batches" in log
    assert "PT: process 1 of 2 attributes 1 of 3 shards" in log
    outputs = [repo / "data/generations/generations.parquet", *sorted((repo / "data/attributions").iterdir())]
    two_processes = {p.name: p.read_bytes() for p in outputs}
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for stage in ("generate", "attribute"):
        subprocess.run([sys.executable, "-m", f"stages.{stage}"], cwd=repo, env=env, check=True,
                       capture_output=True)
    outputs = [repo / "data/generations/generations.parquet", *sorted((repo / "data/attributions").iterdir())]
    one_process = {p.name: p.read_bytes() for p in outputs}
    assert one_process.keys() == two_processes.keys()
    assert one_process == two_processes
