"""The Perspective key never leaves the environment: a planted key is searched for everywhere.

The score stage runs under real DVC in a small repository against the loopback server,
with a 500 and a 429 on the way so retry lines are logged, then everything is committed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from conftest import REPO
from test_perspective import KEY, FakePerspective
from test_scoring_stage import write_inputs


def run(cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    return result


def score_stage_repository(repo: Path, fake: FakePerspective) -> None:
    """A git + DVC repository with the stages package and only the score stage of dvc.yaml."""
    shutil.copytree(REPO / "stages", repo / "stages", ignore=shutil.ignore_patterns("__pycache__"))
    stage = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]["score"]
    (repo / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"score": stage}}, sort_keys=False))
    perspective = {"endpoint": fake.url, "qps": 1000, "timeout_s": fake.timeout_s, "backoff_s": 0.01}
    (repo / "params.yaml").write_text(yaml.safe_dump({"scoring": {"scorers": ["offline", "perspective"],
                                                                  "perspective": perspective}}))
    write_inputs(repo, ["FAIL once", "RATE once", "a plain reply"])
    run(repo, "git", "init", "-q")
    run(repo, sys.executable, "-m", "dvc", "init", "-q")


def test_planted_key_found_nowhere(tmp_path):
    fake = FakePerspective({"FAIL": ["500", "ok"], "RATE": ["429", "ok"]})
    repo = tmp_path / "repo"
    repo.mkdir()
    try:
        score_stage_repository(repo, fake)
        env = {**os.environ, "PERSPECTIVE_API_KEY": KEY, "DVC_NO_ANALYTICS": "1", "PYTHONPATH": str(repo),
               "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}

        repro = run(repo, "dvc", "repro", env=env)
        run(repo, "git", "add", "-A")
        run(repo, "git", "-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "-qm", "run")
    finally:
        fake.close()

    assert fake.keys == {KEY}  # the key was really sent
    assert "retry 1 of" in repro.stdout + repro.stderr  # the retry lines were logged
    assert KEY not in repro.stdout + repro.stderr
    for file in repo.rglob("*"):
        if file.is_file() and ".git" not in file.relative_to(repo).parts[:1]:
            assert KEY.encode() not in file.read_bytes(), file
    objects = subprocess.run(["git", "cat-file", "--batch-all-objects", "--batch"], cwd=repo,
                             capture_output=True, check=True).stdout
    assert "dvc.lock" in run(repo, "git", "ls-files").stdout.split()  # the run's lock file is committed
    assert KEY.encode() not in objects
    assert (repo / ".dvc/cache").is_dir()
