"""Parquet tables written through their explicit schemas."""

from __future__ import annotations

import pandas as pd
import pytest

from stages.checkpoints import checkpoint_dir, fingerprint
from stages.tables import SCHEMAS, read_table, write_table


def generation(generation_id: str, adapter) -> dict:
    return {"generation_id": generation_id, "prompt_id": "p1", "variant": "PT", "model": "m",
            "adapter": adapter, "text": "hi", "n_tokens": 1, "token_ids": [5]}


def test_all_null_shard_reads_with_others(tmp_path):
    write_table([generation("a", None), generation("b", None)], "generations", tmp_path / "0.parquet")
    write_table([generation("c", "data/models/ft_adapter")], "generations", tmp_path / "1.parquet")

    frame = read_table(tmp_path, "generations")

    assert list(frame["generation_id"]) == ["a", "b", "c"]
    assert frame["adapter"].isna().sum() == 2


def test_schema_mismatch_names_columns(tmp_path):
    row = generation("a", None) | {"extra": 1}
    del row["text"]

    with pytest.raises(ValueError, match=r"missing \['text'\], unexpected \['extra'\]"):
        write_table([row], "generations", tmp_path / "x.parquet")


def test_empty_table_keeps_schema(tmp_path):
    write_table(pd.DataFrame(columns=SCHEMAS["dropped_rows"].names), "dropped_rows", tmp_path / "d.parquet")

    frame = read_table(tmp_path / "d.parquet", "dropped_rows")

    assert list(frame.columns) == ["source", "row", "reason"]
    assert len(frame) == 0


def test_missing_table_names_stage(tmp_path):
    with pytest.raises(FileNotFoundError, match="run the stage that writes it"):
        read_table(tmp_path / "nope.parquet", "scores")


def test_fingerprint_follows_config_and_files(tmp_path):
    data = tmp_path / "data.txt"
    data.write_text("one")
    first = fingerprint({"lr": 1}, [data])

    assert fingerprint({"lr": 1}, [data]) == first
    assert fingerprint({"lr": 2}, [data]) != first
    data.write_text("two")
    assert fingerprint({"lr": 1}, [data]) != first


def test_checkpoint_dir_removes_stale(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    old = checkpoint_dir("generate", "old")
    (old / "PT-00000.parquet").write_text("x")

    new = checkpoint_dir("generate", "new")

    assert not old.exists()
    assert new.is_dir()
    assert checkpoint_dir("generate", "new") == new
