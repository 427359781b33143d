"""Who calls Open311: the client an API key was issued to (api/auth/api_keys.py), or a 403 in the spec's
format.

Report intake needs no database on its hot path, but a key is only known to the database: so each verdict is
cached per process for `revocation_recheck_s` (10 s, the same bound as for revoked user tokens). A key that is
revoked stops working at once in the API process that revoked it (`forget_client`), and within that bound in
any other (another worker of `gridflow api --workers`, or every process after `gridflow apikey revoke`),
as a revoked user's tokens do; an unknown key is cached as refused too, so a client sending a wrong key
in a loop costs one query per 10 s, not one per request. The cache is keyed by the key's SHA-256, never the
key. When PostgreSQL cannot answer, a key verified before (however long ago) is still trusted, so that
intake keeps working while the database restarts, as it does for tokens; a key never seen is answered 503.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from accounts.roles import Principal
from api.auth.api_keys import verify_api_key
from api.open311.errors import forbidden
from infra.db import async_engine
from infra.settings import get_settings

log = logging.getLogger("gridflow.open311")
_CACHE_MAX = 10_000
_verdicts: dict[str, tuple[Principal | None, float]] = {}  # sha256(key) → (client or None, looked up at)


async def client_of(key: str | None) -> Principal:
    """The client principal of a valid, unrevoked API key; 403 (the spec's status for keys) otherwise."""
    if not key:
        raise forbidden("api_key is missing: ask the platform's administrator for one (缺少 api_key)")
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    hit = _verdicts.get(digest)
    if hit is not None and time.monotonic() - hit[1] < get_settings().revocation_recheck_s:
        client = hit[0]
    else:
        client = await _look_up(key, digest, hit)
    if client is None:
        raise forbidden("Invalid api_key received: unknown or revoked (api_key 无效或已撤销)")
    return client


async def _look_up(key: str, digest: str, hit: tuple[Principal | None, float] | None) -> Principal | None:
    try:
        async with async_engine().connect() as conn:
            client = await conn.run_sync(lambda c: verify_api_key(c, key=key))
    except (OperationalError, InterfaceError, PoolTimeout):
        if hit is None or hit[0] is None:
            raise  # answered 503: the key may be valid, nobody can tell now
        log.warning("API keys unavailable (database down): trusting the last verdict for %s", hit[0].username)
        return hit[0]
    if len(_verdicts) >= _CACHE_MAX:
        _verdicts.clear()
    _verdicts[digest] = (client, time.monotonic())
    return client


def forget_all() -> None:
    """Drop every cached verdict (tests; a revoked key then stops working at once in this process)."""
    _verdicts.clear()


def forget_client(key_id: uuid.UUID) -> None:
    """Drop the cached verdicts of one key (this process revoked it: it is refused at once here; a look-up
    already under way when it was revoked may cache it again, for `revocation_recheck_s` at most). The cache
    is keyed by the key's hash, which the revocation does not know: a scan of at most _CACHE_MAX entries,
    for a rare admin call."""
    for digest, (client, _) in list(_verdicts.items()):
        if client is not None and client.user_id == key_id:
            del _verdicts[digest]
