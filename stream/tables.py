"""PostGIS tables derived from the event log: one row per report (its case), and the audit trail.

Every write is an idempotent upsert keyed on ids carried by the events, so replaying the topics from the
start gives the same rows.
"""

from __future__ import annotations

from geoalchemy2 import Geometry
from sqlalchemy import Boolean, Column, DateTime, Float, Index, Integer, String, Table, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB, UUID

from geo.models import metadata

reports = Table(
    "reports",
    metadata,
    Column("report_id", UUID(as_uuid=True), primary_key=True),
    Column("case_id", UUID(as_uuid=True), nullable=False),  # shared by duplicates (migration 0006)
    Column("reporter_id", Text, nullable=False),
    Column("category", String(8), nullable=False),
    Column("description", Text, nullable=False),
    Column("point", Geometry("POINT", srid=4326, spatial_index=False)),
    Column("accuracy_m", Float),
    Column("crs", String(8), nullable=False),
    Column("observed_at", DateTime(timezone=True), nullable=False),
    Column("submitted_at", DateTime(timezone=True), nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # routed | triage
    Column("case_state", String(16), nullable=False),
    Column("triage_reason", String(32)),
    Column("triage_detail", Text),
    Column("city_code", String(12), nullable=False),
    Column("district_code", String(12)),
    Column("township_code", String(12)),
    Column("community_code", String(12)),
    Column("grid_code", String(15)),
    Column("area_synthetic", Boolean, nullable=False, server_default="false"),
    Column("department_code", String(64)),
    Column("department_name", Text),
    Column("duty_rule", JSONB),
    Column("deadline_at", DateTime(timezone=True)),
    Column("duplicate_of", UUID(as_uuid=True)),
    Column("attachments", JSONB, nullable=False, server_default="[]"),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    Column("event_version", Integer, nullable=False, server_default="1"),
    # The versions of boundaries and rules the routing decision used (geo_versions); NULL before versioning.
    Column("areas_version", Integer),
    Column("duty_rules_version", Integer),
    Column("departments_version", Integer),
    # How the point was located (migration 0003): covers | nearest_offshore, and the accuracy candidates.
    Column("locate_method", String(24)),
    Column("offshore_distance_m", Float),
    Column("area_candidates", JSONB, nullable=False, server_default="[]"),
    Index("reports_district_status", "district_code", "status"),
    Index("reports_township", "township_code"),
    Index("reports_community", "community_code"),
    Index("reports_department", "department_code"),
    Index("reports_case_id", "case_id"),
    Index("reports_reporter_submitted", "reporter_id", "submitted_at"),
)

case_transitions = Table(
    "case_transitions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("report_id", UUID(as_uuid=True), nullable=False),
    Column("from_state", String(16)),
    Column("to_state", String(16), nullable=False),
    Column("actor", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("note", Text, nullable=False, server_default=""),
    # The same transition replayed from the log lands once.
    UniqueConstraint("report_id", "to_state", "at", name="case_transitions_once"),
)

# A report_id submitted again with other content (migration 0005): the first stands, these are refused.
report_conflicts = Table(
    "report_conflicts",
    metadata,
    Column("report_id", UUID(as_uuid=True), primary_key=True),
    Column("content_hash", String(64), primary_key=True),
    Column("submitted_at", DateTime(timezone=True), nullable=False),
)

# The cases (migration 0006). `doc` is the whole cases.model.Case; the other columns copy its fields for
# queries. Written only by the case agent (stream/cases_stage.py).
cases = Table(
    "cases",
    metadata,
    Column("case_id", UUID(as_uuid=True), primary_key=True),
    Column("doc", JSONB, nullable=False),
    Column("state", String(16), nullable=False),
    Column("category", String(8), nullable=False),
    Column("city_code", String(12)),
    Column("district_code", String(12)),
    Column("township_code", String(12)),
    Column("community_code", String(12)),
    Column("grid_code", String(15)),
    Column("department_code", String(64)),
    Column("helper_codes", JSONB, nullable=False, server_default="[]"),
    Column("level", String(10), nullable=False),
    Column("deadline_at", DateTime(timezone=True)),
    Column("next_timer_at", DateTime(timezone=True)),
    Column("pending", String(16)),
    Column("point", Geometry("POINT", srid=4326, spatial_index=False)),
    Column("observed_at", DateTime(timezone=True), nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True)),
    Column("reporter_count", Integer, nullable=False, server_default="1"),
    Column("seq", Integer, nullable=False, server_default="0"),
)

case_history = Table(
    "case_history",
    metadata,
    Column("case_id", UUID(as_uuid=True), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("command_id", UUID(as_uuid=True), nullable=False),
    Column("action", String(16), nullable=False),
    Column("from_state", String(16)),
    Column("to_state", String(16), nullable=False),
    Column("actor", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("reason", Text),
    Column("note", Text),
    Column("payload", JSONB, nullable=False),
    Column("level", String(10), nullable=False),
    Column("department_code", String(64)),
    Column("deadline_at", DateTime(timezone=True)),
)

case_commands = Table(
    "case_commands",
    metadata,
    Column("command_id", UUID(as_uuid=True), primary_key=True),
    Column("case_id", UUID(as_uuid=True), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("outcome", String(8), nullable=False),  # applied | refused
    Column("code", String(32)),
    Column("detail", Text),
    Column("seq", Integer),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("action", JSONB),  # an act command's request (migration 0013)
)
