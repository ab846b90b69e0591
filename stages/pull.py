"""Pull outputs from a DVC remote and, when objects are missing there, name them.

Run: ``detox-pull [TARGET ...] [-r REMOTE] [-j JOBS]`` (or ``python -m stages.pull``) from
the repository root. It runs ``dvc pull`` with the same arguments. When that fails, it
checks every object of the targets' outputs against the local cache and the remote:

- A remote that does not exist or cannot be read is reported as such.
- Objects that neither stores are listed by output and file, with the stage that wrote
  them, the remote's name and URL, and the commands that upload or rebuild them. DVC 3.67
  names only an object's hash or its path on the remote. The outputs that are complete
  are then pulled by name, because ``dvc pull`` checks out no output at all when a file
  object is missing. A full pull from a remote with none of the outputs is reported as
  a pull from an empty or wrong remote.
- When the remote has every object that the cache lacks, the pull was cut short: a
  ``dvc pull`` killed while DVC was listing the remote leaves that listing incomplete.
  ``detox-pull`` then clears DVC's cached listing and pulls once more.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("stages.pull")

MAX_LISTED = 20  # missing files listed per output; the rest are counted


@dataclass(frozen=True)
class MissingObject:
    """A cached file of a stage output that neither the local cache nor the remote stores."""

    stage: str   # the stage's name, e.g. results, or the .dvc file of added data
    output: str  # the output's path from the repository root, e.g. data/results
    path: str    # the file inside the output, or the output itself
    md5: str
    rebuildable: bool  # whether the stage has a command that `dvc repro` can rerun
    listing: str | None = None  # URL of the output's .dir object when the remote has it


@dataclass
class RemoteCheck:
    """The targets' objects: those no store has, those only the remote has, and what is complete."""

    missing: list[MissingObject] = field(default_factory=list)
    n_fetchable: int = 0           # objects on the remote that the local cache lacks
    n_outputs: int = 0             # outputs with a hash in dvc.lock
    n_outputs_on_remote: int = 0   # of those, outputs whose object (a file or a .dir listing) is on the remote
    complete: list[str] = field(default_factory=list)  # targets whose every object is stored
    never_built: list[str] = field(default_factory=list)  # outputs without a hash in dvc.lock


class RemoteUnreadable(Exception):
    """The remote returned an error other than "not found", or no response at all."""


def pull_command(targets: list[str], remote: str | None, jobs: int | None) -> list[str]:
    """Build the ``dvc pull`` command line for the given targets and options."""
    command = [sys.executable, "-m", "dvc", "pull", *targets]
    if remote:
        command += ["--remote", remote]
    if jobs is not None:
        command += ["--jobs", str(jobs)]
    return command


def target_outputs(repo, targets: list[str]):
    """Yield (stage, output, filter paths) once for each cached output the targets name.

    Without targets every output in dvc.lock is yielded. The filter paths are set when
    targets name files inside a directory output and none names the whole output.
    """
    if targets:
        stage_infos = [info for target in targets for info in repo.stage.collect_granular(target)]
    else:
        stage_infos = [(stage, None) for stage in repo.index.stages]

    items = {}
    for stage, filter_path in stage_infos:
        for output in stage.outs:
            if not output.use_cache:
                continue  # metrics and plots kept in git
            whole = not filter_path or is_within(output.fs_path, filter_path)
            if not whole and not is_within(filter_path, output.fs_path):
                continue  # the target names another output of this stage
            _, _, filters = items.get(output.fs_path, (stage, output, ()))
            if whole or filters is None:
                items[output.fs_path] = (stage, output, None)
            else:
                items[output.fs_path] = (stage, output, (*filters, filter_path))
    yield from items.values()


def is_within(path: str, parent: str) -> bool:
    parent = parent.rstrip("/")
    return path.rstrip("/") == parent or path.startswith(parent + "/")


def check_outputs(repo, outputs: list, local, remote) -> RemoteCheck:
    """Compare the objects of `outputs` with the local cache and the remote object database.

    A directory output is checked file by file, with its listing (the ``.dir`` object)
    read from the local cache or else from the remote. Raises RemoteUnreadable when the
    remote cannot report whether it stores an object.
    """
    from dvc_data.hashfile.tree import Tree

    check = RemoteCheck()
    check.never_built = [repo.fs.relpath(output.fs_path, repo.root_dir)
                         for _, output, _ in outputs if not (output.hash_info and output.hash_info.value)]
    outputs = [item for item in outputs if item[1].hash_info and item[1].hash_info.value]
    roots = {output.hash_info.value for _, output, _ in outputs}
    roots_on_remote = set(remote.oids_exist(roots)) if roots else set()
    not_local = {md5 for md5 in roots if not local.exists(md5)}
    absent = confirm_absent(remote, not_local - roots_on_remote)
    check.n_fetchable = len(not_local & roots_on_remote)
    check.n_outputs, check.n_outputs_on_remote = len(roots), len(roots_on_remote)

    for stage, output, filters in outputs:
        hash_info = output.hash_info
        output_path = repo.fs.relpath(output.fs_path, repo.root_dir)
        targets = [repo.fs.relpath(path, repo.root_dir) for path in filters] if filters else [output_path]
        rebuildable = bool(getattr(stage, "cmd", None))
        if hash_info.value in absent:
            check.missing.append(MissingObject(stage.addressing, output_path, output_path, hash_info.value, rebuildable))
            continue
        if not hash_info.isdir:
            check.complete += targets
            continue

        listing = Tree.load(local if local.exists(hash_info.value) else remote, hash_info)
        files = {}
        for key, _meta, entry in listing:
            path = output.fs.join(output.fs_path, *key)
            if not filters or any(is_within(path, filter_path) for filter_path in filters):
                files["/".join([output_path, *key])] = entry.value
        absent_files = partition_objects(check, local, remote, set(files.values()))
        lost = [path for path, md5 in files.items() if md5 in absent_files]
        check.complete += [target for target in targets if not any(is_within(path, target) for path in lost)]
        listing_url = object_url(remote, hash_info.value) if hash_info.value in roots_on_remote else None
        check.missing += [MissingObject(stage.addressing, output_path, path, files[path], rebuildable, listing_url)
                          for path in lost]
    return check


def partition_objects(check: RemoteCheck, local, remote, md5s: set[str]) -> set[str]:
    """Count the hashes that only the remote has; return those that neither store has."""
    not_local = {md5 for md5 in md5s if not local.exists(md5)}
    on_remote = set(remote.oids_exist(not_local)) if not_local else set()
    check.n_fetchable += len(on_remote)
    return confirm_absent(remote, not_local - on_remote)


def confirm_absent(remote, md5s: set[str]) -> set[str]:
    """Ask the remote for each object again and return those it reports as not found.

    An existence check over HTTP returns False for a server error as well as for a
    missing object (fsspec 2026.9), so each candidate is checked once more with ``info``.
    """
    return {md5 for md5 in md5s if not stores(remote.fs, remote.oid_to_path(md5))}


def stores(fs, path: str) -> bool:
    """Return whether the file system has `path`; raise RemoteUnreadable when it cannot tell."""
    try:
        fs.info(path)
    except FileNotFoundError as error:
        # fsspec's HTTP file system raises FileNotFoundError for every failure and
        # chains the real one: a 404 chains FileNotFoundError, a refused connection or a
        # server error chains an aiohttp exception.
        cause = error.__cause__
        if cause is None or isinstance(cause, FileNotFoundError):
            return False
        raise RemoteUnreadable(f"{type(cause).__name__}: {cause}") from error
    return True


def probe_remote(remote) -> str | None:
    """Return why the remote's object folder is unusable, or None when it may serve objects.

    Raises RemoteUnreadable when the remote does not respond. An HTTP server need not
    serve a folder, so over HTTP only a failed connection or a server error counts.
    """
    if stores(remote.fs, remote.path) or remote.fs.protocol in ("http", "https"):
        return None
    return "does not exist or is empty"


def object_url(odb, md5: str) -> str:
    return odb.fs.unstrip_protocol(odb.oid_to_path(md5))


def describe_missing(missing: list[MissingObject], name: str, url: str) -> str:
    """Format the report: each missing file under its output, then what to do."""
    n_objects = len({item.md5 for item in missing})
    count = "1 object is" if n_objects == 1 else f"{n_objects} objects are"
    lines = [f"{count} missing from remote '{name}' ({url}) and from the local cache:"]
    for output in sorted({item.output for item in missing}):
        items = [item for item in missing if item.output == output]
        lines.append(f"  output {output} (stage '{items[0].stage}'):")
        lines += [f"    {item.path}  md5 {item.md5}" for item in items[:MAX_LISTED]]
        if len(items) > MAX_LISTED:
            lines.append(f"    and {len(items) - MAX_LISTED} more files")
    lines += remedies(missing, name)
    return "\n".join(lines)


def remedies(missing: list[MissingObject], name: str) -> list[str]:
    """Write the commands that upload the missing objects from another cache, or rebuild them here."""
    stages = sorted({item.stage for item in missing})
    lines = ["If whoever ran the pipeline still has them in their DVC cache, they can upload them from their machine:"]
    # DVC 3.67 skips every file of a directory whose .dir object is on the remote, so
    # that listing has to go first (dvc_data.hashfile.status assumes the contents).
    listings = sorted({item.listing for item in missing if item.listing})
    if listings:
        # Deleting a listing while the pusher lacks a file too would hide the intact files.
        objects = sorted({f"files/md5/{item.md5[:2]}/{item.md5[2:]}" for item in missing if item.listing})
        listed = shell_words(objects[:MAX_LISTED])
        lines.append(f'  check that their cache has the files: (cd "$(dvc cache dir)" && ls {listed})')
    for listing in listings:
        lines.append(f"  delete {listing} from the remote (dvc push skips the files of a listed directory)")
    lines.append(f"  dvc push --remote {shlex.quote(name)} {shell_words(stages)}")

    rebuildable = sorted({item.stage for item in missing if item.rebuildable})
    if rebuildable:
        lines.append(
            f"Otherwise `dvc repro {shell_words(rebuildable)}` rebuilds them here; "
            f"it also reruns the upstream stages whose outputs are not in the workspace, so pull those first."
        )
    added = sorted({item.output for item in missing if not item.rebuildable})
    if added:
        lines.append(f"Data added with `dvc add` cannot be rebuilt: add it again from its source ({', '.join(added)}).")
    return lines


def shell_words(words: list[str]) -> str:
    return " ".join(shlex.quote(word) for word in words)


def check_remote(targets: list[str], remote: str | None) -> RemoteCheck | None:
    """Check the targets' objects and log what is missing.

    Returns None when the targets or the remote cannot be resolved, which ``dvc pull``
    has reported already, or when the remote does not exist or cannot be read.
    """
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    with Repo() as repo:
        name = remote or repo.config["core"].get("remote")
        try:
            outputs = list(target_outputs(repo, targets))
            remote_odb = repo.cloud.get_remote_odb(name, command="pull")
        except DvcException as error:
            log.debug("no check of the remote: %s", error)
            return None
        remote_root = repo.cloud.get_remote(name)
        url = remote_root.fs.unstrip_protocol(remote_root.path)

        # The remote's file system may be S3, HTTP or any other that fsspec reaches, and
        # each raises its own exceptions. Any of them means that the remote cannot be read.
        try:
            problem = probe_remote(remote_odb)
            check = None if problem else check_outputs(repo, outputs, repo.cache.local, remote_odb)
        except Exception as error:  # noqa: BLE001
            detail = error if isinstance(error, RemoteUnreadable) else f"{type(error).__name__}: {error}"
            log.error("could not read remote '%s' (%s): %s", name, url, detail)
            return None

    fix = (f"`dvc remote list` shows the remotes, and `dvc remote modify --local {shlex.quote(name)} url URL` "
           f"points this clone at another folder or bucket.")
    if problem:
        log.error("remote '%s' (%s) %s. %s", name, url, problem, fix)
        return None
    if check.never_built:
        log.error("not built yet, so not on any remote: %s. `dvc repro` builds them.", " ".join(check.never_built))
    if check.missing and not targets and check.n_outputs > 1 and check.n_outputs_on_remote == 0:
        log.error("remote '%s' (%s) has none of the %d outputs: it is empty or not the remote they were pushed to. %s",
                  name, url, check.n_outputs, fix)
    elif check.missing:
        log.error("%s", describe_missing(check.missing, name, url))
    return check


def clear_remote_listing() -> None:
    """Delete DVC's cached listing of remote objects, kept under its site cache directory.

    DVC 3.67 caches the listing while ``dvc pull`` collects it and reuses it on the next
    pull. A pull killed during that step leaves the listing incomplete. The next pull
    then skips the directories it lacks and fails at checkout. DVC clears the cache only
    after a pull that transferred files (dvc/repo/fetch.py), so a third pull succeeds.
    """
    from dvc.repo import Repo

    with Repo() as repo:
        log.info("clearing DVC's cached remote listing in %s", repo.site_cache_dir)
        repo.drop_data_index()


def pull(args: argparse.Namespace) -> int:
    command = pull_command(args.targets, args.remote, args.jobs)
    returncode = subprocess.run(command).returncode
    if returncode == 0:
        return 0

    check = check_remote(args.targets, args.remote)
    if check is None:
        return returncode
    if check.missing:
        if check.complete:
            log.info("pulling the outputs that are complete: %s", " ".join(check.complete))
            clear_remote_listing()  # a failed pull can leave a listing that lacks existing files
            subprocess.run(pull_command(check.complete, args.remote, args.jobs))
        return returncode
    if check.n_fetchable == 0:
        return returncode  # every object is in the cache: the checkout failed for its own reason

    log.warning("dvc pull left %d objects on the remote; pulling again", check.n_fetchable)
    clear_remote_listing()
    return subprocess.run(command).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.replace("``", "`"), formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("targets", nargs="*", help="stages or output paths to pull (default: every output in dvc.lock)")
    parser.add_argument("-r", "--remote", help="DVC remote to pull from (default: the configured default remote)")
    parser.add_argument("-j", "--jobs", type=int, help="parallel downloads (default: DVC's own)")
    args = parser.parse_args(argv)
    logging.basicConfig(format="%(levelname)s: %(message)s")
    log.setLevel(logging.INFO)
    if not Path(".dvc").is_dir():
        parser.error(f"{Path.cwd()} is not the root of a DVC repository: run detox-pull from the repository root")
    if importlib.util.find_spec("dvc") is None:
        parser.error(f"DVC is not installed in {sys.prefix}: run `pip install dvc` (add dvc-s3 for S3 remotes)")

    try:
        return pull(args)
    except KeyboardInterrupt:
        log.error("interrupted; run detox-pull again to continue where it stopped")
        return 130


if __name__ == "__main__":
    sys.exit(main())
