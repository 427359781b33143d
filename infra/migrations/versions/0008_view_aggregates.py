"""view aggregates: the four-level view's counts, kept by the case agent as cases move

- `view_daily`: per area (each of a case's five codes, city to grid), local day (Asia/Shanghai), category,
  department and measure (indicators.measures), a count `n`; `close_seconds` holds a sum of working seconds.
- `view_current`: per area, category, department and state, the number of cases in that state now.
- `view_case_marks`: per case, how far its history is counted (`seq`) and the fold's state
  (indicators.ledger.CaseMark), so that a history row delivered again is never counted twice.

All three are written by stream/case_store.save in the transaction that stores the history rows. A database
that already held cases before this revision starts with empty aggregates: run `gridflow view rebuild`.
`department_code` is '' for a case without a lead (a primary key cannot hold NULL).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "view_daily",
        sa.Column("area_code", sa.String(15), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("measure", sa.String(24), nullable=False),
        sa.Column("category", sa.String(8), nullable=False),
        sa.Column("department_code", sa.String(64), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        # An area's period is one range scan; the children's, one per child.
        sa.PrimaryKeyConstraint("area_code", "day", "measure", "category", "department_code"),
    )
    op.create_table(
        "view_current",
        sa.Column("area_code", sa.String(15), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("category", sa.String(8), nullable=False),
        sa.Column("department_code", sa.String(64), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("area_code", "state", "category", "department_code"),
    )
    op.create_table(
        "view_case_marks",
        sa.Column("case_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("mark", JSONB(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("view_case_marks")
    op.drop_table("view_current")
    op.drop_table("view_daily")
