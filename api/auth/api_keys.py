"""Open311 clients' API keys: issued by an admin to a named client, shown once, stored as their SHA-256.

A key is 32 random bytes (URL-safe base64): too many to guess, so a fast hash suffices (no salt or argon2
as for passwords) and lets a request's key be found by its hash with one indexed lookup.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Connection, text

from accounts.roles import Principal, PrincipalKind
from api.auth.store import Refused, log_event

CLIENT_NAME_MAX = 100


class ApiKey(BaseModel):
    model_config = ConfigDict(frozen=True)

    key_id: uuid.UUID
    client_name: str
    created_at: datetime
    disabled: bool


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
            "INSERT INTO api_keys (key_id, client_name, key_hash) VALUES (:id, :name, :hash)"
            " RETURNING key_id, client_name, created_at, disabled"
        ),
        {"id": uuid.uuid4(), "name": name, "hash": _key_hash(key)},
    ).one()
    record = ApiKey.model_validate(row._mapping)
    log_event(
        conn,
        actor=actor,
        subject=f"client:{name}",
        action="issue_api_key",
        detail={"key_id": str(record.key_id)},
    )
    return record, key


def verify_api_key(conn: Connection, *, key: str) -> Principal | None:
    """The client principal of a valid, enabled key, or None."""
    if not key or len(key) > 200:
        return None
    row = conn.execute(
        text("SELECT key_id, client_name FROM api_keys WHERE key_hash = :h AND NOT disabled"),
        {"h": _key_hash(key)},
    ).one_or_none()
    if row is None:
        return None
    return Principal(kind=PrincipalKind.CLIENT, user_id=row.key_id, username=row.client_name)
