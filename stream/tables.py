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
    Column("case_id", UUID(as_uuid=True), nullable=False, unique=True),
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
    UniqueConstraint("case_id", "to_state", "at", name="case_transitions_once"),
)

# A report_id submitted again with other content (migration 0005): the first stands, these are refused.
report_conflicts = Table(
    "report_conflicts",
    metadata,
    Column("report_id", UUID(as_uuid=True), primary_key=True),
    Column("content_hash", String(64), primary_key=True),
    Column("submitted_at", DateTime(timezone=True), nullable=False),
)
