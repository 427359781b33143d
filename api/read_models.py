"""The stored tables as the API reads them: lightweight SQLAlchemy Core constructs naming only the columns
the API uses.

The stream owns these tables (stream/tables.py and the migrations say what each column is); the API reads
them through these models instead of importing the stream's table module, so the HTTP side depends on the
stored shape, not on the stream's code (an import-linter contract in pyproject.toml keeps it so). A column
renamed in a migration fails the API's tests against the real PostGIS, not silently.
"""

from __future__ import annotations

from sqlalchemy import Boolean, DateTime, Float, Integer, Text, column, table
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
)

areas = table("areas", column("code", Text), column("name", Text))
departments = table("departments", column("code", Text), column("name", Text))
categories = table("categories", column("code", Text), column("name", Text))
