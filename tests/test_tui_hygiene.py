"""Import rules of detox_tui and the command line errors, checked in fresh interpreters."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from detox_tui.cli import main

REPO_ROOT = Path(__file__).resolve().parents[1]


def run_python(*args: str) -> subprocess.CompletedProcess[str]:
    """Run a fresh Python in the repository root and capture its output."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_tui_imports_no_pipeline_or_torch() -> None:
    code = (
        "import detox_tui, detox_tui.app, detox_tui.cli, detox_tui.workspace, sys; "
        "heavy = {'torch','transformers','inseq','stages','dvc','matplotlib'}; "
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in heavy); "
        "assert not loaded, loaded"
    )
    result = run_python("-c", code)
    assert result.returncode == 0, result.stderr


def test_query_layer_imports_no_textual() -> None:
    code = "import detox_tui.queries, sys; assert 'textual' not in sys.modules"
    result = run_python("-c", code)
    assert result.returncode == 0, result.stderr


def test_workspace_and_export_import_no_textual() -> None:
    code = "import detox_tui.workspace, detox_tui.export, sys; assert 'textual' not in sys.modules"
    result = run_python("-c", code)
    assert result.returncode == 0, result.stderr


def test_rendering_imports_no_textual() -> None:
    code = "import detox_tui.rendering, sys; assert 'textual' not in sys.modules"
    result = run_python("-c", code)
    assert result.returncode == 0, result.stderr


def test_cli_missing_database_exits_2(tmp_path: Path) -> None:
    missing = tmp_path / "results.duckdb"
    result = run_python("-m", "detox_tui", str(missing))
    assert result.returncode == 2
    assert str(missing) in result.stderr
    assert "dvc repro" in result.stderr
    assert "dvc pull data/results" in result.stderr
    assert result.stdout == ""


def test_cli_main_returns_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "absent.duckdb"
    assert main([str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err


def test_cli_default_database_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main([]) == 2
    assert "data/results/results.duckdb" in capsys.readouterr().err


def test_cli_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--help"])
    assert caught.value.code == 0
    help_text = capsys.readouterr().out
    assert "detox-tui" in help_text
    assert "data/results/results.duckdb" in help_text
    assert "read-only" in help_text
