"""The auth glue without a server: the secret file, role checks and scope refusals as the API answers them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from accounts import tokens
from accounts.roles import Principal, Role
from accounts.scope import CaseFacts, may_act
from accounts.tokens import Problem, TokenRefused
from api.auth import guard
from api.auth.guard import check_roles, raise_refusal
from api.auth.secret import ensure_secret
from api.errors import Forbidden, NotFound, TooManyAttempts, Unauthorized, add_exception_handlers
from cases.states import ActionName
from infra.settings import Settings

AUDITOR = Principal(user_id=uuid.uuid4(), username="audit", role=Role.AUDITOR)
HELPER = Principal(user_id=uuid.uuid4(), username="urban", role=Role.DEPARTMENT, department_code="d:urban")
CASE = CaseFacts(area_codes=("210202000000",), department_code="d:water", helper_codes=("d:urban",))


def test_the_secret_is_made_once_private_and_shared(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    first = ensure_secret(settings)
    assert len(first) >= 32 and ensure_secret(settings) == first
    assert (tmp_path / "secrets" / "jwt_secret").stat().st_mode & 0o777 == 0o600
    assert not list((tmp_path / "secrets").glob(".jwt_secret.*"))  # no draft left behind


def test_a_configured_secret_wins_and_must_be_long_enough(tmp_path: Path) -> None:
    assert ensure_secret(Settings(state_dir=tmp_path, jwt_secret=SecretStr("k" * 40))) == b"k" * 40
    with pytest.raises(ValueError, match="32 bytes"):
        ensure_secret(Settings(state_dir=tmp_path, jwt_secret=SecretStr("short")))


def test_a_role_check_names_the_roles_needed() -> None:
    assert check_roles(AUDITOR, (Role.AUDITOR, Role.ADMIN)) is AUDITOR
    with pytest.raises(Forbidden) as caught:
        check_roles(AUDITOR, (Role.ADMIN,))
    assert caught.value.context == {"needed": ["admin"]} and "管理员" in caught.value.message


def test_a_refusal_out_of_scope_is_404_and_in_scope_403() -> None:
    outsider = Principal(user_id=uuid.uuid4(), username="x", role=Role.DEPARTMENT, department_code="d:other")
    refusal = may_act(outsider, ActionName.ACCEPT, CASE)
    assert refusal is not None
    with pytest.raises(NotFound):
        raise_refusal(refusal)
    refusal = may_act(HELPER, ActionName.ACCEPT, CASE)
    assert refusal is not None
    with pytest.raises(Forbidden) as caught:
        raise_refusal(refusal)
    assert caught.value.context == {"needed": ["department"]}


def test_the_error_table_answers_401_403_429_with_their_headers() -> None:
    app = FastAPI()
    add_exception_handlers(app)

    @app.get("/401")
    async def unauthorized() -> None:
        raise Unauthorized("请先登录", code="not_authenticated")

    @app.get("/403")
    async def forbidden() -> None:
        raise Forbidden("需要管理员", needed=["admin"])

    @app.get("/429")
    async def throttled() -> None:
        raise TooManyAttempts("请稍后再试", retry_after=42)

    client = TestClient(app)
    answer = client.get("/401")
    assert answer.status_code == 401 and answer.headers["WWW-Authenticate"] == 'Bearer realm="gridflow"'
    assert answer.json() == {
        "error": "not_authenticated",
        "detail": {"code": "not_authenticated", "message": "请先登录"},
    }
    answer = client.get("/403")
    assert answer.status_code == 403
    assert answer.json() == {
        "error": "forbidden",
        "detail": {"code": "forbidden", "message": "需要管理员", "needed": ["admin"]},
    }
    answer = client.get("/429")
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "42"
    assert answer.json()["detail"]["retry_after"] == 42


def _issued(secret: bytes, now: datetime) -> str:
    return tokens.issue_access(AUDITOR, token_version=1, now=now, secret=secret).token


def test_a_token_verified_once_is_judged_again_by_its_times_only(monkeypatch: pytest.MonkeyPatch) -> None:
    secret, now = b"k" * 32, datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    monkeypatch.setattr(guard, "token_secret", lambda: secret)
    monkeypatch.setattr(guard, "_verified", {})
    token = _issued(secret, now)
    first = guard._verify(token, now)
    assert guard._verified == {(token, secret): first}
    assert guard._verify(token, now + timedelta(minutes=10)) is first  # from the cache, not decoded again
    with pytest.raises(TokenRefused) as late:
        guard._verify(token, now + tokens.ACCESS_TTL + tokens.LEEWAY)
    assert late.value.reason is Problem.EXPIRED
    with pytest.raises(TokenRefused) as early:
        guard._verify(token, now - timedelta(minutes=5))
    assert early.value.reason is Problem.NOT_YET_VALID


def test_a_cached_token_is_verified_afresh_under_another_secret_or_with_other_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old, new, now = b"o" * 32, b"n" * 32, datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    monkeypatch.setattr(guard, "_verified", {})
    monkeypatch.setattr(guard, "token_secret", lambda: old)
    token = _issued(old, now)
    guard._verify(token, now)
    monkeypatch.setattr(guard, "token_secret", lambda: new)  # the secret rotated
    with pytest.raises(TokenRefused) as rotated:
        guard._verify(token, now)
    assert rotated.value.reason is Problem.BAD_SIGNATURE
    monkeypatch.setattr(guard, "token_secret", lambda: old)
    head, body, signature = token.split(".")
    forged = ".".join([head, body, ("A" if signature[0] != "A" else "B") + signature[1:]])
    with pytest.raises(TokenRefused) as tampered:
        guard._verify(forged, now)
    assert tampered.value.reason is Problem.BAD_SIGNATURE
