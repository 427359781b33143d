"""The demo's feed: reports posted as people send them, each signed in with its own account — the demo's grid
workers from points of their own grids, and the dispatch center (指挥中心) entering 12345 hotline calls from
anywhere in the city (and now and then from outside it, for the triage queue)."""

from __future__ import annotations

import json
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
from rich.console import Console
from shapely import Point, from_wkb
from shapely.geometry.base import BaseGeometry
from sqlalchemy import text

from infra.settings import Settings

console = Console()

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
WORKER_SHARE = 0.5  # of the reports: the grid workers'; the rest are hotline calls the dispatch center enters


def inside(shape: BaseGeometry, rng: random.Random) -> tuple[float, float]:
    """A random point of `shape`."""
    minx, miny, maxx, maxy = shape.bounds
    while True:
        lon, lat = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if shape.covers(Point(lon, lat)):
            return lon, lat


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
        return inside(shape, self.rng)

    def report(self, point: tuple[float, float] | None = None) -> dict[str, object]:
        """A report body without `reporter_id`: the API takes the reporter from the token."""
        lon, lat = point or self.point()
        observed = datetime.now(UTC) - timedelta(minutes=self.rng.randint(0, 90))
        return {
            "report_id": str(uuid.uuid4()),
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


def load_sampler(settings: Settings, seed: int) -> Sampler:
    from infra.db import make_sync_engine

    engine = make_sync_engine(settings)
    with engine.connect() as conn:
        # Hotline calls follow people: communities are drawn in proportion to their residents.
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


@dataclass
class Poster:
    """A demo account that reports: a grid worker (with its grids' shapes) or the dispatch center (none)."""

    username: str
    password: str
    grids: list[BaseGeometry] = field(default_factory=list)
    token: str = ""
    renew_at: float = 0.0  # monotonic; signs in again from then on (before the access token ends)

    def headers(self, client: httpx.Client) -> dict[str, str]:
        if time.monotonic() >= self.renew_at:
            answer = client.post(
                "/api/v1/auth/token", data={"username": self.username, "password": self.password}
            )
            answer.raise_for_status()
            body = answer.json()
            self.token, self.renew_at = body["access_token"], time.monotonic() + 0.8 * body["expires_in"]
        return {"Authorization": f"Bearer {self.token}"}


def load_posters(settings: Settings) -> list[Poster]:
    """The demo's grid workers and dispatch center, with the passwords the demo keeps under
    state_dir/secrets/demo_users.json (written by `ensure_demo_users`)."""
    from infra.db import make_sync_engine

    path = settings.state_dir / "secrets" / "demo_users.json"
    known: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    engine = make_sync_engine(settings)
    with engine.connect() as conn:
        users = conn.execute(
            text(
                "SELECT username, role, grid_codes FROM users WHERE username = ANY(:names) AND NOT disabled"
                " AND role IN ('grid_worker', 'city_dispatch') ORDER BY username"
            ),
            {"names": sorted(known)},
        ).all()
        codes = sorted({code for *_, grids in users for code in grids or ()})
        shapes: dict[str, bytes] = dict(
            conn.execute(
                text("SELECT code, ST_AsBinary(geom) FROM areas WHERE code = ANY(:c) AND geom IS NOT NULL"),
                {"c": codes},
            ).all()
        )
    engine.dispose()
    return [
        Poster(
            name, known[name], [within_grid(from_wkb(bytes(shapes[c]))) for c in grids or () if c in shapes]
        )
        for name, _role, grids in users
    ]


def within_grid(grid: BaseGeometry) -> BaseGeometry:
    """The grid less a 10 m margin: a point on a shared edge is located in the neighbour of lower code."""
    inner = grid.buffer(-0.0001)
    return grid if inner.is_empty else inner


def _pick(posters: list[Poster], sampler: Sampler) -> tuple[Poster, tuple[float, float] | None]:
    rng = sampler.rng
    workers = [p for p in posters if p.grids]
    hotline = [p for p in posters if not p.grids]
    if workers and (not hotline or rng.random() < WORKER_SHARE):
        worker = rng.choice(workers)
        return worker, inside(rng.choice(worker.grids), rng)
    return rng.choice(hotline), None  # a call from anywhere in the city


def feed(api: str, sampler: Sampler, *, count: int | None, rate: float, posters: list[Poster]) -> int:
    """Post reports at `rate` per second until `count`, each as one of `posters`; how many were accepted."""
    if not posters:
        console.print(
            "[red]没有可登录的演示账号 (no demo account to report as)[/red]: gridflow demo run makes them "
            "and keeps their passwords in .state/secrets/demo_users.json; an account made elsewhere needs "
            "`gridflow user password NAME` and its password added there"
        )
        return 0
    sent = 0
    with httpx.Client(base_url=api, timeout=15) as client:
        while count is None or sent < count:
            poster, point = _pick(posters, sampler)
            body = sampler.report(point)
            try:
                headers = poster.headers(client)
            except httpx.HTTPStatusError as exc:
                console.print(
                    f"[yellow]{poster.username} 无法登录 cannot sign in[/yellow]: {exc.response.text[:200]}"
                )
                posters = [p for p in posters if p is not poster]
                if not posters:
                    return sent
                continue
            response = client.post("/api/v1/reports", json=body, headers=headers)
            if response.status_code == 202:
                sent += 1
                if sampler.rng.random() < 0.05:  # a phone resending after a lost answer: counted once
                    client.post("/api/v1/reports", json=body, headers=headers)
            else:
                if response.status_code == 401:
                    poster.renew_at = 0.0  # revoked or expired early: sign in again next time
                console.print(f"[yellow]{response.status_code}[/yellow] {response.text[:200]}")
                time.sleep(1)
            if sent % 50 == 0 and sent:
                console.print(f"demo feed: {sent} reports sent")
            time.sleep(1 / rate)
    return sent
