"""how each routed report was located: method, offshore distance, GPS accuracy candidates

- `reports.locate_method`: `covers` (inside a unit) or `nearest_offshore` (geo.locate_rules rule 4).
- `reports.offshore_distance_m`: for `nearest_offshore`, how far the point lay from the unit.
- `reports.area_candidates`: other leaves the GPS accuracy circle reaches, nearest first (rule 6), so the
  dispatch center can co-assign or ask.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("reports", sa.Column("locate_method", sa.String(length=24), nullable=True))
    op.add_column("reports", sa.Column("offshore_distance_m", sa.Float(), nullable=True))
    op.add_column("reports", sa.Column("area_candidates", JSONB(), server_default="[]", nullable=False))


def downgrade() -> None:
    for column in ("area_candidates", "offshore_distance_m", "locate_method"):
        op.drop_column("reports", column)
