"""Time `dvc repro` of the default profile from scratch, stage by stage, in a temporary copy.

Run from the repository root: ``python benchmarks/repro_time.py``. Prints the seconds of
each stage, the total, its ratio to the 10-minute budget of the default profile, and the
time of a second `dvc repro` (which must run nothing).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
BUDGET_SECONDS = 600


def copy_repository(target: Path) -> None:
    names = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                           cwd=REPO, capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, names):
        if (REPO / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, target / name)
    (target / "dvc.lock").unlink(missing_ok=True)
    subprocess.run(["git", "init", "-q"], cwd=target, check=True)


def timed(command: list[str], cwd: Path) -> float:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    stages = list(yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"])
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        copy_repository(work)
        seconds = {stage: timed(["dvc", "repro", "--single-item", stage], work) for stage in stages}
        total = sum(seconds.values())
        noop = timed(["dvc", "repro"], work)

    for stage, value in seconds.items():
        print(f"{stage:12s} {value:7.1f} s")
    print(f"{'total':12s} {total:7.1f} s  ratio to the {BUDGET_SECONDS} s budget: {total / BUDGET_SECONDS:.2f}")
    print(f"second dvc repro (nothing to run): {noop:.1f} s")


if __name__ == "__main__":
    main()
