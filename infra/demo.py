"""The demo: bring the whole system up on this machine and feed it reports, as grid workers would."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.console import Console
from sqlalchemy import Connection, text

from infra.demo_feed import feed, load_posters, load_sampler
from infra.settings import Settings, get_settings

console = Console()
demo_app = typer.Typer(no_args_is_help=True)


@demo_app.command("feed")
def feed_command(
    api: str = typer.Option("http://127.0.0.1:8000", help="API base URL"),
    count: int = typer.Option(None, min=1, help="stop after this many reports (default: run until Ctrl-C)"),
    rate: float = typer.Option(5.0, min=0.1, max=1000, help="reports per second"),
    seed: int = typer.Option(2102),
) -> None:
    """Post random reports as the demo's grid workers (from their grids) and the dispatch center (12345
    calls from across Dalian) would, each signed in with its account; `gridflow demo run` makes them."""
    settings = get_settings()
    feed(api, load_sampler(settings, seed), count=count, rate=rate, posters=load_posters(settings))


# Demo accounts: username → (role, how its assignment is found). Grid workers walk the first grids of the
# first communities of 中山区; the offices are that community, its township and 中山区; the department is
# 中山区水务局, lead on water cases (井盖, 供水管道, 下水道).
ZHONGSHAN = "210202000000"
DEMO_OFFICES = ("city_dispatch", "auditor")


def _demo_accounts(conn: Connection) -> list[dict[str, Any]]:
    communities = conn.execute(
        text(
            "SELECT parent_code, array_agg(code ORDER BY code) FROM areas"
            " WHERE level = 'grid' AND code LIKE :d GROUP BY parent_code ORDER BY parent_code LIMIT 3"
        ),
        {"d": ZHONGSHAN[:6] + "%"},
    ).all()
    found: list[dict[str, Any]] = [
        {"username": f"wg_zs_{n:02d}", "role": "grid_worker", "grid_codes": list(grids[:2])}
        for n, (_community, grids) in enumerate(communities, start=1)
    ]
    community = communities[0][0]
    found += [
        {"username": "community_zs", "role": "community", "area_code": community},
        {"username": "township_zs", "role": "township", "area_code": community[:9] + "000"},
        {"username": "district_zs", "role": "district", "area_code": ZHONGSHAN},
        {"username": "dept_zs_water", "role": "department", "department_code": f"{ZHONGSHAN}:water"},
        *({"username": role, "role": role} for role in DEMO_OFFICES),
    ]
    return found


def ensure_demo_users(settings: Settings) -> list[tuple[str, str, str]]:
    """The admin and the demo users, made once (existing ones kept): (username, role label, password).

    Generated passwords are kept under state_dir/secrets (0600) so that a rerun prints them again; the
    admin's is GRIDFLOW_ADMIN_PASSWORD when set (and reset to it if it was changed since).
    """
    from accounts.passwords import verify_password
    from accounts.roles import Role
    from api.auth import store
    from infra.db import make_sync_engine

    path = settings.state_dir / "secrets" / "demo_users.json"
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    known: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    wanted = settings.admin_password.get_secret_value() if settings.admin_password else None
    printed: list[tuple[str, str, str]] = []
    engine = make_sync_engine(settings)
    with engine.begin() as conn:
        for account in [{"username": "admin", "role": "admin"}, *_demo_accounts(conn)]:
            name, role = account["username"], Role(account["role"])
            existing = store.get_by_username(conn, username=name)
            if name == "admin" and wanted:
                password = wanted
                known.pop(name, None)
                if existing is None:
                    store.create_user(conn, **{**account, "role": role}, password=password, actor="demo")
                elif not verify_password(existing.password_hash, wanted):
                    store.set_password(conn, username=name, password=wanted, actor="demo")
            elif existing is None:
                password = known[name] = secrets.token_urlsafe(12)
                store.create_user(conn, **{**account, "role": role}, password=password, actor="demo")
            else:
                password = known.get(name, "（已存在，密码未变 unchanged）")
            printed.append((name, role.label, password))
    engine.dispose()
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(handle, "w") as out:
        json.dump(known, out, ensure_ascii=False)
    return printed


def _print_users(api: str, users: list[tuple[str, str, str]]) -> None:
    console.print(
        f"  sign in       POST {api}/api/v1/auth/token (username, password) · {api}/docs → Authorize"
    )
    console.print("  演示账号 demo accounts (username · role · password):")
    for name, label, password in users:
        console.print(f"    {name:<16} {label:<6} {password}", highlight=False)


def _spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    """The child logs into `log` itself, rotated (GRIDFLOW_LOG_FILE, JSON lines unless told otherwise).
    Its stdout and stderr — a crash before logging starts, Faust's banner — go to `<name>.out`, begun
    afresh at each start so that it cannot grow without bound either."""
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GRIDFLOW_LOG_FILE": str(log)}
    return subprocess.Popen(
        args,
        stdout=log.with_suffix(".out").open("wb"),
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )


def _wait_for_api(api: str, deadline_s: float = 60) -> None:
    start = time.monotonic()
    while time.monotonic() - start < deadline_s:
        try:
            if httpx.get(f"{api}/health", timeout=2).status_code == 200:  # /api/v1 asks for a token
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise typer.Exit(1)


@demo_app.command("run")
def run_command(
    rate: float = typer.Option(2.0, min=0.1, max=1000, help="demo reports per second"),
    workers: int = typer.Option(1, min=1, max=8, help="Faust worker processes"),
    count: int = typer.Option(None, min=1, help="stop after this many demo reports"),
) -> None:
    """Services up, schema migrated, Dalian loaded, API and workers running, a demo feed flowing."""
    from geo.hierarchy import dalian_areas
    from infra import services
    from infra.loading import load_city
    from infra.migrate import upgrade
    from stream.topics import ensure_topics

    settings = get_settings()
    services.up(settings)
    upgrade(settings)
    with console.status("生成区划与网格 building the hierarchy…"):
        specs = dalian_areas()
    load_city(settings, specs)
    users = ensure_demo_users(settings)
    ensure_topics(settings)
    logs = settings.state_dir / "logs"
    api = f"http://{settings.api_host}:{settings.api_port}"
    children = [_spawn([sys.executable, "-m", "gridflow_cli", "api"], logs / "api.log")]
    children += [
        _spawn([sys.executable, "-m", "gridflow_cli", "worker"], logs / f"worker-{n}.log")
        for n in range(workers)
    ]
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops the demo as Ctrl-C does
    try:
        _wait_for_api(api)
        console.print(f"[bold green]gridflow is up[/bold green]\n  API docs      {api}/docs")
        console.print(f"  city view     {api}/api/v1/views/210200000000\n  logs          {logs}")
        _print_users(api, users)
        feed(api, load_sampler(settings, 2102), count=count, rate=rate, posters=load_posters(settings))
        console.print("demo feed finished; the API and workers keep running (Ctrl-C stops them)")
        while count is not None:
            time.sleep(3600)
    except KeyboardInterrupt:
        console.print("stopping the API and the workers…")
    finally:
        _stop(children)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _stop(children: list[subprocess.Popen[bytes]], grace_s: float = 20.0) -> None:
    """SIGTERM to each child's process group, then wait; what is still running after `grace_s` is killed."""
    for child in children:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for child in children:
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            console.print(f"[yellow]pid {child.pid} did not stop in {grace_s:.0f} s: killed[/yellow]")
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
