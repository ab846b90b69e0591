"""detox-pull's checks that need no remote: the command line and a missing DVC install.

The remote cases run with real DVC remotes in test_sharing.py.
"""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO

from stages.pull import is_within, pull_command


def test_pull_command_passes_options():
    command = pull_command(["results", "data/analysis"], "team store", 0)

    assert command[1:4] == ["-m", "dvc", "pull"]
    assert command[4:6] == ["results", "data/analysis"]
    assert command[6:] == ["--remote", "team store", "--jobs", "0"]


def test_pull_command_defaults():
    assert pull_command([], None, None)[3:] == ["pull"]


def test_is_within_matches_whole_names():
    assert is_within("/r/data/results/x.duckdb", "/r/data/results")
    assert is_within("/r/data/results", "/r/data/results/")
    assert not is_within("/r/data/results2/x", "/r/data/results")


def test_pull_without_dvc_names_install(tmp_path):
    (tmp_path / ".dvc").mkdir()
    # -S leaves site-packages, and with it DVC, off the import path.
    code = f"import sys; sys.path.insert(0, {str(REPO)!r}); from stages.pull import main; sys.exit(main([]))"

    result = subprocess.run([sys.executable, "-S", "-c", code], cwd=tmp_path, capture_output=True, text=True)

    assert result.returncode == 2
    assert "DVC is not installed" in result.stderr
    assert "pip install dvc" in result.stderr
