"""command requests: what each case action asked for, beside what became of it

An Idempotency-Key makes a resent action safe: the API answers the outcome the key already has instead of
sending the action again. The outcome alone cannot tell a resend from a client that reused a key for another
action on the same case (a rework answered with the earlier verification's outcome, silently). `action` keeps
the act command's request as the API sent it (`CaseCommand.action`: the action and its fields), so the API
compares it with what is asked now and refuses another action under a used key (422, the header named).
NULL for open, attach and tick commands, and for commands recorded before this revision (those are answered
as before).

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("case_commands", sa.Column("action", JSONB()))


def downgrade() -> None:
    op.drop_column("case_commands", "action")
