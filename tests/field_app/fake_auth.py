"""The fake API's accounts: users, sign-in with a throttle, JWT-shaped tokens, refresh, and who calls.

Answers as api/auth/routes.py and api/errors.py do (test_contract.py holds the bodies to the real ones):
401 `invalid_credentials` / `invalid_token` with WWW-Authenticate, 429 `too_many_attempts` with Retry-After.
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import httpx

PASSWORD = "gridflow-测试-密码-2026"
GRID_A, GRID_B = "210202001001001", "210202001001002"
GRID_NAMES = {GRID_A: "青泥洼桥社区第1网格", GRID_B: "青泥洼桥社区第2网格"}
ROLE_LABELS = {"grid_worker": "网格员", "community": "社区", "department": "职能部门", "admin": "管理员"}
ACCESS_S = 900
REFRESH_S = 8 * 3600


@dataclass
class FakeUser:
    username: str
    password: str = PASSWORD
    role: str = "grid_worker"
    grid_codes: tuple[str, ...] = (GRID_A, GRID_B)
    user_id: uuid.UUID = field(default_factory=uuid.uuid4)

    def me(self) -> dict[str, Any]:
        now = datetime.now(UTC).isoformat()
        return {
            "user_id": str(self.user_id),
            "username": self.username,
            "role": self.role,
            "role_label": ROLE_LABELS.get(self.role, self.role),
            "area_code": None,
            "department_code": None,
            "grid_codes": list(self.grid_codes),
            "disabled": False,
            "created_at": now,
            "updated_at": now,
            "last_login_at": now,
        }


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_shaped(username: str, kind: str) -> str:
    """A token that looks like the server's (header.payload.signature), so log scrubbing meets the real
    shape; the fake only ever compares it as a string."""
    header = _b64(json.dumps({"alg": "HS256", "typ": kind}).encode())
    payload = _b64(json.dumps({"sub": username, "jti": secrets.token_hex(8)}).encode())
    return f"{header}.{payload}.{_b64(secrets.token_bytes(32))}"


def problem(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> httpx.Response:
    return httpx.Response(
        status, headers=headers, json={"error": code, "detail": {"code": code, "message": message, **extra}}
    )


def unauthorized(
    code: str = "invalid_token", message: str = "访问令牌无效、已过期或已被撤销，请重新登录"
) -> httpx.Response:
    challenge = 'Bearer realm="gridflow"' + (', error="invalid_token"' if code == "invalid_token" else "")
    return problem(401, code, message, {"WWW-Authenticate": challenge})


def refusal(request: httpx.Request) -> httpx.Response:
    """The 401 for a request without a valid token: `invalid_token` if it sent one, else not signed in."""
    if request.headers.get("authorization"):
        return unauthorized()
    return unauthorized("not_authenticated", "请先登录 (sign in first)")


class FakeAccounts:
    def __init__(self) -> None:
        self.users: dict[str, FakeUser] = {}
        self.access: dict[str, str] = {}  # live access token → username
        self.refresh: dict[str, str] = {}  # live refresh token → username
        self.throttle_s: int | None = None  # set: every sign-in answers 429 with this Retry-After
        self.sign_ins = 0
        self.refreshes = 0
        self.access_s = ACCESS_S

    def add(self, username: str, **kwargs: Any) -> FakeUser:
        user = self.users[username] = FakeUser(username, **kwargs)
        return user

    def headers(self, username: str) -> dict[str, str]:
        """A bearer header of a fresh session, for tests that call the fake directly."""
        access = self._pair(username).json()["access_token"]
        return {"Authorization": f"Bearer {access}"}

    def expire_access_tokens(self) -> None:
        """Every access token dies, as after its 15 minutes; refresh tokens still work."""
        self.access.clear()

    def end_sessions(self) -> None:
        """Every token dies (password changed, user disabled, the 8 hours over): sign in again."""
        self.access.clear()
        self.refresh.clear()

    def caller(self, request: httpx.Request) -> FakeUser | None:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer "):
            return None
        username = self.access.get(header[7:].strip())
        return self.users.get(username) if username else None

    def handle(self, request: httpx.Request) -> httpx.Response | None:
        """The /api/v1/auth routes; None for any other path."""
        path, method = request.url.path, request.method
        if method == "POST" and path == "/api/v1/auth/token":
            return self._token(request)
        if method == "POST" and path == "/api/v1/auth/refresh":
            return self._refresh(request)
        if method == "GET" and path == "/api/v1/auth/me":
            user = self.caller(request)
            return refusal(request) if user is None else httpx.Response(200, json=user.me())
        return None

    def _token(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        if self.throttle_s is not None:
            wait = self.throttle_s
            message = f"登录失败次数过多，请 {wait} 秒后再试"
            return problem(429, "too_many_attempts", message, {"Retry-After": str(wait)}, retry_after=wait)
        user = self.users.get(form.get("username", ""))
        if user is None or form.get("password") != user.password:
            return unauthorized("invalid_credentials", "用户名或密码错误")
        self.sign_ins += 1
        return self._pair(user.username)

    def _refresh(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content or b"{}")
        username = self.refresh.get(body.get("refresh_token", ""))  # reusable until it ends, as the server's
        if username is None:
            return unauthorized("invalid_token", "刷新令牌无效或已过期，请重新登录")
        self.refreshes += 1
        return self._pair(username)

    def _pair(self, username: str) -> httpx.Response:
        access, refresh = jwt_shaped(username, "access"), jwt_shaped(username, "refresh")
        self.access[access] = username
        self.refresh[refresh] = username
        answer = {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": self.access_s,
            "refresh_token": refresh,
            "refresh_expires_in": REFRESH_S,
        }
        return httpx.Response(200, json=answer)
