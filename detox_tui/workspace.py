"""Locate the results database in a DVC workspace, its cache or a DVC experiment.

The pipeline's `results` stage declares the folder `data/results` as its output. DVC
records the folder's hash in `dvc.lock` and keeps a copy of every version in its cache.
So the last complete file can be opened while `dvc repro` rebuilds the workspace copy,
and an experiment's file can be opened without checking it out. This module calls `git` as a subprocess, reads `dvc.lock` with PyYAML and never
imports DVC or Textual.
"""

from __future__ import annotations

import configparser
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from detox_tui.queries import ResultsError

RESULTS_OUT = "data/results"
RESULTS_FILE = "results.duckdb"
EXPERIMENT_REFS = "refs/exps"


class WorkspaceError(ResultsError):
    """The results database of a workspace or experiment cannot be located."""


@dataclass(frozen=True)
class ResultsLocation:
    """The location of a results database.

    Attributes:
        path: The DuckDB file to open read-only.
        origin: How it was found, shown when the app opens it, e.g. "workspace" or
            "experiment real-data (DVC cache)".
    """

    path: Path
    origin: str


def find_workspace(start: Path | None = None) -> Path | None:
    """Return the nearest folder at or above `start` that contains `dvc.yaml`, or None."""
    folder = (start or Path.cwd()).resolve()
    for candidate in (folder, *folder.parents):
        if (candidate / "dvc.yaml").is_file():
            return candidate
    return None


def locate_workspace_results(start: Path | None = None) -> ResultsLocation:
    """Return the workspace's results database, or its cached copy while it is absent.

    `dvc repro` deletes `data/results` before the results stage runs, so during a run
    the file may be missing. Then the version that `dvc.lock` records is opened from the
    DVC cache.

    Raises:
        WorkspaceError: No workspace above `start`, or neither the file nor its cached
            copy exists.
    """
    workspace = _require_workspace(start)
    path = workspace / RESULTS_OUT / RESULTS_FILE
    if path.is_file():
        return ResultsLocation(path, "workspace")
    return locate_cached_results(workspace)


def locate_cached_results(start: Path | None = None) -> ResultsLocation:
    """Return the DVC cache copy of the results that the workspace's `dvc.lock` records.

    Raises:
        WorkspaceError: No workspace, no dvc.lock, or the cache lacks the file.
    """
    workspace = _require_workspace(start)
    path = workspace / RESULTS_OUT / RESULTS_FILE
    lock_path = workspace / "dvc.lock"
    if not lock_path.is_file():
        raise WorkspaceError(
            f"results database not found: {path}, and {lock_path} does not exist. "
            "Create it with `dvc repro` or download it with `dvc pull data/results`."
        )
    lock_text = lock_path.read_text(encoding="utf-8")
    cached = cached_results(workspace, lock_text, f"{lock_path}")
    return ResultsLocation(cached, "last dvc.lock version (DVC cache)")


def _require_workspace(start: Path | None) -> Path:
    workspace = find_workspace(start)
    if workspace is None:
        raise WorkspaceError(
            f"no DVC workspace (a folder with dvc.yaml) at or above {start or Path.cwd()}, "
            f"so {RESULTS_OUT}/{RESULTS_FILE} cannot be located. Pass the results file as DB."
        )
    return workspace


def locate_experiment_results(name: str, start: Path | None = None) -> ResultsLocation:
    """Return the cached results database of a DVC experiment.

    `name` is an experiment name as `dvc exp show` lists it (the last part of a
    `refs/exps/...` ref), or any git revision such as a branch, tag or commit.

    Raises:
        WorkspaceError: No workspace, no such experiment or revision, or its results
            are not in the local DVC cache.
    """
    workspace = _require_workspace(start)
    revision = resolve_experiment(workspace, name)
    lock_text = _git(workspace, "show", f"{revision}:dvc.lock")
    if lock_text is None:
        raise WorkspaceError(f"experiment {name} ({revision}) has no dvc.lock.")
    path = cached_results(workspace, lock_text, f"dvc.lock of experiment {name}")
    return ResultsLocation(path, f"experiment {name} (DVC cache)")


def find_result_sources(opened: Path, start: Path | None = None) -> dict[str, Path]:
    """Return the results files that can be compared with `opened`, by display name.

    The opened file comes first, then the workspace's results and every DVC experiment
    whose results are in the local cache, each path once. Experiments whose results are
    not cached are left out.
    """
    opened = opened.resolve()
    sources = {"opened file": opened}
    workspace = find_workspace(start)
    if workspace is None:
        return sources
    try:
        workspace_results = locate_workspace_results(workspace).path.resolve()
    except WorkspaceError:
        workspace_results = None
    if workspace_results == opened:
        sources = {"workspace": opened}
    elif workspace_results is not None:
        sources["workspace"] = workspace_results
    for name in list_experiments(workspace):
        try:
            path = locate_experiment_results(name, workspace).path.resolve()
        except WorkspaceError:
            continue
        if path not in sources.values():
            sources[f"experiment {name}"] = path
    return sources


def list_experiments(workspace: Path) -> dict[str, str]:
    """Return the experiments of a workspace as name -> ref, from `git for-each-ref`."""
    output = _git(workspace, "for-each-ref", "--format=%(refname)", EXPERIMENT_REFS)
    experiments = {}
    for ref in (output or "").splitlines():
        parts = ref.split("/")
        # Experiment refs are refs/exps/<2 hex>/<38 hex>/<name>; refs/exps/exec/* are
        # DVC's working refs.
        if len(parts) == 5 and parts[2] != "exec":
            experiments[parts[4]] = ref
    return experiments


def resolve_experiment(workspace: Path, name: str) -> str:
    """Return the git ref or revision of experiment `name`.

    Raises:
        WorkspaceError: `name` is neither an experiment nor a git revision.
    """
    experiments = list_experiments(workspace)
    if name in experiments:
        return experiments[name]
    if _git(workspace, "rev-parse", "--verify", "--quiet", f"{name}^{{commit}}") is not None:
        return name
    known = ", ".join(sorted(experiments)) or "none"
    raise WorkspaceError(
        f"experiment not found: {name}. Experiments in {workspace}: {known}. "
        "`dvc exp show` lists them."
    )


def cached_results(workspace: Path, lock_text: str, lock_name: str) -> Path:
    """Return the cache path of the results database that a `dvc.lock` text records.

    Raises:
        WorkspaceError: The lock file has no `data/results` output, or the cache lacks
            the file.
    """
    md5 = _results_md5(yaml.safe_load(lock_text) or {}, lock_name)
    cache = cache_dir(workspace)
    if md5.endswith(".dir"):
        manifest_path = _cache_path(cache, md5)
        if not manifest_path.is_file():
            raise WorkspaceError(_missing_cache_message(manifest_path, lock_name))
        entries = json.loads(manifest_path.read_text(encoding="utf-8"))
        md5 = next((e["md5"] for e in entries if e.get("relpath") == RESULTS_FILE), "")
        if not md5:
            raise WorkspaceError(f"the {RESULTS_OUT} output of {lock_name} has no {RESULTS_FILE}.")
    path = _cache_path(cache, md5)
    if not path.is_file():
        raise WorkspaceError(_missing_cache_message(path, lock_name))
    return path


def cache_dir(workspace: Path) -> Path:
    """Return the DVC cache folder: `cache.dir` of `.dvc/config.local` or `.dvc/config`."""
    for name in ("config.local", "config"):
        config_path = workspace / ".dvc" / name
        if not config_path.is_file():
            continue
        config = configparser.ConfigParser()
        config.read(config_path, encoding="utf-8")
        if config.has_option("cache", "dir"):
            # A relative cache.dir is relative to the .dvc folder.
            return (workspace / ".dvc" / config.get("cache", "dir")).resolve()
    return workspace / ".dvc" / "cache"


def _results_md5(lock: dict, lock_name: str) -> str:
    stages = lock.get("stages") or {}
    for stage in stages.values():
        for out in stage.get("outs") or []:
            path = str(out.get("path", "")).rstrip("/")
            if path in (RESULTS_OUT, f"{RESULTS_OUT}/{RESULTS_FILE}") and out.get("md5"):
                return str(out["md5"])
    raise WorkspaceError(f"{lock_name} records no {RESULTS_OUT} output. Run `dvc repro` first.")


def _cache_path(cache: Path, md5: str) -> Path:
    # DVC 3 stores files under files/md5/<first 2 hex digits>/<the rest>.
    return cache / "files" / "md5" / md5[:2] / md5[2:]


def _missing_cache_message(path: Path, lock_name: str) -> str:
    return (
        f"the results recorded in {lock_name} are not in the local DVC cache ({path} is "
        "missing). Fetch them with `dvc pull` or `dvc exp pull`."
    )


def _git(workspace: Path, *args: str) -> str | None:
    """Run git in `workspace` and return its output, or None when git fails."""
    try:
        result = subprocess.run(
            ["git", *args],
            cwd=workspace,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except FileNotFoundError as error:
        raise WorkspaceError("git is not installed, so experiments cannot be resolved.") from error
    return result.stdout if result.returncode == 0 else None
