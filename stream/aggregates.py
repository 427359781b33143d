"""The four-level view's counts, kept current by the case agent as history rows are stored: view_daily, its
sum over category and department (view_daily_total) and that sum by week (view_weekly_total), view_current
and its sum over category and department (view_current_total).

`count_history` runs inside `case_store.save`, in the transaction that writes the cases and their history
rows, so the counts move with the rows, atomically. What each row adds is `indicators.ledger.advance`,
folded into the case's stored mark (`view_case_marks`): rows at or below the mark's seq are already
counted, so a batch delivered again (at least once) adds nothing. Two workers holding the same case for a
moment (a rebalance) cannot both count it: `save` has already written, so locked, the case's row before
this runs, and the second waits for the first to commit and then reads its mark.

The counts are upserted in key order, each table in one statement and the tables always in the same order,
so two transactions never wait for each other in a cycle.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import BigInteger, Column, Date, Integer, String, Table, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.ext.asyncio import AsyncConnection

from cases.calendar import WorkCalendar
from geo.models import metadata
from indicators.ledger import CaseMark, Cell, advance
from stream.tables import case_history

# Migration 0008 says what each column is.
view_daily = Table(
    "view_daily",
    metadata,
    Column("area_code", String(15), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("measure", String(24), primary_key=True),
    Column("category", String(8), primary_key=True),
    Column("department_code", String(64), primary_key=True),
    Column("n", BigInteger, nullable=False),
)
# view_daily summed over category and department (migration 0009): what the view reads without those filters.
view_daily_total = Table(
    "view_daily_total",
    metadata,
    Column("area_code", String(15), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("measure", String(24), primary_key=True),
    Column("n", BigInteger, nullable=False),
)
# view_daily_total summed over each week's days, `week` its Monday (migration 0014): a period's whole weeks.
view_weekly_total = Table(
    "view_weekly_total",
    metadata,
    Column("area_code", String(15), primary_key=True),
    Column("week", Date, primary_key=True),
    Column("measure", String(24), primary_key=True),
    Column("n", BigInteger, nullable=False),
)
view_current = Table(
    "view_current",
    metadata,
    Column("area_code", String(15), primary_key=True),
    Column("state", String(16), primary_key=True),
    Column("category", String(8), primary_key=True),
    Column("department_code", String(64), primary_key=True),
    Column("n", BigInteger, nullable=False),
)
# view_current summed over category and department (migration 0014).
view_current_total = Table(
    "view_current_total",
    metadata,
    Column("area_code", String(15), primary_key=True),
    Column("state", String(16), primary_key=True),
    Column("n", BigInteger, nullable=False),
)
view_case_marks = Table(
    "view_case_marks",
    metadata,
    Column("case_id", PgUUID(as_uuid=True), primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("mark", JSONB, nullable=False),
)

_ADD_DAILY = text(
    "INSERT INTO view_daily (area_code, day, measure, category, department_code, n)"
    " SELECT r.area_code, r.day, r.measure, r.category, r.department_code, r.n"
    " FROM jsonb_to_recordset(CAST(:batch AS jsonb))"
    " AS r(area_code text, day date, measure text, category text, department_code text, n bigint)"
    " ORDER BY 1, 2, 3, 4, 5"
    " ON CONFLICT (area_code, day, measure, category, department_code)"
    " DO UPDATE SET n = view_daily.n + excluded.n"
)
# The same batch as _ADD_DAILY, summed over category and department; a sum that nets to nothing locks no row.
_ADD_DAILY_TOTAL = text(
    "INSERT INTO view_daily_total (area_code, day, measure, n)"
    " SELECT r.area_code, r.day, r.measure, sum(r.n)"
    " FROM jsonb_to_recordset(CAST(:batch AS jsonb)) AS r(area_code text, day date, measure text, n bigint)"
    " GROUP BY 1, 2, 3 HAVING sum(r.n) <> 0"
    " ORDER BY 1, 2, 3"
    " ON CONFLICT (area_code, day, measure) DO UPDATE SET n = view_daily_total.n + excluded.n"
)
# The same batch again, summed by week (date_trunc's week starts on Monday).
_ADD_WEEKLY_TOTAL = text(
    "INSERT INTO view_weekly_total (area_code, week, measure, n)"
    " SELECT r.area_code, date_trunc('week', r.day)::date, r.measure, sum(r.n)"
    " FROM jsonb_to_recordset(CAST(:batch AS jsonb)) AS r(area_code text, day date, measure text, n bigint)"
    " GROUP BY 1, 2, 3 HAVING sum(r.n) <> 0"
    " ORDER BY 1, 2, 3"
    " ON CONFLICT (area_code, week, measure) DO UPDATE SET n = view_weekly_total.n + excluded.n"
)
_ADD_CURRENT = text(
    "INSERT INTO view_current (area_code, state, category, department_code, n)"
    " SELECT r.area_code, r.state, r.category, r.department_code, r.n"
    " FROM jsonb_to_recordset(CAST(:batch AS jsonb))"
    " AS r(area_code text, state text, category text, department_code text, n bigint)"
    " ORDER BY 1, 2, 3, 4"
    " ON CONFLICT (area_code, state, category, department_code)"
    " DO UPDATE SET n = view_current.n + excluded.n"
)
_ADD_CURRENT_TOTAL = text(
    "INSERT INTO view_current_total (area_code, state, n)"
    " SELECT r.area_code, r.state, sum(r.n)"
    " FROM jsonb_to_recordset(CAST(:batch AS jsonb)) AS r(area_code text, state text, n bigint)"
    " GROUP BY 1, 2 HAVING sum(r.n) <> 0"
    " ORDER BY 1, 2"
    " ON CONFLICT (area_code, state) DO UPDATE SET n = view_current_total.n + excluded.n"
)
_SET_MARKS = text(
    "INSERT INTO view_case_marks (case_id, seq, mark)"
    " SELECT r.case_id, r.seq, r.mark"
    " FROM jsonb_to_recordset(CAST(:batch AS jsonb)) AS r(case_id uuid, seq int, mark jsonb)"
    " ORDER BY 1"
    " ON CONFLICT (case_id) DO UPDATE SET seq = excluded.seq, mark = excluded.mark"
    " WHERE view_case_marks.seq < excluded.seq"
)


def split(change: Mapping[Cell, int]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The change as rows of view_daily and of view_current."""
    daily, current = [], []
    for cell, n in change.items():  # each statement sorts its rows: the lock order
        if not n:
            continue
        if cell.day is None:
            current.append(
                {"area_code": cell.area_code, "state": cell.measure, "category": cell.category}
                | {"department_code": cell.department, "n": n}
            )
        else:
            daily.append(
                {"area_code": cell.area_code, "day": cell.day.isoformat(), "measure": cell.measure}
                | {"category": cell.category, "department_code": cell.department, "n": n}
            )
    return daily, current


async def add_counts(conn: AsyncConnection, change: Mapping[Cell, int]) -> None:
    daily, current = split(change)
    if daily:
        batch = {"batch": json.dumps(daily)}
        await conn.execute(_ADD_DAILY, batch)
        await conn.execute(_ADD_DAILY_TOTAL, batch)
        await conn.execute(_ADD_WEEKLY_TOTAL, batch)
    if current:
        batch = {"batch": json.dumps(current)}
        await conn.execute(_ADD_CURRENT, batch)
        await conn.execute(_ADD_CURRENT_TOTAL, batch)


async def count_history(
    conn: AsyncConnection, rows: Sequence[Mapping[str, Any]], calendar: WorkCalendar
) -> None:
    """Count the history rows just stored (in the caller's transaction)."""
    if not rows:
        return
    by_case: dict[UUID, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_case.setdefault(row["case_id"], []).append(row)
    found = await conn.execute(
        select(view_case_marks.c.case_id, view_case_marks.c.mark).where(
            view_case_marks.c.case_id.in_(list(by_case))
        )
    )
    marks = {r.case_id: CaseMark.model_validate(r.mark) for r in found}
    await _fill_gaps(conn, by_case, marks)
    change: Counter[Cell] = Counter()
    written = []
    for case_id, case_rows in by_case.items():
        before = marks.get(case_id)
        after, delta = advance(before, case_rows, calendar)
        if after is None or after is before:
            continue
        change.update(delta)
        written.append({"case_id": str(case_id), "seq": after.seq, "mark": after.model_dump(mode="json")})
    if written:
        await conn.execute(_SET_MARKS, {"batch": json.dumps(sorted(written, key=lambda w: w["case_id"]))})
    await add_counts(conn, change)


async def _fill_gaps(
    conn: AsyncConnection, by_case: dict[UUID, list[Mapping[str, Any]]], marks: Mapping[UUID, CaseMark]
) -> None:
    """Rows stored earlier but not yet counted (a case from before the aggregates): read them, so the fold
    starts where the mark ends."""
    wanted = {}
    for case_id, case_rows in by_case.items():
        first = min(int(r["seq"]) for r in case_rows)
        counted = marks[case_id].seq if case_id in marks else -1
        if first > counted + 1:
            wanted[case_id] = (counted, first)
    if not wanted:
        return
    stored = await conn.execute(select(case_history).where(case_history.c.case_id.in_(list(wanted))))
    for row in stored:
        counted, first = wanted[row.case_id]
        if counted < row.seq < first:
            by_case[row.case_id].append(dict(row._mapping))
