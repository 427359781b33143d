"""cases: the closed loop's current state, its history and the commands that drove it

- `cases`: one row per case (a case gathers one or more reports). `doc` is the whole `cases.model.Case` as
  JSON, the truth the case agent reads back; the other columns are copies of its fields for queries (queues,
  views, the timer scan, duplicate search by place and time).
- `case_history`: every transition (seq 0 is the opening), with the command that caused it.
- `case_commands`: the outcome of every command the case agent processed (applied or refused, and why), so
  a replayed command changes nothing and the API can answer the command it sent.
- `duty_rules.working_hours`: whether a rule's deadline counts working hours (default) or natural hours;
  `duty_rules.helper_kinds`: the kinds of department that help (协办) on every case of the rule.
- `reports.case_id` is no longer unique: duplicates share their case; a report's own audit trail
  (`case_transitions`) is unique per report, state and time.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    working: sa.Column[bool] = sa.Column("working_hours", sa.Boolean(), server_default="true", nullable=False)
    op.add_column("duty_rules", working)
    op.add_column("duty_rules", sa.Column("helper_kinds", JSONB(), server_default="[]", nullable=False))
    op.drop_constraint("reports_case_id_key", "reports", type_="unique")
    # A report's own audit trail is per report now that duplicates share a case (and may share a time).
    op.drop_constraint("case_transitions_once", "case_transitions", type_="unique")
    op.create_unique_constraint("case_transitions_once", "case_transitions", ["report_id", "to_state", "at"])
    op.create_index("reports_case_id", "reports", ["case_id"])
    op.create_table(
        "cases",
        sa.Column("case_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("doc", JSONB(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("category", sa.String(8), nullable=False),
        sa.Column("city_code", sa.String(12)),
        sa.Column("district_code", sa.String(12)),
        sa.Column("township_code", sa.String(12)),
        sa.Column("community_code", sa.String(12)),
        sa.Column("grid_code", sa.String(15)),
        sa.Column("department_code", sa.String(64)),
        sa.Column("helper_codes", JSONB(), nullable=False, server_default="[]"),
        sa.Column("level", sa.String(10), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True)),
        sa.Column("next_timer_at", sa.DateTime(timezone=True)),
        sa.Column("pending", sa.String(16)),
        sa.Column("point", Geometry("POINT", srid=4326, spatial_index=False)),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column("reporter_count", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("seq", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_index("cases_state", "cases", ["state"])
    op.create_index("cases_department_state", "cases", ["department_code", "state"])
    op.create_index("cases_district", "cases", ["district_code"])
    op.create_index("cases_township", "cases", ["township_code"])
    op.create_index("cases_community", "cases", ["community_code"])
    op.create_index("cases_grid", "cases", ["grid_code"])
    op.create_index(
        "cases_next_timer", "cases", ["next_timer_at"], postgresql_where=sa.text("next_timer_at IS NOT NULL")
    )
    op.create_index("cases_open_category_observed", "cases", ["category", "observed_at"])
    op.create_index("cases_point", "cases", ["point"], postgresql_using="gist")
    op.create_table(
        "case_history",
        sa.Column("case_id", UUID(as_uuid=True), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("command_id", UUID(as_uuid=True), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("from_state", sa.String(16)),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("note", sa.Text()),
        sa.Column("payload", JSONB(), nullable=False),
        sa.Column("level", sa.String(10), nullable=False),
        sa.Column("department_code", sa.String(64)),
        sa.Column("deadline_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("case_id", "seq"),
    )
    op.create_index("case_history_at", "case_history", ["at"])
    op.create_table(
        "case_commands",
        sa.Column("command_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("case_id", UUID(as_uuid=True), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("outcome", sa.String(8), nullable=False),  # applied | refused
        sa.Column("code", sa.String(32)),
        sa.Column("detail", sa.Text()),
        sa.Column("seq", sa.Integer()),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("case_commands")
    op.drop_table("case_history")
    op.drop_table("cases")
    op.drop_constraint("case_transitions_once", "case_transitions", type_="unique")
    op.create_unique_constraint("case_transitions_once", "case_transitions", ["case_id", "to_state", "at"])
    op.drop_index("reports_case_id", table_name="reports")
    op.create_unique_constraint("reports_case_id_key", "reports", ["case_id"])
    op.drop_column("duty_rules", "helper_kinds")
    op.drop_column("duty_rules", "working_hours")
