"""Pull outputs from a DVC remote and, when objects are missing there, name them.

Run: ``detox-pull [TARGET ...] [-r REMOTE] [-j JOBS]`` (or ``python -m stages.pull``) from
the repository root. It runs ``dvc pull`` with the same arguments. When that fails:

- it lists every object that is neither in the local cache nor on the remote, by output
  path and file path, and names the remote with its URL. DVC 3.67 names only the
  object's hash or its path on the remote, so a colleague cannot tell which stage to push
  or rerun;
- it then pulls the outputs that the remote stores in full, because ``dvc pull`` checks
  out nothing when one object is missing;
- when the remote has every object, it clears DVC's cached remote listing and pulls once
  more, which completes a pull interrupted while DVC was listing the remote.
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("stages.pull")

MAX_LISTED = 20  # missing files listed per output; the rest are counted


@dataclass(frozen=True)
class MissingObject:
    """A cached file of a stage output that neither the local cache nor the remote stores."""

    stage: str
    output: str  # the output as dvc.yaml names it, e.g. data/results
    path: str    # the file inside the output, or the output itself
    md5: str


def pull_command(targets: list[str], remote: str | None, jobs: int | None) -> list[str]:
    """Build the ``dvc pull`` command line for the given targets and options."""
    command = [sys.executable, "-m", "dvc", "pull", *targets]
    if remote:
        command += ["--remote", remote]
    if jobs:
        command += ["--jobs", str(jobs)]
    return command


def remote_name(repo, remote: str | None) -> str | None:
    """Return the remote a pull uses: the one requested, or the default of the DVC config."""
    return remote or repo.config["core"].get("remote")


def remote_url(repo, name: str) -> str:
    """Return the remote's URL with relative local paths resolved."""
    remote = repo.cloud.get_remote(name)
    return remote.fs.unstrip_protocol(remote.path)


@dataclass
class RemoteCheck:
    """The targets' outputs split into the objects no store has and the paths a pull can complete."""

    missing: list[MissingObject] = field(default_factory=list)
    complete: list[str] = field(default_factory=list)  # outputs, or files inside one, with every object stored


def check_outputs(repo, targets: list[str], name: str) -> RemoteCheck:
    """Find the objects of the targets' outputs that are missing from both the cache and the remote.

    A directory output is checked file by file, with its listing (the ``.dir`` object)
    read from the local cache or else from the remote.
    """
    from dvc_data.hashfile.tree import Tree

    local, remote = repo.cache.local, repo.cloud.get_remote_odb(name, command="pull")
    # An output without a hash in dvc.lock belongs to a stage that never ran.
    outputs = [item for item in target_outputs(repo, targets) if item[1].hash_info and item[1].hash_info.value]
    absent = absent_objects(local, remote, {output.hash_info.value for _, output, _ in outputs})

    check = RemoteCheck()
    for stage, output, filter_path in outputs:
        hash_info = output.hash_info
        target = repo.fs.relpath(filter_path, repo.root_dir) if filter_path else output.def_path
        if hash_info.value in absent:
            check.missing.append(MissingObject(stage.addressing, output.def_path, output.def_path, hash_info.value))
            continue
        if not hash_info.isdir:
            check.complete.append(target)
            continue

        listing = Tree.load(local if local.exists(hash_info.value) else remote, hash_info)
        files = {}
        for key, _meta, entry in listing:
            if not filter_path or is_within(output.fs.join(output.fs_path, *key), filter_path):
                files["/".join([output.def_path, *key])] = entry.value
        absent_files = absent_objects(local, remote, set(files.values()))
        if not absent_files:
            check.complete.append(target)
        check.missing += [MissingObject(stage.addressing, output.def_path, path, md5)
                          for path, md5 in files.items() if md5 in absent_files]
    return check


def absent_objects(local, remote, md5s: set[str]) -> set[str]:
    """Return the hashes that neither the local cache nor the remote stores."""
    not_local = {md5 for md5 in md5s if not local.exists(md5)}
    return not_local - set(remote.oids_exist(not_local))


def is_within(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def target_outputs(repo, targets: list[str]):
    """Yield (stage, output, filter path) for each cached output the targets name.

    Without targets every output in dvc.lock is yielded. The filter path is set when a
    target names a file inside a directory output.
    """
    if targets:
        stage_infos = [info for target in targets for info in repo.stage.collect_granular(target)]
    else:
        stage_infos = [(stage, None) for stage in repo.index.stages]

    for stage, filter_path in stage_infos:
        for output in stage.outs:
            if not output.use_cache:
                continue  # metrics and plots kept in git
            if not filter_path or is_within(output.fs_path, filter_path):
                yield stage, output, None
            elif is_within(filter_path, output.fs_path):
                yield stage, output, filter_path


def describe(missing: list[MissingObject], name: str, url: str) -> str:
    """Format the report: each missing file under its output, then what to do."""
    count = "1 object is" if len(missing) == 1 else f"{len(missing)} objects are"
    lines = [f"{count} missing from remote '{name}' ({url}) and from the local cache:"]
    for output in sorted({item.output for item in missing}):
        items = [item for item in missing if item.output == output]
        stage = items[0].stage
        lines.append(f"  output {output} (stage '{stage}'):")
        lines += [f"    {item.path}  md5 {item.md5}" for item in items[:MAX_LISTED]]
        if len(items) > MAX_LISTED:
            lines.append(f"    and {len(items) - MAX_LISTED} more files")
    stages = sorted({item.stage for item in missing})
    lines.append(
        f"If whoever ran the pipeline still has them in their DVC cache, "
        f"`dvc push --remote {name} {' '.join(stages)}` on their machine uploads them. "
        f"Otherwise `dvc repro {' '.join(stages)}` rebuilds them here."
    )
    return "\n".join(lines)


def check_remote(targets: list[str], remote: str | None) -> RemoteCheck | None:
    """Check the targets' objects and log the missing ones; None when the remote could not be read."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    with Repo() as repo:
        name = remote_name(repo, remote)
        if not name:
            return None  # dvc pull has reported that no remote is set
        try:
            check = check_outputs(repo, targets, name)
        except (DvcException, OSError) as error:
            log.error("could not list the objects on remote '%s': %s", name, error)
            return None
        if check.missing:
            log.error("%s", describe(check.missing, name, remote_url(repo, name)))
    return check


def clear_remote_listing() -> None:
    """Delete DVC's cached listing of remote objects, kept under its site cache directory.

    DVC 3.67 caches the listing while ``dvc pull`` collects it and reuses it on the next
    pull. A pull killed during that step leaves the listing incomplete, and the next pull
    then skips the directories it lacks and fails at checkout. DVC clears the cache only
    after a pull that transferred files, so a third pull would succeed.
    """
    from dvc.repo import Repo

    with Repo() as repo:
        log.info("clearing DVC's cached remote listing in %s", repo.site_cache_dir)
        repo.drop_data_index()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("targets", nargs="*", help="stages or output paths to pull (default: every output in dvc.lock)")
    parser.add_argument("-r", "--remote", help="DVC remote to pull from (default: the configured default remote)")
    parser.add_argument("-j", "--jobs", type=int, help="parallel downloads (default: DVC's own)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    if not Path(".dvc").is_dir():
        parser.error(f"{Path.cwd()} is not the root of a DVC repository: run detox-pull from the repository root")

    command = pull_command(args.targets, args.remote, args.jobs)
    returncode = subprocess.run(command).returncode
    if returncode == 0:
        return 0

    check = check_remote(args.targets, args.remote)
    if check is None:
        return returncode
    if check.missing:
        # `dvc pull` checks out nothing when any object is missing; pull the rest by name.
        if check.complete:
            log.info("pulling the outputs that the remote stores in full: %s", " ".join(check.complete))
            subprocess.run(pull_command(check.complete, args.remote, args.jobs))
        return returncode

    log.warning("dvc pull failed although the remote has every object it needs; pulling again")
    clear_remote_listing()
    return subprocess.run(command).returncode


if __name__ == "__main__":
    sys.exit(main())
