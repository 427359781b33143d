"""Failed sign-ins slow down, on a clock the test controls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from accounts.throttle import (
    FailureRecord,
    ThrottlePolicy,
    address_key,
    current,
    locked_until,
    record_failure,
    retry_after,
    user_key,
)

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
POLICY = ThrottlePolicy(
    max_failures=3,
    window=timedelta(minutes=10),
    base_delay=timedelta(seconds=30),
    max_delay=timedelta(minutes=5),
)


def fail(times: int, start: datetime = T0, every: timedelta = timedelta(seconds=1)) -> FailureRecord:
    record: FailureRecord | None = None
    for n in range(times):
        record = record_failure(record, start + n * every, POLICY)
    assert record is not None
    return record


def test_fewer_failures_than_the_limit_do_not_slow_anyone_down() -> None:
    record = fail(2)
    assert record.failures == 2
    assert locked_until(record, POLICY) is None
    assert retry_after(record, T0 + timedelta(seconds=2), POLICY) == 0


def test_the_limit_locks_for_the_base_delay_after_the_latest_failure() -> None:
    record = fail(3)  # last at T0+2s
    assert retry_after(record, T0 + timedelta(seconds=2), POLICY) == 30
    assert retry_after(record, T0 + timedelta(seconds=31, milliseconds=500), POLICY) == 1
    assert retry_after(record, T0 + timedelta(seconds=32), POLICY) == 0


def test_the_delay_doubles_with_each_further_failure_up_to_the_maximum() -> None:
    delays = []
    record = fail(3)
    for _ in range(6):
        until = locked_until(record, POLICY)
        assert until is not None
        delays.append((until - record.last_at).total_seconds())
        record = record_failure(record, until, POLICY)  # one more wrong guess as soon as allowed
    assert delays == [30, 60, 120, 240, 300, 300]


def test_a_quiet_window_starts_a_fresh_count() -> None:
    record = fail(2)
    later = record.last_at + timedelta(minutes=10)
    assert current(record, later, POLICY) is None
    assert record_failure(record, later, POLICY).failures == 1
    assert current(record, later - timedelta(seconds=1), POLICY) == record


def test_a_guesser_who_keeps_going_never_gets_a_fresh_allowance() -> None:
    record = fail(3, every=timedelta(minutes=4))  # spread over 8 minutes, each within the window
    assert record.failures == 3
    assert retry_after(record, record.last_at, POLICY) == 30


def test_a_lock_outlasting_the_window_is_still_kept_until_it_ends() -> None:
    slow = POLICY.model_copy(update={"base_delay": timedelta(minutes=20), "max_delay": timedelta(minutes=20)})
    record: FailureRecord | None = None
    for n in range(3):
        record = record_failure(record, T0 + timedelta(seconds=n), slow)
    assert record is not None
    assert current(record, T0 + timedelta(minutes=15), slow) == record
    assert retry_after(record, T0 + timedelta(minutes=15), slow) > 0


def test_keys_tell_usernames_and_addresses_apart_and_ignore_case() -> None:
    assert user_key(" Wang ") == user_key("wang") == "user:wang"
    assert address_key("127.0.0.1") == "addr:127.0.0.1"
