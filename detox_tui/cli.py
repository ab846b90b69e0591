"""Command line entry point of detox-tui."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from detox_tui.queries import DEFAULT_DATABASE, ResultsError, ResultsQueryError


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of `detox-tui`."""
    parser = argparse.ArgumentParser(
        prog="detox-tui",
        description=(
            "Browse the detox-lens results database in the terminal: prompts with the "
            "toxicity of their PT, FT and RL generations, the attribution of every "
            "generated token to the earlier tokens, entropy curves with spikes, and scores. "
            "Press ? in the app for the key bindings."
        ),
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "database",
        metavar="DB",
        nargs="?",
        help=(
            "DuckDB file written by the pipeline's results stage, opened read-only. "
            f"Default: {DEFAULT_DATABASE} of the DVC workspace at or above the working "
            "folder, or, while `dvc repro` rebuilds it, the version that dvc.lock records "
            "in the DVC cache."
        ),
    )
    source.add_argument(
        "--experiment",
        metavar="NAME",
        help=(
            "open the results of a DVC experiment (a name that `dvc exp show` lists) or "
            "of a git revision, from the local DVC cache"
        ),
    )
    parser.add_argument(
        "--export-dir",
        metavar="DIR",
        type=Path,
        default=Path.cwd(),
        help="folder of the CSV and SVG files that `e` writes (default: the working folder)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv`, open the database and run the app until the user quits.

    Returns:
        The exit status: 0 after a normal exit, 2 when the database cannot be located or
        opened.
    """
    args = build_parser().parse_args(argv)
    # Imported after parsing, so that `--help` does not wait for Textual to import.
    from detox_tui.app import DetoxLensApp
    from detox_tui.workspace import locate_cached_results

    try:
        path, origin = locate(args.database, args.experiment)
        try:
            app = DetoxLensApp(path, origin=origin, export_dir=args.export_dir)
        except ResultsQueryError:
            if origin != "workspace":
                raise
            # Another process holds DuckDB's write lock on the workspace file, so open
            # the last version that dvc.lock records in the DVC cache.
            cached = locate_cached_results()
            app = DetoxLensApp(cached.path, origin=cached.origin, export_dir=args.export_dir)
    except ResultsError as error:
        print(f"detox-tui: error: {error}", file=sys.stderr)
        return 2
    app.run()
    return app.return_code or 0


def locate(database: str | None, experiment: str | None) -> tuple[Path, str | None]:
    """Return the path of the results file to open and how it was found.

    Raises:
        ResultsError: The workspace, experiment or file cannot be found.
    """
    from detox_tui.workspace import locate_experiment_results, locate_workspace_results

    if database is not None:
        return Path(database), None
    if experiment is not None:
        location = locate_experiment_results(experiment)
    else:
        location = locate_workspace_results()
    return location.path, location.origin
