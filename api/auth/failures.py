"""The sign-in slowdown's counts in PostgreSQL, so every API process sees the same (accounts.throttle rules).

An attempt is counted as a failure *before* the password is checked, under a row lock, and taken back on
success: a burst of parallel guesses is then counted one by one, and the ones past the limit are refused
before any hash is computed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, text

from accounts.throttle import FailureRecord, ThrottlePolicy, current, record_failure, retry_after


def _locked_records(conn: Connection, keys: list[str]) -> dict[str, FailureRecord | None]:
    # Rows are made first so that two attempts on a new key lock the same row; keys in order, so two
    # transactions never wait on each other's rows.
    conn.execute(
        text(
            "INSERT INTO sign_in_failures (key, failures, window_start, last_at)"
            " SELECT k, 0, now(), now() FROM unnest(CAST(:keys AS text[])) AS k ON CONFLICT (key) DO NOTHING"
        ),
        {"keys": keys},
    ).close()
    rows = conn.execute(
        text(
            "SELECT key, failures, window_start, last_at FROM sign_in_failures"
            " WHERE key = ANY(:keys) ORDER BY key FOR UPDATE"
        ),
        {"keys": keys},
    )
    found: dict[str, FailureRecord | None] = dict.fromkeys(keys)
    for row in rows:
        if row.failures > 0:
            found[row.key] = FailureRecord(
                failures=row.failures, window_start=row.window_start, last_at=row.last_at
            )
    return found


def begin_attempt(conn: Connection, *, policies: dict[str, ThrottlePolicy], now: datetime) -> int:
    """Seconds to wait when any key is locked (nothing is counted then); else 0, with this attempt counted
    as a failure for every key until `forgive` takes it back."""
    keys = sorted(policies)
    records = _locked_records(conn, keys)
    wait = max(retry_after(records[key], now, policies[key]) for key in keys)
    if wait > 0:
        return wait
    for key in keys:
        counted = record_failure(current(records[key], now, policies[key]), now, policies[key])
        conn.execute(
            text("UPDATE sign_in_failures SET failures = :f, window_start = :w, last_at = :l WHERE key = :k"),
            {"f": counted.failures, "w": counted.window_start, "l": counted.last_at, "k": key},
        ).close()
    return 0


def forgive(conn: Connection, *, user_key: str, address_key: str) -> None:
    """A successful sign-in: the username starts afresh; the address's count loses this attempt only."""
    conn.execute(text("DELETE FROM sign_in_failures WHERE key = :k"), {"k": user_key}).close()
    conn.execute(
        text("UPDATE sign_in_failures SET failures = greatest(failures - 1, 0) WHERE key = :k"),
        {"k": address_key},
    ).close()


def purge(conn: Connection, *, now: datetime, older_than: timedelta) -> None:
    """Forget records quiet for longer than any window and delay (guessed usernames would pile up)."""
    conn.execute(text("DELETE FROM sign_in_failures WHERE last_at < :t"), {"t": now - older_than}).close()
