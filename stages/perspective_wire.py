"""The Perspective API's wire format: request bodies, responses, errors and key masking.

Request: ``POST {endpoint}?key=KEY`` with ``comment.text``, ``requestedAttributes``,
``languages``, ``spanAnnotations`` and ``doNotStore``. Response: ``attributeScores`` with a
``summaryScore`` and ``spanScores`` (character offsets) per attribute. Errors:
``error.details[].errorType``, e.g. ``LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE``.
"""

from __future__ import annotations

import json
import re
from typing import Sequence

from stages.scorers import Score

MAX_TEXT_BYTES = 20_480  # the API rejects longer comments


def mask(url: str) -> str:
    """Replace the value of the URL's ``key`` query parameter with ***."""
    return re.sub(r"([?&]key=)[^&#]*", r"\1***", url)


def truncate(text: str) -> tuple[str, bool]:
    """Cut text to the API's byte limit at a UTF-8 character boundary; return (text, truncated)."""
    encoded = text.encode("utf-8")
    if len(encoded) <= MAX_TEXT_BYTES:
        return text, False
    return encoded[:MAX_TEXT_BYTES].decode("utf-8", errors="ignore"), True


def request_body(text: str, settings: dict) -> dict:
    return {"comment": {"text": text}, "requestedAttributes": {a: {} for a in settings["attributes"]},
            "languages": settings["languages"], "spanAnnotations": settings["span_annotations"],
            "doNotStore": settings["do_not_store"]}


def parse_scores(response: dict, attributes: Sequence[str], note: str | None) -> list[Score]:
    """Summary score and span scores of each requested attribute; NULL where the response has none."""
    scores = []
    for attribute in attributes:
        found = response.get("attributeScores", {}).get(attribute)
        if found is None:
            scores.append(Score(attribute, None, "attribute missing from the Perspective response"))
            continue
        spans = tuple((s["begin"], s["end"], float(s["score"]["value"])) for s in found.get("spanScores", []))
        scores.append(Score(attribute, float(found["summaryScore"]["value"]), note, spans))
    return scores


def error_type(body: bytes) -> tuple[str, str]:
    """(errorType, message) of a Perspective error response; empty strings if absent."""
    try:
        error = json.loads(body)["error"]
    except (ValueError, KeyError, TypeError):
        return "", body[:200].decode("utf-8", errors="replace")
    types = [d.get("errorType", "") for d in error.get("details", []) if isinstance(d, dict)]
    return next((t for t in types if t), ""), str(error.get("message", ""))
