"""report indexes: one the reads need, one nobody reads

- `reports_reporter_submitted` (reporter_id, submitted_at): a reporter's own reports, newest first — Open311's
  GET /requests and a grid worker's scope ask by reporter; without it, a seq scan of every report (about
  2 s at ten million reports).
- `reports_point_gist` is dropped: no query searches reports by place (the duplicate search and the map use
  the cases' points, `cases_point`), and a GiST entry is the dearest of the eight a report's two writes (its
  receipt, then its decision) make.

Revision ID: 0010
Revises: 0009
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("reports_reporter_submitted", "reports", ["reporter_id", "submitted_at"])
    op.drop_index("reports_point_gist", table_name="reports")


def downgrade() -> None:
    op.create_index("reports_point_gist", "reports", ["point"], postgresql_using="gist")
    op.drop_index("reports_reporter_submitted", table_name="reports")
