"""The counts PostgreSQL keeps for the view (migration 0009), against the real PostGIS: view_reports equals a
recount of the reports after every kind of write (receipts, decisions, a decision for a report never
received, COPY, deletes, a truncate) and a write that changes no count touches no row; view_grid_workers
equals the count the view made before, as users come, change and go; the migration fills both, and
view_daily_total, from what a database already held, and its downgrade leaves nothing behind.

Each test on rows of a city of their own (tests/infra/view_rows.py), in a transaction rolled back."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import date

import pytest
from alembic import command
from sqlalchemy import Connection, Engine, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from infra.settings import Settings
from stream.tables import reports
from tests.fixtures import migration_database
from tests.infra.view_rows import (
    AREAS,
    CHILDREN,
    CITY,
    GRIDS,
    decided,
    insert_reports,
    insert_users,
    old_grid_workers,
    recounted_reports,
    report_row,
    stored_reports,
    worker_rows,
)


@pytest.fixture
def conn(database: Engine) -> Iterator[Connection]:
    with database.connect() as connection:
        transaction = connection.begin()
        yield connection
        transaction.rollback()


def _rows_of_the_city(conn: Connection, table: str) -> list[tuple[object, ...]]:
    """The city's rows of a count table with their row version: a row written again has another xmin."""
    return conn.exec_driver_sql(
        f"SELECT *, xmin::text FROM {table} WHERE area_code LIKE '2199%%' ORDER BY area_code"
    ).all()


def _decide(conn: Connection, rows: list[dict[str, object]]) -> None:
    """As the sink writes decisions: one INSERT … ON CONFLICT DO UPDATE, the first decision winning."""
    statement = pg_insert(reports).values(rows)
    changed = ("status", "district_code", "township_code", "community_code", "grid_code", "department_code")
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[reports.c.report_id],
            set_={name: statement.excluded[name] for name in changed},
            where=reports.c.status == "accepted",
        )
    )


def test_view_reports_equals_a_recount_of_the_reports_after_every_kind_of_write(conn: Connection) -> None:
    rng = random.Random(9)
    received = [report_row(rng) for _ in range(80)]
    insert_reports(conn, received)
    counted = stored_reports(conn)
    assert counted == recounted_reports(conn)
    assert sum(n for (area, *_), n in counted.items() if area == CITY) == 80

    # Decisions for 50 received reports and 10 never received, in one statement: it fires the UPDATE and the
    # INSERT trigger both.
    unseen = [report_row(rng) for _ in range(10)]
    _decide(conn, [{**row, **decided(rng)} for row in received[:50] + unseen])
    assert stored_reports(conn) == recounted_reports(conn)
    statuses = Counter(status for (area, status, *_), n in stored_reports(conn).items() if area == CITY)
    assert set(statuses) == {"accepted", "routed", "triage"}

    # A later decision for a decided report changes nothing; relinking reports to cases moves no count.
    before = _rows_of_the_city(conn, "view_reports")
    _decide(conn, [{**row, **decided(rng)} for row in received[:20]])
    conn.execute(update(reports).where(reports.c.city_code == CITY).values(case_id=uuid.uuid4()))
    assert _rows_of_the_city(conn, "view_reports") == before

    copied = [{**report_row(rng), **decided(rng)} for _ in range(15)]
    columns = list(copied[0])
    with conn.connection.driver_connection.cursor().copy(  # type: ignore[union-attr]
        f"COPY reports ({', '.join(columns)}) FROM STDIN"
    ) as copy:
        for row in copied:
            copy.write_row([row[c] for c in columns])
    assert stored_reports(conn) == recounted_reports(conn)

    conn.execute(reports.delete().where(reports.c.report_id.in_([r["report_id"] for r in received[::3]])))
    conn.execute(
        update(reports)
        .where(reports.c.status == "triage", reports.c.city_code == CITY)
        .values(status="routed", department_code="219901000000:water")
    )
    assert stored_reports(conn) == recounted_reports(conn)

    conn.execute(text("TRUNCATE reports"))
    assert conn.execute(text("SELECT count(*) FROM view_reports")).scalar_one() == 0


def _stored_workers(conn: Connection) -> Counter[str]:
    found = conn.exec_driver_sql(
        "SELECT area_code, n FROM view_grid_workers WHERE area_code LIKE '2199%%' AND n <> 0"
    )
    return Counter(dict(found.all()))


def _assert_workers_as_before(conn: Connection) -> None:
    stored = _stored_workers(conn)
    for area in AREAS:
        before = old_grid_workers(conn, area)
        assert stored[area] == before[area], area
        assert {c: stored[c] for c in CHILDREN[area]} == {c: before[c] for c in CHILDREN[area]}, area


def test_view_grid_workers_counts_each_worker_once_in_each_area_as_the_view_did(conn: Connection) -> None:
    rng = random.Random(4)
    workers = worker_rows(rng, 120)
    insert_users(conn, workers)
    assert _stored_workers(conn)[CITY] > 80
    _assert_workers_as_before(conn)

    # A sign-in writes the user again and counts nothing.
    before = _rows_of_the_city(conn, "view_grid_workers")
    conn.execute(text("UPDATE users SET last_login_at = now() WHERE username LIKE 't_view_rows_%'"))
    assert _rows_of_the_city(conn, "view_grid_workers") == before

    names = [w["username"] for w in workers]
    conn.execute(text("UPDATE users SET disabled = NOT disabled WHERE username = ANY(:n)"), {"n": names[:30]})
    conn.execute(
        text(
            "UPDATE users SET grid_codes = jsonb_build_array(CAST(:g AS text)), area_code = NULL"
            " WHERE username = ANY(:n)"
        ),
        {"g": GRIDS[-1], "n": names[30:50]},
    )
    conn.execute(text("UPDATE users SET role = 'grid_worker' WHERE username = ANY(:n)"), {"n": names[50:70]})
    conn.execute(text("DELETE FROM users WHERE username = ANY(:n)"), {"n": names[70:90]})
    _assert_workers_as_before(conn)


def test_the_migration_fills_the_counts_from_what_was_stored_and_its_downgrade_leaves_nothing(
    services: Settings,
) -> None:
    with migration_database(services, "m0009") as (config, engine):
        command.upgrade(config, "0008")
        rng = random.Random(2)
        with engine.begin() as conn:
            received = [report_row(rng) for _ in range(40)]
            insert_reports(conn, received[:10] + [{**r, **decided(rng)} for r in received[10:]])
            insert_users(conn, worker_rows(rng, 40))
            conn.execute(
                text(
                    "INSERT INTO view_daily (area_code, day, measure, category, department_code, n)"
                    " VALUES (:c, :d, 'registered', '10101', '', 2), (:c, :d, 'registered', '10102', 'x', 3),"
                    " (:c, :d, 'closed', '10101', '', 1), (:c, :e, 'registered', '10101', '', 0)"
                ),
                {"c": CITY, "d": date(2026, 11, 2), "e": date(2026, 11, 3)},
            )
        command.upgrade(config, "head")
        with engine.begin() as conn:
            assert stored_reports(conn) == recounted_reports(conn) and stored_reports(conn)
            _assert_workers_as_before(conn)
            totals = conn.execute(text("SELECT area_code, day, measure, n FROM view_daily_total ORDER BY 3"))
            assert totals.all() == [
                (CITY, date(2026, 11, 2), "closed", 1),
                (CITY, date(2026, 11, 2), "registered", 5),
            ]

        command.downgrade(config, "0008")
        with engine.begin() as conn:
            left = conn.execute(
                text(
                    "SELECT relname FROM pg_class WHERE relname IN ('view_reports', 'view_grid_workers',"
                    " 'view_daily_total', 'cases_running_deadline', 'cases_judged_by_doc')"
                    " UNION ALL SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
                    " UNION ALL SELECT proname FROM pg_proc WHERE proname LIKE 'view%'"
                    " UNION ALL SELECT stxname FROM pg_statistic_ext"
                )
            )
            assert left.all() == []
        command.upgrade(config, "head")  # and again, on what the downgrade left
