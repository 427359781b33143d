"""`gridflow services up|down|status`: the real Kafka and PostgreSQL on this machine.

Run on its own as `python -m infra.services.cli ...`. Exit codes: 1 when a service fails to start or stop
(with the tail of its log), 3 from `status` when a service is not answering (the LSB "not running" code,
so scripts can write `status || up`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from infra.services import SERVICES, ServiceError
from infra.settings import get_settings

app = typer.Typer(
    help="Start, stop and inspect gridflow's Kafka and PostgreSQL + PostGIS.", no_args_is_help=True
)
console = Console()
errors = Console(stderr=True)


class Service(StrEnum):
    postgres = "postgres"
    kafka = "kafka"


ServicesArg = Annotated[
    list[Service] | None, typer.Argument(help="Which services (default: all).", show_default=False)
]


def _chosen(names: list[Service] | None, *, stopping: bool = False) -> list[str]:
    chosen = [name for name in SERVICES if names is None or name in {n.value for n in names}]
    return list(reversed(chosen)) if stopping else chosen


def _fail(error: ServiceError) -> None:
    errors.print(f"[bold red]✗ {error}[/]")
    if error.log_tail:
        errors.print(error.log_tail, markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(1)


@app.command()
def up(
    services: ServicesArg = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each service to answer.")] = 120.0,
) -> None:
    """Start the services that are not answering and wait until they do."""
    s = get_settings()
    for name in _chosen(services):
        try:
            with console.status(f"starting {name}…"):
                took = SERVICES[name].start(s, timeout=timeout)
        except ServiceError as error:
            _fail(error)
        state = "already up" if took == 0.0 else f"up in {took:.1f} s"
        console.print(f"[green]✓[/] {name} {state}")


@app.command()
def down(services: ServicesArg = None) -> None:
    """Stop the services cleanly (Kafka first, so that nothing writes to a stopped database)."""
    s = get_settings()
    for name in _chosen(services, stopping=True):
        try:
            with console.status(f"stopping {name}…"):
                SERVICES[name].stop(s)
        except ServiceError as error:
            _fail(error)
        console.print(f"[green]✓[/] {name} stopped")


@app.command()
def status(services: ServicesArg = None) -> None:
    """Show whether each service runs and answers, with its pid, port and log."""
    s = get_settings()
    table = Table(title="gridflow services")
    for column in ("service", "running", "pid", "port", "answering", "log"):
        table.add_column(column, overflow="fold")
    healthy = True
    with console.status("asking the services…"):
        states = [SERVICES[name].status(s) for name in _chosen(services)]
    for state in states:
        healthy = healthy and state.healthy
        table.add_row(
            state.name,
            "[green]yes[/]" if state.running else "[red]no[/]",
            str(state.pid or "-"),
            str(state.port),
            "[green]yes[/]" if state.answering else "[red]no[/]",
            str(state.log_path),
        )
    console.print(table)
    if not healthy:
        raise typer.Exit(3)


if __name__ == "__main__":
    app()
