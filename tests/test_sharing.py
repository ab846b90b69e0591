"""Sharing runs between colleagues with real git and real DVC: remotes, experiments, queues.

Every test works in clones of a bare git origin under one temporary folder. The default
remote of .dvc/config (``../../detox-lens-dvc-storage``, relative to each clone's .dvc
folder) then resolves to a folder beside the clones, so no push leaves that folder. The
S3 test points the clones at a moto S3 server on 127.0.0.1 through their local config,
and the interrupted-pull test serves the shared folder over HTTP on 127.0.0.1.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest
import yaml

from conftest import REPO
from test_pipeline import SHRINK, copy_repository, git, merge, write_params

pytestmark = pytest.mark.slow

RESULTS = Path("data/results/results.duckdb")


def dvc_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a dvc child process: the venv first, no proxy for loopback servers."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "DVC_NO_ANALYTICS": "1", "NO_PROXY": "127.0.0.1,localhost", **(env or {})}


def dvc(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run the venv's dvc in cwd; assert it succeeds and show its output when it does not."""
    result = subprocess.run(["dvc", *args], cwd=cwd, env=dvc_env(env), capture_output=True, text=True)
    assert result.returncode == 0, f"dvc {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=test", "-c", "user.email=test@localhost", "commit", "-qm", message)


def stages_run(result: subprocess.CompletedProcess) -> set[str]:
    return set(re.findall(r"Running stage '(\w+)'", result.stdout))


def result_info(repo: Path, key: str) -> str:
    with duckdb.connect(str(repo / RESULTS), read_only=True) as con:
        return con.execute("SELECT value FROM run_info WHERE key = ?", [key]).fetchone()[0]


def experiments(repo: Path) -> dict[str, dict[str, str]]:
    """Return the rows of `dvc exp show --csv` by experiment name, columns by params and metrics key."""
    table = dvc(repo, "exp", "show", "--csv", "--no-pager").stdout
    return {row["Experiment"]: row for row in csv.DictReader(io.StringIO(table)) if row["Experiment"]}


def tui_prompt_count(database: Path) -> int:
    """Open the database in detox-tui under Textual's pilot; return the prompt list's rows."""
    import asyncio

    from detox_tui.app import DetoxLensApp
    from detox_tui.components import PromptList
    from test_tui_app import settle

    async def count() -> int:
        app = DetoxLensApp(database)
        async with app.run_test(size=(160, 48)) as pilot:
            await settle(pilot)
            return app.query_one(PromptList).row_count

    return asyncio.run(count())


@pytest.fixture(scope="module")
def team(tmp_path_factory) -> dict[str, Path]:
    """A bare git origin and alice's clone after `dvc repro`, committed, `git push`ed and `dvc push`ed."""
    root = tmp_path_factory.mktemp("team")
    seed = copy_repository(root / "seed")
    write_params(seed, merge(yaml.safe_load((REPO / "params.yaml").read_text()), SHRINK))
    commit(seed, "shrink the default profile")
    origin = root / "origin.git"
    git(root, "clone", "-q", "--bare", str(seed), str(origin))

    alice = root / "alice"
    git(root, "clone", "-q", str(origin), str(alice))
    dvc(alice, "repro")
    commit(alice, "run the pipeline")
    git(alice, "push", "-q", "origin", "HEAD")
    dvc(alice, "push")
    return {"root": root, "origin": origin, "alice": alice}


def test_default_remote_beside_clones(team):
    remote = dvc(team["alice"], "remote", "list").stdout.split()

    assert remote[:2] == ["local", str(team["root"] / "detox-lens-dvc-storage")]
    assert any((team["root"] / "detox-lens-dvc-storage/files/md5").iterdir())
    assert "Cache and remote 'local' are in sync" in dvc(team["alice"], "status", "--cloud").stdout

    # a clone in another folder points the default remote at the shared one
    dan = team["root"] / "elsewhere" / "dan"
    git(team["root"], "clone", "-q", str(team["origin"]), str(dan))
    dvc(dan, "remote", "modify", "--local", "local", "url", str(team["root"] / "detox-lens-dvc-storage"))
    dvc(dan, "pull", "results")
    assert (dan / RESULTS).read_bytes() == (team["alice"] / RESULTS).read_bytes()
    assert not (dan / ".." / "detox-lens-dvc-storage").exists()


def test_colleague_pulls_experiment(team):
    alice, bob = team["alice"], team["root"] / "bob"
    # alice runs an experiment and shares it; only the analysis and the results depend on it
    run = dvc(alice, "exp", "run", "-n", "alice-spikes", "-S", "analysis.spike_threshold=0.3")
    assert stages_run(run) == {"analyze", "results"}
    dvc(alice, "exp", "push", "origin", "alice-spikes")
    git(alice, "reset", "-q", "--hard")
    dvc(alice, "checkout")

    # bob downloads only what the TUI needs
    git(team["root"], "clone", "-q", str(team["origin"]), str(bob))
    dvc(bob, "pull", "results")
    assert (bob / RESULTS).is_file()
    assert not (bob / "data/models/base").exists()
    assert not (bob / "data/attributions").exists()
    assert tui_prompt_count(bob / RESULTS) == 5

    # then everything: nothing is left to rerun
    dvc(bob, "pull")
    assert "Data and pipelines are up to date" in dvc(bob, "status").stdout

    # and alice's experiment
    dvc(bob, "exp", "pull", "origin", "alice-spikes")
    assert experiments(bob)["alice-spikes"]["analysis.spike_threshold"] == "0.3"
    dvc(bob, "exp", "apply", "alice-spikes")
    assert "Data and pipelines are up to date" in dvc(bob, "status").stdout
    repro = dvc(bob, "repro")
    assert stages_run(repro) == set()
    assert result_info(bob, "spike_threshold") == "0.3"
    assert tui_prompt_count(bob / RESULTS) == 5

    # bob reruns only the attribution with another method
    rerun = dvc(bob, "exp", "run", "-S", "attribution.method=saliency")
    assert stages_run(rerun) == {"attribute", "analyze", "results"}
    assert result_info(bob, "attribution_method") == "saliency"


def test_queue_runs_two_experiments(team):
    alice = team["alice"]
    for name, threshold in [("spikes-low", "0.2"), ("spikes-high", "0.8")]:
        dvc(alice, "exp", "run", "--queue", "-n", name, "-S", f"analysis.spike_threshold={threshold}")

    dvc(alice, "queue", "start", "-j", "2")
    status = wait_for_queue(alice)

    assert re.search(r"spikes-low\s+\S+ \S+\s+Success", status), status
    assert re.search(r"spikes-high\s+\S+ \S+\s+Success", status), status
    rows = experiments(alice)
    assert rows["spikes-low"]["analysis.spike_threshold"] == "0.2"
    assert rows["spikes-high"]["analysis.spike_threshold"] == "0.8"
    for name in ("spikes-low", "spikes-high"):
        assert float(rows[name]["attribution.PT.entropy"]) >= 0
    metrics = json.loads(dvc(alice, "metrics", "diff", "spikes-low", "spikes-high", "--all", "--json").stdout)
    assert "attribution.PT.entropy" in metrics["metrics/analysis.json"]
    plots = json.loads(dvc(alice, "plots", "diff", "spikes-low", "spikes-high", "--json").stdout)["data"]
    entropy_plot = plots["Prompt-attribution entropy per generated token (bits)"][0]
    assert entropy_plot["revisions"] == ["spikes-low", "spikes-high"]


def wait_for_queue(repo: Path, timeout: float = 600.0) -> str:
    """Poll `dvc queue status` until no experiment is queued or running; return its output."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = dvc(repo, "queue", "status").stdout
        if not re.search(r"\b(Queued|Running)\b", status):
            return status
        time.sleep(2)
    raise TimeoutError(f"the experiment queue did not finish in {timeout} s:\n{status}")


@pytest.fixture
def s3_server(tmp_path, monkeypatch):
    """A moto S3 server on 127.0.0.1 with an empty bucket; yields (endpoint URL, boto3 client)."""
    import boto3
    from moto.server import ThreadedMotoServer

    # No AWS profile of the user's, and no request to the EC2 metadata endpoint for one.
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id=S3_KEY_ID, aws_secret_access_key=S3_SECRET)
    client.create_bucket(Bucket="detox-lens")
    yield endpoint, client
    server.stop()


S3_KEY_ID = "test-key-id"
S3_SECRET = "test-secret-not-for-commit"


def object_count(client) -> int:
    return client.list_objects_v2(Bucket="detox-lens")["KeyCount"]


def add_s3_remote(repo: Path, endpoint: str, *options: str) -> None:
    """Configure the README's S3 remote in the clone's local config, which git ignores."""
    dvc(repo, "remote", "add", "--local", *options, "s3", "s3://detox-lens/cache")
    dvc(repo, "remote", "modify", "--local", "s3", "endpointurl", endpoint)


def test_s3_remote_push_pull(team, s3_server):
    endpoint, client = s3_server
    alice, carol = team["alice"], team["root"] / "carol"
    add_s3_remote(alice, endpoint)
    dvc(alice, "remote", "modify", "--local", "s3", "access_key_id", S3_KEY_ID)
    dvc(alice, "remote", "modify", "--local", "s3", "secret_access_key", S3_SECRET)
    assert S3_SECRET not in (alice / ".dvc/config").read_text()
    assert subprocess.run(["git", "status", "--porcelain"], cwd=alice, capture_output=True,
                          text=True, check=True).stdout == ""

    # a push cut off midway leaves part of the objects; running it again completes it
    first = subprocess.Popen(["dvc", "push", "-r", "s3", "--jobs", "1"], cwd=alice, env=dvc_env(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while first.poll() is None and object_count(client) == 0:
        time.sleep(0.02)
    first.kill()
    first.wait()
    partial = object_count(client)
    dvc(alice, "push", "-r", "s3")
    assert "Cache and remote 's3' are in sync" in dvc(alice, "status", "--cloud", "-r", "s3").stdout
    assert 0 < partial < object_count(client)

    # carol reads the credentials from the environment
    git(team["root"], "clone", "-q", str(team["origin"]), str(carol))
    add_s3_remote(carol, endpoint, "-d")
    credentials = {"AWS_ACCESS_KEY_ID": S3_KEY_ID, "AWS_SECRET_ACCESS_KEY": S3_SECRET}
    dvc(carol, "pull", "results", env=credentials)
    assert (carol / RESULTS).read_bytes() == (alice / RESULTS).read_bytes()
    assert tui_prompt_count(carol / RESULTS) == 5


def cached_objects(repo: Path) -> int:
    """Count the file objects in the repository's DVC cache; directory listings are not counted."""
    return sum(1 for path in (repo / ".dvc/cache/files/md5").rglob("*") if path.is_file() and path.suffix != ".dir")


def object_kind(url_path: str) -> str:
    """Classify a GET on a DVC remote: a directory listing, a file object, or anything else."""
    match = re.fullmatch(r"/files/md5/[0-9a-f]{2}/[0-9a-f]{30}(\.dir)?", url_path)
    if not match:
        return "other"
    return "listing" if match.group(1) else "object"


@pytest.fixture
def http_remote(team):
    """Serve the shared remote folder over HTTP on 127.0.0.1 and hold one download.

    Yields the URL and a gate. With ``gate.hold`` set to ("listing", n) or ("object", n),
    the n+1-th GET of a directory listing (a ``.dir`` object) or of a file object sets
    ``gate.waiting`` and waits for ``gate.release``. ``gate.gets`` counts GETs by kind;
    "other" counts DVC's GETs of the remote's folders. Requests for the URL paths in
    ``gate.fail`` get a 500, and ``gate.stop()`` shuts the server down.
    """
    folder = str(team["root"] / "detox-lens-dvc-storage")
    gate = SimpleNamespace(hold=None, gets={"listing": 0, "object": 0, "other": 0}, lock=threading.Lock(),
                           waiting=threading.Event(), release=threading.Event(), fail=set())

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=folder, **kwargs)

        def do_HEAD(self):
            if self.path in gate.fail:
                self.send_error(500, "injected server error")
                return
            super().do_HEAD()

        def do_GET(self):
            if self.path in gate.fail:
                self.send_error(500, "injected server error")
                return
            kind = object_kind(self.path)
            with gate.lock:
                gate.gets[kind] += 1
                is_held = gate.hold is not None and gate.hold == (kind, gate.gets[kind] - 1)
            if is_held:
                gate.waiting.set()
                gate.release.wait(timeout=300)
            try:
                super().do_GET()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client was killed while this request was held

        def log_message(self, format, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stopped = []

    def stop() -> None:
        if not stopped:
            stopped.append(True)
            gate.release.set()
            server.shutdown()
            server.server_close()

    gate.stop = stop
    yield f"http://127.0.0.1:{server.server_port}", gate
    stop()


def kill_pull_at_hold(repo: Path, gate) -> None:
    """Start `dvc pull --jobs 1` in repo and SIGKILL it while the gate delays its request."""
    pull = subprocess.Popen(["dvc", "pull", "--jobs", "1"], cwd=repo, env=dvc_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        assert gate.waiting.wait(timeout=300), f"the pull never reached the held request {gate.hold}"
    finally:
        os.killpg(pull.pid, signal.SIGKILL)
        pull.wait()
    gate.hold = None
    gate.release.set()


def clone_origin(team, name: str) -> Path:
    """Clone the bare origin into a folder `name` beside the other clones."""
    clone = team["root"] / name
    git(team["root"], "clone", "-q", str(team["origin"]), str(clone))
    return clone


def http_clone(team, name: str, url: str) -> Path:
    clone = clone_origin(team, name)
    dvc(clone, "remote", "add", "--local", "-d", "http", url)
    return clone


def object_path(storage: Path, md5: str) -> Path:
    return storage / "files" / "md5" / md5[:2] / md5[2:]


def results_database_md5(storage: Path, repo: Path) -> str:
    """Return the md5 of results.duckdb from the results listing that storage keeps for repo's dvc.lock."""
    listing = json.loads(object_path(storage, locked_output_md5(repo, "results")).read_text())
    return next(entry["md5"] for entry in listing if entry["relpath"] == "results.duckdb")


def locked_output_md5(repo: Path, stage: str) -> str:
    """Return the md5 of the stage's one cached output as dvc.lock records it."""
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    return lock["stages"][stage]["outs"][0]["md5"]


def detox_pull(repo: Path, *args: str) -> subprocess.CompletedProcess:
    """Run the installed detox-pull console script in repo."""
    command = [str(Path(sys.executable).parent / "detox-pull"), *args]
    return subprocess.run(command, cwd=repo, env=dvc_env(), capture_output=True, text=True)


def test_pull_killed_downloading_resumes(team, http_remote):
    url, gate = http_remote
    frank = http_clone(team, "frank", url)

    gate.hold = ("object", 5)
    kill_pull_at_hold(frank, gate)
    cached_after_kill = cached_objects(frank)
    gets_before = gate.gets["object"]
    dvc(frank, "pull")
    rerun_gets = gate.gets["object"] - gets_before

    assert 0 < cached_after_kill <= 5
    assert rerun_gets == cached_objects(frank) - cached_after_kill
    assert "Data and pipelines are up to date" in dvc(frank, "status").stdout
    assert (frank / RESULTS).read_bytes() == (team["alice"] / RESULTS).read_bytes()


def test_pull_killed_listing_resumes(team, http_remote):
    url, gate = http_remote
    heidi = http_clone(team, "heidi", url)

    gate.hold = ("listing", 3)
    kill_pull_at_hold(heidi, gate)
    pull = detox_pull(heidi)

    assert pull.returncode == 0, pull.stderr
    assert "Data and pipelines are up to date" in dvc(heidi, "status").stdout
    assert (heidi / RESULTS).read_bytes() == (team["alice"] / RESULTS).read_bytes()


def test_pull_names_missing_output(team, tmp_path):
    alice, erin = team["alice"], clone_origin(team, "erin")
    storage = tmp_path / "broken-storage"
    shutil.copytree(team["root"] / "detox-lens-dvc-storage", storage)
    dvc(erin, "remote", "add", "--local", "-d", "broken", str(storage))

    # lose one file of the results and the whole listing of the analysis tables
    results_md5 = locked_output_md5(erin, "results")
    database_md5 = results_database_md5(storage, erin)
    object_path(storage, database_md5).unlink()
    analysis_md5 = locked_output_md5(erin, "analyze")
    object_path(storage, analysis_md5).unlink()

    pull = detox_pull(erin)
    message = pull.stderr

    assert pull.returncode != 0
    assert f"2 objects are missing from remote 'broken' ({storage})" in message
    assert "output data/results (stage 'results'):" in message
    assert f"data/results/results.duckdb  md5 {database_md5}" in message
    assert "output data/analysis (stage 'analyze'):" in message
    assert f"data/analysis  md5 {analysis_md5}" in message
    assert f"delete {object_path(storage, results_md5)} from the remote" in message
    assert "dvc push --remote broken analyze results" in message
    assert "`dvc repro analyze results` rebuilds them here" in message
    assert f'(cd "$(dvc cache dir)" && ls files/md5/{database_md5[:2]}/{database_md5[2:]})' in message
    assert "pulling the outputs that are complete" in message
    assert (erin / "data/prepared").is_dir()
    assert (erin / "data/attributions").is_dir()
    assert not (erin / "data/analysis").exists()
    assert not (erin / "data/results").exists()

    # a target inside an output that is also a target lists each file once
    overlapping = detox_pull(erin, "results", "data/results/results.duckdb").stderr
    assert "1 object is missing" in overlapping
    assert overlapping.count("data/results/results.duckdb  md5") == 1

    # alice, whose cache has the objects, follows the advice; then erin's pull completes
    object_path(storage, results_md5).unlink()
    dvc(alice, "remote", "add", "--local", "broken", str(storage))
    dvc(alice, "push", "--remote", "broken", "analyze", "results")
    repaired = detox_pull(erin)
    assert repaired.returncode == 0, repaired.stderr
    assert "Data and pipelines are up to date" in dvc(erin, "status").stdout
    assert (erin / RESULTS).read_bytes() == (alice / RESULTS).read_bytes()


def test_pull_from_missing_remote(team, tmp_path):
    ivan = clone_origin(team, "ivan")
    folder = tmp_path / "no-such-folder"
    dvc(ivan, "remote", "add", "--local", "-d", "nowhere", str(folder))

    for targets in [(), ("results",)]:
        pull = detox_pull(ivan, *targets)

        assert pull.returncode != 0
        assert f"remote 'nowhere' ({folder}) does not exist or is empty" in pull.stderr
        assert "dvc remote modify --local nowhere url URL" in pull.stderr
        assert "missing from remote" not in pull.stderr
        assert "Traceback" not in pull.stderr


def test_pull_from_empty_remote(team, tmp_path):
    kate = clone_origin(team, "kate")
    (tmp_path / "empty/files/md5").mkdir(parents=True)
    dvc(kate, "remote", "add", "--local", "-d", "empty", str(tmp_path / "empty"))

    pull = detox_pull(kate)

    assert pull.returncode != 0
    assert f"remote 'empty' ({tmp_path / 'empty'}) has none of the 10 outputs" in pull.stderr


def test_pull_http_server_error(team, http_remote):
    url, gate = http_remote
    liam = http_clone(team, "liam", url)
    database_md5 = results_database_md5(team["root"] / "detox-lens-dvc-storage", liam)
    gate.fail = {f"/files/md5/{database_md5[:2]}/{database_md5[2:]}"}

    pull = detox_pull(liam, "results")

    assert pull.returncode != 0
    assert f"could not read remote 'http' ({url})" in pull.stderr
    assert "500" in pull.stderr
    assert "delete" not in pull.stderr


def test_pull_http_server_down(team, http_remote):
    url, gate = http_remote
    mia = http_clone(team, "mia", url)
    gate.stop()

    pull = detox_pull(mia, "results")

    assert pull.returncode != 0
    assert f"could not read remote 'http' ({url})" in pull.stderr
    assert "missing from remote" not in pull.stderr


def test_pull_names_unbuilt_output(team):
    nina = clone_origin(team, "nina")
    lock = yaml.safe_load((nina / "dvc.lock").read_text())
    del lock["stages"]["results"]
    (nina / "dvc.lock").write_text(yaml.safe_dump(lock))

    pull = detox_pull(nina)

    assert pull.returncode != 0
    assert "not built yet, so not on any remote: data/results" in pull.stderr


def test_pull_keeps_unsaved_change(team):
    judy = clone_origin(team, "judy")
    dvc(judy, "pull", "results")
    database = judy / RESULTS
    database.chmod(0o644)
    database.write_bytes(database.read_bytes() + b"local edit")

    pull = detox_pull(judy, "results")

    assert pull.returncode != 0
    assert "pulling again" not in pull.stderr
    assert database.read_bytes().endswith(b"local edit")


def test_pull_without_missing_objects(team):
    grace = clone_origin(team, "grace")

    pull = detox_pull(grace, "results")

    assert pull.returncode == 0, pull.stderr
    assert "missing" not in pull.stderr
    assert (grace / RESULTS).read_bytes() == (team["alice"] / RESULTS).read_bytes()
