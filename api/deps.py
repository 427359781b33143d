"""Dependencies declared as Annotated types."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from accounts.roles import Principal, Role
from api.auth import guard
from api.errors import Unauthorized
from api.producer import EventProducer
from infra.db import async_engine
from infra.settings import Settings, get_settings


async def _connection() -> AsyncIterator[AsyncConnection]:
    async with async_engine().connect() as conn:
        yield conn


async def _reading_connection() -> AsyncIterator[AsyncConnection]:
    # A connection of the same pool in autocommit (the pool resets it when it is returned): a read of several
    # statements gains nothing from a transaction at READ COMMITTED (each statement sees its own snapshot
    # either way). Leaving it out saves the BEGIN and the ROLLBACK (two of a view's six round trips, with the
    # pool's ping), and lets psycopg keep its prepared statements, which every ROLLBACK clears: PostgreSQL
    # then no longer parses a view's statements on each request (psycopg's protocol trace; infra/db.py keeps
    # their plans custom).
    async with async_engine().connect() as conn:
        yield await conn.execution_options(isolation_level="AUTOCOMMIT")


# Dependencies are `async def` even when they do not wait: FastAPI runs a plain `def` one in the thread pool,
# and that hop (a thread switch, the pool's capacity limiter) cost about a seventh of an intake request.
async def _producer(request: Request) -> EventProducer:
    producer: EventProducer = request.app.state.producer
    return producer


async def _settings() -> Settings:
    return get_settings()


ConnDep = Annotated[AsyncConnection, Depends(_connection)]
# For routes that only read and write nothing (the views): no transaction around their statements.
ReadConnDep = Annotated[AsyncConnection, Depends(_reading_connection)]
ProducerDep = Annotated[EventProducer, Depends(_producer)]
SettingsDep = Annotated[Settings, Depends(_settings)]
# For routes that wait (a case action polls for its outcome): they take a connection per look instead of
# holding one for the whole request.
EngineDep = Annotated[AsyncEngine, Depends(async_engine)]


# Who calls (api/auth/guard.py). For routes:
#   CurrentPrincipal   the caller; 401 (WWW-Authenticate: Bearer) without a valid, unrevoked access token
#   OptionalPrincipal  the caller or None when no token is sent; an invalid token is still 401, not anonymous
#   require_roles(*roles)  as Annotated[Principal, require_roles(Role.ADMIN)] or in a route's dependencies:
#                      403 {"error": "forbidden", "detail": {"code", "message", "needed": [roles]}}
#   AdminPrincipal     Annotated[Principal, require_roles(Role.ADMIN)]
_bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


async def _optional_principal(token: Annotated[str | None, Depends(_bearer)]) -> Principal | None:
    return None if token is None else await guard.principal_of(token)


async def _current_principal(
    principal: Annotated[Principal | None, Depends(_optional_principal)],
) -> Principal:
    if principal is None:
        raise Unauthorized("请先登录 (sign in first)", code="not_authenticated")
    return principal


OptionalPrincipal = Annotated[Principal | None, Depends(_optional_principal)]
CurrentPrincipal = Annotated[Principal, Depends(_current_principal)]


def require_roles(*roles: Role) -> Any:
    """A dependency giving the caller if it holds one of `roles` (401 without a token, 403 naming them)."""

    async def _holds(principal: CurrentPrincipal) -> Principal:
        return guard.check_roles(principal, roles)

    return Depends(_holds)


AdminPrincipal = Annotated[Principal, require_roles(Role.ADMIN)]
