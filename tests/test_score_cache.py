"""Score cache: keys, no overwrite, archived lookups, and the offline scorer through it."""

from __future__ import annotations

import sqlite3

from stages.score import score_texts
from stages.score_cache import ScoreCache, attributes_key, text_hash
from stages.scorers import OfflineScorer, Score


def test_get_needs_every_key_part(tmp_path):
    cache = ScoreCache(tmp_path / "c.sqlite")
    h = text_hash("hello")
    cache.put([(h, "offline", "v1", "TOXICITY", [Score("TOXICITY", 0.25)])])

    assert cache.get([h], "offline", "v1", ["TOXICITY"]) == {h: [Score("TOXICITY", 0.25)]}
    assert cache.get([h], "offline", "v2", ["TOXICITY"]) == {}
    assert cache.get([h], "hf", "v1", ["TOXICITY"]) == {}
    assert cache.get([h], "offline", "v1", ["TOXICITY", "INSULT"]) == {}
    assert cache.get([text_hash("hello ")], "offline", "v1", ["TOXICITY"]) == {}


def test_cached_score_never_overwritten(tmp_path):
    cache = ScoreCache(tmp_path / "c.sqlite")
    h = text_hash("hello")
    key = attributes_key(["TOXICITY"])

    assert cache.put([(h, "perspective", "v", key, [Score("TOXICITY", 0.5, spans=((0, 5, 0.5),))])]) == 1
    assert cache.put([(h, "perspective", "v", key, [Score("TOXICITY", 0.9)])]) == 0

    assert cache.get([h], "perspective", "v", ["TOXICITY"])[h][0].value == 0.5
    assert cache.get([h], "perspective", "v", ["TOXICITY"])[h][0].spans == ((0, 5, 0.5),)


def test_null_and_reason_survive(tmp_path):
    cache = ScoreCache(tmp_path / "c.sqlite")
    h = text_hash("")
    cache.put([(h, "offline", "v", "TOXICITY", [Score("TOXICITY", None, "empty or whitespace-only text")])])

    (score,) = cache.get([h], "offline", "v", ["TOXICITY"])[h]

    assert score.value is None
    assert score.reason == "empty or whitespace-only text"


def test_archived_lookup_takes_first_archive(tmp_path):
    cache = ScoreCache(tmp_path / "c.sqlite")
    h = text_hash("hello")
    cache.put([(h, "perspective", "archived from a.csv", "TOXICITY", [Score("TOXICITY", 0.1)])])
    cache.put([(h, "perspective", "archived from b.csv", "TOXICITY", [Score("TOXICITY", 0.2)])])
    cache.put([(h, "perspective", "comments:analyze v1alpha1", "TOXICITY", [Score("TOXICITY", 0.3)])])

    assert cache.get_archived([h], "perspective") == {h: ("archived from a.csv", [Score("TOXICITY", 0.1)])}


def test_offline_scores_cached_once(tmp_path):
    cache = ScoreCache(tmp_path / "c.sqlite")
    scorer = OfflineScorer()
    texts = {text_hash(t): t for t in ["you idiot", "have a nice day", ""]}

    first = score_texts(scorer, texts, cache)
    second = score_texts(scorer, texts, cache)

    assert first == second
    assert first[text_hash("")][1][0].value is None
    with sqlite3.connect(tmp_path / "c.sqlite") as con:
        assert con.execute("SELECT count(*) FROM scores").fetchone()[0] == 3


def test_archived_text_not_sent(tmp_path, monkeypatch):
    from test_perspective import KEY, FakePerspective

    from stages.perspective import PerspectiveScorer

    monkeypatch.setenv("PERSPECTIVE_API_KEY", KEY)
    cache = ScoreCache(tmp_path / "c.sqlite")
    cache.put([(text_hash("archived text"), "perspective", "archived from old.csv", "TOXICITY",
                [Score("TOXICITY", 0.7)])])
    fake = FakePerspective()
    try:
        scorer = PerspectiveScorer({"endpoint": fake.url, "qps": 1000, "attributes": ["TOXICITY"]})
        results = score_texts(scorer, {text_hash(t): t for t in ["archived text", "new text"]}, cache)
    finally:
        fake.close()

    assert results[text_hash("archived text")] == ("archived from old.csv", [Score("TOXICITY", 0.7)])
    assert results[text_hash("new text")][0] == "comments:analyze v1alpha1"
    assert text_hash("archived text") not in fake.requests
    assert fake.requests[text_hash("new text")] == 1
