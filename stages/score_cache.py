"""Score cache: every score ever obtained, keyed by text hash, scorer, version and attributes.

One SQLite file, ``data/score_cache/scores.sqlite``, a persistent DVC output of the score
stage, so it is versioned and pushed with the rest. Each batch is committed in one
transaction (the rollback journal with ``synchronous=FULL``), so a process killed with
SIGKILL loses at most the batch in flight and never leaves half of one. Archived scores
(see ``stages/archives.py``) have a ``scorer_version`` that starts with ``archived from``.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Sequence

from stages.scorers import Score

CACHE = Path("data/score_cache/scores.sqlite")
ARCHIVED = "archived from "

SCHEMA = """
CREATE TABLE IF NOT EXISTS scores (
    text_hash       TEXT NOT NULL,  -- sha256 of the UTF-8 text, hex
    scorer          TEXT NOT NULL,
    scorer_version  TEXT NOT NULL,
    attributes      TEXT NOT NULL,  -- the requested attributes, sorted, comma-separated
    attribute       TEXT NOT NULL,
    value           REAL,           -- NULL when no score was obtained
    reason          TEXT,
    spans           TEXT,           -- JSON [[begin, end, value], ...] or NULL
    created_at      TEXT NOT NULL,
    PRIMARY KEY (text_hash, scorer, scorer_version, attributes, attribute)
);
"""


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def attributes_key(attributes: Iterable[str]) -> str:
    return ",".join(sorted(attributes))


class ScoreCache:
    def __init__(self, path: Path | str = CACHE) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = Path(path)
        self._con = sqlite3.connect(str(path))
        self._con.execute("PRAGMA synchronous=FULL")
        self._con.executescript(SCHEMA)

    def close(self) -> None:
        self._con.close()

    def put(self, entries: Sequence[tuple[str, str, str, str, list[Score]]]) -> int:
        """Store (text_hash, scorer, version, attributes key, scores) entries in one transaction.

        An entry already present is kept: a cached score is never overwritten. Returns the
        number of score rows added.
        """
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        rows = [(h, scorer, version, attrs, s.attribute, s.value, s.reason,
                 json.dumps(s.spans) if s.spans else None, now)
                for h, scorer, version, attrs, scores in entries for s in scores]
        with self._con:
            before = self._con.total_changes
            self._con.executemany("INSERT OR IGNORE INTO scores VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            return self._con.total_changes - before

    def get(self, hashes: Iterable[str], scorer: str, version: str,
            attributes: Iterable[str]) -> dict[str, list[Score]]:
        """Cached scores of each hash for exactly this scorer, version and attribute set."""
        query = ("SELECT text_hash, attribute, value, reason, spans FROM scores "
                 "WHERE scorer = ? AND scorer_version = ? AND attributes = ? AND text_hash IN ({})")
        found: dict[str, list[Score]] = {}
        for rows in self._select(query, [scorer, version, attributes_key(attributes)], hashes):
            for h, attribute, value, reason, spans in rows:
                found.setdefault(h, []).append(_score(attribute, value, reason, spans))
        return found

    def get_archived(self, hashes: Iterable[str], scorer: str) -> dict[str, tuple[str, list[Score]]]:
        """Archived scores of each hash by the scorer: (scorer_version, scores) of its first archive."""
        query = ("SELECT text_hash, scorer_version, attribute, value, reason, spans FROM scores "
                 "WHERE scorer = ? AND scorer_version LIKE 'archived from %' AND text_hash IN ({}) ORDER BY rowid")
        found: dict[str, tuple[str, list[Score]]] = {}
        for rows in self._select(query, [scorer], hashes):
            for h, version, attribute, value, reason, spans in rows:
                first_version, scores = found.setdefault(h, (version, []))
                if version == first_version:
                    scores.append(_score(attribute, value, reason, spans))
        return found

    def count(self, scorer: str | None = None) -> int:
        sql, args = "SELECT count(DISTINCT text_hash || scorer || scorer_version) FROM scores", []
        if scorer:
            sql, args = sql + " WHERE scorer = ?", [scorer]
        return self._con.execute(sql, args).fetchone()[0]

    def _select(self, query: str, args: list, hashes: Iterable[str], chunk: int = 500):
        hashes = list(hashes)
        for start in range(0, len(hashes), chunk):
            part = hashes[start : start + chunk]
            yield self._con.execute(query.format(",".join("?" * len(part))), [*args, *part]).fetchall()


def _score(attribute: str, value: float | None, reason: str | None, spans: str | None) -> Score:
    return Score(attribute, value, reason, tuple(tuple(s) for s in json.loads(spans)) if spans else ())
