"""A period of days split for the rollups (migration 0014): its whole weeks (Monday to Sunday), read from
view_weekly_total, and the days before the first and after the last, read from view_daily_total. Each part
is an inclusive range; an empty part is a range whose first day is after its last (a BETWEEN that matches
nothing), so the statement keeps one shape whatever the period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Split:
    head: tuple[date, date]  # days before the first whole week
    weeks: tuple[date, date]  # Mondays of the whole weeks, first and last
    tail: tuple[date, date]  # days after the last whole week


def split_period(start: date, end: date) -> Split:
    """The period [start, end] as days, whole weeks and days; together they hold each day once."""
    first_monday = start + (7 - start.weekday()) % 7 * _DAY
    last_monday = end - (end.weekday() + 1) % 7 * _DAY - 6 * _DAY  # the Monday of the week ending last
    if first_monday > last_monday:  # no whole week inside: all days
        return Split(head=(start, end), weeks=(first_monday, first_monday - 7 * _DAY), tail=(end + _DAY, end))
    return Split(
        head=(start, first_monday - _DAY),
        weeks=(first_monday, last_monday),
        tail=(last_monday + 7 * _DAY, end),
    )
