"""用户管理 (admin only): users and their roles, Open311 API keys. The store is the CLI's too.

A new user's or password's argon2 hash is made inside the store call, on the event loop, a fifth of a second:
accepted for these rare admin calls, unlike sign-in, which hashes off the loop.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from accounts.roles import Role
from api.auth import api_keys, guard, store
from api.auth.api_keys import ApiKey
from api.auth.schemas import ApiKeyIn, ApiKeyOut, Assignment, UserIn, UserOut
from api.deps import AdminPrincipal, EngineDep
from api.errors import Conflict, InvalidInput, NotFound
from api.open311 import keys

T = TypeVar("T")
router = APIRouter(prefix="/api/v1", tags=["users"])
_ADMIN: dict[int | str, dict[str, Any]] = {
    401: {"description": "not signed in"},
    403: {"description": 'not an admin: `detail.needed` is `["admin"]`'},
}
_EDIT = {
    **_ADMIN,
    404: {"description": "no such user"},
    422: {"description": "refused: the field (e.g. `body.area_code`) and why"},
}
_REVOKE = {
    **_ADMIN,
    404: {"description": "no such API key"},
    422: {"description": '`key_id` is not a UUID: `detail[0].loc` is `["path", "key_id"]`'},
}


async def _run(conn: AsyncConnection, step: Callable[[Connection], T]) -> T:
    """A store call, its refusals turned into the API's errors."""
    try:
        return await conn.run_sync(step)
    except store.Refused as exc:
        raise InvalidInput(exc.message, field=f"body.{exc.field}") from exc
    except store.Taken as exc:
        raise Conflict(exc.message, field=f"body.{exc.field}") from exc
    except store.Missing as exc:
        raise NotFound(str(exc)) from exc


@router.post("/users", status_code=201, response_model=UserOut, responses={**_EDIT, 409: {}})
async def create_user(body: UserIn, admin: AdminPrincipal, engine: EngineDep) -> UserOut:
    """Create a user with one role and its assignment (see the body's schema); the area, department and
    grids must exist at the role's level, else 422 naming the field; a taken username is 409."""
    async with engine.begin() as conn:
        user = await _run(
            conn,
            lambda c: store.create_user(
                c,
                username=body.username,
                password=body.password,
                role=body.role,
                area_code=body.area_code,
                department_code=body.department_code,
                grid_codes=body.grid_codes,
                actor=admin.actor,
            ),
        )
    return UserOut.of(user)


@router.get("/users", response_model=list[UserOut], responses=_ADMIN)
async def list_users(
    admin: AdminPrincipal, engine: EngineDep, role: Role | None = None, include_disabled: bool = True
) -> list[UserOut]:
    """Users by username, optionally of one role."""
    async with engine.connect() as conn:
        users = await conn.run_sync(
            lambda c: store.list_users(c, role=role, include_disabled=include_disabled)
        )
    return [UserOut.of(user) for user in users]


@router.post("/users/{username}/disable", response_model=UserOut, responses=_EDIT)
async def disable_user(username: str, admin: AdminPrincipal, engine: EngineDep) -> UserOut:
    """Disable a user: no more sign-ins, refresh tokens refused at once, access tokens within seconds."""
    async with engine.begin() as conn:
        user = await _run(conn, lambda c: store.disable_user(c, username=username, actor=admin.actor))
    guard.forget_cached(user.user_id)
    return UserOut.of(user)


@router.put("/users/{username}/role", response_model=UserOut, responses=_EDIT)
async def change_role(username: str, body: Assignment, admin: AdminPrincipal, engine: EngineDep) -> UserOut:
    """Give a user another role or assignment; their tokens are revoked so the new rights apply at once."""
    async with engine.begin() as conn:
        user = await _run(
            conn,
            lambda c: store.change_role(
                c,
                username=username,
                role=body.role,
                area_code=body.area_code,
                department_code=body.department_code,
                grid_codes=body.grid_codes,
                actor=admin.actor,
            ),
        )
    guard.forget_cached(user.user_id)
    return UserOut.of(user)


@router.post("/api-keys", status_code=201, response_model=ApiKeyOut, responses=_EDIT)
async def issue_api_key(body: ApiKeyIn, admin: AdminPrincipal, engine: EngineDep) -> ApiKeyOut:
    """A new API key for a named Open311 client. The key is in this answer only; keep it safe."""
    async with engine.begin() as conn:
        record, key = await _run(
            conn, lambda c: api_keys.issue_api_key(c, client_name=body.client_name, actor=admin.actor)
        )
    return ApiKeyOut(**record.model_dump(), api_key=key)


@router.get("/api-keys", response_model=list[ApiKey], responses=_ADMIN)
async def list_api_keys(admin: AdminPrincipal, engine: EngineDep) -> list[ApiKey]:
    """Every API key's record, revoked ones too, by client name and newest first: who issued and who revoked
    it, and when. Never the key or its hash (when a key was last used is not recorded)."""
    async with engine.connect() as conn:
        return await conn.run_sync(api_keys.list_api_keys)


@router.post("/api-keys/{key_id}/revoke", response_model=ApiKey, responses=_REVOKE)
async def revoke_api_key(key_id: uuid.UUID, admin: AdminPrincipal, engine: EngineDep) -> ApiKey:
    """Revoke an API key for good: Open311 refuses it at once in this process, within
    `revocation_recheck_s` (10 s) in any other. Revoking a revoked key answers its record unchanged."""
    async with engine.begin() as conn:
        record = await _run(conn, lambda c: api_keys.revoke_api_key(c, key_id=key_id, actor=admin.actor))
    keys.forget_client(record.key_id)
    return record
