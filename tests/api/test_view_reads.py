"""The view's reads against the real PostGIS, on rows of a city of their own (tests/infra/view_rows.py), each
test in a transaction rolled back: every number equals what the reads gave before migrations 0009 and 0014 (a
GROUP BY over the reports, every open case judged by due_expr, every grid worker counted in Python, each day's
counts summed), for every area, filter, period and moment; and the running cases past their deadline are
found through their index."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

from sqlalchemy import Connection, Engine, func, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from api.cases.listing import CaseQuery, due_is, list_cases, open_and_maybe_overdue
from api.read_models import case_rows
from api.views import queries
from api.views.filters import Filters
from infra.settings import Settings
from tests.infra.view_rows import (
    AREAS,
    CHILDREN,
    CITY,
    case_rows_for,
    child_level,
    decided,
    insert_areas,
    insert_cases,
    insert_reports,
    insert_users,
    old_grid_workers,
    old_open_overdue,
    old_report_totals,
    report_row,
    worker_rows,
)

T = TypeVar("T")
NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
SHARE = 0.8
PERIOD = Filters(date(2026, 11, 1), date(2026, 11, 30))


def rolled_back(settings: Settings, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    """`work` on one connection, in a transaction rolled back afterwards."""

    async def run() -> T:
        engine = create_async_engine(settings.database_url())
        try:
            async with engine.connect() as conn:
                transaction = await conn.begin()
                try:
                    return await work(conn)
                finally:
                    await transaction.rollback()
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_open_overdue_counts_what_every_open_case_judged_by_due_expr_gave(
    settings: Settings, database: Engine
) -> None:
    async def work(conn: AsyncConnection) -> None:
        rows = case_rows_for(random.Random(5), NOW, 600)
        await conn.run_sync(insert_cases, rows)
        counted = 0
        for now in (NOW, NOW - timedelta(days=3), NOW + timedelta(days=4)):
            for category, department in ((None, None), ("10101", None), (None, "219901000000:water")):
                for area in AREAS:
                    f = Filters(date(2026, 11, 1), date(2026, 11, 30), category, department)
                    new = await queries.open_overdue(conn, area, child_level(area), f, now, SHARE)
                    old = await conn.run_sync(old_open_overdue, area, now, SHARE, category, department)
                    wanted = [area, *CHILDREN[area]]
                    assert {c: new[c] for c in wanted} == {c: old[c] for c in wanted}, (area, now, f)
                    counted += new[area]
            # The list behind the figure holds as many cases.
            listed = await list_cases(
                conn, CaseQuery(CITY, open_only=True, due="overdue"), page=1, now=now, share=SHARE, tz="UTC"
            )
            assert listed.total == (await conn.run_sync(old_open_overdue, CITY, now, SHARE, None, None))[CITY]
        assert counted > 100  # the moments and filters leave overdue cases to count

    rolled_back(settings, work)


def test_the_running_cases_past_their_deadline_are_found_through_their_index(
    settings: Settings, database: Engine
) -> None:
    """The condition's expression is the index's own (migration 0009): with bitmap scans alone allowed, the
    planner finds the running cases past their deadline through cases_running_deadline, which no other
    index can answer; an expression drifting from the index's would leave it a sequential scan."""

    async def work(conn: AsyncConnection) -> str:
        await conn.execute(text("SET LOCAL enable_seqscan = off"))
        await conn.execute(text("SET LOCAL enable_indexscan = off"))
        where = [case_rows.c.city_code == CITY, open_and_maybe_overdue(NOW)]  # as the city counts
        query = select(func.count()).select_from(case_rows).where(*where, due_is("overdue", NOW, SHARE))
        sql = query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
        return "\n".join(row[0] for row in await conn.execute(text(f"EXPLAIN {sql}")))

    plan = rolled_back(settings, work)
    assert "Bitmap Index Scan on cases_running_deadline" in plan and "Seq Scan" not in plan, plan


def test_report_totals_from_the_counts_equal_the_group_by_over_the_reports(
    settings: Settings, database: Engine
) -> None:
    async def work(conn: AsyncConnection) -> None:
        await conn.run_sync(insert_areas)
        rng = random.Random(8)
        received = [report_row(rng) for _ in range(150)]
        await conn.run_sync(insert_reports, received[:40] + [{**r, **decided(rng)} for r in received[40:]])
        for area in AREAS:
            totals = (await queries.counts(conn, area, PERIOD)).totals
            old, old_children = await conn.run_sync(old_report_totals, area)
            assert totals[area] == old, area
            children = CHILDREN[area]
            assert {c: totals[c] for c in children} == {c: old_children[c] for c in children}, area
        city = (await queries.counts(conn, CITY, PERIOD)).totals[CITY]
        assert city["reports"] == 150 and city["triage"] and city["by_department"]

    rolled_back(settings, work)


def test_grid_workers_from_the_counts_equal_the_workers_counted_one_by_one(
    settings: Settings, database: Engine
) -> None:
    async def work(conn: AsyncConnection) -> None:
        await conn.run_sync(insert_areas)
        await conn.run_sync(insert_users, worker_rows(random.Random(3), 150))
        for area in AREAS:
            wanted = [area, *CHILDREN[area]]
            new = (await queries.counts(conn, area, PERIOD)).workers
            old = await conn.run_sync(old_grid_workers, area)
            assert {c: new[c] for c in wanted} == {c: old[c] for c in wanted}, area
        assert (await queries.counts(conn, CITY, PERIOD)).workers[CITY] > 100

    rolled_back(settings, work)


def test_the_period_sums_and_states_from_the_totals_equal_the_counts_they_sum(
    settings: Settings, database: Engine
) -> None:
    """Counts added as the case agent adds them (`add_counts`) keep view_weekly_total and
    view_current_total equal to what they sum (migration 0014), and the view's unfiltered read — whole weeks
    from the one, the days at either end from view_daily_total — gives, for any period, the sums of the
    days themselves; the filtered read is unchanged."""
    from indicators.ledger import Cell
    from stream.aggregates import add_counts
    from stream.aggregates_check import summed_differing

    async def work(conn: AsyncConnection) -> int:
        await conn.run_sync(insert_areas)
        rng = random.Random(14)
        first = date(2026, 1, 1)
        for _ in range(6):  # several batches: the upserts add to rows already there
            change = Counter()
            for _ in range(300):
                area = rng.choice(AREAS)
                category, department = rng.choice(["10101", "10102"]), rng.choice(["", "219901000000:water"])
                if rng.random() < 0.3:
                    state = rng.choice(["triage", "dispatched", "handled", "closed"])
                    change[Cell(area, None, category, department, state)] += rng.choice([1, 1, 2, -1])
                else:
                    day = first + timedelta(days=rng.randrange(120))
                    measure = rng.choice(["registered", "closed", "due", "escalated_up"])
                    change[Cell(area, day, category, department, measure)] += rng.choice([1, 1, 3, -1])
            await add_counts(conn, change)
        for table in ("view_weekly_total", "view_current_total"):
            assert await summed_differing(conn, table) == [], table
        checked = 0
        for _ in range(40):
            start = first + timedelta(days=rng.randrange(-10, 120))
            end = start + timedelta(days=rng.choice([0, 1, 6, 7, 13, 29, 30, 64, 200]))
            for area in (CITY, *rng.sample(AREAS, 3)):
                for category, department in ((None, None), ("10101", None), (None, "219901000000:water")):
                    codes = [area, *CHILDREN[area]]
                    got = await queries.counts(conn, area, Filters(start, end, category, department))
                    wanted = await conn.run_sync(_summed_days, codes, start, end, category, department)
                    assert _nonzero(got.daily) == wanted, (area, start, end, category, department)
                    states = await conn.run_sync(_summed_states, codes, category, department)
                    assert _nonzero(got.current) == states, (area, category, department)
                    checked += bool(wanted)
        return checked

    assert rolled_back(settings, work) > 50  # periods that hold counts, not only empty ones


def _nonzero(by_area: dict[str, Counter[str]]) -> dict[str, dict[str, int]]:
    out = {area: {k: n for k, n in counts.items() if n} for area, counts in by_area.items()}
    return {area: counts for area, counts in out.items() if counts}


def _summed_days(
    conn: Connection, codes: list[str], start: date, end: date, category: str | None, department: str | None
) -> dict[str, dict[str, int]]:
    """The period's sums as the view read them before migration 0014: each day of view_daily."""
    return _summed(
        conn,
        "view_daily",
        "measure",
        " AND day BETWEEN :start AND :end",
        codes,
        category,
        department,
        start=start,
        end=end,
    )


def _summed_states(
    conn: Connection, codes: list[str], category: str | None, department: str | None
) -> dict[str, dict[str, int]]:
    return _summed(conn, "view_current", "state", "", codes, category, department)


def _summed(
    conn: Connection,
    table: str,
    key: str,
    where: str,
    codes: list[str],
    category: str | None,
    department: str | None,
    **params: date,
) -> dict[str, dict[str, int]]:
    """{area: {key: sum of n}} of `table`'s rows of `codes`, filtered, as the view sums them."""
    out: dict[str, dict[str, int]] = {}
    rows = conn.execute(
        text(
            f"SELECT area_code, {key}, sum(n) FROM {table} WHERE area_code = ANY(:codes){where}"
            " AND (CAST(:category AS text) IS NULL OR category = :category)"
            " AND (CAST(:department AS text) IS NULL OR department_code = :department)"
            " GROUP BY 1, 2 HAVING sum(n) <> 0"
        ),
        {"codes": codes, "category": category, "department": department, **params},
    )
    for area, value, n in rows:
        out.setdefault(area, {})[value] = n
    return out
