"""Working-time arithmetic over weekends, lunch breaks, the 2026 holidays and their adjusted working days."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cases.calendar import (
    WorkCalendar,
    add_natural_time,
    add_time,
    add_working_seconds,
    add_working_time,
    calendar_from_config,
    load_holiday_files,
    natural_seconds_between,
    working_seconds_between,
)

from .builders import CAL, local


@pytest.mark.parametrize(
    ("start", "hours", "end"),
    [
        (local(2026, 3, 10, 9, 0), 2, local(2026, 3, 10, 11, 0)),
        (local(2026, 3, 10, 11, 0), 2, local(2026, 3, 10, 14, 30)),  # lunch break skipped
        (local(2026, 3, 10, 8, 30), 7.5, local(2026, 3, 10, 17, 30)),  # a full day ends at 17:30 that day
        (local(2026, 3, 10, 7, 0), 1, local(2026, 3, 10, 9, 30)),  # before work: starts at 08:30
        (local(2026, 3, 10, 12, 30), 1, local(2026, 3, 10, 14, 30)),  # at lunch: starts at 13:30
        (local(2026, 3, 10, 20, 0), 1, local(2026, 3, 11, 9, 30)),  # evening: next morning
        (local(2026, 3, 6, 16, 30), 2, local(2026, 3, 9, 9, 30)),  # Friday evening to Monday
        (local(2026, 3, 6, 16, 30), 1, local(2026, 3, 6, 17, 30)),  # ends at 17:30, not Monday 08:30
        (local(2026, 3, 7, 10, 0), 1, local(2026, 3, 9, 9, 30)),  # from a Saturday
    ],
)
def test_working_hours_skip_nights_lunch_and_weekends(start: datetime, hours: float, end: datetime) -> None:
    assert add_working_time(start, hours, CAL) == end
    assert working_seconds_between(start, end, CAL) == hours * 3600


def test_qingming_holiday_is_skipped() -> None:
    # Friday 2026-04-03 17:00; 4–6 April off (Saturday to Monday).
    assert add_working_time(local(2026, 4, 3, 17, 0), 1, CAL) == local(2026, 4, 7, 9, 0)


def test_adjusted_saturday_before_spring_festival_is_a_working_day() -> None:
    assert CAL.is_working_day(date(2026, 2, 14))  # Saturday, worked (调休)
    assert add_working_time(local(2026, 2, 13, 17, 0), 1, CAL) == local(2026, 2, 14, 9, 0)


def test_spring_festival_holiday_runs_from_15_to_23_february() -> None:
    assert add_working_time(local(2026, 2, 14, 17, 0), 1, CAL) == local(2026, 2, 24, 9, 0)
    assert not any(CAL.is_working_day(date(2026, 2, d)) for d in range(15, 24))
    assert CAL.is_working_day(date(2026, 2, 28))  # Saturday, worked


def test_national_day_week_and_its_adjusted_sunday() -> None:
    assert CAL.is_working_day(date(2026, 9, 20))  # Sunday, worked
    assert not CAL.is_working_day(date(2026, 9, 25))  # 中秋节, a Friday
    assert add_working_time(local(2026, 9, 30, 17, 0), 1, CAL) == local(2026, 10, 8, 9, 0)


def test_new_year_and_labour_day_follow_the_notice() -> None:
    assert not CAL.is_working_day(date(2026, 1, 2)) and CAL.is_working_day(date(2026, 1, 4))
    assert not CAL.is_working_day(date(2026, 5, 5)) and CAL.is_working_day(date(2026, 5, 9))


def test_shipped_notice_names_its_source_and_counts_33_days_off() -> None:
    (notice,) = load_holiday_files()
    assert notice.source.title == "国务院办公厅关于2026年部分节假日安排的通知"
    assert notice.source.issuer == "国务院办公厅"
    assert len(notice.days_off()) == 33 and len(notice.working_days) == 6
    assert CAL.years == frozenset({2026})


def test_negative_hours_count_back() -> None:
    assert add_working_time(local(2026, 3, 9, 9, 30), -2, CAL) == local(2026, 3, 6, 16, 30)
    assert add_working_time(local(2026, 3, 10, 13, 30), -1, CAL) == local(2026, 3, 10, 11, 0)
    assert working_seconds_between(local(2026, 3, 9, 9, 30), local(2026, 3, 6, 16, 30), CAL) == -7200


def test_natural_hours_ignore_the_calendar() -> None:
    start = local(2026, 2, 14, 16, 30)
    assert add_natural_time(start, 48) == local(2026, 2, 16, 16, 30)
    assert add_time(start, 3600, CAL, working=False) == local(2026, 2, 14, 17, 30)
    assert natural_seconds_between(start, start.astimezone(UTC) + timedelta(hours=1)) == 3600


def test_instants_in_other_zones_are_the_same_instants() -> None:
    start = local(2026, 3, 10, 9, 0).astimezone(UTC)
    assert add_working_time(start, 2, CAL) == local(2026, 3, 10, 11, 0)


def test_a_month_of_working_hours_is_computed_by_periods_not_minutes() -> None:
    end = add_working_time(local(2026, 9, 1, 8, 30), 720, CAL)
    assert working_seconds_between(local(2026, 9, 1, 8, 30), end, CAL) == 720 * 3600
    assert end.date() > date(2026, 12, 1)


def test_configured_working_time_replaces_the_default() -> None:
    cal = calendar_from_config({"periods": [["09:00", "17:00"]], "weekdays": [0, 1, 2, 3, 4, 5]})
    assert cal.periods == ((time(9), time(17)),)
    assert add_working_time(local(2026, 3, 6, 16, 0), 2, cal) == local(2026, 3, 7, 10, 0)  # Saturday worked


def test_broken_calendars_are_refused() -> None:
    with pytest.raises(ValueError):
        WorkCalendar(periods=((time(12), time(9)),))
    with pytest.raises(ValueError):
        WorkCalendar(periods=((time(8), time(12)), (time(11), time(17))))
    with pytest.raises(ValueError):
        add_working_time(datetime(2026, 3, 10, 9), 1, CAL)
    with pytest.raises(ValueError):
        add_working_time(local(2026, 3, 10, 9), 1, WorkCalendar(weekdays=frozenset()))


minutes = st.integers(min_value=0, max_value=365 * 24 * 60)


@given(offset=minutes, seconds=st.integers(min_value=1, max_value=300 * 3600))
def test_adding_then_measuring_working_time_gives_it_back(offset: int, seconds: int) -> None:
    start = local(2026, 1, 1) + timedelta(minutes=offset)
    end = add_working_seconds(start, seconds, CAL)
    assert working_seconds_between(start, end, CAL) == seconds
    assert CAL.is_working_time(end - timedelta(seconds=1))
