"""Slowing down repeated failed sign-ins, as pure functions of a record and a clock.

Failures are counted per key (`user:<name>` and `addr:<client address>`), each with its own limit; a count
lasts while failures keep coming less than `window` apart. Once a key has `max_failures`, sign-ins for it
are refused (429, Retry-After) until `base_delay · 2^(failures − max_failures)` after the latest failure, at
most `max_delay`: the first lock is short, a persistent guesser waits longer and longer. A success clears
the username's record (the address's decays with its window, so one valid account cannot reset an address
that guesses at others). A refused attempt is not counted, so the lock cannot be pushed back by hammering.

Locking a username slows its owner too while someone guesses at it; the delay is bounded so that this
stays a slowdown, not a lockout.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field


class ThrottlePolicy(BaseModel):
    model_config = ConfigDict(frozen=True)

    max_failures: int = Field(default=5, ge=1)
    window: timedelta = timedelta(minutes=15)
    base_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(minutes=15)


class FailureRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    failures: int = Field(ge=1)
    window_start: datetime  # the first failure counted
    last_at: datetime  # the latest failure


def user_key(username: str) -> str:
    return f"user:{username.strip().casefold()}"


def address_key(address: str) -> str:
    return f"addr:{address}"


def locked_until(record: FailureRecord | None, policy: ThrottlePolicy) -> datetime | None:
    """When sign-ins for this key are allowed again, or None if it is not locked at all."""
    if record is None or record.failures < policy.max_failures:
        return None
    doublings = min(record.failures - policy.max_failures, 32)
    delay: timedelta = min(policy.base_delay * (2**doublings), policy.max_delay)
    return record.last_at + delay


def retry_after(record: FailureRecord | None, now: datetime, policy: ThrottlePolicy) -> int:
    """Whole seconds to wait before the next attempt (0: go ahead)."""
    until = locked_until(record, policy)
    if until is None or now >= until:
        return 0
    return max(1, math.ceil((until - now).total_seconds()))


def _stale(record: FailureRecord, now: datetime, policy: ThrottlePolicy) -> bool:
    """Quiet for a whole window and not locked: the next failure starts a new count. Measured from the
    latest failure, not the first, so a guesser who keeps going never gets a fresh allowance."""
    return now - record.last_at >= policy.window and retry_after(record, now, policy) == 0


def record_failure(record: FailureRecord | None, now: datetime, policy: ThrottlePolicy) -> FailureRecord:
    """The record after one more failure at `now`."""
    if record is None or _stale(record, now, policy):
        return FailureRecord(failures=1, window_start=now, last_at=now)
    return FailureRecord(failures=record.failures + 1, window_start=record.window_start, last_at=now)


def current(record: FailureRecord | None, now: datetime, policy: ThrottlePolicy) -> FailureRecord | None:
    """The record as it counts at `now` (None once stale), for a store that wants to forget old records."""
    return None if record is None or _stale(record, now, policy) else record
