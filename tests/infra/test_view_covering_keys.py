"""Migration 0012 against the real PostgreSQL: the view's sums are read from the counts' primary keys alone
(`INCLUDE (n)`), an index-only scan, and the stream's upserts still find their key."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import Engine, text

# table → a read of the kind the view makes (api/views/queries.py)
READS = {
    "view_daily_total": "SELECT area_code, measure, sum(n) FROM view_daily_total"
    " WHERE area_code IN ('210202000000', '210203000000') AND day BETWEEN '2026-01-01' AND '2026-01-30'"
    " GROUP BY 1, 2",
    "view_reports": "SELECT area_code, status, sum(n) FROM view_reports"
    " WHERE area_code IN ('210202000000', '210203000000') GROUP BY 1, 2",
    "view_current": "SELECT area_code, state, sum(n) FROM view_current"
    " WHERE area_code IN ('210202000000', '210203000000') GROUP BY 1, 2",
}


@pytest.mark.parametrize("table", sorted(READS))
def test_the_views_sums_are_read_from_the_key_alone(database: Engine, table: str) -> None:
    with database.connect() as conn:
        keys, columns = conn.execute(
            text(
                "SELECT i.indnkeyatts, i.indnatts FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                " WHERE c.relname = :name AND i.indisprimary"
            ),
            {"name": f"{table}_pkey"},
        ).one()
        assert columns == keys + 1  # the key, and n carried in it
        conn.execute(text("SET LOCAL enable_seqscan = off"))  # a small test table: the planner's cheapest
        conn.execute(text("SET LOCAL enable_bitmapscan = off"))
        plan = json.dumps(conn.scalar(text(f"EXPLAIN (FORMAT JSON) {READS[table]}")))
    assert '"Index Only Scan"' in plan and f"{table}_pkey" in plan


def test_an_upsert_still_finds_the_covering_key(database: Engine) -> None:
    """add_counts' ON CONFLICT (area_code, day, measure) names the key columns; n is no key column."""
    upsert = text(
        "INSERT INTO view_daily_total (area_code, day, measure, n) VALUES ('999999999999', :day, 'opened', 1)"
        " ON CONFLICT (area_code, day, measure) DO UPDATE SET n = view_daily_total.n + excluded.n"
    )
    with database.begin() as conn:
        for _ in range(3):
            conn.execute(upsert, {"day": date(2026, 1, 2)})
        n = conn.scalar(text("SELECT n FROM view_daily_total WHERE area_code = '999999999999'"))
        conn.execute(text("DELETE FROM view_daily_total WHERE area_code = '999999999999'"))
    assert n == 3
