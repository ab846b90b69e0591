"""Run the TUI with `python -m detox_tui [DB]`."""

from __future__ import annotations

from detox_tui.cli import main

raise SystemExit(main())
