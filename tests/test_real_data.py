"""The real data: DIALOCONAN and the study's released generations, read from ../shared/data."""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import shared_file
from stages.dialogues import prepare_dialogues
from stages.families import get_family
from stages.prompt_sources import load_prompts

pytestmark = pytest.mark.real_data

STUDY_CSVS = [
    ("paper_generations/measured_tox_PT_RedPajama-INCITE-Chat-3B-v1.csv", "redpajama"),
    ("paper_generations/measured_tox_FT_RedPajama-INCITE-Chat-3B-v1-FT-LoRA-8bit-test1.csv", "redpajama"),
    ("paper_generations/CONAN_measured_tox_PT_falcon-7b-instruct.csv", "falcon"),
]


def test_dialoconan_every_row_accounted_for():
    path = shared_file("dialoconan/DIALOCONAN.csv")
    frame = pd.read_csv(path)

    examples, rl_prompts, dropped, counts = prepare_dialogues(frame, get_family("redpajama"), 0, 0, str(path))

    assert counts["rows"] == len(frame)
    assert counts["turns_used"] + len(dropped) == len(frame)
    assert counts["dialogues"] == frame["dialogue_id"].nunique()
    turns_used = frame.drop(index=[d["row"] for d in dropped])
    assert len(rl_prompts) == (turns_used["type"] == "HS").sum()
    assert len(examples) == len(rl_prompts) - counts["hs_turns_without_reply"]
    assert all(e["prompt"].startswith("<human>: ") and e["prompt"].endswith("\n<bot>:") for e in examples)


@pytest.mark.parametrize(("relative", "family"), STUDY_CSVS)
def test_study_csv_unwraps_every_prompt(relative, family):
    path = shared_file(relative)
    frame = pd.read_csv(path)

    prompts, dropped = load_prompts(str(path), "train", get_family(family), 0.5)

    assert len(prompts) + len(dropped) == len(frame)
    assert dropped == []
    rewrapped = sum(p["prompt"] == original for p, original in zip(prompts, frame["prompts"]))
    incomplete = sum(not p["template_complete"] for p in prompts)
    # every prompt whose template is complete wraps back to the study's exact string
    assert rewrapped == len(prompts) - incomplete
    assert incomplete <= 1
