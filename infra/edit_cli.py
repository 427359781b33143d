"""`gridflow duty ...` and `gridflow department ...`: edit the responsibility list without a deploy.

Each edit is one transaction that also bumps the version and publishes to `areas.changes` (stream.changes);
running workers route by it from their next batch. Refused input exits with code 2 and says which field.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError

from geo import duties
from geo.schemas import Department, DutyRule
from geo.versions import VersionKind
from infra.db import make_sync_engine
from infra.settings import get_settings

T = TypeVar("T")
console = Console()
errors = Console(stderr=True)
duty_app = typer.Typer(help="权责清单: which department answers for a category, on what legal basis")
department_app = typer.Typer(help="责任部门: departments and the areas they serve")
BAD_INPUT = 2


def fail(message: str, code: int = BAD_INPUT) -> NoReturn:
    errors.print(f"[red]✗[/red] {message}", highlight=False)
    raise typer.Exit(code)


def default_actor() -> str:
    return f"cli:{getpass.getuser()}"


@contextmanager
def connected() -> Iterator[Engine]:
    engine = make_sync_engine(get_settings())
    try:
        yield engine
    except OperationalError as exc:
        fail(f"数据库不可用 database unavailable: {exc.orig}", code=1)
    finally:
        engine.dispose()


def _read(step: Callable[[Connection], T]) -> T:
    with connected() as engine, engine.connect() as conn:
        try:
            return step(conn)
        except duties.Refused as exc:
            fail(str(exc))


def run_edit(
    kind: VersionKind,
    note: str,
    actor: str,
    step: Callable[[Connection], T],
    refusals: tuple[type[Exception], ...] = (duties.Refused, duties.Missing),
) -> tuple[T, int]:
    """Run one edit in its own transaction (version bump and areas.changes included); a refusal exits
    with code 2 and its message, a broker that does not acknowledge with code 1. Nothing is half-done."""
    from stream.changes import PublishFailed, edit

    with connected() as engine:
        try:
            with edit(engine, get_settings(), kind, actor=actor, note=note) as change:
                result = step(change.conn)
        except refusals as exc:
            fail(str(exc))
        except PublishFailed as exc:
            fail(f"{exc}; nothing was changed", code=1)
    assert change.version is not None
    return result, change.version


def table(*headers: str) -> Table:
    """A table whose long cells (legal citations, Chinese names) wrap instead of being cut off."""
    found = Table()
    for header in headers:
        found.add_column(header, overflow="fold")
    return found


def _rules_table(rules: list[DutyRule]) -> Table:
    table_ = table("类别 category", "层级 level", "责任部门 kind", "时限 h", "法律依据 legal basis", "版本")
    for r in rules:
        row = (r.category_code, r.level.value, r.department_kind, str(r.deadline_hours), r.legal_basis)
        table_.add_row(*row, str(r.version))
    return table_


def _departments_table(found: list[Department]) -> Table:
    table_ = table("代码 code", "名称 name", "类型 kind", "层级 level", "辖区 area")
    for d in found:
        table_.add_row(d.code, d.name, d.kind, d.level.value, d.area_code)
    return table_


@duty_app.command("list")
def duty_list(
    category: str | None = typer.Option(None, help="only this category code"),
    level: str | None = typer.Option(None, help="only this level: city, district, township"),
) -> None:
    """Show the duty rules."""
    rules = _read(lambda c: duties.list_rules(c, category_code=category, level=level))
    console.print(_rules_table(rules))


@duty_app.command("set")
def duty_set(
    category: str = typer.Argument(..., help="category code, e.g. 10201 (see GET /api/v1/categories)"),
    level: str = typer.Argument(..., help="city, district or township"),
    department_kind: str = typer.Option("", help="a department kind that exists at that level, e.g. water"),
    deadline_hours: int = typer.Option(..., help="handling deadline in hours (1-2160)"),
    legal_basis: str = typer.Option("", help="法律依据, required (工作事项准入)"),
    natural_hours: bool = typer.Option(False, help="count the deadline in natural hours, not working hours"),
    helper: Annotated[
        list[str] | None, typer.Option(help="协办: another department kind at the level that helps (repeat)")
    ] = None,
    note: str = typer.Option("", help="why, for the edit log"),
    actor: str = typer.Option(default_actor, help="who edits, for the edit log"),
) -> None:
    """Create or change the rule for a category at a level; refused without a legal basis or department."""
    rule, version = run_edit(
        "duty_rules",
        note or f"set {category}@{level} → {department_kind}",
        actor,
        lambda c: duties.set_rule(
            c,
            category_code=category,
            level=level,
            department_kind=department_kind,
            deadline_hours=deadline_hours,
            legal_basis=legal_basis,
            working_hours=not natural_hours,
            helper_kinds=helper or (),
        ),
    )
    console.print(_rules_table([rule]))
    console.print(f"[green]✓[/green] 权责清单 duty rules now version {version}; workers follow at once")


@duty_app.command("remove")
def duty_remove(
    category: str = typer.Argument(...),
    level: str = typer.Argument(...),
    actor: str = typer.Option(default_actor),
) -> None:
    """Remove the rule for a category at a level."""
    rule, version = run_edit(
        "duty_rules",
        f"removed {category}@{level}",
        actor,
        lambda c: duties.remove_rule(c, category_code=category, level=level),
    )
    console.print(f"[green]✓[/green] removed {rule.category_code}@{rule.level.value}; version {version}")


@department_app.command("list")
def department_list(
    area: str | None = typer.Option(None, help="only the departments serving this area code"),
    kind: str | None = typer.Option(None),
    level: str | None = typer.Option(None),
) -> None:
    """Show departments with their kind and jurisdiction."""
    found = _read(lambda c: duties.list_departments(c, area_code=area, kind=kind, level=level))
    console.print(_departments_table(found))


@department_app.command("set")
def department_set(
    area: str = typer.Argument(..., help="the city, district or township code it serves"),
    kind: str = typer.Argument(..., help="department kind, e.g. water"),
    name: str = typer.Option(..., help="its Chinese name"),
    actor: str = typer.Option(default_actor),
) -> None:
    """Create or rename the department of a kind serving an area."""
    department, version = run_edit(
        "departments",
        f"set {kind} of {area}: {name}",
        actor,
        lambda c: duties.set_department(c, area_code=area, kind=kind, name=name),
    )
    console.print(_departments_table([department]))
    console.print(f"[green]✓[/green] departments now version {version}")


@department_app.command("remove")
def department_remove(
    area: str = typer.Argument(...), kind: str = typer.Argument(...), actor: str = typer.Option(default_actor)
) -> None:
    """Remove a department; refused if it is the last of its kind that a duty rule still needs."""
    department, version = run_edit(
        "departments",
        f"removed {kind} of {area}",
        actor,
        lambda c: duties.remove_department(c, area_code=area, kind=kind),
    )
    console.print(f"[green]✓[/green] removed {department.code}; departments now version {version}")
