"""`dvc repro` of the whole pipeline in a temporary copy of the repository, with real DVC.

Two profiles: the default one shrunk to seconds (built-in tiny GPT-NeoX), and the Falcon
study profile pointed at a local Falcon checkpoint, DIALOCONAN over HTTP on 127.0.0.1 and
prompts through ``datasets.load_dataset`` on a local folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
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
    "attribution": {"shard_size": 2},
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
        is_output = name.startswith("data/") and not name.startswith(("data/samples/", "data/.gitignore"))
        if source.is_file() and not is_output and not name.startswith("tests/__snapshots__"):
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


@pytest.fixture(scope="module")
def default_repo(tmp_path_factory) -> Path:
    """A temporary copy of the repository after `dvc repro` of the shrunk default profile."""
    repo = copy_repository(tmp_path_factory.mktemp("default") / "repo")
    params = merge(yaml.safe_load((REPO / "params.yaml").read_text()), SHRINK)
    write_params(repo, params)
    dvc(repo, "repro")
    return repo


def test_default_profile_repro(default_repo):
    check_results(default_repo / "data/results/results.duckdb", 5)

    again = dvc(default_repo, "repro")

    assert "Data and pipelines are up to date" in again.stdout
    assert "Running stage" not in again.stdout
    metrics = dvc(default_repo, "metrics", "show", "--json").stdout
    assert "toxicity" in metrics
    assert "entropy" in metrics


def test_entropy_recomputed_with_numpy(default_repo):
    """Recompute entropy and prompt dependence from the stored tensors with plain numpy."""
    store = default_repo / "data/attributions"
    index = pd.read_parquet(store / "index.parquet")
    with duckdb.connect(str(default_repo / "data/results/results.duckdb"), read_only=True) as con:
        stored = con.execute("SELECT generation_id, step, entropy, prompt_dependence FROM token_metrics").df()
    stored = stored.set_index(["generation_id", "step"]).sort_index()

    checked = 0
    for entry in index[index["skip_reason"].isna()].itertuples():
        with np.load(store / f"{entry.shard}.npz") as arrays:
            matrix = arrays[entry.generation_id].astype(np.float64)
        for step, row in enumerate(matrix):
            weights = np.nan_to_num(row)
            prompt = weights[: entry.n_prompt_tokens]
            p = prompt / prompt.sum()
            entropy = -sum(x * np.log2(x) for x in p if x > 0)
            dependence = prompt.sum() / weights.sum()
            expected = stored.loc[(entry.generation_id, step)]
            assert abs(expected["entropy"] - entropy) < 1e-6
            assert abs(expected["prompt_dependence"] - dependence) < 1e-6
            checked += 1
    assert checked == len(stored)


def test_attribute_resumes_after_kill(default_repo):
    store = default_repo / "data/attributions"
    reference = {p.name: p.read_bytes() for p in store.iterdir()}
    shutil.rmtree(store)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}

    first = subprocess.Popen([sys.executable, "-m", "stages.attribute"], cwd=default_repo, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    finished = wait_for_shard(default_repo / "data/checkpoints/attribute", first)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert not store.exists()  # killed before it could collect the shards
    finished_mtime = finished.stat().st_mtime_ns

    subprocess.run([sys.executable, "-m", "stages.attribute"], cwd=default_repo, env=env, check=True,
                   capture_output=True)

    assert (store / finished.name).stat().st_mtime_ns == finished_mtime  # not recomputed
    assert {p.name: p.read_bytes() for p in store.iterdir()} == reference
    assert "Data and pipelines are up to date" in dvc(default_repo, "status").stdout


def wait_for_shard(checkpoints: Path, process: subprocess.Popen, timeout: float = 300.0) -> Path:
    """Return the first finished shard of a running attribute stage."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = sorted(checkpoints.glob("*/shard-*.npz"))
        if done:
            return done[0]
        assert process.poll() is None, "the attribute stage ended before any shard was seen"
        time.sleep(0.01)
    raise TimeoutError(f"no finished shard in {checkpoints} after {timeout} s")


def test_method_switch_reruns_only_downstream(default_repo):
    result = dvc(default_repo, "exp", "run", "-S", "attribution.method=integrated_gradients",
                 "-S", "+attribution.method_args.n_steps=4")

    ran = set(re.findall(r"Running stage '(\w+)'", result.stdout))
    assert ran == {"attribute", "analyze", "results"}
    with duckdb.connect(str(default_repo / "data/results/results.duckdb"), read_only=True) as con:
        method = con.execute("SELECT value FROM run_info WHERE key = 'attribution_method'").fetchone()[0]
    assert method == "integrated_gradients"


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
