"""Migration 0014 against the real PostGIS: it fills view_weekly_total and view_current_total from the counts
a database already held (each week summed from its Monday, rows netting to nothing left out), and its
downgrade leaves nothing behind."""

from __future__ import annotations

from datetime import date

from alembic import command
from sqlalchemy import text

from infra.settings import Settings
from tests.fixtures import migration_database
from tests.infra.view_rows import CITY

COMMUNITY = "219901001001"


def test_the_migration_fills_the_week_and_state_totals_and_its_downgrade_leaves_nothing(
    services: Settings,
) -> None:
    with migration_database(services, "m0014") as (config, engine):
        command.upgrade(config, "0013")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO view_daily_total (area_code, day, measure, n) VALUES"
                    # Sunday 2026-11-01 closes the week of Monday 10-26; Monday 11-02 opens the next.
                    " (:c, '2026-11-01', 'registered', 2), (:c, '2026-11-02', 'registered', 3),"
                    " (:c, '2026-11-08', 'registered', 4), (:c, '2026-11-03', 'closed', 1),"
                    " (:c, '2026-11-04', 'closed', -1), (:k, '2026-11-05', 'registered', 7)"
                ),
                {"c": CITY, "k": COMMUNITY},
            )
            conn.execute(
                text(
                    "INSERT INTO view_current (area_code, state, category, department_code, n) VALUES"
                    " (:c, 'triage', '10101', '', 2), (:c, 'triage', '10102', 'x', 3),"
                    " (:c, 'closed', '10101', '', 1), (:c, 'handled', '10101', '', 0)"
                ),
                {"c": CITY},
            )
        command.upgrade(config, "head")
        with engine.begin() as conn:
            weeks = conn.execute(
                text("SELECT area_code, week, measure, n FROM view_weekly_total ORDER BY 1, 2")
            )
            assert weeks.all() == [
                (CITY, date(2026, 10, 26), "registered", 2),
                (CITY, date(2026, 11, 2), "registered", 7),  # closed +1 -1 nets to nothing: no row
                (COMMUNITY, date(2026, 11, 2), "registered", 7),
            ]
            states = conn.execute(text("SELECT area_code, state, n FROM view_current_total ORDER BY 2"))
            assert states.all() == [(CITY, "closed", 1), (CITY, "triage", 5)]

        command.downgrade(config, "0013")
        with engine.begin() as conn:
            left = conn.execute(
                text(
                    "SELECT relname FROM pg_class"
                    " WHERE relname LIKE 'view_weekly_total%' OR relname LIKE 'view_current_total%'"
                )
            )
            assert left.all() == []
        command.upgrade(config, "head")  # and again, on what the downgrade left
