"""One report's trip, end to end: HTTP → Kafka → Faust → PostGIS → four-level view, on the real services."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from kafka import KafkaConsumer, TopicPartition
from shapely import Point

from accounts.roles import Role
from api.auth.store import USERNAME
from geo.boundaries import district_polygons
from geo.catalog import duty_rules
from geo.schemas import Level
from tests.fixtures import REPORTER, LiveSystem, accounts_of, auth, wait_until

DISTRICTS = [
    "210202",
    "210203",
    "210204",
    "210211",
    "210212",
    "210213",
    "210214",
    "210224",
    "210281",
    "210283",
]
LANDMARKS = {  # WGS-84, checked against the district polygons
    "中山广场": ((121.6395, 38.9212), "210202"),
    "人民广场": ((121.6140, 38.9140), "210203"),
    "沙河口": ((121.5700, 38.9000), "210204"),
    "周水子机场": ((121.5386, 38.9657), "210211"),
    "旅顺": ((121.2617, 38.8120), "210212"),
    "金州": ((121.7185, 39.0950), "210213"),
    "普兰店": ((121.9630, 39.3920), "210214"),
    "大长山岛": ((122.5880, 39.2720), "210224"),
    "瓦房店": ((122.0150, 39.6270), "210281"),
    "庄河": ((122.9670, 39.6810), "210283"),
}
SEA_OFF_DALIAN = (121.30, 38.45)  # Bohai strait, 32 km from the nearest coast
BEIJING = (116.3975, 39.9087)


def report(lon: float, lat: float, category: str = "10201", **extra: object) -> dict[str, object]:
    body: dict[str, object] = {
        "report_id": str(uuid.uuid4()),
        "reporter_id": REPORTER,  # the signed-in grid worker of as_reporter()
        "category": category,
        "description": "路面破损",
        "location": {"lon": lon, "lat": lat, "accuracy_m": 8.0, "crs": "wgs84"},
        "observed_at": datetime.now(UTC).isoformat(),
    }
    body.update(extra)
    return body


def as_reporter(system: LiveSystem) -> dict[str, str]:
    """The bearer header of REPORTER, the grid worker whose name report() bodies carry."""
    return auth(system, REPORTER)


def view(system: LiveSystem, code: str = "210200000000") -> httpx.Response:
    """The four-level view of an area, as the dispatch center sees it."""
    return httpx.get(f"{system.api_url}/api/v1/views/{code}", headers=auth(system), timeout=15)


def post_report(system: LiveSystem, body: dict[str, object]) -> httpx.Response:
    """POST a report as its `reporter_id` (a grid worker, made on first use) or REPORTER: a reporter is who
    the token says."""
    who = str(body.get("reporter_id") or REPORTER)
    if who != REPORTER and USERNAME.fullmatch(who):
        accounts = accounts_of(system)
        accounts.grid_worker(*accounts.users[Role.GRID_WORKER].grid_codes, name=who)
    else:
        who = REPORTER  # a reporter_id no user could have: the refusal is the test's point
    return httpx.post(f"{system.api_url}/api/v1/reports", json=body, headers=auth(system, who), timeout=15)


def status_of(system: LiveSystem, report_id: str) -> dict[str, object] | None:
    response = httpx.get(f"{system.api_url}/api/v1/reports/{report_id}", headers=auth(system), timeout=5)
    if response.status_code == 404:
        return None
    response.raise_for_status()
    body: dict[str, object] = response.json()
    return body if body["status"] != "accepted" else None


def wait_decided(system: LiveSystem, report_id: str, timeout: float = 60) -> dict[str, object]:
    found: dict[str, object] = {}

    def decided() -> bool:
        answer = status_of(system, report_id)
        if answer:
            found.update(answer)
        return bool(answer)

    wait_until(decided, timeout=timeout, what=f"report {report_id} to be routed or triaged")
    return found


def submitted_end_offset(system: LiveSystem) -> int:
    topic = system.settings.topic("reports.submitted")
    consumer = KafkaConsumer(bootstrap_servers=system.settings.kafka_bootstrap)
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return sum(consumer.end_offsets(parts).values())
    finally:
        consumer.close()


def district_rules() -> dict[str, str]:
    """Category → department kind, for categories handled at district level (and only there)."""
    by_category: dict[str, list[tuple[Level, str]]] = {}
    for rule in duty_rules():
        by_category.setdefault(rule.category_code, []).append((rule.level, rule.department_kind))
    return {c: rules[0][1] for c, rules in by_category.items() if rules == [(Level.DISTRICT, rules[0][1])]}


def known_points(n_per_district: int) -> list[tuple[float, float, str]]:
    """Points well inside each real district (300 m from any edge), so the expected district is certain."""
    rng = random.Random(2102)
    result = []
    for code, polygon in district_polygons(DISTRICTS).items():
        inner = polygon.buffer(-0.003)
        minx, miny, maxx, maxy = inner.bounds
        found = 0
        while found < n_per_district:
            lon, lat = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
            if inner.contains(Point(lon, lat)):
                result.append((lon, lat, code))
                found += 1
    return result


def test_200_reports_reach_their_district_departments_and_the_city_view_counts_them(live_system: LiveSystem):
    rules = district_rules()
    categories = sorted(rules)
    points = known_points(20)
    assert len(points) == 200
    before = view(live_system).json()["totals"]["reports"]
    expected = {}
    with httpx.Client(base_url=live_system.api_url, headers=as_reporter(live_system), timeout=15) as client:
        for i, (lon, lat, district) in enumerate(points):
            category = categories[i % len(categories)]
            body = report(lon, lat, category)
            assert client.post("/api/v1/reports", json=body).status_code == 202
            expected[body["report_id"]] = (district, f"{district}000000:{rules[category]}")
    for report_id, (district, department) in expected.items():
        answer = wait_decided(live_system, str(report_id))
        assert answer["status"] == "routed", answer
        assert answer["area"]["district"] == f"{district}000000"
        assert answer["department"]["code"] == department
    city = view(live_system).json()
    assert city["totals"]["reports"] == before + 200
    assert {child["code"][:6] for child in city["children"]} == set(DISTRICTS)
    assert sum(child["totals"]["reports"] for child in city["children"]) >= 200


@pytest.mark.parametrize("name", sorted(LANDMARKS))
def test_landmark_is_routed_to_its_district_water_bureau(live_system: LiveSystem, name: str):
    (lon, lat), district = LANDMARKS[name]
    body = report(lon, lat, "10101")  # 上水井盖 → 区水务局
    assert post_report(live_system, body).status_code == 202
    answer = wait_decided(live_system, str(body["report_id"]))
    assert answer["department"]["code"] == f"{district}000000:water"
    assert answer["department"]["name"].endswith("水务局")
    names = answer["area"]["names"]
    assert names["city"] == "大连市" and names["district"] in answer["department"]["name"]
    assert set(names) == {"city", "district", "township", "community", "grid"}
    assert names["grid"].endswith("网格") and names["grid"].startswith(names["community"][:2])


def test_same_report_id_three_times_is_acknowledged_each_time_and_counted_once(live_system: LiveSystem):
    body = report(*LANDMARKS["人民广场"][0])
    answers = [post_report(live_system, body) for _ in range(3)]
    assert [a.status_code for a in answers] == [202, 202, 202]
    assert all(a.json()["report_id"] == body["report_id"] for a in answers)
    assert all(a.json()["status"] == "accepted" for a in answers)
    assert len({a.json()["content_hash"] for a in answers}) == 1
    wait_decided(live_system, str(body["report_id"]))
    body_again = post_report(live_system, body)
    assert body_again.status_code == 202
    assert body_again.headers.get("X-Gridflow-Duplicate") == "true"
    rid = body["report_id"]
    assert live_system.count("SELECT count(*) FROM reports WHERE report_id = :r", r=rid) == 1
    transitions = live_system.count("SELECT count(*) FROM case_transitions WHERE report_id = :r", r=rid)
    assert transitions == 2  # reported, dispatched: once each


def test_same_report_id_with_other_content_is_a_conflict(live_system: LiveSystem):
    body = report(*LANDMARKS["金州"][0])
    assert post_report(live_system, body).status_code == 202
    wait_decided(live_system, str(body["report_id"]))
    changed = {**body, "description": "另一件事"}
    answer = post_report(live_system, changed)
    assert answer.status_code == 409
    assert answer.json()["detail"]["code"] == "conflict"


@pytest.mark.parametrize("where", [SEA_OFF_DALIAN, BEIJING], ids=["sea-off-dalian", "beijing"])
def test_point_outside_dalian_goes_to_triage_and_shows_in_the_city_triage_count(
    live_system: LiveSystem, where: tuple[float, float]
):
    before = view(live_system).json()["totals"]["triage"]
    body = report(*where)
    assert post_report(live_system, body).status_code == 202
    answer = wait_decided(live_system, str(body["report_id"]))
    assert answer["status"] == "triage"
    assert answer["triage_reason"] == "outside_jurisdiction"
    assert answer["department"] is None
    after = view(live_system).json()["totals"]["triage"]
    assert after >= before + 1


def _field_error(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text
    return [".".join(str(p) for p in item["loc"]) for item in response.json()["detail"]]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"location": {"lon": 121.6, "lat": 95.0, "accuracy_m": 5, "crs": "wgs84"}}, "body.location.lat"),
        ({"location": {"lon": 181.0, "lat": 38.9, "accuracy_m": 5, "crs": "wgs84"}}, "body.location.lon"),
        ({"category": None}, "body.category"),
        ({"category": "99999"}, "body.category"),
        ({"report_id": "not-a-uuid"}, "body.report_id"),
        ({"observed_at": "2026-13-45"}, "body.observed_at"),
        ({"observed_at": "2030-01-01T00:00:00+08:00"}, "body.observed_at"),
    ],
    ids=[
        "lat-out-of-range",
        "lon-out-of-range",
        "missing-category",
        "unknown-category",
        "bad-uuid",
        "bad-time",
        "future-time",
    ],
)
def test_bad_input_gets_422_naming_the_field_and_nothing_reaches_kafka(
    live_system: LiveSystem, change: dict[str, object], field: str
):
    body = report(121.6, 38.9)
    body.update(change)
    body = {k: v for k, v in body.items() if v is not None}
    before = submitted_end_offset(live_system)
    assert field in _field_error(post_report(live_system, body))
    assert submitted_end_offset(live_system) == before


def test_malformed_json_gets_422_and_nothing_reaches_kafka(live_system: LiveSystem):
    before = submitted_end_offset(live_system)
    response = httpx.post(
        f"{live_system.api_url}/api/v1/reports",
        content=b'{"report_id": "x", ',
        headers={"content-type": "application/json", **as_reporter(live_system)},
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"
    assert submitted_end_offset(live_system) == before


def test_categories_list_chinese_names_of_components_and_events(live_system: LiveSystem):
    categories = httpx.get(f"{live_system.api_url}/api/v1/categories", headers=auth(live_system)).json()
    by_code = {c["code"]: c for c in categories}
    assert by_code["10101"]["name"] == "上水井盖"
    assert by_code["10101"]["kind"] == "component"
    assert by_code["20501"]["kind"] == "event"
    assert {c["major_name"] for c in categories} >= {"公用设施类", "街面秩序类"}


def test_view_of_district_lists_its_townships(live_system: LiveSystem):
    seen = view(live_system, "210202000000").json()
    assert seen["area"] == {
        "code": "210202000000",
        "name": "中山区",
        "mca_name": None,
        "level": "district",
        "synthetic": False,
    }
    assert seen["children"] and all(c["level"] == "township" and c["synthetic"] for c in seen["children"])


def test_view_of_unknown_or_malformed_area(live_system: LiveSystem):
    assert view(live_system, "210299000000").status_code == 404
    bad = view(live_system, "21xx")
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["path", "area_code"]
