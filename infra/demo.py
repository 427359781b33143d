"""The demo: bring the whole system up on this machine and feed it reports, as grid workers would."""

from __future__ import annotations

import json
import os
import random
import secrets
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.console import Console
from shapely import from_wkb
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, text

from infra.settings import Settings, get_settings

console = Console()
demo_app = typer.Typer(no_args_is_help=True)

# Points no district covers: the Bohai strait south of Lüshun, and Tiananmen in Beijing.
OUTSIDE = ((121.30, 38.45), (116.3975, 39.9087))
DESCRIPTIONS = (
    "井盖缺失，存在安全隐患",
    "路面破损约两平方米",
    "垃圾堆放未清运",
    "占道经营影响通行",
    "小广告张贴",
    "",
)


@dataclass
class Sampler:
    shapes: list[tuple[str, BaseGeometry]]
    weights: list[float]
    categories: list[str]
    rng: random.Random

    def point(self) -> tuple[float, float]:
        if self.rng.random() < 0.03:
            return self.rng.choice(OUTSIDE)
        _code, shape = self.rng.choices(self.shapes, weights=self.weights)[0]
        minx, miny, maxx, maxy = shape.bounds
        while True:
            lon, lat = self.rng.uniform(minx, maxx), self.rng.uniform(miny, maxy)
            if shape.covers(_point(lon, lat)):
                return lon, lat

    def report(self, reporter: str) -> dict[str, object]:
        lon, lat = self.point()
        observed = datetime.now(UTC) - timedelta(minutes=self.rng.randint(0, 90))
        return {
            "report_id": str(uuid.uuid4()),
            "reporter_id": reporter,
            "category": self.rng.choice(self.categories),
            "description": self.rng.choice(DESCRIPTIONS),
            "location": {
                "lon": lon,
                "lat": lat,
                "accuracy_m": self.rng.choice((5.0, 10.0, 30.0)),
                "crs": "wgs84",
            },
            "observed_at": observed.isoformat(),
        }


def _point(lon: float, lat: float) -> BaseGeometry:
    from shapely import Point

    return Point(lon, lat)


def load_sampler(settings: Settings, seed: int) -> Sampler:
    from infra.db import make_sync_engine

    engine = make_sync_engine(settings)
    with engine.connect() as conn:
        # Reports follow people: communities are drawn in proportion to their residents.
        rows = conn.execute(
            text(
                "SELECT code, ST_AsBinary(geom), coalesce(population, 1) FROM areas"
                " WHERE level = 'community' AND geom IS NOT NULL ORDER BY code"
            )
        ).all()
        categories = [c for (c,) in conn.execute(text("SELECT code FROM categories ORDER BY code"))]
    engine.dispose()
    return Sampler(
        shapes=[(code, from_wkb(bytes(wkb))) for code, wkb, _ in rows],
        weights=[float(population) for *_, population in rows],
        categories=categories,
        rng=random.Random(seed),
    )


def feed(api: str, sampler: Sampler, *, count: int | None, rate: float) -> int:
    sent = 0
    with httpx.Client(base_url=api, timeout=15) as client:
        while count is None or sent < count:
            body = sampler.report(reporter=f"wg{sampler.rng.randint(1, 400):04d}")
            response = client.post("/api/v1/reports", json=body)
            if response.status_code == 202:
                sent += 1
                if sampler.rng.random() < 0.05:  # a phone resending after a lost answer: counted once
                    client.post("/api/v1/reports", json=body)
            else:
                console.print(f"[yellow]{response.status_code}[/yellow] {response.text[:200]}")
                time.sleep(1)
            if sent % 50 == 0 and sent:
                console.print(f"demo feed: {sent} reports sent")
            time.sleep(1 / rate)
    return sent


@demo_app.command("feed")
def feed_command(
    api: str = typer.Option("http://127.0.0.1:8000", help="API base URL"),
    count: int = typer.Option(None, min=1, help="stop after this many reports (default: run until Ctrl-C)"),
    rate: float = typer.Option(5.0, min=0.1, max=1000, help="reports per second"),
    seed: int = typer.Option(2102),
) -> None:
    """Post random reports across Dalian to the API, as grid workers' phones would."""
    feed(api, load_sampler(get_settings(), seed), count=count, rate=rate)


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
            if httpx.get(f"{api}/api/v1/categories", timeout=2).status_code == 200:
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
        feed(api, load_sampler(settings, 2102), count=count, rate=rate)
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
