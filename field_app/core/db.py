"""The app's one SQLite file: outbox (reports and case actions), attachments, cached categories and queues,
preferences. Never the session's tokens: those live in a file of their own (core/auth.py)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# The schema as first shipped. Never edit it: phones in the field hold databases made from it. A change is a
# new step at the end of MIGRATIONS, which every database runs once (a new one right after creating these).
SCHEMA = """
CREATE TABLE IF NOT EXISTS reports (
    report_id TEXT PRIMARY KEY,
    payload TEXT NOT NULL,            -- the exact JSON body sent, frozen when saved
    category_name TEXT,
    created_at REAL NOT NULL,
    status TEXT NOT NULL,             -- waiting | sending | sent | failed
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    last_error TEXT,                  -- why the last try did not get through (network, 5xx)
    failure_kind TEXT,                -- invalid | conflict | rejected
    failure_reason TEXT,              -- the server's words
    superseded_by TEXT,               -- a conflict resubmitted under a new report_id
    sent_at REAL,
    server_status TEXT,               -- accepted | routed | triage, from GET /api/v1/reports/{id}
    department_code TEXT,
    department_name TEXT,
    triage_reason TEXT,
    area TEXT,                        -- JSON of the four area codes
    checks INTEGER NOT NULL DEFAULT 0,
    next_check_at REAL
);
CREATE INDEX IF NOT EXISTS reports_by_status ON reports (status, next_attempt_at);
CREATE TABLE IF NOT EXISTS attachments (
    report_id TEXT NOT NULL REFERENCES reports (report_id),
    sha256 TEXT NOT NULL,
    path TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    uploaded INTEGER NOT NULL DEFAULT 0,   -- 1 once the server holds the whole photo
    error TEXT,                            -- a refusal (413/415/422): the worker must look
    PRIMARY KEY (report_id, sha256)
);
CREATE TABLE IF NOT EXISTS categories (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    major_code TEXT NOT NULL,
    major_name TEXT NOT NULL,
    position INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS prefs (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

# One SQL statement per step, in order; `PRAGMA user_version` counts the steps a database has run.
MIGRATIONS: tuple[str, ...] = (
    # 1. The content_hash of the API's 202: what the server accepted from this phone under the report_id,
    #    so that a status naming other content for the id shows as a conflict (issue 8).
    "ALTER TABLE reports ADD COLUMN content_hash TEXT",
    # 2-4. The outbox of case actions (核查 and later others): what the worker did to a case, committed before
    #    anything is sent, sent with its action_id as the Idempotency-Key (issue 10).
    """CREATE TABLE case_actions (
        action_id TEXT PRIMARY KEY,       -- the Idempotency-Key, made once when saved
        case_id TEXT NOT NULL,
        action TEXT NOT NULL,             -- verify
        actor TEXT NOT NULL,              -- the username that acted: sent only while they are signed in
        fields TEXT NOT NULL,             -- JSON of what the worker entered (passed, note)
        body TEXT,                        -- the exact JSON sent, frozen at the first send (photos settled)
        upload_report_id TEXT,            -- unused: where photos went before cases took their own
        summary TEXT NOT NULL,            -- JSON of the case as listed (category, place, department)
        created_at REAL NOT NULL,
        status TEXT NOT NULL,             -- waiting | sending | applied | refused
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL DEFAULT 0,
        last_error TEXT,                  -- why the last try did not get through (network, 5xx, 504)
        outcome_error TEXT,               -- refused: the server's code (illegal_transition, forbidden...)
        outcome_detail TEXT,              -- refused: the server's words
        case_state TEXT,                  -- the case's state in the server's answer
        case_state_label TEXT,
        done_at REAL
    )""",
    """CREATE TABLE case_action_photos (
        action_id TEXT NOT NULL REFERENCES case_actions (action_id),
        sha256 TEXT NOT NULL,
        path TEXT NOT NULL,
        content_type TEXT NOT NULL,
        size INTEGER NOT NULL,
        uploaded INTEGER NOT NULL DEFAULT 0,
        error TEXT,                       -- refused by the server: the action goes without it
        PRIMARY KEY (action_id, sha256)
    )""",
    "CREATE INDEX case_actions_by_status ON case_actions (status, next_attempt_at)",
    # 5. Lists from the server kept for offline use (the 核查 queue), one JSON body per key.
    "CREATE TABLE cache (key TEXT PRIMARY KEY, fetched_at REAL NOT NULL, body TEXT NOT NULL)",
)


class Database:
    """One connection shared by the UI thread and the sync thread, serialised by a lock.

    Statements are short (no network inside a transaction), so the lock is never held for long.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        # WAL + FULL: a commit is on disk before save() returns, so killing the app right after loses nothing.
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA busy_timeout=5000")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.executescript(SCHEMA)
        self._migrate()

    @property
    def version(self) -> int:
        return int(self.query("PRAGMA user_version")[0][0])

    def _migrate(self) -> None:
        """Run the steps this database has not run yet, all in one transaction with the new version number.

        The version is read inside the transaction, so two processes opening one file run each step once.
        """
        with self.transaction() as conn:
            done = int(conn.execute("PRAGMA user_version").fetchone()[0])
            for step in MIGRATIONS[done:]:
                conn.execute(step)
            if done < len(MIGRATIONS):
                conn.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def query(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def execute(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> int:
        with self._lock:
            return self._conn.execute(sql, params).rowcount

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class Prefs:
    """Small settings (worker id, server address) that must survive restarts."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, key: str, default: str | None = None) -> str | None:
        rows = self.db.query("SELECT value FROM prefs WHERE key = ?", (key,))
        return rows[0]["value"] if rows else default

    def set(self, key: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO prefs (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def delete(self, key: str) -> None:
        self.db.execute("DELETE FROM prefs WHERE key = ?", (key,))
