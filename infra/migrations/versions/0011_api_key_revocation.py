"""API key revocation: who issued a key, and when and by whom it was revoked

A leaked key used to work for ever: keys could be issued but neither listed nor revoked (the `disabled` flag
of 0007 could only be set by hand in SQL). Revocation is now a recorded act, by an admin through the API or
the CLI, and the list of keys shows it:

- `created_by`: the actor who issued the key (`user:<name>` or `cli:<login>`), filled here from the
  `issue_api_key` events of `account_events`; NULL for a key issued without one.
- `revoked_at`, `revoked_by`: when and by whom the key was revoked; both or neither (a check constraint).
  A key is revoked if and only if `revoked_at` is set.
- `disabled` is dropped: it said the same as `revoked_at IS NOT NULL`, and two flags for one state could
  disagree. A key disabled by hand before this revision is revoked as of the migration, by
  `migration 0011` (when and who did it are unknown). The downgrade sets `disabled` again from `revoked_at`.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("created_by", sa.Text()))
    op.add_column("api_keys", sa.Column("revoked_at", sa.DateTime(timezone=True)))
    op.add_column("api_keys", sa.Column("revoked_by", sa.Text()))
    op.execute(
        "UPDATE api_keys k SET created_by = e.actor FROM account_events e"
        " WHERE e.action = 'issue_api_key' AND e.detail->>'key_id' = k.key_id::text"
    )
    op.execute("UPDATE api_keys SET revoked_at = now(), revoked_by = 'migration 0011' WHERE disabled")
    op.create_check_constraint(
        "api_keys_revoked_by", "api_keys", "(revoked_at IS NULL) = (revoked_by IS NULL)"
    )
    op.drop_column("api_keys", "disabled")


def downgrade() -> None:
    op.add_column("api_keys", sa.Column("disabled", sa.Boolean(), nullable=False, server_default="false"))
    op.execute("UPDATE api_keys SET disabled = true WHERE revoked_at IS NOT NULL")
    op.drop_constraint("api_keys_revoked_by", "api_keys", type_="check")
    op.drop_column("api_keys", "revoked_by")
    op.drop_column("api_keys", "revoked_at")
    op.drop_column("api_keys", "created_by")
