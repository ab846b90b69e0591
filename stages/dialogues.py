"""DIALOCONAN dialogues to fine-tuning examples and RL prompts.

A DIALOCONAN dialogue alternates hate-speech (``HS``) and counter-narrative (``CN``)
turns. As in the study, every HS turn followed by a CN reply becomes one fine-tuning
example: the prompt is all earlier turns plus the HS turn in the chat template, the
completion is the reply. Every HS turn (replied or not) with its antecedents is an RL
prompt. Nothing is dropped silently: each row left out is returned with its reason.
"""

from __future__ import annotations

import logging

import pandas as pd

from stages.families import Family

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("text", "dialogue_id", "turn_id", "type")
OPTIONAL_COLUMNS = {"TARGET": "UNKNOWN", "source": "unknown"}


def check_columns(frame: pd.DataFrame, source: str) -> list[str]:
    """Raise when a required column is missing; return the optional ones that are."""
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{source}: missing DIALOCONAN column(s) {missing}; found {list(frame.columns)}. "
            f"The file needs a header with {list(REQUIRED_COLUMNS)} (TARGET and source optional)."
        )
    return [c for c in OPTIONAL_COLUMNS if c not in frame.columns]


def clean_turns(frame: pd.DataFrame, source: str) -> tuple[pd.DataFrame, list[dict]]:
    """Keep well-formed turns in dialogue order; return them and the dropped rows."""
    frame = frame.reset_index(drop=True).assign(row=lambda f: f.index.astype("int64"))
    dropped: list[dict] = []

    def drop(mask: pd.Series, reason: str) -> None:
        dropped.extend({"source": source, "row": int(r), "reason": reason} for r in frame.loc[mask, "row"])

    ids = frame[["dialogue_id", "turn_id"]].apply(pd.to_numeric, errors="coerce")
    bad_ids = ids.isna().any(axis=1)
    drop(bad_ids, "missing or non-numeric dialogue_id or turn_id")
    frame = frame.assign(dialogue_id=ids["dialogue_id"], turn_id=ids["turn_id"])[~bad_ids]

    turn_type = frame["type"].astype("string").str.strip().str.upper()
    bad_type = ~turn_type.isin(["HS", "CN"])
    drop(bad_type, "type is neither HS nor CN")
    frame = frame.assign(type=turn_type)[~bad_type]

    text = frame["text"].astype("string").fillna("").str.strip()
    empty = text == ""
    drop(empty, "empty turn text")
    frame = frame.assign(text=text)[~empty]

    duplicate = frame.duplicated(["dialogue_id", "turn_id"], keep="first")
    drop(duplicate, "duplicate (dialogue_id, turn_id)")
    frame = frame[~duplicate].astype({"dialogue_id": "int64", "turn_id": "int64"})
    return frame.sort_values(["dialogue_id", "turn_id"]), dropped


def build_examples(turns: pd.DataFrame, family: Family) -> tuple[list[dict], list[dict], dict]:
    """Build FT examples and RL prompts from cleaned turns.

    Returns:
        (ft_examples, rl_prompts, counts) where counts has the number of dialogues, of
        those ending on a hate-speech turn, and of HS turns left without a reply.
    """
    examples, rl_prompts = [], []
    counts = {"dialogues": 0, "dialogues_ending_on_hs": 0, "hs_turns_without_reply": 0}

    for dialogue_id, dialogue in turns.groupby("dialogue_id", sort=True):
        counts["dialogues"] += 1
        rows = dialogue.to_dict("records")
        history: list[tuple[str, str]] = []
        for i, turn in enumerate(rows):
            role = "user" if turn["type"] == "HS" else "bot"
            if role == "user":
                prompt = family.dialogue_prompt(history + [("user", turn["text"])])
                rl_prompts.append({
                    "dialogue_id": dialogue_id, "turn_id": turn["turn_id"],
                    "target": turn["TARGET"], "prompt": prompt,
                })
                reply = rows[i + 1] if i + 1 < len(rows) else None
                if reply is not None and reply["type"] == "CN":
                    examples.append({
                        "dialogue_id": dialogue_id, "turn_id": reply["turn_id"],
                        "target": turn["TARGET"], "n_context_turns": len(history) + 1,
                        "prompt": prompt, "completion": " " + reply["text"],
                    })
                else:
                    counts["hs_turns_without_reply"] += 1
            history.append((role, turn["text"]))
        if rows and rows[-1]["type"] == "HS":
            counts["dialogues_ending_on_hs"] += 1
    return examples, rl_prompts, counts


def sample_dialogues(frame: pd.DataFrame, n: int, seed: int, source: str) -> tuple[pd.DataFrame, list[dict]]:
    """Keep n dialogues chosen at random with the seed (all when n is 0)."""
    ids = pd.Series(frame["dialogue_id"].unique())
    if n <= 0 or n >= len(ids):
        return frame, []
    keep = set(ids.sample(n=n, random_state=seed))
    mask = frame["dialogue_id"].isin(keep)
    dropped = [{"source": source, "row": int(r), "reason": "dialogue not sampled (data.n_dialogues)"}
               for r in frame.loc[~mask, "row"]]
    return frame[mask], dropped


def prepare_dialogues(frame: pd.DataFrame, family: Family, n_dialogues: int, seed: int,
                      source: str) -> tuple[list[dict], list[dict], list[dict], dict]:
    """Run every step: column check, cleaning, sampling, example building.

    Returns:
        (ft_examples, rl_prompts, dropped_rows, counts)
    """
    missing_optional = check_columns(frame, source)
    frame = frame.assign(**{c: OPTIONAL_COLUMNS[c] for c in missing_optional})
    frame = frame.assign(TARGET=frame["TARGET"].fillna(OPTIONAL_COLUMNS["TARGET"]))
    n_rows = len(frame)

    turns, dropped = clean_turns(frame, source)
    turns, not_sampled = sample_dialogues(turns, n_dialogues, seed, source)
    examples, rl_prompts, counts = build_examples(turns, family)

    counts.update({
        "rows": n_rows,
        "turns_used": len(turns),
        "rows_dropped": len(dropped),
        "rows_not_sampled": len(not_sampled),
        "missing_optional_columns": missing_optional,
        "ft_examples": len(examples),
        "rl_prompts": len(rl_prompts),
    })
    if missing_optional:
        log.warning("%s has no column(s) %s; filled with defaults", source, missing_optional)
    return examples, rl_prompts, dropped + not_sampled, counts
