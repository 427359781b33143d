"""initial schema

Revision ID: 0001
Revises: (none)
"""

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table(
        "areas",
        sa.Column("code", sa.String(length=15), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("parent_code", sa.String(length=15), nullable=True),
        sa.Column("kind", sa.Text(), nullable=True),
        sa.Column("mca_code", sa.String(length=12), nullable=True),
        sa.Column("population", sa.Integer(), nullable=True),
        sa.Column("population_estimated", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("synthetic", sa.Boolean(), server_default="false", nullable=False),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint("level IN ('city','district','township','community','grid')", name="areas_level"),
        sa.ForeignKeyConstraint(
            ["parent_code"],
            ["areas.code"],
        ),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_index(op.f("ix_areas_level"), "areas", ["level"], unique=False)
    op.create_index(op.f("ix_areas_parent_code"), "areas", ["parent_code"], unique=False)
    op.create_table(
        "case_transitions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.UUID(), nullable=False),
        sa.Column("report_id", sa.UUID(), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "to_state", "at", name="case_transitions_once"),
    )
    op.create_index(op.f("ix_case_transitions_case_id"), "case_transitions", ["case_id"], unique=False)
    op.create_table(
        "categories",
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("major_code", sa.String(length=8), nullable=False),
        sa.Column("major_name", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "reports",
        sa.Column("report_id", sa.UUID(), nullable=False),
        sa.Column("case_id", sa.UUID(), nullable=False),
        sa.Column("reporter_id", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=8), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "point",
            geoalchemy2.types.Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column("accuracy_m", sa.Float(), nullable=True),
        sa.Column("crs", sa.String(length=8), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("case_state", sa.String(length=16), nullable=False),
        sa.Column("triage_reason", sa.String(length=32), nullable=True),
        sa.Column("triage_detail", sa.Text(), nullable=True),
        sa.Column("city_code", sa.String(length=12), nullable=False),
        sa.Column("district_code", sa.String(length=12), nullable=True),
        sa.Column("township_code", sa.String(length=12), nullable=True),
        sa.Column("community_code", sa.String(length=12), nullable=True),
        sa.Column("grid_code", sa.String(length=15), nullable=True),
        sa.Column("area_synthetic", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("department_code", sa.String(length=64), nullable=True),
        sa.Column("department_name", sa.Text(), nullable=True),
        sa.Column("duty_rule", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duplicate_of", sa.UUID(), nullable=True),
        sa.Column(
            "attachments", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False
        ),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_version", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("report_id"),
        sa.UniqueConstraint("case_id"),
    )
    op.create_index("reports_community", "reports", ["community_code"], unique=False)
    op.create_index("reports_department", "reports", ["department_code"], unique=False)
    op.create_index("reports_district_status", "reports", ["district_code", "status"], unique=False)
    op.create_index("reports_township", "reports", ["township_code"], unique=False)
    op.create_table(
        "departments",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("area_code", sa.String(length=15), nullable=False),
        sa.ForeignKeyConstraint(
            ["area_code"],
            ["areas.code"],
        ),
        sa.PrimaryKeyConstraint("code"),
        sa.UniqueConstraint("area_code", "kind", name="departments_area_kind"),
    )
    op.create_index(op.f("ix_departments_area_code"), "departments", ["area_code"], unique=False)
    op.create_table(
        "duty_rules",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("category_code", sa.String(length=8), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("department_kind", sa.String(length=32), nullable=False),
        sa.Column("deadline_hours", sa.Integer(), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("length(btrim(department_kind)) > 0", name="duty_rules_department_kind"),
        sa.CheckConstraint("length(btrim(legal_basis)) > 0", name="duty_rules_legal_basis"),
        sa.ForeignKeyConstraint(
            ["category_code"],
            ["categories.code"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("category_code", "level", name="duty_rules_category_level"),
    )
    # Point location runs ST_Covers against these; GiST keeps it to the candidates whose boxes match.
    op.create_index("areas_geom_gist", "areas", ["geom"], postgresql_using="gist")
    op.create_index("reports_point_gist", "reports", ["point"], postgresql_using="gist")


def downgrade() -> None:
    op.drop_index("reports_point_gist", table_name="reports")
    op.drop_index("areas_geom_gist", table_name="areas")
    op.drop_table("duty_rules")
    op.drop_index(op.f("ix_departments_area_code"), table_name="departments")
    op.drop_table("departments")
    op.drop_index("reports_township", table_name="reports")
    op.drop_index("reports_district_status", table_name="reports")
    op.drop_index("reports_department", table_name="reports")
    op.drop_index("reports_community", table_name="reports")
    op.drop_table("reports")
    op.drop_table("categories")
    op.drop_index(op.f("ix_case_transitions_case_id"), table_name="case_transitions")
    op.drop_table("case_transitions")
    op.drop_index(op.f("ix_areas_parent_code"), table_name="areas")
    op.drop_index(op.f("ix_areas_level"), table_name="areas")
    op.drop_table("areas")
