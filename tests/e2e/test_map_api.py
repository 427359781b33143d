"""The map's endpoints on the live system: shapes simplified from PostGIS, cases counted per 10,000 residents,
cases and a case's reports as points, reports per day, and the caller's scope (404 outside it)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from accounts.roles import Role
from tests.e2e.test_dashboard import XIGANG, ZHONGSHAN, _spot_in
from tests.e2e.test_report_trip import as_reporter, report, wait_decided
from tests.fixtures import Accounts, LiveSystem, wait_until

pytestmark = pytest.mark.services


def _get(system: LiveSystem, accounts: Accounts, path: str, who: Role = Role.CITY_DISPATCH) -> httpx.Response:
    return httpx.get(f"{system.api_url}{path}", headers=accounts.headers(who), timeout=30)


def _vertices(geometry: dict[str, Any]) -> int:
    polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
    return sum(len(ring) for polygon in polygons for ring in polygon)


@pytest.fixture(scope="module")
def zhongshan_case(live_system: LiveSystem, accounts: Accounts) -> dict[str, Any]:
    """A case opened now by a report in 中山区, as GET answers it."""
    body = report(*_spot_in(ZHONGSHAN), description="井盖缺失，地图测试")
    answer = httpx.post(f"{live_system.api_url}/api/v1/reports", json=body, headers=as_reporter(live_system))
    assert answer.status_code == 202, answer.text
    case_id = wait_decided(live_system, str(body["report_id"]))["case_id"]
    path = f"/api/v1/cases/{case_id}"
    wait_until(lambda: _get(live_system, accounts, path).status_code == 200, timeout=30, what="the case")
    case: dict[str, Any] = _get(live_system, accounts, path).json()
    return case


def test_the_city_s_districts_come_simplified_with_their_outline(live_system: LiveSystem, accounts: Accounts):
    answer = _get(live_system, accounts, "/api/v1/map/areas")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/geo+json")
    body = answer.json()
    assert (
        body["area"]["code"] == live_system.settings.city_code and body["outline"]["type"] == "MultiPolygon"
    )
    assert len(body["features"]) == 10
    x0, y0, x1, y1 = body["bbox"]
    assert 120.5 < x0 < x1 < 124 and 38 < y0 < y1 < 41
    drawn = sum(_vertices(f["geometry"]) for f in body["features"])
    with live_system.engine.connect() as conn:
        stored = conn.execute(
            text("SELECT sum(ST_NPoints(geom)) FROM areas WHERE level = 'district'")
        ).scalar()
    assert drawn < stored / 2, (drawn, stored)  # simplified for the zoom that fits the city
    first = body["features"][0]["geometry"]["coordinates"][0][0][0]
    assert all(len(str(v).split(".")[-1]) <= 4 for v in first)  # 4 decimals at this level (about 10 m)


def test_a_district_s_townships_count_its_open_cases_per_10k_residents(
    live_system: LiveSystem, accounts: Accounts, zhongshan_case: dict[str, Any]
):
    township = zhongshan_case["area"]["township"]
    body = _get(live_system, accounts, f"/api/v1/map/areas?parent={ZHONGSHAN}").json()
    props = {f["properties"]["code"]: f["properties"] for f in body["features"]}
    assert set(props) and all(code.startswith("210202") for code in props)
    mine = props[township]
    assert mine["open"] >= 1 and mine["level"] == "township"
    assert mine["open_per_10k"] == round(mine["open"] * 10_000 / mine["population"], 2)
    again = _get(live_system, accounts, f"/api/v1/map/areas?parent={ZHONGSHAN}").json()
    assert json.dumps(again["features"][0]["geometry"]) == json.dumps(body["features"][0]["geometry"])


def test_cases_come_as_points_bounded_and_filtered_by_state(
    live_system: LiveSystem, accounts: Accounts, zhongshan_case: dict[str, Any]
):
    body = _get(live_system, accounts, f"/api/v1/map/cases?area_code={ZHONGSHAN}&state=dispatched").json()
    ids = {f["properties"]["case_id"] for f in body["features"]}
    assert zhongshan_case["case_id"] in ids
    assert {f["properties"]["state"] for f in body["features"]} == {"dispatched"}
    one = _get(live_system, accounts, f"/api/v1/map/cases?area_code={live_system.settings.city_code}&limit=1")
    assert len(one.json()["features"]) == 1 and one.json()["truncated"] == (one.json()["total"] > 1)
    closed = _get(live_system, accounts, f"/api/v1/map/cases?area_code={ZHONGSHAN}&state=closed&open=true")
    assert closed.json()["features"] == []


def test_a_case_s_reports_and_the_reports_per_day(
    live_system: LiveSystem, accounts: Accounts, zhongshan_case: dict[str, Any]
):
    case_id = zhongshan_case["case_id"]
    reports = _get(live_system, accounts, f"/api/v1/map/cases/{case_id}/reports").json()
    (only,) = reports["features"]
    assert (
        only["properties"]["description"] == "井盖缺失，地图测试" and only["properties"]["attachments"] == []
    )
    assert only["geometry"]["type"] == "Point"
    series = _get(live_system, accounts, f"/api/v1/map/series?area_code={ZHONGSHAN}&days=7").json()
    assert len(series["days"]) == 7 and series["days"][-1]["reports"] >= 1
    assert date.fromisoformat(series["days"][-1]["day"]) > date.fromisoformat(series["days"][0]["day"])


def test_another_district_s_areas_cases_and_reports_answer_404(
    live_system: LiveSystem, accounts: Accounts, zhongshan_case: dict[str, Any]
):
    other = Role.DISTRICT
    case_id = zhongshan_case["case_id"]
    for path in (
        f"/api/v1/map/areas?parent={ZHONGSHAN}",
        f"/api/v1/map/cases?area_code={ZHONGSHAN}",
        f"/api/v1/map/series?area_code={ZHONGSHAN}",
        f"/api/v1/map/cases/{case_id}/reports",
    ):
        answer = httpx.get(
            f"{live_system.api_url}{path}",
            headers=accounts.headers(accounts.others[other].username),
            timeout=30,
        )
        assert answer.status_code == 404, (path, answer.text)
    assert _get(live_system, accounts, f"/api/v1/map/areas?parent={XIGANG}", who=other).status_code == 404
    assert httpx.get(f"{live_system.api_url}/api/v1/map/areas", timeout=10).status_code == 401
