"""Command line entry point of detox-tui."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from detox_tui.queries import DEFAULT_DATABASE, ResultsError


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
    parser.add_argument(
        "database",
        metavar="DB",
        nargs="?",
        default=str(DEFAULT_DATABASE),
        help=(
            "DuckDB file written by the pipeline's results stage, opened read-only "
            f"(default: {DEFAULT_DATABASE}). Create it with `dvc repro` or download it "
            "with `dvc pull data/results`."
        ),
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv`, open the database and run the app until the user quits.

    Returns:
        The exit status: 0 after a normal exit, 2 when the database cannot be opened.
    """
    args = build_parser().parse_args(argv)
    # Imported after parsing, so that `--help` does not wait for Textual to import.
    from detox_tui.app import DetoxLensApp

    try:
        app = DetoxLensApp(args.database)
    except ResultsError as error:
        print(f"detox-tui: error: {error}", file=sys.stderr)
        return 2
    app.run()
    return app.return_code or 0
