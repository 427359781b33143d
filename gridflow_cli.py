"""`gridflow`: one command line for services, schema, data, API, workers and the demo."""

from __future__ import annotations

import typer
from rich.console import Console

from infra.edit_cli import department_app, duty_app
from infra.geo_cli import geo_export, geo_import
from infra.services.cli import app as services_app
from infra.stream_cli import stream_app
from infra.user_cli import apikey_app, user_app
from infra.view_cli import view_app

console = Console()
app = typer.Typer(help="gridflow 网格化管理平台", no_args_is_help=True, pretty_exceptions_enable=False)
app.add_typer(services_app, name="services", help="Kafka (KRaft) and PostgreSQL+PostGIS on loopback")
db_app = typer.Typer(help="database schema", no_args_is_help=True)
geo_app = typer.Typer(help="areas, boundaries, departments, duty rules", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(geo_app, name="geo")
app.add_typer(duty_app, name="duty", no_args_is_help=True)
app.add_typer(department_app, name="department", no_args_is_help=True)
app.add_typer(stream_app, name="stream", no_args_is_help=True)
app.add_typer(view_app, name="view", no_args_is_help=True)
app.add_typer(user_app, name="user", no_args_is_help=True)
app.add_typer(apikey_app, name="apikey", no_args_is_help=True)


@db_app.command("migrate")
def db_migrate() -> None:
    """Create the PostGIS extension if needed and migrate the schema to the newest revision."""
    from infra.migrate import upgrade
    from infra.settings import get_settings

    upgrade(get_settings())
    console.print("[green]schema migrated[/green]")


@geo_app.command("load")
def geo_load() -> None:
    """Load Dalian: 4 levels of official codes, real district boundaries, generated ones below (synthetic)."""
    from geo.hierarchy import dalian_areas
    from infra.loading import load_city
    from infra.settings import get_settings

    with console.status("生成区划与网格 building the hierarchy…"):
        specs = dalian_areas()
    counts = load_city(get_settings(), specs)
    console.print("loaded: " + ", ".join(f"{level} {n}" for level, n in sorted(counts.items())))


geo_app.command("import")(geo_import)
geo_app.command("export")(geo_export)


@app.command("api")
def run_api(
    host: str = typer.Option(None),
    port: int = typer.Option(None),
    workers: int = typer.Option(1, min=1, help="processes sharing the port, each with its own producer"),
    access_log: bool = typer.Option(False, help="one log line per request (costs CPU at high rates)"),
) -> None:
    """Serve the HTTP API (uvicorn, uvloop + httptools). One process is one core: use --workers 2 or more
    for intake at thousands of reports per second."""
    import uvicorn

    from infra.logging_setup import logging_config
    from infra.settings import get_settings

    settings = get_settings()
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host or settings.api_host,
        port=port or settings.api_port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        access_log=access_log,
        log_config=logging_config(settings),  # uvicorn's loggers too: JSON lines or text, stderr or a file
    )


@app.command("worker")
def run_worker(
    loglevel: str = typer.Option(None, help="this worker's log level (default: GRIDFLOW_LOG_LEVEL)"),
) -> None:
    """Run one Faust stream worker (locate, route, sink). Start more to share the partitions."""
    from stream.worker import run_worker as run

    run(loglevel)


@app.command("topics")
def topics() -> None:
    """Create the Kafka topics with the configured partitions (idempotent)."""
    from infra.settings import get_settings
    from stream.topics import ensure_topics

    created = ensure_topics(get_settings())
    console.print(f"created: {', '.join(created) or 'none (all exist)'}")


def main() -> None:
    from infra.demo import demo_app

    app.add_typer(demo_app, name="demo", help="run the whole system with a feed of demo reports")
    app()


if __name__ == "__main__":
    main()
