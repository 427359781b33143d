"""report_id re-used with other content: the later submissions, kept so their senders can learn it

The first content recorded for a report_id stands; a later submission with the same id and other content is
refused by the stream and written here (once per content), and `GET /api/v1/reports/{id}` lists it under
`conflicts`.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_conflicts",
        sa.Column("report_id", UUID(as_uuid=True), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("report_id", "content_hash"),
    )


def downgrade() -> None:
    op.drop_table("report_conflicts")
