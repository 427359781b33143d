"""`gridflow view check` and `gridflow view rebuild`: the view's aggregates against a recount from the case
history (stream/aggregates_check.py). check exits 1 when they differ; tests call `run_check`."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress
from sqlalchemy.ext.asyncio import create_async_engine

from infra.edit_cli import console
from infra.settings import Settings, get_settings

if TYPE_CHECKING:
    from stream.aggregates_check import CheckResult, Progress, Recount

view_app = typer.Typer(help="四级视图的统计: check the aggregates against a recount, or rebuild them")


async def _check(settings: Settings, examples: int, progress: Progress | None = None) -> CheckResult:
    from stream.aggregates_check import check
    from stream.router import work_calendar

    engine = create_async_engine(settings.database_url())
    try:
        async with engine.connect() as conn:
            # One snapshot for the recount and the stored counts: a case moving meanwhile cannot differ.
            snapshot = await conn.execution_options(isolation_level="REPEATABLE READ")
            async with snapshot.begin():
                return await check(snapshot, work_calendar(), examples=examples, progress=progress)
    finally:
        await engine.dispose()


async def _rebuild(settings: Settings, progress: Progress | None = None) -> Recount:
    from stream.aggregates_check import rebuild
    from stream.router import work_calendar

    engine = create_async_engine(settings.database_url())
    try:
        async with engine.begin() as conn:
            return await rebuild(conn, work_calendar(), progress=progress)
    finally:
        await engine.dispose()


def run_check(settings: Settings, examples: int = 10, progress: Progress | None = None) -> CheckResult:
    """Recount the aggregates from the case history and compare (for the CLI and the tests)."""
    return asyncio.run(_check(settings, examples, progress))


@contextmanager
def _showing_progress(settings: Settings, what: str) -> Iterator[Progress]:
    """A progress bar over the cases, told the cases recounted so far."""
    from sqlalchemy import text

    from infra.db import make_sync_engine

    engine = make_sync_engine(settings)
    try:
        with engine.connect() as conn:
            if conn.execute(text("SELECT to_regclass('view_case_marks')")).scalar() is None:
                console.print(
                    f"[red]database {settings.pg_database} has no view aggregates: run `gridflow db migrate`"
                    " first[/red] (数据库未迁移)"
                )
                raise typer.Exit(2)
            total = conn.execute(text("SELECT count(*) FROM cases")).scalar_one()
    finally:
        engine.dispose()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with RichProgress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(what, total=total)
        yield lambda done: bar.update(task, completed=done)


@view_app.command("check")
def check_command(examples: int = typer.Option(10, min=0, help="differing counts shown")) -> None:
    """Recount the view's aggregates from the case history and compare them with the stored ones."""
    settings = get_settings()
    with _showing_progress(settings, "recounting cases") as progress:
        result = run_check(settings, examples, progress)
    console.print(f"cases {result.cases}, counts {result.cells}")
    for cell, kept, again in result.differing:
        console.print(f"  [red]differs[/red] {cell}: stored {kept}, recounted {again}")
    for row in result.rows_differing:
        console.print(f"  [red]differs[/red] {row.table} {row.key}: stored {row.stored}, summed {row.summed}")
    if not result.marks_same:
        console.print("  [red]the cases' marks do not match their history[/red]")
    if not result.same:
        differing = result.differing_count + result.rows_differing_count
        console.print(f"[red]{differing} counts differ[/red] (统计与重算不一致)")
        raise typer.Exit(1)
    console.print("[green]aggregates match the recount (统计一致)[/green]")


@view_app.command("rebuild")
def rebuild_command() -> None:
    """Replace the aggregates with a recount from the case history (stop the workers first)."""
    settings = get_settings()
    with _showing_progress(settings, "recounting cases") as progress:
        again = asyncio.run(_rebuild(settings, progress))
    console.print(f"[green]rebuilt[/green]: cases {again.cases}, counts {again.cells}")
