"""Working time and deadline arithmetic: hours added and measured in working time or in natural time.

Working time is a set of daily periods (default 08:30–12:00 and 13:30–17:30) on working days: Monday to
Friday, less the public holidays, plus the adjusted working days (调休) of the State Council's yearly
notice, shipped as data in `cases/data/holidays_cn_<year>.json` with its source. Outside the years shipped
only weekends are days off (`WorkCalendar.years` says which years are covered).

Arithmetic steps by working periods, one day at a time, never minute by minute; differences of instants are
taken in UTC, so a zone with daylight saving would not skew them (Asia/Shanghai has none).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

DEFAULT_TZ = "Asia/Shanghai"
DEFAULT_PERIODS: tuple[tuple[time, time], ...] = ((time(8, 30), time(12, 0)), (time(13, 30), time(17, 30)))
MONDAY_TO_FRIDAY = frozenset(range(5))
# A calendar without working time would loop forever; ten years without a working minute is a broken one.
_MAX_DAYS = 3660
_CACHED_DAYS = 20_000  # per calendar: fifty years of days, a few MB at most


class _Source(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")

    title: str
    issuer: str
    date: date


class _Holiday(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    start: date
    end: date


class _WorkingDay(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    date: date


class HolidayFile(BaseModel):
    """One year's notice: the days off (放假) and the weekend days worked instead (调休上班)."""

    model_config = ConfigDict(frozen=True)

    year: int
    source: _Source
    holidays: tuple[_Holiday, ...]
    working_days: tuple[_WorkingDay, ...]

    def days_off(self) -> set[date]:
        days: set[date] = set()
        for holiday in self.holidays:
            day = holiday.start
            while day <= holiday.end:
                days.add(day)
                day += timedelta(days=1)
        return days


@dataclass(frozen=True)
class WorkCalendar:
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo(DEFAULT_TZ))
    periods: tuple[tuple[time, time], ...] = DEFAULT_PERIODS
    weekdays: frozenset[int] = MONDAY_TO_FRIDAY  # date.weekday(): Monday is 0
    holidays: frozenset[date] = frozenset()
    working_days: frozenset[date] = frozenset()  # 调休: weekend days that are worked
    years: frozenset[int] = frozenset()  # years whose notice is loaded
    # Each day's periods as UTC instants, computed once: deadlines and timers ask for the same few days
    # thousands of times a second (a batch of reports opens its cases within the same minute).
    _by_day: dict[date, list[tuple[datetime, datetime]]] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        if not self.periods:
            raise ValueError("a working day needs at least one period")
        previous_end: time | None = None
        for start, end in self.periods:
            if start >= end:
                raise ValueError(f"working period {start}–{end} must end after it starts")
            if previous_end is not None and start < previous_end:
                raise ValueError("working periods must be in order and must not overlap")
            previous_end = end
        if both := self.holidays & self.working_days:
            raise ValueError(f"days both off and worked: {sorted(both)}")

    @classmethod
    def from_holiday_files(cls, files: Iterable[HolidayFile], **options: Any) -> WorkCalendar:
        holidays: set[date] = set()
        working: set[date] = set()
        years: set[int] = set()
        for doc in files:
            holidays |= doc.days_off()
            working |= {d.date for d in doc.working_days}
            years.add(doc.year)
        return cls(
            holidays=frozenset(holidays), working_days=frozenset(working), years=frozenset(years), **options
        )

    def is_working_day(self, day: date) -> bool:
        if day in self.working_days:
            return True
        if day in self.holidays:
            return False
        return day.weekday() in self.weekdays

    def intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """The day's working periods as UTC instants (none on a day off). The list is shared: do not change
        it."""
        found = self._by_day.get(day)
        if found is None:
            found = self._intervals(day)
            if len(self._by_day) < _CACHED_DAYS:
                self._by_day[day] = found
        return found

    def _intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        if not self.is_working_day(day):
            return []
        return [
            (
                datetime.combine(day, start, tzinfo=self.tz).astimezone(UTC),
                datetime.combine(day, end, tzinfo=self.tz).astimezone(UTC),
            )
            for start, end in self.periods
        ]

    def is_working_time(self, at: datetime) -> bool:
        instant = _utc(at)
        return any(s <= instant < e for s, e in self.intervals(self.local_date(instant)))

    def local_date(self, instant: datetime) -> date:
        return instant.astimezone(self.tz).date()


def load_holiday_files() -> list[HolidayFile]:
    """The notices shipped with the package, one per year."""
    folder = resources.files("cases") / "data"
    return [
        HolidayFile.model_validate(json.loads(entry.read_text(encoding="utf-8")))
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.startswith("holidays_cn_") and entry.name.endswith(".json")
    ]


@lru_cache(maxsize=1)
def default_calendar() -> WorkCalendar:
    """Mon–Fri 08:30–12:00 and 13:30–17:30 in Asia/Shanghai, with the shipped public holidays."""
    return WorkCalendar.from_holiday_files(load_holiday_files())


def calendar_from_config(config: Mapping[str, Any]) -> WorkCalendar:
    """A calendar from settings: {"tz": "...", "periods": [["08:30", "12:00"], ...], "weekdays": [0, ...]}."""
    options: dict[str, Any] = {}
    if "tz" in config:
        options["tz"] = ZoneInfo(str(config["tz"]))
    if "periods" in config:
        options["periods"] = tuple(
            (time.fromisoformat(start), time.fromisoformat(end)) for start, end in config["periods"]
        )
    if "weekdays" in config:
        options["weekdays"] = frozenset(int(d) for d in config["weekdays"])
    return WorkCalendar.from_holiday_files(load_holiday_files(), **options)


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"an aware datetime is required, got {at!r}")
    return at.astimezone(UTC)


# Cached: the cases of a batch open at the same instant with the same few deadlines, and their timers are
# asked again on every write (a call walks the days in Python: about 70 µs).
@lru_cache(maxsize=8192)
def add_working_seconds(start: datetime, seconds: float, cal: WorkCalendar) -> datetime:
    """The instant `seconds` of working time after `start` (before it, if negative), in the calendar's zone.

    A sum that ends exactly where a period ends gives that end (Friday 17:30, not Monday 08:30).
    """
    instant = _utc(start)
    if seconds == 0:
        return instant.astimezone(cal.tz)
    remaining = timedelta(seconds=abs(seconds))
    day = cal.local_date(instant)
    step = timedelta(days=1 if seconds > 0 else -1)
    for _ in range(_MAX_DAYS):
        periods = cal.intervals(day)
        for period_start, period_end in periods if seconds > 0 else reversed(periods):
            if seconds > 0:
                if period_end <= instant:
                    continue
                begin = max(period_start, instant)
                if remaining <= period_end - begin:
                    return (begin + remaining).astimezone(cal.tz)
                remaining -= period_end - begin
            else:
                if period_start >= instant:
                    continue
                finish = min(period_end, instant)
                if remaining <= finish - period_start:
                    return (finish - remaining).astimezone(cal.tz)
                remaining -= finish - period_start
        day += step
    raise ValueError(f"no working time within {_MAX_DAYS} days of {start.isoformat()}")


def add_working_time(start: datetime, hours: float, cal: WorkCalendar) -> datetime:
    return add_working_seconds(start, hours * 3600, cal)


def working_seconds_between(a: datetime, b: datetime, cal: WorkCalendar) -> float:
    """Working seconds from `a` to `b`; negative when `b` is before `a`."""
    lo, hi = _utc(a), _utc(b)
    if hi < lo:
        return -working_seconds_between(b, a, cal)
    total = timedelta(0)
    day, last = cal.local_date(lo), cal.local_date(hi)
    while day <= last:
        for period_start, period_end in cal.intervals(day):
            overlap = min(period_end, hi) - max(period_start, lo)
            if overlap > timedelta(0):
                total += overlap
        day += timedelta(days=1)
    return total.total_seconds()


def add_natural_seconds(start: datetime, seconds: float) -> datetime:
    return (_utc(start) + timedelta(seconds=seconds)).astimezone(start.tzinfo)


def add_natural_time(start: datetime, hours: float) -> datetime:
    return add_natural_seconds(start, hours * 3600)


def natural_seconds_between(a: datetime, b: datetime) -> float:
    return (_utc(b) - _utc(a)).total_seconds()


def add_time(start: datetime, seconds: float, cal: WorkCalendar, *, working: bool) -> datetime:
    """`seconds` after `start` in the kind of time a duty rule counts in (its `working_hours` flag)."""
    if working:
        return add_working_seconds(start, seconds, cal)
    return add_natural_seconds(start, seconds).astimezone(cal.tz)


def seconds_between(a: datetime, b: datetime, cal: WorkCalendar, *, working: bool) -> float:
    """Seconds from `a` to `b` in the kind of time a duty rule counts in."""
    if working:
        return working_seconds_between(a, b, cal)
    return natural_seconds_between(a, b)
