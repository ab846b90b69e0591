"""External generations: replies made elsewhere, read into the generations table.

The generate stage adds every entry of ``generate.external``: a path to a CSV in the
format of the study's released generations (``prompts`` wrapped in a chat template,
``responses``), or ``{path, model, variant, name}``. Without ``model`` and ``variant``,
both come from a file name such as ``measured_tox_PT_<model>.csv`` (variant PT, FT or RL).

An external generation has ``generation_id`` ``<name>:<row>``, where ``name`` defaults to
the file stem and row is the 0-based CSV row. Its ``prompt_id`` is that of the prepared
prompt with the same text, else ``x`` and a hash of the prompt text. It has no adapter,
``n_tokens`` 0 and NULL ``token_ids``, because its tokens were never seen, so the attribute
stage has nothing to force-decode.
Every row is kept, including empty responses.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

import pandas as pd

from stages.families import FAMILIES
from stages.tables import VARIANTS

log = logging.getLogger("stages.external")

FILE_NAME = re.compile(r"measured_tox_(?P<variant>PT|FT|RL)_(?P<model>.+)$")


def entry_settings(entry: str | dict) -> dict:
    """Path, model, variant and name of one ``generate.external`` entry."""
    spec = {"path": entry} if isinstance(entry, str) else dict(entry)
    path = Path(spec["path"])
    match = FILE_NAME.search(path.stem)
    for key in ("variant", "model"):
        if not spec.get(key):
            if not match:
                raise ValueError(f"generate.external: cannot read the {key} of {path} from its name "
                                 f"(expected measured_tox_<PT|FT|RL>_<model>.csv); give it as {{path, {key}}}")
            spec[key] = match.group(key)
    if spec["variant"] not in VARIANTS:
        raise ValueError(f"generate.external: variant {spec['variant']!r} of {path} is not one of {VARIANTS}")
    spec.setdefault("name", path.stem)
    return spec


def unwrap(wrapped: str) -> str:
    """Return the raw prompt of a wrapped one, whichever family's template wraps it."""
    for family in FAMILIES.values():
        try:
            return family.unwrap_prompt(wrapped)[0]
        except ValueError:
            continue
    return wrapped  # no known template: the prompt is taken as written


def prompt_id_of(text: str, known: dict[str, str]) -> str:
    return known.get(text) or "x" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]


def external_generations(entry: str | dict, prompts: pd.DataFrame) -> pd.DataFrame:
    """Rows of the generations table for one external CSV, one per CSV row."""
    spec = entry_settings(entry)
    path = Path(spec["path"])
    if not path.is_file():
        raise FileNotFoundError(f"generate.external: {path} not found")
    frame = pd.read_csv(path, keep_default_na=False)  # rows hold embedded newlines and quotes
    missing = {"prompts", "responses"} - set(frame.columns)
    if missing:
        raise ValueError(f"{path}: missing columns {sorted(missing)}; expected the study's generations CSV")

    known = dict(zip(prompts["text"], prompts["prompt_id"]))
    prompt_ids = [prompt_id_of(unwrap(p), known) for p in frame["prompts"]]
    rows = pd.DataFrame({
        "generation_id": [f"{spec['name']}:{row:06d}" for row in range(len(frame))],
        "prompt_id": prompt_ids, "variant": spec["variant"], "model": spec["model"], "adapter": None,
        "text": frame["responses"].astype(str), "n_tokens": 0, "token_ids": None,
    })
    prepared = set(known.values())
    n_matched = sum(p in prepared for p in prompt_ids)
    log.info("external %s: %d generations (variant %s, model %s), %d with a prepared prompt",
             path.name, len(rows), spec["variant"], spec["model"], n_matched)
    return rows


def add_external(generations: pd.DataFrame, entries: list, prompts: pd.DataFrame) -> pd.DataFrame:
    """Append every external entry's rows to the generations; a duplicate id raises."""
    if not entries:
        return generations
    combined = pd.concat([generations, *(external_generations(e, prompts) for e in entries)], ignore_index=True)
    duplicated = combined["generation_id"][combined["generation_id"].duplicated()]
    if len(duplicated):
        raise ValueError(f"generate.external: generation ids occur twice, e.g. {duplicated.iloc[0]!r}; "
                         "give each entry its own name")
    return combined
