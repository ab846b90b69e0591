"""Locating results files in a DVC workspace, its cache and DVC experiments.

The fast tests build a git repository with a hand-written dvc.lock, DVC 3 cache layout
and an experiment ref, as `dvc exp run` leaves them. The slow test runs real DVC.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from tui_fixtures import build_results_database, results_db_template  # noqa: F401

from detox_tui.cli import locate, main
from detox_tui.queries import ResultsDatabase
from detox_tui.workspace import (
    WorkspaceError,
    cache_dir,
    find_result_sources,
    list_experiments,
    locate_experiment_results,
    locate_workspace_results,
)

LOCK_TEMPLATE = """schema: '2.0'
stages:
  results:
    cmd: python -m stages.results
    outs:
    - path: data/results
      hash: md5
      md5: {md5}
      size: 1
      nfiles: 1
"""


def git(repo: Path, *args: str) -> str:
    """Run git in `repo` with a fixed identity and return its output."""
    result = subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", *args],
        cwd=repo, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return result.stdout.strip()


def cache_results(repo: Path, database: Path) -> str:
    """Store `database` as data/results in the DVC cache and return the folder's md5."""
    data = database.read_bytes()
    file_md5 = hashlib.md5(data).hexdigest()
    files = repo / ".dvc" / "cache" / "files" / "md5"
    (files / file_md5[:2]).mkdir(parents=True, exist_ok=True)
    (files / file_md5[:2] / file_md5[2:]).write_bytes(data)
    manifest = json.dumps([{"md5": file_md5, "relpath": "results.duckdb"}]).encode()
    dir_md5 = hashlib.md5(manifest).hexdigest() + ".dir"
    (files / dir_md5[:2]).mkdir(parents=True, exist_ok=True)
    (files / dir_md5[:2] / dir_md5[2:]).write_bytes(manifest)
    return dir_md5


@pytest.fixture
def repo(tmp_path: Path, results_db_template: Path) -> Path:  # noqa: F811
    """A git workspace with two result versions: the baseline and experiment `other-method`.

    The baseline's file has 4 prompts, the experiment's 3. The workspace copy of
    data/results is absent, as while `dvc repro` rebuilds it.
    """
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / ".dvc").mkdir()
    (repo / ".dvc" / "config").write_text("[core]\n    analytics = false\n", encoding="utf-8")
    (repo / "dvc.yaml").write_text("stages: {}\n", encoding="utf-8")
    baseline = Path(shutil.copyfile(results_db_template, tmp_path / "baseline.duckdb"))
    (repo / "dvc.lock").write_text(LOCK_TEMPLATE.format(md5=cache_results(repo, baseline)))
    git(repo, "add", "dvc.yaml", "dvc.lock", ".dvc/config")
    git(repo, "commit", "-q", "-m", "baseline")
    base_sha = git(repo, "rev-parse", "HEAD")

    experiment = Path(shutil.copyfile(results_db_template, tmp_path / "experiment.duckdb"))

    with duckdb.connect(str(experiment)) as connection:
        connection.execute("DELETE FROM prompts WHERE prompt_id = 'p000004'")
    (repo / "dvc.lock").write_text(LOCK_TEMPLATE.format(md5=cache_results(repo, experiment)))
    git(repo, "commit", "-q", "-am", "experiment")
    ref = f"refs/exps/{base_sha[:2]}/{base_sha[2:]}/other-method"
    git(repo, "update-ref", ref, "HEAD")
    git(repo, "update-ref", "refs/exps/exec/EXEC_HEAD", "HEAD")
    git(repo, "reset", "-q", "--hard", base_sha)
    return repo


def prompt_count(path: Path) -> int:
    with ResultsDatabase(path) as database:
        return database.count_prompts()


def test_experiment_refs_listed(repo: Path) -> None:
    experiments = list_experiments(repo)
    assert list(experiments) == ["other-method"], "DVC's exec refs are not experiments"


def test_experiment_results_from_cache(repo: Path) -> None:
    location = locate_experiment_results("other-method", repo / "data")
    assert location.path.is_relative_to(repo / ".dvc" / "cache" / "files" / "md5")
    assert location.origin == "experiment other-method (DVC cache)"
    assert prompt_count(location.path) == 3


def test_git_revision_as_experiment(repo: Path) -> None:
    location = locate_experiment_results("HEAD", repo)
    assert prompt_count(location.path) == 4


def test_unknown_experiment_lists_known(repo: Path) -> None:
    with pytest.raises(WorkspaceError, match="experiment not found: nope.*other-method"):
        locate_experiment_results("nope", repo)


def test_experiment_not_in_cache(repo: Path) -> None:
    shutil.rmtree(repo / ".dvc" / "cache")
    with pytest.raises(WorkspaceError, match="not in the local DVC cache.*dvc exp pull"):
        locate_experiment_results("other-method", repo)


def test_workspace_file_preferred(repo: Path, results_db_template: Path) -> None:  # noqa: F811
    results = repo / "data" / "results"
    results.mkdir(parents=True)
    shutil.copyfile(results_db_template, results / "results.duckdb")
    location = locate_workspace_results(repo / "data")
    assert location == type(location)(results / "results.duckdb", "workspace")


def test_cached_version_while_file_absent(repo: Path) -> None:
    location = locate_workspace_results(repo)
    assert location.origin == "last dvc.lock version (DVC cache)"
    assert prompt_count(location.path) == 4


def test_no_workspace(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="no DVC workspace"):
        locate_workspace_results(tmp_path)


def test_cache_dir_from_config(repo: Path, tmp_path: Path) -> None:
    assert cache_dir(repo) == repo / ".dvc" / "cache"
    (repo / ".dvc" / "config.local").write_text("[cache]\n    dir = ../../shared-cache\n")
    assert cache_dir(repo) == (tmp_path / "shared-cache").resolve()


def test_result_sources(repo: Path, tmp_path: Path, results_db_template: Path) -> None:  # noqa: F811
    opened = Path(shutil.copyfile(results_db_template, tmp_path / "elsewhere.duckdb"))
    sources = find_result_sources(opened, repo)
    assert list(sources) == ["opened file", "workspace", "experiment other-method"]
    assert sources["opened file"] == opened.resolve()


def test_cli_experiment_option(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo)
    path, origin = locate(None, "other-method")
    assert prompt_count(path) == 3
    assert origin == "experiment other-method (DVC cache)"
    path, origin = locate(None, None)
    assert origin == "last dvc.lock version (DVC cache)"


def test_cli_unknown_experiment_exits_2(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(repo)
    assert main(["--experiment", "nope"]) == 2
    assert "experiment not found: nope" in capsys.readouterr().err


@pytest.mark.slow
def test_real_dvc_experiment(tmp_path: Path) -> None:
    # Runs DVC itself: `dvc repro` of a one-stage pipeline that writes data/results, then
    # `dvc exp run` with another parameter value, whose results stay in the workspace.
    dvc = Path(sys.executable).with_name("dvc")
    if not dvc.is_file():
        pytest.skip("dvc is not installed in this environment")
    repo = tmp_path / "repo"
    repo.mkdir()
    template = build_results_database(tmp_path / "template.duckdb")
    (repo / "make_results.py").write_text(
        "import shutil, sys, duckdb, yaml, pathlib\n"
        "keep = yaml.safe_load(open('params.yaml'))['keep_prompts']\n"
        "out = pathlib.Path('data/results'); out.mkdir(parents=True, exist_ok=True)\n"
        f"shutil.copyfile({str(template)!r}, out / 'results.duckdb')\n"
        "with duckdb.connect(str(out / 'results.duckdb')) as c:\n"
        "    c.execute('DELETE FROM prompts WHERE prompt_id > ?', [f'p{keep:06d}'])\n",
        encoding="utf-8",
    )
    (repo / "params.yaml").write_text("keep_prompts: 4\n", encoding="utf-8")
    (repo / "dvc.yaml").write_text(
        "stages:\n  results:\n    cmd: python make_results.py\n"
        "    deps: [make_results.py]\n    params: [keep_prompts]\n    outs: [data/results]\n",
        encoding="utf-8",
    )
    git(repo, "init", "-q")
    env = {**os.environ, "PATH": f"{dvc.parent}{os.pathsep}{os.environ['PATH']}"}

    def run_dvc(*args: str) -> None:
        subprocess.run([str(dvc), *args], cwd=repo, env=env, check=True, capture_output=True)

    run_dvc("init", "-q")
    run_dvc("config", "core.analytics", "false")
    run_dvc("repro", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "baseline")
    run_dvc("exp", "run", "-q", "-n", "two-prompts", "-S", "keep_prompts=2")

    assert "two-prompts" in list_experiments(repo)
    assert prompt_count(locate_experiment_results("two-prompts", repo).path) == 2
    assert prompt_count(locate_workspace_results(repo).path) == 2
    assert prompt_count(locate_experiment_results("HEAD", repo).path) == 4, "the baseline"
