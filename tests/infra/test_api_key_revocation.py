"""Migration 0011 against the real PostgreSQL: the keys stored before it get their issuer from the audit
trail, a key disabled by hand becomes a revoked one, a revocation needs its actor, and the downgrade gives
back `disabled` as it was."""

from __future__ import annotations

import json
import uuid

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from infra.settings import Settings
from tests.fixtures import migration_database


def test_the_migration_keeps_each_keys_issuer_and_revocation_and_its_downgrade_gives_them_back(
    services: Settings,
) -> None:
    kept, disabled, unaudited = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with migration_database(services, "m0011") as (config, engine):
        command.upgrade(config, "0010")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO api_keys (key_id, client_name, key_hash, disabled)"
                    " VALUES (:a, '12345热线', 'h1', false), (:b, '旧客户端', 'h2', true),"
                    " (:c, 'x', 'h3', false)"
                ),
                {"a": kept, "b": disabled, "c": unaudited},
            )
            for key_id in (kept, disabled):
                conn.execute(
                    text(
                        "INSERT INTO account_events (actor, subject, action, detail)"
                        " VALUES ('cli:ops', 'client:x', 'issue_api_key', CAST(:d AS jsonb))"
                    ),
                    {"d": json.dumps({"key_id": str(key_id)})},
                )

        command.upgrade(config, "head")

        with engine.begin() as conn:
            rows = conn.execute(
                text("SELECT key_id, created_by, revoked_at IS NOT NULL AS revoked, revoked_by FROM api_keys")
            )
            assert {r.key_id: (r.created_by, r.revoked, r.revoked_by) for r in rows} == {
                kept: ("cli:ops", False, None),
                disabled: ("cli:ops", True, "migration 0011"),
                unaudited: (None, False, None),
            }
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(text("UPDATE api_keys SET revoked_at = now() WHERE key_id = :k"), {"k": kept})

        command.downgrade(config, "0010")
        with engine.begin() as conn:
            found = conn.execute(text("SELECT key_id, disabled FROM api_keys")).all()
            assert dict(found) == {kept: False, disabled: True, unaudited: False}
        command.upgrade(config, "head")  # and again, on what the downgrade left
