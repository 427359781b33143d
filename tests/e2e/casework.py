"""Cases made for the accounts tests: a report at a fresh point of a chosen grid, by a chosen grid worker, and
the case it opens — so that who sees it (its grid, community, district, department, reporter) is known."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from shapely import Point, from_wkb
from sqlalchemy import text

from tests.e2e.test_report_trip import wait_decided
from tests.fixtures import LiveSystem, accounts_of, auth, wait_until

# District water bureau (区水务局) categories, no helper departments: 上水井盖, 雨水井盖, 供水管道 ...
WATER = ("10101", "10102", "10103", "20402", "20404")
URBAN = "10106"  # 城市道路附属设施: district urban management
# (grid, category) → points used: reports of one category further apart than the duplicate radius (50 m)
# each open a case of their own (other categories never join).
_USED: dict[tuple[str, str], list[tuple[float, float]]] = {}
# Beyond the 5 m duplicate radius the live system uses for these categories (tests/fixtures.py
# CASEWORK_CATEGORIES): 13 m north–south, 10 m east–west in Dalian.
_SPACING = 0.00012


@dataclass
class Opened:
    report_id: str
    case: dict[str, Any]  # as GET /api/v1/cases/{id} answers it to the dispatch center
    reporter: str  # username

    @property
    def case_id(self) -> str:
        return str(self.case["case_id"])


def fresh_point(system: LiveSystem, grid: str, category: str) -> tuple[float, float]:
    """A point inside `grid`, at least _SPACING from any point handed out before for `category` in it."""
    with system.engine.connect() as conn:
        wkb = conn.execute(text("SELECT ST_AsBinary(geom) FROM areas WHERE code = :c"), {"c": grid}).scalar()
    shape = from_wkb(bytes(wkb)).buffer(-0.0002)  # away from the edge: the point must locate in this grid
    used = _USED.setdefault((grid, category), [])
    rng = random.Random(f"{grid}:{category}:{len(used)}")
    minx, miny, maxx, maxy = shape.bounds
    for _ in range(20_000):
        lon, lat = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        far = all(abs(lon - x) > _SPACING or abs(lat - y) > _SPACING for x, y in used)
        if far and shape.contains(Point(lon, lat)):
            used.append((lon, lat))
            return lon, lat
    raise AssertionError(f"no room left in grid {grid} for category {category}")


def report_body(point: tuple[float, float], category: str, **extra: object) -> dict[str, Any]:
    """A report with no reporter_id: the API takes it from the token."""
    return {
        "report_id": str(uuid.uuid4()),
        "category": category,
        "description": "账号测试",
        "location": {"lon": point[0], "lat": point[1], "accuracy_m": 5.0, "crs": "wgs84"},
        "observed_at": datetime.now(UTC).isoformat(),
        **extra,
    }


def open_case(system: LiveSystem, reporter: str, grid: str, category: str) -> Opened:
    """`reporter` reports at a fresh point of `grid`; the case it opens, once routed and stored."""
    body = report_body(fresh_point(system, grid, category), category)
    answer = httpx.post(
        f"{system.api_url}/api/v1/reports", json=body, headers=auth(system, reporter), timeout=15
    )
    assert answer.status_code == 202, answer.text
    status = wait_decided(system, body["report_id"])
    assert status["status"] == "routed" and status["area"]["grid"] == grid, status
    url = f"{system.api_url}/api/v1/cases/{status['case_id']}"
    wait_until(lambda: httpx.get(url, headers=auth(system)).status_code == 200, timeout=30, what="the case")
    case: dict[str, Any] = httpx.get(url, headers=auth(system)).json()
    return Opened(report_id=body["report_id"], case=case, reporter=reporter)


def act_as(system: LiveSystem, who: str, case_id: str, action: str, **fields: object) -> httpx.Response:
    """POST an action on a case as the user `who`."""
    return httpx.post(
        f"{system.api_url}/api/v1/cases/{case_id}/actions",
        json={"action": action, **fields},
        headers=accounts_of(system).headers(who),
        timeout=20,
    )
