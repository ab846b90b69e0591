"""Perspective API client (``comments:analyze``, v1alpha1) as a scorer.

The key is read only from the ``PERSPECTIVE_API_KEY`` environment variable and never
logged: every URL in a log line or error is masked. Settings are ``scoring.perspective``
in params.yaml. Each text is one request, sent at most ``qps`` times per second, retried
with exponential backoff (or the server's ``Retry-After``) on 429, 5xx and timeouts.
The text's score is the summary score; span scores are kept beside it.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import time
import urllib.error
import urllib.request
from typing import Sequence

from stages.perspective_wire import MAX_TEXT_BYTES, error_type, mask, parse_scores, request_body, truncate
from stages.scorers import ATTRIBUTES, EMPTY_TEXT, Score, unscored

log = logging.getLogger("stages.perspective")

ENDPOINT = "https://commentanalyzer.googleapis.com/v1alpha1/comments:analyze"
KEY_VARIABLE = "PERSPECTIVE_API_KEY"
DEFAULTS = {"endpoint": ENDPOINT, "attributes": list(ATTRIBUTES), "languages": ["en"],
            "span_annotations": True, "do_not_store": True, "qps": 1.0, "timeout_s": 30.0,
            "max_retries": 6, "backoff_s": 1.0, "cache_only": False}
RETIRED = ("the Perspective API returned HTTP {code} at {url}: the service is retired or the endpoint "
           "is wrong. Scores obtained so far are kept in the score cache (data/score_cache/); set "
           "scoring.perspective.cache_only: true to use cached and archived Perspective scores, and "
           "score new texts with the offline scorers (offline, hf).")


class PerspectiveError(RuntimeError):
    """A failure that stops the run: a rejected key or a retired service."""


def retry_after(error: urllib.error.HTTPError) -> float | None:
    value = error.headers.get("Retry-After") if error.headers else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:  # an HTTP date: fall back to the exponential backoff
        return None


class PerspectiveScorer:
    name = "perspective"
    version = "comments:analyze v1alpha1"
    batch_size = 1  # one request per text, cached as soon as its response arrives

    def __init__(self, settings: dict) -> None:
        unknown = set(settings) - set(DEFAULTS)
        if unknown:
            raise ValueError(f"unknown scoring.perspective settings {sorted(unknown)}; known: {sorted(DEFAULTS)}")
        self.settings = {**DEFAULTS, **settings}
        self.attributes = tuple(self.settings["attributes"])
        self.cache_only = bool(self.settings["cache_only"])
        self._last_request = 0.0

    def score(self, texts: Sequence[str]) -> list[list[Score]]:
        return [self.score_text(text) for text in texts]

    def score_text(self, text: str) -> list[Score]:
        if not text.strip():
            return unscored(self.attributes, EMPTY_TEXT)
        sent, truncated = truncate(text)
        note = f"text truncated to {MAX_TEXT_BYTES} bytes at a UTF-8 character boundary" if truncated else None
        return self._post(request_body(sent, self.settings), note)

    def _url(self) -> tuple[str, str]:
        key = os.environ.get(KEY_VARIABLE, "")
        if not key:
            raise PerspectiveError(
                f"{KEY_VARIABLE} is not set; export it, or set scoring.perspective.cache_only: true "
                "to use only cached and archived Perspective scores")
        endpoint = self.settings["endpoint"]
        return f"{endpoint}{'&' if '?' in endpoint else '?'}key={key}", mask(f"{endpoint}?key=x")

    def _wait_for_rate_limit(self) -> None:
        interval = 1.0 / float(self.settings["qps"])
        delay = self._last_request + interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        self._last_request = time.monotonic()

    def _post(self, body: dict, note: str | None) -> list[Score]:
        url, masked_url = self._url()
        data = json.dumps(body).encode("utf-8")
        attempts = int(self.settings["max_retries"]) + 1
        failure = ""
        for attempt in range(attempts):
            self._wait_for_rate_limit()
            request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
            delay = float(self.settings["backoff_s"]) * 2 ** attempt
            try:
                with urllib.request.urlopen(request, timeout=float(self.settings["timeout_s"])) as response:
                    return parse_scores(json.loads(response.read()), self.attributes, note)
            except urllib.error.HTTPError as error:
                payload = error.read()
                if error.code in (401, 403):
                    raise PerspectiveError(
                        f"the Perspective API rejected the key (HTTP {error.code}) at {masked_url}; "
                        f"check {KEY_VARIABLE} and that the key has the Comment Analyzer API enabled") from None
                if error.code in (404, 410):
                    raise PerspectiveError(RETIRED.format(code=error.code, url=masked_url)) from None
                if error.code == 429 or error.code >= 500:
                    delay = retry_after(error) if retry_after(error) is not None else delay
                    failure = f"HTTP {error.code}"
                else:
                    kind, message = error_type(payload)
                    log.warning("Perspective rejected a text (HTTP %d, %s): %s",
                                error.code, kind or "no errorType", message)
                    return unscored(self.attributes, f"rejected by Perspective: {kind or error.code} ({message})")
            except (TimeoutError, urllib.error.URLError, ConnectionError, http.client.HTTPException) as error:
                failure = f"no response ({getattr(error, 'reason', error)})"
            except json.JSONDecodeError:
                failure = "invalid JSON in the response"
            if attempt + 1 < attempts:
                log.warning("Perspective request to %s failed: %s; retry %d of %d in %.2f s",
                            masked_url, failure, attempt + 1, attempts - 1, delay)
                time.sleep(delay)
        log.error("Perspective request to %s failed %d times, last: %s; the text stays unscored",
                  masked_url, attempts, failure)
        return unscored(self.attributes, f"Perspective failed {attempts} times, last: {failure}", cacheable=False)
