"""The auth glue without a server: the secret file, role checks and scope refusals as the API answers them."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from accounts.roles import Principal, Role
from accounts.scope import CaseFacts, may_act
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
