"""The demo: bring the whole system up on this machine and feed it reports, as grid workers would."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import typer
from rich.console import Console
from shapely import from_wkb
from shapely.geometry.base import BaseGeometry
from sqlalchemy import text

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


def _spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        args, stdout=log.open("ab"), stderr=subprocess.STDOUT, env=os.environ.copy(), start_new_session=True
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
