"""Request and response bodies of sign-in, users and API keys."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from accounts.roles import Role
from api.auth.api_keys import CLIENT_NAME_MAX, ApiKey
from api.auth.store import User

Code = Field(default=None, max_length=64)


class TokenOut(BaseModel):
    """OAuth 2's token response (RFC 6749 §5.1), with the refresh token's own lifetime beside it."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds the access token is valid")
    refresh_token: str
    refresh_expires_in: int = Field(description="seconds the refresh token (the sign-in) is valid")


class RefreshIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(min_length=1, max_length=4096)


class Assignment(BaseModel):
    """A role and what it is bound to: area_code for community/township/district (a 12-digit code at that
    level; optional for a grid worker: their community), department_code for department, grid_codes (one or
    more) for grid_worker; nothing for city_dispatch, auditor and admin."""

    model_config = ConfigDict(extra="forbid")

    role: Role
    area_code: str | None = Code
    department_code: str | None = Code
    grid_codes: list[str] = Field(default_factory=list, max_length=200)


class UserIn(Assignment):
    username: str = Field(min_length=1, max_length=64, examples=["wg_zhongshan_01"])
    password: str = Field(
        min_length=1, max_length=1024, description="at least 10 characters, not the username"
    )


class UserOut(BaseModel):
    user_id: uuid.UUID
    username: str
    role: Role
    role_label: str = Field(description="the role in Chinese")
    area_code: str | None
    department_code: str | None
    grid_codes: list[str]
    disabled: bool
    created_at: datetime
    updated_at: datetime
    last_login_at: datetime | None

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            user_id=user.user_id,
            username=user.username,
            role=user.role,
            role_label=user.role.label,
            area_code=user.area_code,
            department_code=user.department_code,
            grid_codes=list(user.grid_codes),
            disabled=user.disabled,
            created_at=user.created_at,
            updated_at=user.updated_at,
            last_login_at=user.last_login_at,
        )


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_name: str = Field(min_length=1, max_length=CLIENT_NAME_MAX, examples=["12345市民热线"])


class ApiKeyOut(ApiKey):
    """A key just issued: its record, and the key itself."""

    api_key: str = Field(description="shown this once only; stored as its SHA-256")
