"""versions of boundaries and rules, leaf flag for point location, MCA name alias

- `geo_versions`: one counter per kind of edit (areas, duty_rules, departments), bumped in the transaction of
  every edit; workers compare it per batch and reload what changed.
- `areas.leaf`: the deepest units with a boundary, the only ones point location searches (geo.locate_rules);
  a partial GiST index over them keeps the PostGIS locator from probing cities and districts.
- `areas.mca_name`: the Ministry of Civil Affairs name where it differs (南沙河口街道 → 南沙街道).
- `reports.*_version`: the versions each routing decision used.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

KINDS = ("areas", "duty_rules", "departments")


def upgrade() -> None:
    op.add_column("areas", sa.Column("mca_name", sa.Text(), nullable=True))
    op.add_column("areas", sa.Column("leaf", sa.Boolean(), server_default="false", nullable=False))
    op.execute(
        """UPDATE areas a SET leaf = true WHERE a.geom IS NOT NULL AND NOT EXISTS
           (SELECT 1 FROM areas c WHERE c.parent_code = a.code AND c.geom IS NOT NULL)"""
    )
    op.create_index(
        "areas_leaf_geom_gist", "areas", ["geom"], postgresql_using="gist", postgresql_where=sa.text("leaf")
    )
    op.create_table(
        "geo_versions",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), server_default="0", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_by", sa.Text(), server_default="migration", nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("kind"),
        sa.CheckConstraint("kind IN ('areas','duty_rules','departments')", name="geo_versions_kind"),
    )
    # Data loaded before this revision counts as version 1 of each kind; an empty database starts at 0.
    op.execute(
        "INSERT INTO geo_versions (kind, version) SELECT k, (SELECT count(*) > 0 FROM areas)::int "
        f"FROM unnest(ARRAY{list(KINDS)}) AS k"
    )
    for kind in KINDS:
        op.add_column("reports", sa.Column(f"{kind}_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    for kind in KINDS:
        op.drop_column("reports", f"{kind}_version")
    op.drop_table("geo_versions")
    op.drop_index("areas_leaf_geom_gist", table_name="areas")
    op.drop_column("areas", "leaf")
    op.drop_column("areas", "mca_name")
