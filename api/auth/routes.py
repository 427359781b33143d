"""登录 (sign-in): the OAuth 2 password form for a token pair, refresh, and who am I."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from api.auth import service, store
from api.auth.schemas import RefreshIn, TokenOut, UserOut
from api.deps import ConnDep, CurrentPrincipal, EngineDep, SettingsDep
from api.errors import Unauthorized

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])

_UNAUTHORIZED: dict[str, Any] = {
    "description": "`invalid_credentials` (sign-in), `invalid_token` or `not_authenticated`; "
    "with `WWW-Authenticate: Bearer`"
}
_THROTTLED: dict[str, Any] = {"description": "too many failed sign-ins: wait `Retry-After` seconds"}


def _out(pair: service.TokenPair) -> TokenOut:
    return TokenOut(
        access_token=pair.access.token,
        expires_in=pair.access.expires_in,
        refresh_token=pair.refresh.token,
        refresh_expires_in=pair.refresh.expires_in,
    )


@router.post("/token", response_model=TokenOut, responses={401: _UNAUTHORIZED, 429: _THROTTLED})
async def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
) -> TokenOut:
    """Sign in with `username` and `password` (form-encoded, OAuth 2 password grant): an access token
    (`Authorization: Bearer …`, 15 min) and a refresh token (for `/auth/refresh`, one 8-hour sign-in).
    Repeated failures for a username or from an address are slowed down (429 with Retry-After)."""
    address = request.client.host if request.client else "unknown"
    pair = await service.sign_in(
        engine=engine,
        settings=settings,
        username=form.username,
        password=form.password,
        address=address,
        now=datetime.now(UTC),
    )
    return _out(pair)


@router.post("/refresh", response_model=TokenOut, responses={401: _UNAUTHORIZED})
async def refresh(body: RefreshIn, engine: EngineDep, settings: SettingsDep) -> TokenOut:
    """A new token pair for a refresh token; refused once the user is disabled, their password or role
    changed, or the sign-in's 8 hours are over."""
    pair = await service.refresh(
        engine=engine, settings=settings, refresh_token=body.refresh_token, now=datetime.now(UTC)
    )
    return _out(pair)


@router.get("/me", response_model=UserOut, responses={401: _UNAUTHORIZED})
async def me(principal: CurrentPrincipal, conn: ConnDep) -> UserOut:
    """The signed-in user: role (with its Chinese label), area, department, grids."""
    user = await conn.run_sync(lambda c: store.get_by_id(c, user_id=principal.user_id))
    if user is None:
        raise Unauthorized("用户不存在")
    return UserOut.of(user)
