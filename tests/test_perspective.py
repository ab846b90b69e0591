"""Perspective client against a loopback server that speaks the API's wire format.

The server (``FakePerspective``) serves ``comments:analyze`` on 127.0.0.1 and injects
faults per text: a text containing a plan's marker gets that plan's responses in turn
(429 with Retry-After, 500, a timeout, a 400 language error, a request left hanging).
It counts requests and 200 responses per text hash, so a text sent twice is seen.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
import time
import urllib.parse
from collections import Counter

import pytest

from conftest import shared_file
from stages.perspective import PerspectiveError, PerspectiveScorer
from stages.perspective_wire import MAX_TEXT_BYTES, mask, truncate

KEY = "test-key-5f1d9c0e7a"
LANGUAGE_ERROR = {"error": {"code": 400, "message": "Attribute TOXICITY does not support request languages: fr",
                            "status": "INVALID_ARGUMENT", "details": [{
                                "@type": "type.googleapis.com/google.commentanalyzer.v1alpha1.Error",
                                "errorType": "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE",
                                "languageNotSupportedByAttributeError": {"detectedLanguages": ["fr"],
                                                                         "attribute": "TOXICITY"}}]}}


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def fake_value(text: str) -> float:
    """Return the score the server gives a text, derived from its hash."""
    return int(digest(text)[:4], 16) / 0xFFFF


class FakePerspective:
    """Loopback Perspective server; ``plans`` maps a text marker to the responses it gets in turn."""

    def __init__(self, plans: dict[str, list[str]] | None = None, timeout_s: float = 0.5) -> None:
        self.plans = plans or {}
        self.timeout_s = timeout_s
        self.retired = False
        self.responses: dict[str, dict] = {}   # text -> a canned response body (real responses)
        self.requests: Counter = Counter()     # text hash -> requests received
        self.answered: Counter = Counter()     # text hash -> 200 responses sent
        self.times: dict[str, list[float]] = {}
        self.bodies: list[dict] = []
        self.keys: set[str] = set()
        self.hanging = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1alpha1/comments:analyze"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def action(self, text: str, attempt: int) -> str:
        if self.retired:
            return "410"
        for marker, steps in self.plans.items():
            if marker in text:
                return steps[min(attempt, len(steps) - 1)]
        return "ok"

    def ok_body(self, body: dict) -> dict:
        text = body["comment"]["text"]
        if text in self.responses:
            return self.responses[text]
        value = fake_value(text)
        return {"attributeScores": {a: {"spanScores": [{"begin": 0, "end": len(text),
                                                        "score": {"value": value, "type": "PROBABILITY"}}],
                                        "summaryScore": {"value": value, "type": "PROBABILITY"}}
                                    for a in body["requestedAttributes"]},
                "languages": body.get("languages", ["en"]), "detectedLanguages": ["en"]}

    def _handler(self):
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                key = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query).get("key", [""])[0]
                text = body["comment"]["text"]
                with fake._lock:
                    fake.keys.add(key)
                    fake.bodies.append(body)
                    attempt = fake.requests[digest(text)]
                    fake.requests[digest(text)] += 1
                    fake.times.setdefault(digest(text), []).append(time.monotonic())
                if key != KEY:
                    return self.reply(403, {"error": {"code": 403, "message": "API key not valid."}})
                action = fake.action(text, attempt)
                if action == "hang":
                    fake.hanging.set()
                    fake.release.wait(30)
                    return
                if action == "timeout":  # no response before the client's timeout, then none at all
                    time.sleep(fake.timeout_s + 0.2)
                    return
                if action == "429":
                    return self.reply(429, {"error": {"code": 429, "message": "Quota exceeded."}}, {"Retry-After": "1"})
                if action in ("500", "410"):
                    return self.reply(int(action), {"error": {"code": int(action), "message": "unavailable"}})
                if action == "lang":
                    return self.reply(400, LANGUAGE_ERROR)
                with fake._lock:
                    fake.answered[digest(text)] += 1
                self.reply(200, fake.ok_body(body))

            def reply(self, code: int, payload: dict, headers: dict | None = None) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(code)
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                    pass

        return Handler


@pytest.fixture
def fake():
    server = FakePerspective()
    yield server
    server.close()


@pytest.fixture
def api_key(monkeypatch):
    monkeypatch.setenv("PERSPECTIVE_API_KEY", KEY)


def scorer_for(fake: FakePerspective, **settings) -> PerspectiveScorer:
    return PerspectiveScorer({"endpoint": fake.url, "qps": 1000, "timeout_s": fake.timeout_s,
                              "backoff_s": 0.01, "max_retries": 2, **settings})


def test_request_wire_format(fake, api_key):
    scores = scorer_for(fake).score(["you are all idiots"])[0]

    body = fake.bodies[0]
    assert body["comment"] == {"text": "you are all idiots"}
    assert set(body["requestedAttributes"]) == {"TOXICITY", "SEVERE_TOXICITY", "IDENTITY_ATTACK",
                                                "INSULT", "PROFANITY", "THREAT"}
    assert body["languages"] == ["en"]
    assert body["spanAnnotations"] is True
    assert body["doNotStore"] is True
    assert fake.keys == {KEY}
    assert [s.value for s in scores] == [pytest.approx(fake_value("you are all idiots"))] * 6
    assert scores[0].spans == ((0, 18, pytest.approx(fake_value("you are all idiots"))),)


def test_empty_text_sends_nothing(fake, api_key):
    results = scorer_for(fake).score(["", "  \n\t"])

    assert not fake.requests
    assert all(s.value is None and "empty" in s.reason for scores in results for s in scores)


def test_long_text_cut_at_character_boundary(fake, api_key):
    text = "a" * (MAX_TEXT_BYTES - 1) + "é" * 10  # the first é straddles the limit

    scores = scorer_for(fake, attributes=["TOXICITY"]).score([text])[0]

    sent = fake.bodies[0]["comment"]["text"]
    assert len(sent.encode("utf-8")) <= MAX_TEXT_BYTES
    assert sent == "a" * (MAX_TEXT_BYTES - 1)
    assert scores[0].value is not None
    assert "truncated" in scores[0].reason
    assert truncate("é" * 3) == ("é" * 3, False)


def test_language_error_is_null_with_reason(fake, api_key):
    fake.plans = {"bonjour": ["lang"]}

    scores = scorer_for(fake).score(["bonjour tout le monde"])[0]

    assert all(s.value is None for s in scores)
    assert "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE" in scores[0].reason
    assert scores[0].cacheable


def test_retries_then_null_when_exhausted(fake, api_key):
    fake.plans = {"flaky": ["500", "ok"], "down": ["500"]}

    flaky, down = scorer_for(fake).score(["flaky text", "down text"])

    assert flaky[0].value == pytest.approx(fake_value("flaky text"))
    assert fake.requests[digest("down text")] == 3  # max_retries 2
    assert down[0].value is None
    assert "HTTP 500" in down[0].reason
    assert not down[0].cacheable  # a transient failure is retried on the next run


def test_retry_after_is_honoured(fake, api_key):
    fake.plans = {"busy": ["429", "ok"]}

    scores = scorer_for(fake).score(["busy text"])[0]

    first, second = fake.times[digest("busy text")]
    assert second - first >= 0.95  # Retry-After: 1, while backoff_s is 0.01
    assert scores[0].value is not None


def test_timeout_is_retried(fake, api_key):
    fake.plans = {"slow": ["timeout", "ok"]}

    scores = scorer_for(fake).score(["slow text"])[0]

    assert fake.requests[digest("slow text")] == 2
    assert scores[0].value is not None


def test_qps_limit(fake, api_key):
    start = time.monotonic()
    scorer_for(fake, qps=5).score(["one", "two", "three"])

    assert time.monotonic() - start >= 0.39


def test_rejected_key_stops_without_showing_it(fake, monkeypatch):
    monkeypatch.setenv("PERSPECTIVE_API_KEY", "wrong-key-31337")

    with pytest.raises(PerspectiveError, match="rejected the key") as error:
        scorer_for(fake).score(["hello"])

    assert "wrong-key-31337" not in str(error.value)
    assert "key=***" in str(error.value)


def test_missing_key_names_variable(fake, monkeypatch):
    monkeypatch.delenv("PERSPECTIVE_API_KEY", raising=False)

    with pytest.raises(PerspectiveError, match="PERSPECTIVE_API_KEY is not set"):
        scorer_for(fake).score(["hello"])


def test_retired_service_names_cache_and_offline(fake, api_key):
    fake.retired = True

    with pytest.raises(PerspectiveError) as error:
        scorer_for(fake).score(["hello"])

    assert "HTTP 410" in str(error.value)
    assert "data/score_cache" in str(error.value)
    assert "offline" in str(error.value)


def test_mask_hides_key():
    masked = mask("https://h/v1alpha1/comments:analyze?key=abc123&x=1")

    assert masked == "https://h/v1alpha1/comments:analyze?key=***&x=1"


@pytest.mark.real_data
def test_real_responses_parsed(fake, api_key):
    responses = [json.loads(line) for line in shared_file("perspective/gpt2_toy_prompt_perspective.jsonl").open()]
    texts = [json.loads(line) for line in shared_file("perspective/gpt2_toy_prompt_generations.jsonl").open()]
    for record in responses:
        fake.responses[texts[int(record["request_id"].rsplit("-", 1)[1])]] = record["response"]

    results = scorer_for(fake).score(texts[:5])

    for text, scores in zip(texts[:5], results):
        expected = fake.responses[text]["attributeScores"]
        for score in scores:
            assert score.value == pytest.approx(expected[score.attribute]["summaryScore"]["value"])
            assert len(score.spans) == len(expected[score.attribute]["spanScores"])
