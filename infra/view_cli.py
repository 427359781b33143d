"""`gridflow view check` and `gridflow view rebuild`: the view's aggregates against a recount from the case
history (stream/aggregates_check.py). check exits 1 when they differ; tests call `run_check`."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import typer
from sqlalchemy.ext.asyncio import create_async_engine

from infra.edit_cli import console
from infra.settings import Settings, get_settings

if TYPE_CHECKING:
    from stream.aggregates_check import CheckResult, Recount

view_app = typer.Typer(help="四级视图的统计: check the aggregates against a recount, or rebuild them")


async def _check(settings: Settings, examples: int) -> CheckResult:
    from stream.aggregates_check import check
    from stream.router import work_calendar

    engine = create_async_engine(settings.database_url())
    try:
        async with engine.connect() as conn:
            # One snapshot for the recount and the stored counts: a case moving meanwhile cannot differ.
            snapshot = await conn.execution_options(isolation_level="REPEATABLE READ")
            async with snapshot.begin():
                return await check(snapshot, work_calendar(), examples=examples)
    finally:
        await engine.dispose()


async def _rebuild(settings: Settings) -> Recount:
    from stream.aggregates_check import rebuild
    from stream.router import work_calendar

    engine = create_async_engine(settings.database_url())
    try:
        async with engine.begin() as conn:
            return await rebuild(conn, work_calendar())
    finally:
        await engine.dispose()


def run_check(settings: Settings, examples: int = 10) -> CheckResult:
    """Recount the aggregates from the case history and compare (for the CLI and the tests)."""
    return asyncio.run(_check(settings, examples))


@view_app.command("check")
def check_command(examples: int = typer.Option(10, min=0, help="differing counts shown")) -> None:
    """Recount the view's aggregates from the case history and compare them with the stored ones."""
    result = run_check(get_settings(), examples)
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
    again = asyncio.run(_rebuild(get_settings()))
    console.print(f"[green]rebuilt[/green]: cases {again.cases}, counts {len(again.counts)}")
