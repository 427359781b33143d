"""api/views/weeks.py: a period split into whole weeks and the days at either end holds each of its days
once, whatever the period (hypothesis), and the whole weeks are all there are."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from api.views.weeks import split_period

DAY = timedelta(days=1)


def _days(first: date, last: date) -> list[date]:
    return [first + i * DAY for i in range((last - first).days + 1)]


@given(st.dates(date(2020, 1, 1), date(2030, 12, 31)), st.integers(0, 800))
def test_the_split_holds_each_day_of_the_period_once(start: date, length: int) -> None:
    end = start + length * DAY
    split = split_period(start, end)
    mondays = _days(*split.weeks)[::7]
    assert all(monday.weekday() == 0 for monday in mondays)
    from_weeks = [monday + i * DAY for monday in mondays for i in range(7)]
    held = _days(*split.head) + from_weeks + _days(*split.tail)
    assert held == _days(start, end)
    # No whole week is left to the days: fewer than seven at either end when there are weeks, and when there
    # are none the period holds no Monday-to-Sunday run at all (it can still be up to 12 days long).
    if mondays:
        assert len(_days(*split.head)) < 7 and len(_days(*split.tail)) < 7
    else:
        assert not any(day.weekday() == 0 and day + 6 * DAY <= end for day in _days(start, end))


def test_examples() -> None:
    monday, sunday = date(2026, 11, 2), date(2026, 11, 29)  # four whole weeks
    assert split_period(monday, sunday).weeks == (monday, date(2026, 11, 23))
    assert _days(*split_period(monday, sunday).head) == [] and _days(*split_period(monday, sunday).tail) == []
    # The default 30 days ending on Wednesday 2026-12-02: 6 days, 3 weeks (11-09, 11-16, 11-23), 3 days.
    split = split_period(date(2026, 11, 3), date(2026, 12, 2))
    assert split.head == (date(2026, 11, 3), date(2026, 11, 8))
    assert split.weeks == (date(2026, 11, 9), date(2026, 11, 23))
    assert split.tail == (date(2026, 11, 30), date(2026, 12, 2))
    # Six days from Tuesday to Sunday: no whole week, all days.
    split = split_period(date(2026, 11, 3), date(2026, 11, 8))
    assert _days(*split.head) == _days(date(2026, 11, 3), date(2026, 11, 8)) and _days(*split.weeks) == []
    # Seven days from Wednesday to Tuesday (the case CI's hypothesis run found): no whole week, all days.
    split = split_period(date(2020, 1, 1), date(2020, 1, 7))
    assert _days(*split.head) == _days(date(2020, 1, 1), date(2020, 1, 7)) and _days(*split.weeks) == []
    # Twelve days from Tuesday 11-03 to Saturday 11-14 of the following week: still no whole week.
    split = split_period(date(2026, 11, 3), date(2026, 11, 14))
    assert len(_days(*split.head)) == 12 and _days(*split.weeks) == []
