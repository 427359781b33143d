"""The check of the view's aggregates: recount everything from the stored case history, compare; and the
rebuild that replaces the aggregates with that recount (after migrating a database that held cases).

The recount folds every case's history from its opening with `indicators.ledger.advance`, the function the
case agent counts with, reading the rows in (case, seq) order from a server-side cursor: memory holds the
counts (bounded by areas × days × categories × departments), not the cases.

The sums kept from other tables (`SUMS`: the totals from view_daily and view_current, and the counts
PostgreSQL keeps by triggers, migration 0009) are summed again in SQL from what they are kept from, with the
functions the triggers use; only the rows that differ come back.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from cases.calendar import WorkCalendar
from indicators.ledger import CaseMark, Cell, advance
from stream.aggregates import add_counts, view_case_marks, view_current, view_daily
from stream.tables import case_history

# table → (its key, the query that sums it again from what it is kept from)
SUMS = {
    "view_daily_total": (
        "area_code, day, measure",
        "SELECT area_code, day, measure, sum(n) AS n FROM view_daily GROUP BY 1, 2, 3",
    ),
    "view_weekly_total": (
        "area_code, week, measure",
        "SELECT area_code, date_trunc('week', day)::date AS week, measure, sum(n) AS n"
        " FROM view_daily_total GROUP BY 1, 2, 3",
    ),
    "view_current_total": (
        "area_code, state",
        "SELECT area_code, state, sum(n) AS n FROM view_current GROUP BY 1, 2",
    ),
    "view_reports": (
        "area_code, status, category, department_code",
        "SELECT a.area_code, a.status, a.category, a.department_code, count(*) AS n"
        " FROM reports r CROSS JOIN LATERAL view_report_areas(r) AS a GROUP BY 1, 2, 3, 4",
    ),
    "view_grid_workers": (
        "area_code",
        "SELECT a.area_code, count(*) AS n"
        " FROM users u CROSS JOIN LATERAL view_grid_worker_areas(u) AS a(area_code) GROUP BY 1",
    ),
}
# Refilled by the rebuild from the query; the totals (view_daily_total, view_weekly_total,
# view_current_total) are refilled with what they sum by add_counts.
REFILLED = ("view_reports", "view_grid_workers")


class RowDiff(NamedTuple):
    table: str
    key: tuple[Any, ...]
    stored: int
    summed: int  # from what the table is kept from


@dataclass
class Recount:
    counts: Counter[Cell] = field(default_factory=Counter)
    cases: int = 0
    seq_sum: int = 0  # Σ of the cases' last seq: compared with the stored marks'
    marks: list[dict[str, Any]] = field(default_factory=list)  # kept only for a rebuild


@dataclass
class CheckResult:
    cases: int
    cells: int
    differing: list[tuple[Cell, int, int]]  # (cell, stored, recounted), the first `examples`
    differing_count: int
    marks_same: bool
    rows_differing: list[RowDiff] = field(default_factory=list)  # of SUMS' tables, the first `examples`
    rows_differing_count: int = 0

    @property
    def same(self) -> bool:
        return not self.differing_count and self.marks_same and not self.rows_differing_count


async def recount(conn: AsyncConnection, calendar: WorkCalendar, *, keep_marks: bool = False) -> Recount:
    out = Recount()
    current: Any = None
    mark: CaseMark | None = None

    def finish() -> None:
        if mark is not None:
            out.cases += 1
            out.seq_sum += mark.seq
            if keep_marks:
                doc = mark.model_dump(mode="json")
                out.marks.append({"case_id": str(current), "seq": mark.seq, "mark": doc})

    query = select(case_history).order_by(case_history.c.case_id, case_history.c.seq)
    rows = await conn.stream(query.execution_options(yield_per=5000))
    async for row in rows:
        if row.case_id != current:
            finish()
            current, mark = row.case_id, None
        mark, change = advance(mark, [dict(row._mapping)], calendar)
        out.counts.update(change)
    finish()
    out.counts = Counter({cell: n for cell, n in out.counts.items() if n})
    return out


async def stored(conn: AsyncConnection) -> Counter[Cell]:
    counts: Counter[Cell] = Counter()
    d, c = view_daily.c, view_current.c
    daily = await conn.execute(select(d.area_code, d.day, d.category, d.department_code, d.measure, d.n))
    for area, day, category, department, measure, n in daily:
        counts[Cell(area, day, category, department, measure)] += n
    current = await conn.execute(select(c.area_code, c.category, c.department_code, c.state, c.n))
    for area, category, department, state, n in current:
        counts[Cell(area, None, category, department, state)] += n
    return Counter({cell: n for cell, n in counts.items() if n})


async def check(conn: AsyncConnection, calendar: WorkCalendar, *, examples: int = 10) -> CheckResult:
    """Recount from the history and compare with the stored aggregates and marks (same numbers, or not)."""
    again = await recount(conn, calendar)
    kept = await stored(conn)
    differing = [
        (cell, kept.get(cell, 0), again.counts.get(cell, 0))
        for cell in sorted(set(kept) | set(again.counts), key=str)
        if kept.get(cell, 0) != again.counts.get(cell, 0)
    ]
    marks = (
        await conn.execute(select(func.count(), func.coalesce(func.sum(view_case_marks.c.seq), 0)))
    ).one()
    rows = [row for table in SUMS for row in await summed_differing(conn, table)]
    return CheckResult(
        cases=again.cases,
        cells=len(again.counts),
        differing=differing[:examples],
        differing_count=len(differing),
        marks_same=(marks[0], marks[1]) == (again.cases, again.seq_sum),
        rows_differing=rows[:examples],
        rows_differing_count=len(rows),
    )


async def summed_differing(conn: AsyncConnection, table: str) -> list[RowDiff]:
    """The rows of `table` (one of SUMS) that differ from their sum from what the table is kept from; rows
    at 0 count as missing."""
    key, query = SUMS[table]
    differing = await conn.execute(
        text(
            f"SELECT {key}, coalesce(k.n, 0), coalesce(e.n, 0)"
            f" FROM (SELECT {key}, n FROM {table} WHERE n <> 0) AS k FULL JOIN ({query}) AS e USING ({key})"
            f" WHERE coalesce(k.n, 0) <> coalesce(e.n, 0) ORDER BY {key}"
        )
    )
    return [RowDiff(table, tuple(row[:-2]), int(row[-2]), int(row[-1])) for row in differing]


# Every table the rebuild replaces, in the order the writers take them (the sink and the case agent write
# reports, so view_reports, before the case agent counts), so that a writer still running waits for the
# rebuild instead of deadlocking with it.
REBUILT = (
    "view_reports",
    "view_grid_workers",
    "view_case_marks",
    "view_daily",
    "view_daily_total",
    "view_weekly_total",
    "view_current",
    "view_current_total",
)


async def rebuild(conn: AsyncConnection, calendar: WorkCalendar) -> Recount:
    """Replace the aggregates and marks with a recount, and the trigger-kept counts with a sum of what they
    count, in the caller's transaction. Stop the workers first. The tables are locked before anything is
    read, so a writer either commits before the recount reads (and is in it) or waits for the rebuild to
    commit (and counts its change on top)."""
    await conn.execute(text(f"LOCK TABLE {', '.join(REBUILT)} IN ACCESS EXCLUSIVE MODE"))
    again = await recount(conn, calendar, keep_marks=True)
    await conn.execute(text(f"TRUNCATE {', '.join(REBUILT)}"))
    await add_counts(conn, again.counts)
    for table in REFILLED:
        key, query = SUMS[table]
        await conn.execute(text(f"INSERT INTO {table} ({key}, n) SELECT {key}, n FROM ({query}) AS e"))
    for start in range(0, len(again.marks), 5000):
        batch = again.marks[start : start + 5000]
        await conn.execute(
            text(
                "INSERT INTO view_case_marks (case_id, seq, mark) SELECT r.case_id, r.seq, r.mark"
                " FROM jsonb_to_recordset(CAST(:batch AS jsonb)) AS r(case_id uuid, seq int, mark jsonb)"
            ),
            {"batch": json.dumps(batch)},
        )
    return again
