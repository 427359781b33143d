"""The worker's account: signing in, and the assignment it carries (我的网格) with the grids' names.

The profile is no secret and is kept in the app's preferences; the tokens are not (see core/auth.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from field_app.core.api_client import ApiClient, NetworkError, describe_error, retry_after_of

# The app is the grid worker's: other roles work at a desk, and a phone in the street should not carry an
# admin's or a district's token.
FIELD_ROLES = ("grid_worker",)


class SignInRefused(Exception):
    """The server said no to a sign-in: `kind` is credentials, throttled, role or other; the message is for
    the worker, `retry_after` the seconds to wait when throttled."""

    def __init__(self, kind: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after


def wait_text(seconds: float) -> str:
    """A wait in the worker's words: 45 秒, 3 分钟."""
    whole = max(1, -int(-seconds // 1))
    return f"{whole} 秒" if whole < 60 else f"{-(-whole // 60)} 分钟"


@dataclass(frozen=True)
class Account:
    username: str
    role: str
    role_label: str
    grid_codes: tuple[str, ...] = ()
    area_code: str | None = None
    grid_names: dict[str, str] = field(default_factory=dict)  # as far as the server named them

    @classmethod
    def from_me(cls, body: dict[str, Any], known: Account | None = None) -> Account:
        """The profile from GET /api/v1/auth/me, keeping the names already learnt for its grids."""
        codes = tuple(str(c) for c in body.get("grid_codes") or ())
        names = {c: n for c, n in (known.grid_names if known else {}).items() if c in codes}
        return cls(
            username=str(body["username"]),
            role=str(body["role"]),
            role_label=str(body.get("role_label") or body["role"]),
            grid_codes=codes,
            area_code=body.get("area_code"),
            grid_names=names,
        )

    def named(self, names: dict[str, str]) -> Account:
        return replace(self, grid_names={**self.grid_names, **names})

    @property
    def unnamed_grids(self) -> list[str]:
        return [code for code in self.grid_codes if code not in self.grid_names]

    def grids_text(self) -> str:
        """我的网格 in one line: names where known, codes otherwise."""
        if not self.grid_codes:
            return "未分配网格"
        return "、".join(self.grid_names.get(code, code) for code in self.grid_codes)

    def to_json(self) -> str:
        data = {**self.__dict__, "grid_codes": list(self.grid_codes)}
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Account:
        data = json.loads(text)
        return cls(**{**data, "grid_codes": tuple(data.get("grid_codes") or ())})


def request_tokens(client: ApiClient, username: str, password: str) -> dict[str, Any]:
    """The token response for a username and password (OAuth 2 password form, sent without a token);
    SignInRefused when the server says no, NetworkError when it cannot answer."""
    form = {"username": username, "password": password}
    response = client.send("POST", "/api/v1/auth/token", data=form)
    code = response.status_code
    if code == 200:
        return dict(response.json())
    if code in (400, 401, 422):
        raise SignInRefused("credentials", "用户名或密码错误")
    if code == 429:
        wait = retry_after_of(response) or 60.0
        raise SignInRefused("throttled", f"尝试次数过多，请 {wait_text(wait)}后再试", wait)
    if code == 404:
        raise SignInRefused("other", "该服务器不支持账号登录，请检查服务器地址")
    if code >= 500:
        raise NetworkError("服务器暂时不可用，请稍后再试")
    raise SignInRefused("other", describe_error(response) or f"HTTP {code}")


def fetch_profile(client: ApiClient, known: Account | None = None) -> Account:
    """Who the token belongs to (GET /api/v1/auth/me); SignInRefused for a role the app is not for."""
    response = client.request("GET", "/api/v1/auth/me")
    if response.status_code != 200:
        raise NetworkError(f"读取账号信息失败：HTTP {response.status_code}")
    account = Account.from_me(response.json(), known)
    if account.role not in FIELD_ROLES:
        raise SignInRefused("role", f"网格通供网格员使用；{account.role_label}账号请使用网页端")
    return account


def fetch_grid_names(client: ApiClient, codes: list[str]) -> dict[str, str]:
    """Names of grids from their views (GET /api/v1/views/{code} → area.name); a grid the server does not
    show is left out, to be shown by its code."""
    names: dict[str, str] = {}
    for code in codes:
        response = client.request("GET", f"/api/v1/views/{code}")
        if response.status_code in (403, 404, 422):
            continue
        if response.status_code != 200:
            raise NetworkError(f"读取网格名称失败：HTTP {response.status_code}")
        name = (response.json().get("area") or {}).get("name")
        if name:
            names[code] = str(name)
    return names
