"""`dvc repro` of the whole pipeline in a temporary copy of the repository, with real DVC.

Two profiles: the default one shrunk to seconds (built-in tiny GPT-NeoX), and the Falcon
study profile pointed at a local Falcon checkpoint, DIALOCONAN over HTTP on 127.0.0.1 and
prompts through ``datasets.load_dataset`` on a local folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml

from conftest import REPO, save_tiny_model

pytestmark = pytest.mark.slow

SHRINK = {
    "model": {"tiny": {"vocab_size": 400, "hidden_size": 32, "num_layers": 1, "num_heads": 2,
                       "max_positions": 256, "pretrain_epochs": 1, "batch_size": 16, "learning_rate": 0.003}},
    "data": {"n_prompts": 5, "n_dialogues": 20},
    "finetune": {"epochs": 1, "batch_size": 8, "max_length": 128},
    "reinforce": {"steps": 2, "batch_size": 4, "num_generations": 2, "max_completion_length": 8, "n_prompts": 8},
    "generate": {"max_new_tokens": 10, "batch_size": 4},
    "attribution": {"shard_size": 4},
}


def merge(base: dict, override: dict) -> dict:
    for key, value in override.items():
        base[key] = merge(base.get(key, {}), value) if isinstance(value, dict) else value
    return base


def copy_repository(target: Path) -> Path:
    """Copy the tracked and untracked-but-not-ignored files into a fresh git repository."""
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout.split("\0")
    for name in filter(None, files):
        source = REPO / name
        if source.is_file() and not name.startswith(("data/results/", "tests/__snapshots__")):
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    (target / "dvc.lock").unlink(missing_ok=True)
    git(target, "init", "-q")
    git(target, "add", "-A")
    git(target, "-c", "user.name=test", "-c", "user.email=test@localhost", "commit", "-qm", "copy")
    return target


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True)


def dvc(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "DVC_NO_ANALYTICS": "1"}
    result = subprocess.run(["dvc", *args], cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"dvc {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def write_params(repo: Path, params: dict) -> None:
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def check_results(database: Path, n_prompts: int) -> None:
    with duckdb.connect(str(database), read_only=True) as con:
        count = lambda sql: con.execute(sql).fetchone()[0]  # noqa: E731

        assert count("SELECT count(*) FROM prompts") == n_prompts
        assert count("SELECT count(*) FROM generations") == 3 * n_prompts
        assert count("SELECT count(DISTINCT variant) FROM generations") == 3
        assert count("SELECT count(*) FROM scores WHERE text_kind = 'generation'") == 3 * n_prompts
        assert count("SELECT count(*) FROM scores WHERE value IS NULL AND reason IS NULL") == 0
        # one metrics row per generated token of every generation
        assert count("SELECT sum(n_tokens) FROM generations") == count("SELECT count(*) FROM token_metrics")
        assert count("SELECT count(*) FROM prompt_overview") == n_prompts
        assert count("SELECT count(*) FROM toxicity_table") == 6
        assert count("SELECT value FROM run_info WHERE key = 'primary_scorer'") == "offline"
        # normalised attributions sum to 1 per step
        assert count("""SELECT max(abs(total - 1)) FROM (
                          SELECT sum(value) AS total FROM attributions GROUP BY generation_id, step)""") < 1e-6
        # entropy lies between 0 and log2 of the generation's prompt length
        assert count("""SELECT count(*) FROM token_metrics AS m
                        JOIN (SELECT generation_id, count(*) AS n FROM tokens WHERE NOT is_generated
                              GROUP BY generation_id) AS p USING (generation_id)
                        WHERE m.entropy < 0 OR m.entropy > log2(p.n) + 1e-9""") == 0
        base_model = count("SELECT value FROM run_info WHERE key = 'model'")
    assert base_model


def test_default_profile_repro(tmp_path):
    repo = copy_repository(tmp_path / "repo")
    params = merge(yaml.safe_load((REPO / "params.yaml").read_text()), SHRINK)
    write_params(repo, params)

    dvc(repo, "repro")

    check_results(repo / "data/results/results.duckdb", 5)
    again = dvc(repo, "repro")
    assert "Data and pipelines are up to date" in again.stdout
    assert "Running stage" not in again.stdout
    metrics = dvc(repo, "metrics", "show", "--json").stdout
    assert "toxicity" in metrics
    assert "entropy" in metrics


def test_falcon_profile_with_local_sources(tmp_path, http_server):
    repo = copy_repository(tmp_path / "repo")
    base_url, www = http_server
    shutil.copy(REPO / "data/samples/dialogues.csv", www / "DIALOCONAN.csv")
    dataset = tmp_path / "real-toxicity-prompts"
    dataset.mkdir()
    shutil.copy(REPO / "data/samples/prompts.jsonl", dataset / "train.jsonl")
    checkpoint = save_tiny_model("tiny-falcon", tmp_path / "falcon-checkpoint")

    params = merge(yaml.safe_load((REPO / "profiles/paper-falcon.yaml").read_text()), SHRINK)
    params["model"].update(name=str(checkpoint), dtype="float32")
    params["data"].update(dialoconan=f"{base_url}/DIALOCONAN.csv", prompts=str(dataset))
    write_params(repo, params)

    dvc(repo, "repro")

    check_results(repo / "data/results/results.duckdb", 5)
    model_info = json.loads((repo / "data/models/base/model.json").read_text())
    assert model_info["model_type"] == "falcon"
    with duckdb.connect(str(repo / "data/results/results.duckdb"), read_only=True) as con:
        prompt = con.execute("SELECT prompt FROM prompts LIMIT 1").fetchone()[0]
    assert prompt.startswith('### Question: "')
    assert prompt.endswith('".\n### Answer: ')
    assert (repo / "data/models/ft_adapter/adapter_config.json").is_file()
