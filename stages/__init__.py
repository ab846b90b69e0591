"""detox-lens pipeline: one module per DVC stage, plus the helpers they share.

Each stage runs as ``python -m stages.<name>`` from the repository root and reads its
own section of ``params.yaml`` (plus ``base``). See ``dvc.yaml`` for the graph.
"""
