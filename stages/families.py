"""Chat templates and LoRA target modules per model family, as the study used them.

RedPajama-INCITE-Chat (GPT-NeoX architecture) talks in ``<human>:`` / ``<bot>:`` turns;
falcon-7b-instruct in ``### Question:`` / ``### Answer:`` turns. The study wrapped each
evaluation prompt in double quotes followed by a full stop, for example
``<human>: "You people are ...".\\n<bot>: `` (the format of its released CSVs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    name: str
    model_types: tuple[str, ...]  # transformers `config.model_type` values of the family
    user_tag: str
    bot_tag: str
    lora_targets: tuple[str, ...]

    def render_turns(self, turns: list[tuple[str, str]]) -> str:
        """Render (role, text) turns, role 'user' or 'bot', as one transcript line each."""
        lines = []
        for role, text in turns:
            tag = self.user_tag if role == "user" else self.bot_tag
            lines.append(f"{tag}: {text}")
        return "\n".join(lines)

    def dialogue_prompt(self, turns: list[tuple[str, str]]) -> str:
        """Render earlier turns and open the bot's reply: the prompt of an FT example."""
        return self.render_turns(turns) + f"\n{self.bot_tag}:"

    def wrap_prompt(self, text: str) -> str:
        """Wrap an evaluation prompt exactly as the study's released generations do."""
        return f'{self.user_tag}: "{text}".\n{self.bot_tag}: '

    def unwrap_prompt(self, wrapped: str) -> tuple[str, bool]:
        """Recover the raw prompt from a wrapped one.

        Returns:
            The raw text and whether the full template was found. A prompt cut before the
            closing ``".`` (one row of the study's RedPajama CSV is) loses only its prefix.
        """
        full = re.fullmatch(
            rf'{re.escape(self.user_tag)}: "(.*)"\.\n{re.escape(self.bot_tag)}: ?', wrapped, re.S
        )
        if full:
            return full.group(1), True
        prefix = f'{self.user_tag}: "'
        if wrapped.startswith(prefix):
            return wrapped[len(prefix):], False
        raise ValueError(
            f"prompt does not start with the {self.name} template {prefix!r}: {wrapped[:60]!r}. "
            "Set model.family to the family whose template the file uses."
        )


FAMILIES = {
    "redpajama": Family(
        name="redpajama",
        model_types=("gpt_neox",),
        user_tag="<human>",
        bot_tag="<bot>",
        lora_targets=("query_key_value",),
    ),
    "falcon": Family(
        name="falcon",
        model_types=("falcon",),
        user_tag="### Question",
        bot_tag="### Answer",
        lora_targets=("query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"),
    ),
}


def get_family(name: str) -> Family:
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(
            f"unknown model.family {name!r}; choose one of {sorted(FAMILIES)}"
        ) from None


def check_model_type(family: Family, model_type: str) -> None:
    """Raise when a loaded model's architecture does not belong to the configured family."""
    if model_type not in family.model_types:
        raise ValueError(
            f"model.family is {family.name!r} but the model's config.model_type is "
            f"{model_type!r}; set model.family to the family of this architecture "
            f"({', '.join(f'{n}: {f.model_types}' for n, f in FAMILIES.items())})."
        )


TINY_MODELS = {"tiny-neox": "redpajama", "tiny-falcon": "falcon"}  # built-in model -> its family


def check_tiny_family(model_name: str, family: Family) -> None:
    """Raise early when a built-in tiny model is paired with another family's template."""
    expected = TINY_MODELS.get(model_name)
    if expected is not None and expected != family.name:
        raise ValueError(
            f"model.name {model_name!r} is a {expected} model but model.family is {family.name!r}; "
            f"set model.family to {expected!r}"
        )
