"""The check of the view's aggregates: recount everything from the stored case history, compare; and the
rebuild that replaces the aggregates with that recount (after migrating a database that held cases).

The recount folds every case's history from its opening with `indicators.ledger.advance`, the function the
case agent counts with, reading the rows in (case, seq) order from a server-side cursor, and writes the
counts of each batch of cases to a temporary table that the comparison sums: memory holds one batch, neither
the cases nor the city's counts.

The sums kept from other tables (`SUMS`: the totals from view_daily and view_current, and the counts
PostgreSQL keeps by triggers, migration 0009) are summed again in SQL from what they are kept from, with the
functions the triggers use; only the rows that differ come back.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from cases.calendar import WorkCalendar
from indicators.ledger import CaseMark, Cell, advance
from stream.aggregates import view_case_marks
from stream.tables import case_history

# table → (its key, the query that sums it again from what it is kept from); the rebuild refills them in
# this order, each from tables refilled before it.
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


class RowDiff(NamedTuple):
    table: str
    key: tuple[Any, ...]
    stored: int
    summed: int  # from what the table is kept from


@dataclass
class Recount:
    cases: int = 0
    seq_sum: int = 0  # Σ of the cases' last seq: compared with the stored marks'
    cells: int = 0  # counts that are not zero


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


Progress = Callable[[int], None]  # told the cases recounted so far


# The recount is written to a temporary table, a batch of cells at a time, and compared in SQL: memory holds
# one batch, not the city's counts (at ten million cases view_daily has 171 million rows). A cell may be
# written by several batches; the comparisons sum them.
_RECOUNTED = (
    "CREATE TEMPORARY TABLE view_recounted (area_code text, day date, category text,"
    " department_code text, measure text, n bigint) ON COMMIT DROP"
)
_ADD_RECOUNTED = text(
    "INSERT INTO view_recounted SELECT * FROM unnest(CAST(:areas AS text[]), CAST(:days AS date[]),"
    " CAST(:categories AS text[]), CAST(:departments AS text[]), CAST(:measures AS text[]),"
    " CAST(:ns AS bigint[]))"
)
_ADD_MARKS = text(
    "INSERT INTO view_case_marks (case_id, seq, mark) SELECT r.case_id, r.seq, r.mark"
    " FROM jsonb_to_recordset(CAST(:batch AS jsonb)) AS r(case_id uuid, seq int, mark jsonb)"
)
# The recount summed per cell, as view_daily's rows (day set) and view_current's (no day; measure = state).
_AGAIN_DAILY = (
    "SELECT area_code, day, measure, category, department_code, sum(n) AS n FROM view_recounted"
    " WHERE day IS NOT NULL GROUP BY 1, 2, 3, 4, 5 HAVING sum(n) <> 0"
)
_AGAIN_CURRENT = (
    "SELECT area_code, measure AS state, category, department_code, sum(n) AS n FROM view_recounted"
    " WHERE day IS NULL GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0"
)
# (table, its key, the recount as its rows)
_COMPARED = (
    ("view_daily", "area_code, day, measure, category, department_code", _AGAIN_DAILY),
    ("view_current", "area_code, state, category, department_code", _AGAIN_CURRENT),
)


async def recount(
    conn: AsyncConnection,
    calendar: WorkCalendar,
    *,
    write_marks: bool = False,
    batch_cases: int = 20_000,
    progress: Progress | None = None,
) -> Recount:
    """Fold every case's history into `view_recounted` (a temporary table, dropped at commit), a batch of
    cases at a time; with `write_marks`, each case's mark goes to view_case_marks too (for a rebuild)."""
    out = Recount()
    await conn.execute(text(_RECOUNTED))
    counts: Counter[Cell] = Counter()
    marks: list[dict[str, Any]] = []
    current: Any = None
    mark: CaseMark | None = None

    async def flush() -> None:
        cells = [(cell, n) for cell, n in counts.items() if n]
        if cells:
            await conn.execute(
                _ADD_RECOUNTED,
                {
                    "areas": [c.area_code for c, _ in cells],
                    "days": [c.day for c, _ in cells],
                    "categories": [c.category for c, _ in cells],
                    "departments": [c.department for c, _ in cells],
                    "measures": [c.measure for c, _ in cells],
                    "ns": [n for _, n in cells],
                },
            )
        if marks:
            await conn.execute(_ADD_MARKS, {"batch": json.dumps(marks)})
        counts.clear()
        marks.clear()
        if progress is not None:
            progress(out.cases)

    def finish() -> None:
        if mark is not None:
            out.cases += 1
            out.seq_sum += mark.seq
            if write_marks:
                doc = mark.model_dump(mode="json")
                marks.append({"case_id": str(current), "seq": mark.seq, "mark": doc})

    query = select(case_history).order_by(case_history.c.case_id, case_history.c.seq)
    rows = await conn.stream(query.execution_options(yield_per=5000))
    pending = 0  # cases folded since the last flush
    async for row in rows:
        if row.case_id != current:
            finish()
            current, mark = row.case_id, None
            pending += 1
            if pending > batch_cases:  # between two cases: a case's rows are never split
                await flush()
                pending = 1
        mark, change = advance(mark, [dict(row._mapping)], calendar)
        counts.update(change)
    finish()
    await flush()
    out.cells = sum(
        [
            (await conn.execute(text(f"SELECT count(*) FROM ({again}) AS a"))).scalar_one()
            for _, _, again in _COMPARED
        ]
    )
    return out


def _cell(table: str, key: tuple[Any, ...]) -> Cell:
    if table == "view_daily":
        area, day, measure, category, department = key
        return Cell(area, day, category, department, measure)
    area, state, category, department = key
    return Cell(area, None, category, department, state)


async def _recount_differing(conn: AsyncConnection, examples: int) -> tuple[list[tuple[Cell, int, int]], int]:
    """The stored counts that differ from the recount (rows at 0 count as missing): the first `examples`
    and how many."""
    found: list[tuple[Cell, int, int]] = []
    count = 0
    for table, key, again in _COMPARED:
        joined = (
            f" FROM (SELECT {key}, n FROM {table} WHERE n <> 0) AS k FULL JOIN ({again}) AS a USING ({key})"
            " WHERE coalesce(k.n, 0) <> coalesce(a.n, 0)"
        )
        count += (await conn.execute(text(f"SELECT count(*){joined}"))).scalar_one()
        rows = await conn.execute(
            text(f"SELECT {key}, coalesce(k.n, 0), coalesce(a.n, 0){joined} ORDER BY {key} LIMIT :x"),
            {"x": examples},
        )
        found += [(_cell(table, tuple(row[:-2])), int(row[-2]), int(row[-1])) for row in rows]
    return found[:examples], count


async def check(
    conn: AsyncConnection,
    calendar: WorkCalendar,
    *,
    examples: int = 10,
    progress: Progress | None = None,
    batch_cases: int = 20_000,
) -> CheckResult:
    """Recount from the history and compare with the stored aggregates and marks (same numbers, or not)."""
    again = await recount(conn, calendar, progress=progress, batch_cases=batch_cases)
    differing, differing_count = await _recount_differing(conn, examples)
    marks = (
        await conn.execute(select(func.count(), func.coalesce(func.sum(view_case_marks.c.seq), 0)))
    ).one()
    rows = [row for table in SUMS for row in await summed_differing(conn, table)]
    return CheckResult(
        cases=again.cases,
        cells=again.cells,
        differing=differing,
        differing_count=differing_count,
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


async def rebuild(
    conn: AsyncConnection, calendar: WorkCalendar, *, progress: Progress | None = None
) -> Recount:
    """Replace the aggregates and marks with a recount, and the counts kept from other tables with a sum of
    what they count, in the caller's transaction. Stop the workers first. The tables are locked before
    anything is read, so a writer either commits before the recount reads (and is in it) or waits for the
    rebuild to commit (and counts its change on top)."""
    await conn.execute(text(f"LOCK TABLE {', '.join(REBUILT)} IN ACCESS EXCLUSIVE MODE"))
    await conn.execute(text(f"TRUNCATE {', '.join(REBUILT)}"))
    again = await recount(conn, calendar, write_marks=True, progress=progress)
    for table, key, recounted in _COMPARED:
        await conn.execute(text(f"INSERT INTO {table} ({key}, n) SELECT {key}, n FROM ({recounted}) AS a"))
    for table, (key, query) in SUMS.items():  # in order: view_weekly_total is summed from view_daily_total
        await conn.execute(
            text(f"INSERT INTO {table} ({key}, n) SELECT {key}, n FROM ({query}) AS e WHERE n <> 0")
        )
    return again
