"""Who is calling: the bearer token's principal, checked against revocation; role checks and scope refusals
turned into the API's errors. `api/deps.py` declares these as the Annotated types routes use.

An access token carries its principal, so a request needs no lookup to know who calls; but disabling a user
or changing their role or password must not wait for the token to expire (15 min). So the user's token
version is looked up too, cached per process for `revocation_recheck_s` (10 s): a revoked token stops
working within that, at one indexed query per user per 10 s. When the database cannot answer — down, or
every pooled connection taken by slow reads — the token alone is trusted (its short life bounds the risk) so
that report intake, which needs no database, keeps working: the look-up gives up after LOOKUP_S, and after
a failure none is tried for DOWN_S, so a request never waits for the pool's own 5 s timeout.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from datetime import UTC, datetime
from typing import NoReturn

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from accounts import tokens
from accounts.roles import Principal, Role
from accounts.scope import Refusal
from accounts.tokens import TokenRefused, TokenType
from api.auth import store
from api.auth.secret import token_secret
from api.errors import Forbidden, NotFound, Unauthorized
from infra.db import async_engine
from infra.settings import get_settings

log = logging.getLogger("gridflow.auth")
_CACHE_MAX = 10_000
LOOKUP_S = 0.5  # an indexed query by primary key: far less when the database is well
DOWN_S = 2.0
_seen: dict[uuid.UUID, tuple[int, bool, float]] = {}  # user → (token_version, disabled, looked up at)
# (token, secret) → its claims: an HS256 check and the claims' parsing cost about a fifth of a report's intake
# request (py-spy, issue 13), and a phone sends the same token with every report for 15 minutes.
_verified: dict[tuple[str, bytes], tokens.Claims] = {}
_down_until = 0.0  # monotonic time before which the database is taken to be unavailable


async def _token_state(user_id: uuid.UUID) -> tuple[int, bool] | None:
    """(version, disabled) of the user, None if there is none; `_Unavailable` when the database cannot say."""
    recheck = get_settings().revocation_recheck_s
    hit = _seen.get(user_id)
    if hit is not None and time.monotonic() - hit[2] < recheck:
        return hit[0], hit[1]
    global _down_until
    if time.monotonic() < _down_until:
        raise _Unavailable("the database failed a look-up just now")
    try:
        state = await asyncio.wait_for(_look_up(user_id), timeout=LOOKUP_S)
    except (OperationalError, InterfaceError, PoolTimeout, TimeoutError) as exc:
        _down_until = time.monotonic() + DOWN_S
        log.warning("token versions unavailable for %s s, tokens trusted alone: %r", DOWN_S, exc)
        raise _Unavailable(repr(exc)) from exc
    if len(_seen) >= _CACHE_MAX:
        _seen.clear()
    if state is not None:
        _seen[user_id] = (*state, time.monotonic())
    return state


async def _look_up(user_id: uuid.UUID) -> tuple[int, bool] | None:
    async with async_engine().connect() as conn:
        return await conn.run_sync(lambda c: store.token_state(c, user_id=user_id))


def _verify(token: str, now: datetime) -> tokens.Claims:
    """tokens.verify, once per token and secret: a token seen before is the same bytes under the same key,
    so only its times are judged again (a revocation is the version check's business, not this)."""
    secret = token_secret()
    known = _verified.get((token, secret))
    if known is not None:
        return tokens.check_times(known, now=now)
    claims = tokens.verify(token, TokenType.ACCESS, now=now, secret=secret)
    if len(_verified) >= _CACHE_MAX:
        _verified.clear()
    _verified[(token, secret)] = claims
    return claims


class _Unavailable(Exception):
    """The token versions cannot be read now."""


async def principal_of(token: str, *, now: datetime | None = None) -> Principal:
    """The principal of a valid, unrevoked access token; Unauthorized otherwise (the reason only logged)."""
    try:
        claims = _verify(token, now or datetime.now(UTC))
        try:
            state = await _token_state(claims.subject)
        except _Unavailable:
            log.debug("token versions unavailable: trusting the token of %s", claims.subject)
        else:
            if state is None or state[1]:
                raise TokenRefused(tokens.Problem.REVOKED, "no such user, or disabled")
            tokens.check_version(claims, state[0])
    except TokenRefused as exc:
        log.info("access token refused: %s", exc)
        raise Unauthorized("访问令牌无效、已过期或已被撤销，请重新登录") from exc
    assert claims.principal is not None
    return claims.principal


def check_roles(principal: Principal, roles: tuple[Role, ...]) -> Principal:
    """`principal` if it holds one of `roles`; Forbidden naming them otherwise."""
    if principal.role in roles:
        return principal
    names = "、".join(f"{role.label} ({role.value})" for role in roles)
    raise Forbidden(f"需要以下角色之一：{names}", needed=[role.value for role in roles])


def raise_refusal(refusal: Refusal) -> NoReturn:
    """An `accounts.scope.may_act` refusal as the API answers it: 404 when the case is not the caller's to
    see (never a hint that it exists), else 403 naming the roles that may."""
    if refusal.out_of_scope:
        raise NotFound("案件不存在 (no such case)")
    raise Forbidden(refusal.message, needed=[role.value for role in refusal.needed])


def forget_cached(user_id: uuid.UUID) -> None:
    """Drop a user's cached token version (this process changed it: revocation applies at once here)."""
    _seen.pop(user_id, None)
