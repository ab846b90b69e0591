"""DIALOCONAN preparation: templates, antecedents, unreplied turns, bad rows."""

from __future__ import annotations

import pandas as pd
import pytest

from stages.dialogues import prepare_dialogues
from stages.families import get_family


def turns(*rows):
    return pd.DataFrame(rows, columns=["text", "TARGET", "dialogue_id", "turn_id", "type", "source"])


@pytest.fixture
def dialogues() -> pd.DataFrame:
    return turns(
        ("They ruin everything.", "MIGRANTS", 0, 0, "HS", "s"),
        ("Most of them work and pay taxes.", "MIGRANTS", 0, 1, "CN", "s"),
        ("Still, they take our jobs.", "MIGRANTS", 0, 2, "HS", "s"),
        ("Jobs are created too: newcomers start businesses.", "MIGRANTS", 0, 3, "CN", "s"),
        # dialogue 1 ends on hate speech
        ("Women cannot lead.", "WOMEN", 1, 0, "HS", "s"),
        ("Many countries are led well by women.", "WOMEN", 1, 1, "CN", "s"),
        ("I still say they cannot.", "WOMEN", 1, 2, "HS", "s"),
    )


def test_redpajama_example_has_all_antecedents(dialogues):
    examples, _, _, _ = prepare_dialogues(dialogues, get_family("redpajama"), 0, 0, "test")

    second = [e for e in examples if e["dialogue_id"] == 0 and e["turn_id"] == 3][0]
    assert second["prompt"] == (
        "<human>: They ruin everything.\n"
        "<bot>: Most of them work and pay taxes.\n"
        "<human>: Still, they take our jobs.\n"
        "<bot>:"
    )
    assert second["completion"] == " Jobs are created too: newcomers start businesses."
    assert second["n_context_turns"] == 3


def test_falcon_template(dialogues):
    examples, _, _, _ = prepare_dialogues(dialogues, get_family("falcon"), 0, 0, "test")

    assert examples[0]["prompt"] == "### Question: They ruin everything.\n### Answer:"


def test_dialogue_ending_on_hate_speech(dialogues):
    examples, rl_prompts, dropped, counts = prepare_dialogues(dialogues, get_family("redpajama"), 0, 0, "test")

    assert len(examples) == 3  # the last HS turn of dialogue 1 has no reply
    assert len(rl_prompts) == 4  # but it is still an RL prompt
    assert rl_prompts[-1]["prompt"].endswith("<human>: I still say they cannot.\n<bot>:")
    assert counts["dialogues_ending_on_hs"] == 1
    assert counts["hs_turns_without_reply"] == 1
    assert dropped == []


def test_empty_turn_dropped_and_recorded(dialogues):
    dialogues.loc[1, "text"] = "   "

    examples, _, dropped, counts = prepare_dialogues(dialogues, get_family("redpajama"), 0, 0, "test")

    assert dropped == [{"source": "test", "row": 1, "reason": "empty turn text"}]
    assert counts["rows"] == 7
    assert counts["turns_used"] == 6
    # the first HS turn lost its reply; the second keeps both earlier turns
    assert [e["turn_id"] for e in examples if e["dialogue_id"] == 0] == [3]


def test_bad_rows_recorded_with_reason(dialogues):
    dialogues.loc[2, "type"] = "XX"
    dialogues.loc[4, "turn_id"] = None

    _, _, dropped, counts = prepare_dialogues(dialogues, get_family("redpajama"), 0, 0, "test")

    reasons = {d["row"]: d["reason"] for d in dropped}
    assert reasons == {4: "missing or non-numeric dialogue_id or turn_id", 2: "type is neither HS nor CN"}
    assert counts["turns_used"] + counts["rows_dropped"] == counts["rows"]


def test_missing_required_column_names_it(dialogues):
    with pytest.raises(ValueError, match=r"missing DIALOCONAN column\(s\) \['type'\]"):
        prepare_dialogues(dialogues.drop(columns="type"), get_family("redpajama"), 0, 0, "test")


def test_missing_optional_column_is_counted(dialogues):
    examples, _, _, counts = prepare_dialogues(
        dialogues.drop(columns=["TARGET", "source"]), get_family("redpajama"), 0, 0, "test"
    )

    assert counts["missing_optional_columns"] == ["TARGET", "source"]
    assert {e["target"] for e in examples} == {"UNKNOWN"}


def test_sampling_records_left_out_rows(dialogues):
    _, _, dropped, counts = prepare_dialogues(dialogues, get_family("redpajama"), 1, 0, "test")

    assert counts["dialogues"] == 1
    assert counts["turns_used"] + counts["rows_not_sampled"] == 7
    assert all(d["reason"] == "dialogue not sampled (data.n_dialogues)" for d in dropped)
