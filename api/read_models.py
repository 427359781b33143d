"""The stored tables as the API reads them: lightweight SQLAlchemy Core constructs naming only the columns
the API uses.

The stream owns these tables (stream/tables.py and the migrations say what each column is); the API reads
them through these models instead of importing the stream's table module, so the HTTP side depends on the
stored shape, not on the stream's code (an import-linter contract in pyproject.toml keeps it so). A column
renamed in a migration fails the API's tests against the real PostGIS, not silently.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Date, DateTime, Float, Integer, Text, column, table
from sqlalchemy.dialects.postgresql import JSONB, UUID

_AREA_CODES = ("city_code", "district_code", "township_code", "community_code", "grid_code")

reports = table(
    "reports",
    column("report_id", UUID(as_uuid=True)),
    column("case_id", UUID(as_uuid=True)),
    column("status", Text),
    column("case_state", Text),
    column("category", Text),
    column("content_hash", Text),
    *(column(name, Text) for name in _AREA_CODES),
    column("area_synthetic", Boolean),
    column("department_code", Text),
    column("department_name", Text),
    column("triage_reason", Text),
    column("triage_detail", Text),
    column("deadline_at", DateTime(timezone=True)),
    column("submitted_at", DateTime(timezone=True)),
    column("areas_version", Integer),
    column("duty_rules_version", Integer),
    column("departments_version", Integer),
    column("locate_method", Text),
    column("offshore_distance_m", Float),
    column("area_candidates", JSONB),
)

report_conflicts = table(
    "report_conflicts",
    column("report_id", UUID(as_uuid=True)),
    column("content_hash", Text),
    column("submitted_at", DateTime(timezone=True)),
)

# `doc` is the whole cases.model.Case; the other columns are copies of its fields, for queries.
cases = table(
    "cases",
    column("case_id", UUID(as_uuid=True)),
    column("doc", JSONB),
    column("state", Text),
    column("seq", Integer),
)

case_history = table(
    "case_history",
    column("case_id", UUID(as_uuid=True)),
    column("seq", Integer),
    column("action", Text),
    column("from_state", Text),
    column("to_state", Text),
    column("actor", Text),
    column("at", DateTime(timezone=True)),
    column("reason", Text),
    column("note", Text),
)

# The outcome of every command the case agent processed: what the API waits for after sending one.
case_commands = table(
    "case_commands",
    column("command_id", UUID(as_uuid=True)),
    column("case_id", UUID(as_uuid=True)),
    column("outcome", Text),  # applied | refused
    column("code", Text),  # refused: illegal_transition | invalid | not_found | failed
    column("detail", Text),
    column("seq", Integer),
    column("action", JSONB),  # an act command's request, as sent
)

areas = table("areas", column("code", Text), column("name", Text))
departments = table("departments", column("code", Text), column("name", Text))
categories = table("categories", column("code", Text), column("name", Text))

# The four-level view's aggregates, kept by the case agent (migration 0008, stream/aggregates.py).
view_daily = table(
    "view_daily",
    column("area_code", Text),
    column("day", Date),
    column("measure", Text),
    column("category", Text),
    column("department_code", Text),
    column("n", BigInteger),
)
# view_daily summed over category and department (migration 0009): the view without those filters.
view_daily_total = table(
    "view_daily_total",
    column("area_code", Text),
    column("day", Date),
    column("measure", Text),
    column("n", BigInteger),
)
view_current = table(
    "view_current",
    column("area_code", Text),
    column("state", Text),
    column("category", Text),
    column("department_code", Text),
    column("n", BigInteger),
)
# Every report counted at each of its areas, by status, category and department ('' for none), kept by
# triggers on reports (migration 0009): the view's report totals. Rows may stand at n = 0.
view_reports = table(
    "view_reports",
    column("area_code", Text),
    column("status", Text),
    column("category", Text),
    column("department_code", Text),
    column("n", BigInteger),
)
# Per case, the fold's state (indicators.ledger.CaseMark as JSON): the day and department of each figure.
view_case_marks = table(
    "view_case_marks",
    column("case_id", UUID(as_uuid=True)),
    column("seq", Integer),
    column("mark", JSONB),
)
# The columns of `cases` the lists and exports read (besides `doc`).
case_rows = table(
    "cases",
    column("case_id", UUID(as_uuid=True)),
    column("doc", JSONB),
    column("state", Text),
    column("category", Text),
    *(column(name, Text) for name in _AREA_CODES),
    column("department_code", Text),
    column("helper_codes", JSONB),
    column("level", Text),
    column("deadline_at", DateTime(timezone=True)),
    column("next_timer_at", DateTime(timezone=True)),
    column("observed_at", DateTime(timezone=True)),
    column("opened_at", DateTime(timezone=True)),
    column("updated_at", DateTime(timezone=True)),
    column("closed_at", DateTime(timezone=True)),
    column("reporter_count", Integer),
)
case_steps = table(
    "case_history",
    column("case_id", UUID(as_uuid=True)),
    column("seq", Integer),
    column("action", Text),
    column("to_state", Text),
    column("at", DateTime(timezone=True)),
    column("level", Text),
    column("department_code", Text),
)
area_rows = table(
    "areas",
    column("code", Text),
    column("name", Text),
    column("mca_name", Text),
    column("level", Text),
    column("parent_code", Text),
    column("synthetic", Boolean),
    column("population", Integer),
    column("population_estimated", Boolean),
)
# Per area, the active grid workers that lie in it, kept by triggers on users (migration 0009): the view's
# staffing. Rows may stand at n = 0.
view_grid_workers = table("view_grid_workers", column("area_code", Text), column("n", BigInteger))

# The dashboard's map (api/map): areas with their shapes, the areas' edit counter (the shapes' cache key),
# and cases and reports as points. `geom` and `point` are PostGIS geometries, used only inside ST_ functions.
area_shapes = table(
    "areas",
    column("code", Text),
    column("name", Text),
    column("level", Text),
    column("parent_code", Text),
    column("population", Integer),
    column("synthetic", Boolean),
    column("geom"),
)
geo_versions = table("geo_versions", column("kind", Text), column("version", Integer))
case_points = table(
    "cases",
    column("case_id", UUID(as_uuid=True)),
    column("state", Text),
    column("category", Text),
    *(column(name, Text) for name in _AREA_CODES),
    column("level", Text),
    column("pending", Text),
    column("deadline_at", DateTime(timezone=True)),
    column("opened_at", DateTime(timezone=True)),
    column("point"),
)
report_points = table(
    "reports",
    column("report_id", UUID(as_uuid=True)),
    column("case_id", UUID(as_uuid=True)),
    column("category", Text),
    column("description", Text),
    column("status", Text),
    *(column(name, Text) for name in _AREA_CODES),
    column("observed_at", DateTime(timezone=True)),
    column("submitted_at", DateTime(timezone=True)),
    column("attachments", JSONB),
    column("point"),
)
