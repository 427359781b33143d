"""leaf_cells: a coverage table of the leaves over a fixed 0.01-degree lattice, for batched point location

The PostGIS locator hash-joins a batch's points to it by cell key, then tests the few leaves found exactly
(geo.locate_db). Filled here from the leaves already loaded; geo.store.refresh_leaves rebuilds it after every
write of areas. The SQL is written out here, not imported, so this revision stays as it was.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leaf_cells",
        sa.Column("cell", sa.BigInteger(), nullable=False),
        sa.Column("code", sa.String(length=15), nullable=False),
        sa.ForeignKeyConstraint(["code"], ["areas.code"], ondelete="CASCADE"),
    )
    op.create_index("ix_leaf_cells_cell", "leaf_cells", ["cell"])
    op.execute(
        """
        INSERT INTO leaf_cells (cell, code)
        SELECT ix * 1000003 + iy, a.code
        FROM areas a,
          generate_series(floor((ST_XMin(a.geom) - 1e-8) / 0.01)::int8,
                          floor((ST_XMax(a.geom) + 1e-8) / 0.01)::int8) AS ix,
          generate_series(floor((ST_YMin(a.geom) - 1e-8) / 0.01)::int8,
                          floor((ST_YMax(a.geom) + 1e-8) / 0.01)::int8) AS iy
        WHERE a.leaf
        ORDER BY 1, 2
        """
    )
    op.execute("ANALYZE leaf_cells")  # the planner must know its size to choose the hash join


def downgrade() -> None:
    op.drop_index("ix_leaf_cells_cell", table_name="leaf_cells")
    op.drop_table("leaf_cells")
