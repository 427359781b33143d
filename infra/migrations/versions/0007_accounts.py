"""accounts: users with one role each, failed sign-ins, Open311 API keys, and the accounts' audit trail

- `users`: one row per person. `username` is stored lower-case and unique; `password_hash` is an argon2id
  PHC string (accounts.passwords); the assignment (`area_code`, `department_code`, `grid_codes`) fits the
  role (accounts.roles.assignment_problem) and was checked against `areas` and `departments` when written,
  without foreign keys, so that re-importing boundaries never fails on a user. `token_version` is bumped by
  disabling, a role change or a new password, which revokes every token issued before.
- `sign_in_failures`: the slowdown's counts (accounts.throttle), per `user:<name>` and `addr:<address>`, in
  the database so that every API process sees the same counts.
- `api_keys`: Open311 clients' keys, stored as the SHA-256 of a random 32-byte key shown once.
- `account_events`: who created, disabled, re-assigned users and issued keys, and when.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# accounts.roles.Role as it stood: a migration keeps its own copy, since the enum may change later.
ROLES = (
    "grid_worker",
    "community",
    "township",
    "district",
    "department",
    "city_dispatch",
    "auditor",
    "admin",
)


def upgrade() -> None:
    now = sa.text("now()")
    op.create_table(
        "users",
        sa.Column("user_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("area_code", sa.String(15)),
        sa.Column("department_code", sa.String(64)),
        sa.Column("grid_codes", JSONB(), nullable=False, server_default="[]"),
        sa.Column("disabled", sa.Boolean(), nullable=False, server_default="false"),
        sa.Column("token_version", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=now),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=now),
        sa.Column("last_login_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("username = lower(username)", name="users_username_lower"),
        sa.CheckConstraint(f"role IN ({', '.join(repr(r) for r in ROLES)})", name="users_role"),
    )
    op.create_index("users_role", "users", ["role"])
    op.create_table(
        "sign_in_failures",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("sign_in_failures_last_at", "sign_in_failures", ["last_at"])
    op.create_table(
        "api_keys",
        sa.Column("key_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("client_name", sa.String(100), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=now),
        sa.Column("disabled", sa.Boolean(), nullable=False, server_default="false"),
    )
    op.create_table(
        "account_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=now),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),  # a username, or `client:<name>` for a key
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("detail", JSONB(), nullable=False, server_default="{}"),
    )
    op.create_index("account_events_subject", "account_events", ["subject", "at"])


def downgrade() -> None:
    op.drop_table("account_events")
    op.drop_table("api_keys")
    op.drop_table("sign_in_failures")
    op.drop_table("users")
