"""Users in PostgreSQL: plain functions on a (sync) connection, shared by the API and the CLI.

The API calls them through `AsyncConnection.run_sync`; the CLI on its own connection. The caller owns the
transaction. Every change is recorded in `account_events` with its actor. Refusals are `Refused` (a field
and a Chinese message: 422 or exit 2), `Missing` (404) and `Taken` (409).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Connection, TextClause, bindparam, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError

from accounts.passwords import WeakPassword, check_policy, hash_password
from accounts.roles import AREA_ROLES, Principal, Role, assignment_problem
from geo.schemas import Level

USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{2,63}$")


class Refused(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class Missing(LookupError):
    pass


class Taken(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class User(BaseModel):
    model_config = ConfigDict(frozen=True)

    user_id: uuid.UUID
    username: str
    password_hash: str
    role: Role
    area_code: str | None
    department_code: str | None
    grid_codes: tuple[str, ...]
    disabled: bool
    token_version: int
    created_at: datetime
    updated_at: datetime
    last_login_at: datetime | None

    def principal(self) -> Principal:
        return Principal(
            user_id=self.user_id,
            username=self.username,
            role=self.role,
            area_code=self.area_code,
            department_code=self.department_code,
            grid_codes=self.grid_codes,
        )


_USER_COLUMNS = (
    "user_id, username, password_hash, role, area_code, department_code, grid_codes, disabled, token_version,"
    " created_at, updated_at, last_login_at"
)


def _user(row: Any) -> User:
    return User.model_validate({**row._mapping, "grid_codes": tuple(row.grid_codes)})


def normalize_username(username: str) -> str:
    """The stored form of a username (lower case); Refused when it is not one."""
    name = username.strip().lower()
    if not USERNAME.fullmatch(name):
        raise Refused("username", "用户名须为 3–64 位小写字母、数字或 _ . -，以字母或数字开头")
    return name


def log_event(conn: Connection, *, actor: str, subject: str, action: str, detail: dict[str, Any]) -> None:
    insert = text("INSERT INTO account_events (actor, subject, action, detail) VALUES (:a, :s, :act, :d)")
    conn.execute(_json(insert, "d"), {"a": actor, "s": subject, "act": action, "d": detail}).close()


def _json(statement: TextClause, *names: str) -> TextClause:
    """`statement` with these parameters sent as JSONB."""
    return statement.bindparams(*(bindparam(name, type_=JSONB) for name in names))


def check_assignment(
    conn: Connection,
    *,
    role: Role,
    area_code: str | None,
    department_code: str | None,
    grid_codes: Sequence[str],
) -> None:
    """Refused (naming the field) unless the assignment fits the role and its codes exist."""
    problem = assignment_problem(
        role, area_code=area_code, department_code=department_code, grid_codes=tuple(grid_codes)
    )
    if problem is not None:
        raise Refused(*problem)
    if area_code is not None:
        level = Level.COMMUNITY if role is Role.GRID_WORKER else AREA_ROLES[role]
        found = conn.execute(text("SELECT level FROM areas WHERE code = :c"), {"c": area_code}).scalar()
        if found != level.value:
            raise Refused("area_code", f"区划代码 {area_code} 不存在（{level.label}级）")
    if department_code is not None:
        found = conn.execute(
            text("SELECT 1 FROM departments WHERE code = :c"), {"c": department_code}
        ).scalar()
        if found is None:
            raise Refused("department_code", f"部门 {department_code} 不存在")
    if grid_codes:
        rows = conn.execute(
            text("SELECT code FROM areas WHERE level = 'grid' AND code = ANY(:codes)"),
            {"codes": list(grid_codes)},
        )
        missing = sorted(set(grid_codes) - {code for (code,) in rows})
        if missing:
            raise Refused("grid_codes", f"网格不存在：{', '.join(missing)}")


def create_user(
    conn: Connection,
    *,
    username: str,
    password: str,
    role: Role,
    area_code: str | None = None,
    department_code: str | None = None,
    grid_codes: Sequence[str] = (),
    actor: str,
) -> User:
    """Create a user with a role, its assignment and a password that passes the policy."""
    name = normalize_username(username)
    grids = list(dict.fromkeys(grid_codes))
    check_assignment(conn, role=role, area_code=area_code, department_code=department_code, grid_codes=grids)
    try:
        check_policy(password, username=name)
    except WeakPassword as exc:
        raise Refused("password", str(exc)) from exc
    params = {
        "id": uuid.uuid4(),
        "name": name,
        "hash": hash_password(password),
        "role": role.value,
        "area": area_code,
        "dept": department_code,
        "grids": grids,
    }
    insert = text(
        "INSERT INTO users (user_id, username, password_hash, role, area_code, department_code, grid_codes)"
        f" VALUES (:id, :name, :hash, :role, :area, :dept, :grids) RETURNING {_USER_COLUMNS}"
    )
    try:
        with conn.begin_nested():  # a taken name rolls back this insert only, not the caller's transaction
            row = conn.execute(_json(insert, "grids"), params).one()
    except IntegrityError as exc:
        raise Taken("username", f"用户名 {name} 已存在") from exc
    detail = {
        "role": role.value,
        "area_code": area_code,
        "department_code": department_code,
        "grid_codes": grids,
    }
    log_event(conn, actor=actor, subject=name, action="create", detail=detail)
    return _user(row)


def get_by_username(conn: Connection, *, username: str) -> User | None:
    """The user of that name (any case), or None."""
    row = conn.execute(
        text(f"SELECT {_USER_COLUMNS} FROM users WHERE username = :n"), {"n": username.strip().lower()}
    ).one_or_none()
    return _user(row) if row is not None else None


def get_by_id(conn: Connection, *, user_id: uuid.UUID) -> User | None:
    """The user with that id, or None."""
    row = conn.execute(
        text(f"SELECT {_USER_COLUMNS} FROM users WHERE user_id = :i"), {"i": user_id}
    ).one_or_none()
    return _user(row) if row is not None else None


def token_state(conn: Connection, *, user_id: uuid.UUID) -> tuple[int, bool] | None:
    """(token_version, disabled) of a user, or None if there is no such user: what revocation checks."""
    row = conn.execute(
        text("SELECT token_version, disabled FROM users WHERE user_id = :i"), {"i": user_id}
    ).one_or_none()
    return (int(row.token_version), bool(row.disabled)) if row is not None else None


def list_users(conn: Connection, *, role: Role | None = None, include_disabled: bool = True) -> list[User]:
    """Users by username, optionally of one role, optionally without the disabled ones."""
    rows = conn.execute(
        text(
            f"SELECT {_USER_COLUMNS} FROM users WHERE (CAST(:role AS text) IS NULL OR role = :role)"
            " AND (:all OR NOT disabled) ORDER BY username"
        ),
        {"role": role.value if role else None, "all": include_disabled},
    )
    return [_user(row) for row in rows]


def _update(conn: Connection, username: str, assignments: str, params: dict[str, Any]) -> User:
    """Change a user and bump its token version (every token issued before is revoked)."""
    update = text(
        f"UPDATE users SET {assignments}, token_version = token_version + 1, updated_at = now()"
        f" WHERE username = :name RETURNING {_USER_COLUMNS}"
    )
    json_params = ("grids",) if "grids" in params else ()
    row = conn.execute(
        _json(update, *json_params), {**params, "name": username.strip().lower()}
    ).one_or_none()
    if row is None:
        raise Missing(f"用户 {username} 不存在")
    return _user(row)


def disable_user(conn: Connection, *, username: str, actor: str) -> User:
    """Disable a user: no sign-in, and its tokens are revoked."""
    user = _update(conn, username, "disabled = true", {})
    log_event(conn, actor=actor, subject=user.username, action="disable", detail={})
    return user


def enable_user(conn: Connection, *, username: str, actor: str) -> User:
    """Enable a disabled user again (tokens issued before stay revoked)."""
    user = _update(conn, username, "disabled = false", {})
    log_event(conn, actor=actor, subject=user.username, action="enable", detail={})
    return user


def change_role(
    conn: Connection,
    *,
    username: str,
    role: Role,
    area_code: str | None = None,
    department_code: str | None = None,
    grid_codes: Sequence[str] = (),
    actor: str,
) -> User:
    """Give a user another role or assignment; its tokens are revoked so the new rights apply at once."""
    grids = list(dict.fromkeys(grid_codes))
    if get_by_username(conn, username=username) is None:
        raise Missing(f"用户 {username} 不存在")
    check_assignment(conn, role=role, area_code=area_code, department_code=department_code, grid_codes=grids)
    assignments = "role = :role, area_code = :area, department_code = :dept, grid_codes = :grids"
    params = {"role": role.value, "area": area_code, "dept": department_code, "grids": grids}
    user = _update(conn, username, assignments, params)
    detail = {
        "role": role.value,
        "area_code": area_code,
        "department_code": department_code,
        "grid_codes": grids,
    }
    log_event(conn, actor=actor, subject=user.username, action="change_role", detail=detail)
    return user


def set_password(conn: Connection, *, username: str, password: str, actor: str) -> User:
    """Set a new password (policy checked); the user's tokens are revoked."""
    name = username.strip().lower()
    try:
        check_policy(password, username=name)
    except WeakPassword as exc:
        raise Refused("password", str(exc)) from exc
    user = _update(conn, name, "password_hash = :hash", {"hash": hash_password(password)})
    log_event(conn, actor=actor, subject=user.username, action="set_password", detail={})
    return user


def record_sign_in(
    conn: Connection, *, user_id: uuid.UUID, at: datetime, new_hash: str | None = None
) -> None:
    """Note a successful sign-in; store a re-made hash when the parameters changed."""
    conn.execute(
        text(
            "UPDATE users SET last_login_at = :at, password_hash = coalesce(:hash, password_hash)"
            " WHERE user_id = :i"
        ),
        {"at": at, "hash": new_hash, "i": user_id},
    ).close()
