"""`gridflow user ...` and `gridflow apikey ...`: accounts from the command line, through the API's own store.

Passwords are read from a hidden prompt (asked twice) or, with `--password-stdin`, from the first line of
standard input; never from an argument, where `ps` and the shell history would show them. Refused input
(a malformed or unknown KEY_ID too) exits with code 2 and names the option; an unreachable database exits
with 1.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

import typer
from rich.console import Console
from sqlalchemy import Connection

from accounts.roles import Role
from api.auth import api_keys, store
from infra.edit_cli import connected, default_actor, fail, table
from infra.settings import get_settings

T = TypeVar("T")
console = Console()
user_app = typer.Typer(help="用户与角色: accounts, their roles and passwords", no_args_is_help=True)
apikey_app = typer.Typer(help="Open311 客户端密钥: API keys for other systems", no_args_is_help=True)

# The store names the API's fields; a person at the shell knows the options.
OPTIONS = {
    "username": "USERNAME",
    "password": "the password",
    "role": "--role",
    "area_code": "--area",
    "department_code": "--department",
    "grid_codes": "--grid",
    "client_name": "CLIENT_NAME",
}

RoleOption = typer.Option(..., "--role", help="grid_worker, community, township, district, department, ...")
AreaOption = typer.Option(None, "--area", help="12-digit area code (community, township, district roles)")
DepartmentOption = typer.Option(None, "--department", help="department code, e.g. 210202000000:water")
GridOption = typer.Option(None, "--grid", help="a grid code of a grid worker (repeat for several)")
OnlyRoleOption = typer.Option(None, "--role", help="only this role")
StdinOption = typer.Option(False, "--password-stdin", help="read the password from standard input")
KeyIdArgument = typer.Argument(..., metavar="KEY_ID", help="the key's id, as `gridflow apikey list` shows it")


def _write(step: Callable[[Connection], T], *, missing: str = "USERNAME") -> T:
    """Run a store call in one transaction; its refusals exit with code 2, naming the option (`missing`
    names the argument that found nothing)."""
    with connected() as engine:
        try:
            with engine.begin() as conn:
                return step(conn)
        except (store.Refused, store.Taken) as exc:
            fail(f"{OPTIONS.get(exc.field, exc.field)}: {exc.message}")
        except store.Missing as exc:
            fail(f"{missing}: {exc}")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line.strip():
            fail("--password-stdin: 标准输入中没有密码 (no password on standard input)")
        return line.rstrip("\r\n")
    password: str = typer.prompt("密码 password", hide_input=True, confirmation_prompt=True)
    return password


def _show(user: store.User) -> None:
    found = table("用户名 username", "角色 role", "辖区 area", "部门 department", "网格 grids", "状态")
    found.add_row(
        user.username,
        f"{user.role.value} ({user.role.label})",
        user.area_code or "",
        user.department_code or "",
        " ".join(user.grid_codes),
        "停用 disabled" if user.disabled else "启用",
    )
    console.print(found)


@user_app.command("add")
def user_add(
    username: str = typer.Argument(..., help="3-64 lower-case letters, digits, _ . -"),
    role: Role = RoleOption,
    area: str | None = AreaOption,
    department: str | None = DepartmentOption,
    grid: list[str] | None = GridOption,
    password_stdin: bool = StdinOption,
) -> None:
    """Create a user with one role; the password is asked for (or read with --password-stdin)."""
    password = _password(password_stdin)
    user = _write(
        lambda c: store.create_user(
            c,
            username=username,
            password=password,
            role=role,
            area_code=area,
            department_code=department,
            grid_codes=grid or [],
            actor=default_actor(),
        )
    )
    _show(user)


@user_app.command("list")
def user_list(role: Role | None = OnlyRoleOption) -> None:
    """Show the users."""
    users = _write(lambda c: store.list_users(c, role=role))
    found = table(
        "用户名 username", "角色 role", "辖区 area", "部门 department", "网格 grids", "状态", "最近登录"
    )
    for user in users:
        last = user.last_login_at.isoformat(timespec="seconds") if user.last_login_at else ""
        state = "停用 disabled" if user.disabled else "启用"
        row = (user.username, user.role.value, user.area_code or "", user.department_code or "")
        found.add_row(*row, " ".join(user.grid_codes), state, last)
    console.print(found)


@user_app.command("disable")
def user_disable(username: str = typer.Argument(...)) -> None:
    """Disable a user: no more sign-ins; their tokens are revoked."""
    _show(_write(lambda c: store.disable_user(c, username=username, actor=default_actor())))


@user_app.command("role")
def user_role(
    username: str = typer.Argument(...),
    role: Role = RoleOption,
    area: str | None = AreaOption,
    department: str | None = DepartmentOption,
    grid: list[str] | None = GridOption,
) -> None:
    """Give a user another role or assignment; their tokens are revoked."""
    user = _write(
        lambda c: store.change_role(
            c,
            username=username,
            role=role,
            area_code=area,
            department_code=department,
            grid_codes=grid or [],
            actor=default_actor(),
        )
    )
    _show(user)


@user_app.command("password")
def user_password(username: str = typer.Argument(...), password_stdin: bool = StdinOption) -> None:
    """Set a user's password (at least 10 characters, not the username); their tokens are revoked."""
    password = _password(password_stdin)
    user = _write(
        lambda c: store.set_password(c, username=username, password=password, actor=default_actor())
    )
    console.print(f"[green]✓[/green] 已为 {user.username} 设置新密码 (password set)")


@apikey_app.command("issue")
def apikey_issue(
    client_name: str = typer.Argument(..., help="who the key is for, e.g. 12345市民热线"),
) -> None:
    """Issue an API key to an Open311 client; it is printed once and stored only as its SHA-256."""
    record, key = _write(lambda c: api_keys.issue_api_key(c, client_name=client_name, actor=default_actor()))
    console.print(f"client  {record.client_name}\nkey_id  {record.key_id}")
    console.print("api_key (shown once, keep it safe):", style="bold")
    print(key)  # plain, for a script to capture


def _when(at: datetime | None) -> str:
    return at.astimezone().isoformat(timespec="seconds") if at else ""


def _show_keys(records: list[api_keys.ApiKey]) -> None:
    found = table("key_id", "客户端 client", "签发 issued", "签发人 by", "状态 state", "撤销人 revoked by")
    for r in records:
        state = f"已撤销 revoked {_when(r.revoked_at)}" if r.revoked_at else "有效 valid"
        found.add_row(
            str(r.key_id), r.client_name, _when(r.created_at), r.created_by or "", state, r.revoked_by or ""
        )
    console.print(found)


@apikey_app.command("list")
def apikey_list() -> None:
    """Show every API key (revoked ones too): client, who issued and who revoked it; never the key."""
    _show_keys(_write(api_keys.list_api_keys))


@apikey_app.command("revoke")
def apikey_revoke(
    key_id: uuid.UUID = KeyIdArgument,
) -> None:
    """Revoke an API key for good; running API processes refuse it within revocation_recheck_s."""
    record = _write(
        lambda c: api_keys.revoke_api_key(c, key_id=key_id, actor=default_actor()), missing="KEY_ID"
    )
    _show_keys([record])
    seconds = f"{get_settings().revocation_recheck_s:g}"
    console.print(f"运行中的 API 将在 {seconds} 秒内拒绝此密钥 (running APIs refuse it within {seconds} s)")
