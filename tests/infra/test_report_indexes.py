"""Migration 0010 against the real PostgreSQL: a reporter's reports are found through their own index
(Open311's GET /requests and a grid worker's scope ask by reporter), and no GiST index is kept on the
reports' points, which nothing searches by place."""

from __future__ import annotations

import json

from sqlalchemy import Engine, text


def test_a_reporters_reports_are_read_through_an_index_and_no_report_point_is_indexed(
    database: Engine,
) -> None:
    with database.connect() as conn:
        indexes = set(conn.scalars(text("SELECT indexname FROM pg_indexes WHERE tablename = 'reports'")))
        assert "reports_reporter_submitted" in indexes
        assert "reports_point_gist" not in indexes
        conn.execute(text("SET LOCAL enable_seqscan = off"))  # a small test table: the planner's cheapest
        plan = conn.scalar(
            text(
                "EXPLAIN (FORMAT JSON) SELECT report_id FROM reports WHERE reporter_id = 'gw-1'"
                " ORDER BY submitted_at DESC LIMIT 1000"
            )
        )
    assert "reports_reporter_submitted" in json.dumps(plan)
