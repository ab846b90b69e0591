"""detox-tui: a terminal browser of the detox-lens results database.

The package root imports nothing, so that `detox_tui.queries` can be imported
without Textual. Start the app with `detox-tui [DB]` or `python -m detox_tui [DB]`.
"""
