"""Signing in and refreshing: the throttle's counts, the password check off the event loop, the token pair.

Decisions where the issue is silent:
- A refresh gives a new pair, but the new refresh token expires when the old one did: a sign-in lasts one
  shift (`refresh_token_hours`), however often it is refreshed; after that the user signs in again.
- An unknown username, a disabled user and a wrong password answer alike (401 `invalid_credentials`), and
  take as long (a dummy hash is checked), so sign-in tells nobody which usernames exist.
- The client address is the TCP peer's; behind a reverse proxy every attempt shares the proxy's address,
  which is why the per-address limit is ten times the per-username one (X-Forwarded-For is not trusted).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from accounts import passwords, throttle, tokens
from accounts.tokens import Issued, TokenRefused, TokenType
from api.auth import failures, store
from api.auth.secret import token_secret
from api.errors import TooManyAttempts, Unauthorized
from infra.settings import Settings

USERNAME_KEY_MAX = 100  # a key of the failures table is at most 200 characters


@dataclass(frozen=True)
class TokenPair:
    access: Issued
    refresh: Issued


def policies(settings: Settings, *, username: str, address: str) -> dict[str, throttle.ThrottlePolicy]:
    """The throttle's policy for the username's key, then for the address's."""
    timing = {
        "window": timedelta(seconds=settings.signin_window_s),
        "base_delay": timedelta(seconds=settings.signin_base_delay_s),
        "max_delay": timedelta(seconds=settings.signin_max_delay_s),
    }
    return {
        throttle.user_key(username[:USERNAME_KEY_MAX]): throttle.ThrottlePolicy(
            max_failures=settings.signin_max_failures, **timing
        ),
        throttle.address_key(address): throttle.ThrottlePolicy(
            max_failures=settings.signin_max_failures_per_address, **timing
        ),
    }


def issue_pair(
    user: store.User, *, settings: Settings, now: datetime, refresh_until: datetime | None = None
) -> TokenPair:
    """An access token for the user's principal and a refresh token (expiring at `refresh_until` if given)."""
    secret = token_secret()
    access_ttl = timedelta(minutes=settings.access_token_minutes)
    refresh_ttl = (
        timedelta(hours=settings.refresh_token_hours) if refresh_until is None else refresh_until - now
    )
    access = tokens.issue_access(
        user.principal(),
        token_version=user.token_version,
        now=now,
        secret=secret,
        ttl=min(access_ttl, refresh_ttl),
    )
    refresh = tokens.issue_refresh(
        user.user_id, token_version=user.token_version, now=now, secret=secret, ttl=refresh_ttl
    )
    return TokenPair(access=access, refresh=refresh)


def _password_matches(user: store.User | None, password: str) -> bool:
    if user is None or user.disabled:
        return passwords.verify_dummy(password)
    return passwords.verify_password(user.password_hash, password)


async def sign_in(
    *, engine: AsyncEngine, settings: Settings, username: str, password: str, address: str, now: datetime
) -> TokenPair:
    """The token pair for a right username and password; TooManyAttempts or Unauthorized otherwise."""
    # PostgreSQL text cannot hold NUL (a 500 before): no username has one, so U+FFFD keeps it a name no
    # user has, still counted and answered like any other wrong one.
    username = username.replace("\x00", "\ufffd")
    keys = policies(settings, username=username, address=address)
    async with engine.begin() as conn:
        wait = await conn.run_sync(lambda c: failures.begin_attempt(c, policies=keys, now=now))
        user = None if wait else await conn.run_sync(lambda c: store.get_by_username(c, username=username))
    if wait:
        raise TooManyAttempts(f"登录失败次数过多，请 {wait} 秒后再试", retry_after=wait)
    # argon2 takes a fifth of a second of CPU: off the event loop, and holding no database connection.
    if not await asyncio.to_thread(_password_matches, user, password):
        raise Unauthorized("用户名或密码错误", code="invalid_credentials")
    assert user is not None
    new_hash = None
    if passwords.needs_rehash(user.password_hash):
        new_hash = await asyncio.to_thread(passwords.hash_password, password)
    user_key, address_key = keys  # in the order policies() gives them
    async with engine.begin() as conn:
        await conn.run_sync(lambda c: failures.forgive(c, user_key=user_key, address_key=address_key))
        await conn.run_sync(
            lambda c: store.record_sign_in(c, user_id=user.user_id, at=now, new_hash=new_hash)
        )
        horizon = timedelta(seconds=settings.signin_window_s + settings.signin_max_delay_s)
        await conn.run_sync(lambda c: failures.purge(c, now=now, older_than=horizon))
    return issue_pair(user, settings=settings, now=now)


async def refresh(*, engine: AsyncEngine, settings: Settings, refresh_token: str, now: datetime) -> TokenPair:
    """A new pair for a valid refresh token of an enabled user whose tokens were not revoked since."""
    try:
        claims = tokens.verify(refresh_token, TokenType.REFRESH, now=now, secret=token_secret())
        async with engine.connect() as conn:
            user = await conn.run_sync(lambda c: store.get_by_id(c, user_id=claims.subject))
        if user is None or user.disabled:
            raise TokenRefused(tokens.Problem.REVOKED, "no such user, or disabled")
        tokens.check_version(claims, user.token_version)
    except TokenRefused as exc:
        raise Unauthorized("刷新令牌无效或已过期，请重新登录") from exc
    return issue_pair(user, settings=settings, now=now, refresh_until=claims.expires_at)
