"""Open311 clients' API keys: issued by an admin to a named client, shown once, stored as their SHA-256;
listed without the key or its hash, and revoked for good (a leaked key is revoked and a new one issued).

A key is 32 random bytes (URL-safe base64): too many to guess, so a fast hash suffices (no salt or argon2
as for passwords) and lets a request's key be found by its hash with one indexed lookup.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Connection, text

from accounts.roles import Principal, PrincipalKind
from api.auth.store import Missing, Refused, log_event

CLIENT_NAME_MAX = 100
_COLUMNS = "key_id, client_name, created_at, created_by, revoked_at, revoked_by"


class ApiKey(BaseModel):
    """An API key's record: whom it was issued to, by whom and when, and its revocation; never the key or
    its hash. A key is revoked if and only if `revoked_at` is set."""

    model_config = ConfigDict(frozen=True)

    key_id: uuid.UUID
    client_name: str
    created_at: datetime
    created_by: str | None  # None for a key issued before migration 0011 with no audit event
    revoked_at: datetime | None
    revoked_by: str | None


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def issue_api_key(conn: Connection, *, client_name: str, actor: str) -> tuple[ApiKey, str]:
    """A new key for an Open311 client: the record, and the key itself (shown once, stored as its SHA-256)."""
    name = client_name.strip()
    if not name or len(name) > CLIENT_NAME_MAX or not name.isprintable():
        raise Refused("client_name", f"客户端名称须为 1–{CLIENT_NAME_MAX} 个可打印字符")
    key = secrets.token_urlsafe(32)  # 32 random bytes
    row = conn.execute(
        text(
            "INSERT INTO api_keys (key_id, client_name, key_hash, created_by)"
            f" VALUES (:id, :name, :hash, :actor) RETURNING {_COLUMNS}"
        ),
        {"id": uuid.uuid4(), "name": name, "hash": _key_hash(key), "actor": actor},
    ).one()
    return _recorded(conn, row, "issue_api_key", actor), key


def list_api_keys(conn: Connection) -> list[ApiKey]:
    """Every key's record, revoked ones too, by client name and then newest first."""
    rows = conn.execute(text(f"SELECT {_COLUMNS} FROM api_keys ORDER BY client_name, created_at DESC"))
    return [ApiKey.model_validate(row._mapping) for row in rows]


def revoke_api_key(conn: Connection, *, key_id: uuid.UUID, actor: str) -> ApiKey:
    """Revoke a key for good; a key already revoked is answered as it stands (its first revocation is the
    one recorded). Missing if there is no such key."""
    row = conn.execute(
        text(
            "UPDATE api_keys SET revoked_at = now(), revoked_by = :actor"
            f" WHERE key_id = :id AND revoked_at IS NULL RETURNING {_COLUMNS}"
        ),
        {"id": key_id, "actor": actor},
    ).one_or_none()
    if row is None:
        found = conn.execute(
            text(f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = :id"), {"id": key_id}
        ).one_or_none()
        if found is None:
            raise Missing(f"API 密钥 {key_id} 不存在 (no such API key)")
        return ApiKey.model_validate(found._mapping)
    return _recorded(conn, row, "revoke_api_key", actor)


def _recorded(conn: Connection, row: Any, action: str, actor: str) -> ApiKey:
    """The key's record, its change written to the audit trail (account_events) in the same transaction."""
    record = ApiKey.model_validate(row._mapping)
    subject = f"client:{record.client_name}"
    log_event(conn, actor=actor, subject=subject, action=action, detail={"key_id": str(record.key_id)})
    return record


def verify_api_key(conn: Connection, *, key: str) -> Principal | None:
    """The client principal of a valid, unrevoked key, or None (an unknown and a revoked key alike)."""
    if not key or len(key) > 200:
        return None
    row = conn.execute(
        text("SELECT key_id, client_name FROM api_keys WHERE key_hash = :h AND revoked_at IS NULL"),
        {"h": _key_hash(key)},
    ).one_or_none()
    if row is None:
        return None
    return Principal(kind=PrincipalKind.CLIENT, user_id=row.key_id, username=row.client_name)
