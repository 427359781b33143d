"""view week and state totals: fewer rows for the view's period sums and its current states

Two more rollups the case agent keeps beside `view_daily_total` (stream/aggregates.py `add_counts`, in the
same transaction and statement order):

- `view_weekly_total`: `view_daily_total` summed over the days of each week (`week` is its Monday, the days
  being Asia/Shanghai days). A period's sums take its whole weeks from here and only the days at either
  end from `view_daily_total`: for the default 30 days about a fifth of the rows (a district's view read
  7,956 rows of days at ten million cases).
- `view_current_total`: `view_current` summed over category and department: the cases by state that the
  view shows without those filters (a district's 3,311 rows of `view_current` become about 290).

Both carry `n` in their key (`INCLUDE (n)`, as migration 0012 did for the others): their reads are
index-only scans. Both are filled here from what the database holds; `gridflow view check` compares each
with a sum of what it is kept from (stream/aggregates_check.py `SUMS`).

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "view_weekly_total",
        sa.Column("area_code", sa.String(15), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("measure", sa.String(24), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
    )
    op.execute(
        "ALTER TABLE view_weekly_total ADD CONSTRAINT view_weekly_total_pkey"
        " PRIMARY KEY (area_code, week, measure) INCLUDE (n)"
    )
    op.create_table(
        "view_current_total",
        sa.Column("area_code", sa.String(15), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
    )
    op.execute(
        "ALTER TABLE view_current_total ADD CONSTRAINT view_current_total_pkey"
        " PRIMARY KEY (area_code, state) INCLUDE (n)"
    )
    # No count moves during the fill: the agent's writers wait for the migration to commit.
    op.execute("LOCK TABLE view_daily_total, view_current IN SHARE MODE")
    op.execute(
        "INSERT INTO view_weekly_total (area_code, week, measure, n)"
        " SELECT area_code, date_trunc('week', day)::date, measure, sum(n) FROM view_daily_total"
        " GROUP BY 1, 2, 3 HAVING sum(n) <> 0"
    )
    op.execute(
        "INSERT INTO view_current_total (area_code, state, n)"
        " SELECT area_code, state, sum(n) FROM view_current GROUP BY 1, 2 HAVING sum(n) <> 0"
    )
    op.execute("ANALYZE view_weekly_total")
    op.execute("ANALYZE view_current_total")


def downgrade() -> None:
    op.drop_table("view_current_total")
    op.drop_table("view_weekly_total")
