"""Accounts on the live system: sign-in, tokens, refusals, the slowdown, admin endpoints and the CLI."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jwt
import pytest
from pydantic import SecretStr
from sqlalchemy import text

from accounts.roles import Principal, Role
from accounts.tokens import issue_access
from api.auth.api_keys import verify_api_key
from api.auth.secret import ensure_secret
from tests.fixtures import TEST_PASSWORD, Accounts, LiveSystem, wait_until

pytestmark = pytest.mark.services


def post_token(api: str, username: str, password: str) -> httpx.Response:
    return httpx.post(
        f"{api}/api/v1/auth/token", data={"username": username, "password": password}, timeout=30
    )


def me(api: str, token: str) -> httpx.Response:
    return httpx.get(f"{api}/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)


def make_user(accounts: Accounts, role: Role = Role.AUDITOR, **fields: object) -> tuple[str, httpx.Response]:
    name = f"u{uuid.uuid4().hex[:10]}"
    body = {"username": name, "password": TEST_PASSWORD, "role": role.value, **fields}
    answer = httpx.post(
        f"{accounts.api_url}/api/v1/users", json=body, headers=accounts.headers(Role.ADMIN), timeout=30
    )
    return name, answer


def test_sign_in_gives_a_bearer_pair_and_me_says_who_and_where(accounts: Accounts) -> None:
    worker = accounts.users[Role.GRID_WORKER]
    body = accounts.sign_in(worker.username)
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 15 * 60 and body["refresh_expires_in"] == 8 * 3600
    answer = me(accounts.api_url, str(body["access_token"]))
    assert answer.status_code == 200
    assert answer.json()["role"] == "grid_worker" and answer.json()["role_label"] == "网格员"
    assert answer.json()["grid_codes"] == list(worker.grid_codes)
    assert answer.json()["last_login_at"] is not None
    assert "password_hash" not in answer.text


@pytest.mark.parametrize("username", ["t_auditor", "nobody_here"])
def test_a_wrong_password_or_unknown_user_is_401_alike(accounts: Accounts, username: str) -> None:
    answer = post_token(accounts.api_url, username, "not-the-password")
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert answer.json()["error"] == "invalid_credentials"
    assert answer.json()["detail"]["message"] == "用户名或密码错误"


def test_the_sign_in_form_needs_both_fields(accounts: Accounts) -> None:
    answer = httpx.post(f"{accounts.api_url}/api/v1/auth/token", data={"username": "x"}, timeout=10)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "password"]


def test_no_token_is_401_not_authenticated(accounts: Accounts) -> None:
    answer = httpx.get(f"{accounts.api_url}/api/v1/auth/me", timeout=10)
    assert answer.status_code == 401 and answer.json()["error"] == "not_authenticated"
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def test_forged_expired_and_unsigned_tokens_are_401(accounts: Accounts, live_system: LiveSystem) -> None:
    secret = ensure_secret(live_system.settings)
    auditor = accounts.sign_in("t_auditor")
    claims = jwt.decode(str(auditor["access_token"]), options={"verify_signature": False})
    principal = Principal(user_id=uuid.UUID(claims["sub"]), username="t_auditor", role=Role.AUDITOR)
    version = int(claims["ver"])
    expired = issue_access(
        principal, token_version=version, now=datetime.now(UTC) - timedelta(hours=1), secret=secret
    ).token
    forged = issue_access(principal, token_version=version, now=datetime.now(UTC), secret=b"f" * 32).token
    promoted = jwt.encode(
        {**claims, "role": "admin"}, b"g" * 32, algorithm="HS256", headers={"typ": "at+jwt"}
    )
    header = jwt.utils.base64url_encode(b'{"alg":"none","typ":"at+jwt"}').decode()
    unsigned = f"{header}.{str(auditor['access_token']).split('.')[1]}."
    refresh_as_access = str(auditor["refresh_token"])
    for token in (expired, forged, promoted, unsigned, refresh_as_access, "garbage"):
        answer = me(accounts.api_url, token)
        assert answer.status_code == 401, token
        assert answer.json()["error"] == "invalid_token"
        assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]
    fresh = issue_access(principal, token_version=version, now=datetime.now(UTC), secret=secret).token
    assert me(accounts.api_url, fresh).status_code == 200  # the same token, rightly signed, passes


def test_refresh_gives_a_new_pair_within_the_same_sign_in(accounts: Accounts) -> None:
    first = accounts.sign_in("t_city_dispatch")
    answer = httpx.post(
        f"{accounts.api_url}/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}, timeout=10
    )
    assert answer.status_code == 200
    assert me(accounts.api_url, answer.json()["access_token"]).json()["username"] == "t_city_dispatch"
    assert answer.json()["refresh_expires_in"] <= first["refresh_expires_in"]  # the sign-in is not extended
    as_refresh = httpx.post(
        f"{accounts.api_url}/api/v1/auth/refresh", json={"refresh_token": first["access_token"]}, timeout=10
    )
    assert as_refresh.status_code == 401


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.ADMIN])
def test_admin_endpoints_are_403_naming_admin_for_every_other_role(accounts: Accounts, role: Role) -> None:
    api, headers = accounts.api_url, accounts.headers(role)
    calls = [
        httpx.get(f"{api}/api/v1/users", headers=headers, timeout=10),
        httpx.post(f"{api}/api/v1/users", json={"username": "x"}, headers=headers, timeout=10),
        httpx.post(f"{api}/api/v1/users/t_auditor/disable", headers=headers, timeout=10),
        httpx.put(f"{api}/api/v1/users/t_auditor/role", json={"role": "admin"}, headers=headers, timeout=10),
        httpx.post(f"{api}/api/v1/api-keys", json={"client_name": "x"}, headers=headers, timeout=10),
        httpx.get(f"{api}/api/v1/api-keys", headers=headers, timeout=10),
        httpx.post(f"{api}/api/v1/api-keys/{uuid.uuid4()}/revoke", headers=headers, timeout=10),
    ]
    for answer in calls:
        assert answer.status_code == 403, answer.text
        body = answer.json()
        assert body["error"] == "forbidden" and body["detail"]["code"] == "forbidden"
        assert body["detail"]["needed"] == ["admin"] and "管理员" in body["detail"]["message"]
    assert httpx.get(f"{api}/api/v1/users", timeout=10).status_code == 401


def test_admin_creates_lists_and_reassigns_users(accounts: Accounts) -> None:
    district = accounts.users[Role.DISTRICT]
    name, created = make_user(accounts, Role.DISTRICT, area_code=district.area_code)
    assert created.status_code == 201, created.text
    assert created.json()["role_label"] == "区县" and "password" not in created.text
    listed = httpx.get(
        f"{accounts.api_url}/api/v1/users", params={"role": "district"}, headers=accounts.headers(Role.ADMIN)
    )
    assert name in [u["username"] for u in listed.json()]
    token = str(accounts.sign_in(name)["access_token"])
    moved = httpx.put(
        f"{accounts.api_url}/api/v1/users/{name}/role",
        json={"role": "department", "department_code": "210202000000:water"},
        headers=accounts.headers(Role.ADMIN),
    )
    assert moved.status_code == 200 and moved.json()["role"] == "department"
    assert me(accounts.api_url, token).status_code == 401  # the old role's token is revoked at once
    again = httpx.post(
        f"{accounts.api_url}/api/v1/users",
        json={"username": name.upper(), "password": TEST_PASSWORD, "role": "auditor"},
        headers=accounts.headers(Role.ADMIN),
    )
    assert again.status_code == 409 and again.json()["detail"]["field"] == "body.username"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"role": "district", "area_code": "210202001000"}, "area_code"),  # a township's code
        ({"role": "community", "area_code": "210202999999"}, "area_code"),  # no such community
        ({"role": "township"}, "area_code"),
        ({"role": "department", "department_code": "210202000000:nothing"}, "department_code"),
        ({"role": "grid_worker", "grid_codes": ["210202999999001"]}, "grid_codes"),
        ({"role": "grid_worker", "grid_codes": []}, "grid_codes"),
        ({"role": "auditor", "area_code": "210202000000"}, "area_code"),
        ({"role": "auditor", "password": "short"}, "password"),
        ({"role": "auditor", "username": "坏 名字"}, "username"),
        ({"role": "superuser"}, "role"),
    ],
)
def test_creating_a_user_with_a_bad_field_is_422_naming_it(
    accounts: Accounts, fields: dict[str, object], field: str
) -> None:
    body = {"username": f"u{uuid.uuid4().hex[:10]}", "password": TEST_PASSWORD, **fields}
    answer = httpx.post(
        f"{accounts.api_url}/api/v1/users", json=body, headers=accounts.headers(Role.ADMIN), timeout=30
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"] == ["body", field]
    assert answer.json()["detail"][0]["msg"]


def test_disabling_revokes_refresh_at_once_and_access_within_seconds(accounts: Accounts) -> None:
    name, created = make_user(accounts)
    assert created.status_code == 201
    pair = accounts.sign_in(name)
    assert me(accounts.api_url, str(pair["access_token"])).status_code == 200
    disabled = httpx.post(
        f"{accounts.api_url}/api/v1/users/{name}/disable", headers=accounts.headers(Role.ADMIN), timeout=10
    )
    assert disabled.status_code == 200 and disabled.json()["disabled"] is True
    refreshed = httpx.post(
        f"{accounts.api_url}/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}, timeout=10
    )
    assert refreshed.status_code == 401
    wait_until(
        lambda: me(accounts.api_url, str(pair["access_token"])).status_code == 401,
        timeout=15,
        what="the disabled user's access token to be refused",
    )
    assert post_token(accounts.api_url, name, TEST_PASSWORD).status_code == 401


def test_repeated_failures_slow_sign_in_down_then_let_it_through(
    accounts: Accounts, live_system: LiveSystem
) -> None:
    name, created = make_user(accounts)
    assert created.status_code == 201
    for _ in range(5):  # GRIDFLOW_SIGNIN_MAX_FAILURES
        assert post_token(accounts.api_url, name, "wrong-password").status_code == 401
    throttled = post_token(accounts.api_url, name, TEST_PASSWORD)  # even the right password waits
    assert throttled.status_code == 429
    assert 1 <= int(throttled.headers["Retry-After"]) <= 30
    assert throttled.json()["error"] == "too_many_attempts"
    with live_system.engine.begin() as conn:  # the delay passes: move the latest failure back
        conn.execute(
            text("UPDATE sign_in_failures SET last_at = last_at - interval '31 seconds' WHERE key = :k"),
            {"k": f"user:{name}"},
        )
    assert post_token(accounts.api_url, name, TEST_PASSWORD).status_code == 200
    assert live_system.count("SELECT count(*) FROM sign_in_failures WHERE key = :k", k=f"user:{name}") == 0


def test_an_api_key_is_shown_once_and_verifies(accounts: Accounts, live_system: LiveSystem) -> None:
    answer = httpx.post(
        f"{accounts.api_url}/api/v1/api-keys",
        json={"client_name": "12345市民热线"},
        headers=accounts.headers(Role.ADMIN),
        timeout=10,
    )
    assert answer.status_code == 201
    key = answer.json()["api_key"]
    with live_system.engine.connect() as conn:
        client = verify_api_key(conn, key=key)
        assert client is not None and client.reporter_id == "open311:12345市民热线"
        assert verify_api_key(conn, key=key + "x") is None
        stored = conn.execute(text("SELECT key_hash FROM api_keys WHERE key_id = :i"), {"i": client.user_id})
        assert key not in str(stored.scalar())


def gridflow(live_system: LiveSystem, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gridflow_cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**live_system.api.env, "COLUMNS": "200"},  # rich's tables would fold names on 80 columns
        timeout=60,
    )


def test_the_cli_adds_lists_reassigns_and_disables_users(accounts: Accounts, live_system: LiveSystem) -> None:
    name = f"cli{uuid.uuid4().hex[:8]}"
    added = gridflow(
        live_system, "user", "add", name, "--role", "district", "--area", "210202000000", "--password-stdin",
        stdin=f"{TEST_PASSWORD}\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert TEST_PASSWORD not in added.stdout + added.stderr
    assert post_token(accounts.api_url, name, TEST_PASSWORD).status_code == 200
    listed = gridflow(live_system, "user", "list", "--role", "district")
    assert listed.returncode == 0 and name in listed.stdout
    moved = gridflow(
        live_system, "user", "role", name, "--role", "department", "--department", "210202000000:water"
    )
    assert moved.returncode == 0, moved.stderr
    new_password = "另一个-密码-abcdef"
    changed = gridflow(live_system, "user", "password", name, "--password-stdin", stdin=new_password + "\n")
    assert changed.returncode == 0, changed.stderr
    assert post_token(accounts.api_url, name, new_password).status_code == 200
    assert gridflow(live_system, "user", "disable", name).returncode == 0
    assert post_token(accounts.api_url, name, new_password).status_code == 401
    issued = gridflow(live_system, "apikey", "issue", "市政务服务热线")
    assert issued.returncode == 0 and len(issued.stdout.strip().splitlines()[-1]) >= 43


@pytest.mark.parametrize(
    ("args", "stdin", "names"),
    [
        (["user", "add", "cli_bad1", "--role", "superuser", "--password-stdin"], TEST_PASSWORD, "--role"),
        (["user", "add", "cli_bad2", "--role", "township", "--password-stdin"], TEST_PASSWORD, "--area"),
        (["user", "add", "cli_bad3", "--role", "department", "--department", "x:y", "--password-stdin"],
         TEST_PASSWORD, "--department"),
        (["user", "add", "cli_bad4", "--role", "grid_worker", "--grid", "210202999999001",
          "--password-stdin"], TEST_PASSWORD, "--grid"),
        (["user", "add", "cli_bad5", "--role", "auditor", "--password-stdin"], "short", "password"),
        (["user", "add", "cli_bad6", "--role", "auditor", "--password-stdin"], "", "--password-stdin"),
        (["user", "add", "t_auditor", "--role", "auditor", "--password-stdin"], TEST_PASSWORD, "USERNAME"),
        (["user", "disable", "nobody_at_all"], "", "USERNAME"),
    ],
)  # fmt: skip
def test_the_cli_refuses_bad_input_with_exit_2_naming_the_option(
    live_system: LiveSystem, accounts: Accounts, args: list[str], stdin: str, names: str
) -> None:
    result = gridflow(live_system, *args, stdin=stdin + "\n" if stdin else "")
    assert result.returncode == 2, result.stdout + result.stderr
    assert names in result.stderr


def test_the_demo_makes_its_users_once_and_the_admin_takes_the_configured_password(
    live_system: LiveSystem, tmp_path: Path
) -> None:
    from infra.demo import ensure_demo_users

    settings = live_system.settings.model_copy(
        update={
            "state_dir": tmp_path,
            "pg_password": live_system.settings.database_password(),
            "admin_password": SecretStr("演示-管理员-密码-1"),
        }
    )
    first = ensure_demo_users(settings)
    roles = {label for _, label, _ in first}
    assert roles == {role.label for role in Role}
    assert ("admin", "管理员", "演示-管理员-密码-1") in first
    assert post_token(live_system.api_url, "admin", "演示-管理员-密码-1").status_code == 200
    worker, _, worker_password = next(user for user in first if user[0].startswith("wg_zs_"))
    assert post_token(live_system.api_url, worker, worker_password).status_code == 200
    assert (tmp_path / "secrets" / "demo_users.json").stat().st_mode & 0o777 == 0o600
    again = ensure_demo_users(settings)
    assert again == first  # kept, and printed with the same passwords
    changed = settings.model_copy(update={"admin_password": SecretStr("演示-管理员-密码-2")})
    ensure_demo_users(changed)
    assert post_token(live_system.api_url, "admin", "演示-管理员-密码-2").status_code == 200
