"""Open311 GeoReport v2 on the live system: discovery and services in both formats, a form-encoded request
that becomes a routed case, the list's filters scoped to the client, errors in the spec's format, a request
closed through the case loop, and a revoked key refused within seconds."""

from __future__ import annotations

import random
import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from functools import cache
from itertools import count
from typing import Any

import httpx
import pytest
from shapely import Point
from sqlalchemy import text

from accounts.roles import Role
from geo.boundaries import district_polygons
from tests.e2e.test_cases_api import applied
from tests.fixtures import Accounts, LiveSystem, wait_until

# 公共厕所 and 共享单车乱停放: no other live test reports them, so no report of theirs joins these cases.
TOILET, BIKES = "10302", "20503"


@cache
def _spots(n: int = 64) -> list[tuple[float, float]]:
    """Points well inside 中山区, each far beyond the duplicate radius from the others."""
    rng = random.Random(311)
    inner = district_polygons(["210202"])["210202"].buffer(-0.003)
    minx, miny, maxx, maxy = inner.bounds
    found: list[tuple[float, float]] = []
    while len(found) < n:
        lon, lat = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        far = all(abs(lon - x) > 0.003 or abs(lat - y) > 0.003 for x, y in found)
        if far and inner.contains(Point(lon, lat)):
            found.append((lon, lat))
    return found


_USED = count()


def issue_key(accounts: Accounts, client_name: str) -> str:
    answer = httpx.post(
        f"{accounts.api_url}/api/v1/api-keys",
        json={"client_name": client_name},
        headers=accounts.headers(Role.ADMIN),
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["api_key"])


@pytest.fixture(scope="module")
def clients(accounts: Accounts) -> dict[str, tuple[str, str]]:
    """Two clients, `hotline` and `other`: {name: (client_name, api_key)}."""
    names = {"hotline": f"12345热线-{uuid.uuid4().hex[:6]}", "other": f"other-{uuid.uuid4().hex[:6]}"}
    return {who: (name, issue_key(accounts, name)) for who, name in names.items()}


def v2(system: LiveSystem) -> str:
    return f"{system.api_url}/open311/v2"


def post_request(system: LiveSystem, key: str | None, fmt: str = "json", **fields: str) -> httpx.Response:
    """POST requests.<fmt>, form-encoded, at a spot of its own unless `lat`/`long` are given."""
    lon, lat = _spots()[next(_USED)]
    form = {"service_code": TOILET, "lat": f"{lat:.6f}", "long": f"{lon:.6f}", **fields}
    if key is not None:
        form["api_key"] = key
    return httpx.post(f"{v2(system)}/requests.{fmt}", data=form, timeout=20)


def submitted(system: LiveSystem, key: str, **fields: str) -> str:
    answer = post_request(system, key, **fields)
    assert answer.status_code == 200, answer.text
    (created,) = answer.json()
    return str(created["service_request_id"])


def get_request(system: LiveSystem, key: str, request_id: str, fmt: str = "json") -> httpx.Response:
    return httpx.get(f"{v2(system)}/requests/{request_id}.{fmt}", params={"api_key": key}, timeout=10)


def wait_routed(system: LiveSystem, key: str, request_id: str) -> dict[str, Any]:
    """The request once its case is open and dispatched."""
    found: dict[str, Any] = {}
    last: list[str] = [""]

    def dispatched() -> bool:
        answer = get_request(system, key, request_id)
        last[0] = f"{answer.status_code} {answer.text[:500]}"
        if answer.status_code == 200:
            found.update(answer.json()[0])
        return str(found.get("status_notes", "")).endswith("(dispatched)")

    try:
        wait_until(dispatched, timeout=60, what=f"request {request_id} to be dispatched")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last answer: {last[0]}") from None
    return found


def listed(system: LiveSystem, key: str, **params: str) -> httpx.Response:
    return httpx.get(f"{v2(system)}/requests.json", params={"api_key": key, **params}, timeout=10)


def errors_of(answer: httpx.Response) -> list[dict[str, Any]]:
    """The spec's error list, from JSON or XML, checked for its shape."""
    if answer.headers["content-type"].startswith("text/xml"):
        root = ET.fromstring(answer.content)
        assert root.tag == "errors"
        return [{"code": int(e.findtext("code", "")), "description": e.findtext("description")} for e in root]
    body = answer.json()
    assert isinstance(body, list) and all(set(e) == {"code", "description"} for e in body), body
    return list(body)


def test_discovery_names_this_endpoint_and_both_formats(live_system: LiveSystem):
    body = httpx.get(f"{v2(live_system)}/discovery.json").json()
    (endpoint,) = body["endpoints"]
    assert endpoint["url"] == v2(live_system) and endpoint["specification"].endswith("GeoReport_v2")
    assert set(endpoint["formats"]) == {"text/xml", "application/json"}
    assert body["changeset"] and body["contact"] and "api-keys" in body["key_service"]
    answer = httpx.get(f"{v2(live_system)}/discovery.xml")
    assert answer.headers["content-type"] == "text/xml; charset=utf-8"
    assert answer.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(answer.content)
    assert root.tag == "discovery" and root.findtext("endpoints/endpoint/url") == v2(live_system)
    assert [f.text for f in root.iter("format")] == endpoint["formats"]


def test_services_list_every_category_with_its_group_in_json_and_xml(live_system: LiveSystem):
    services = httpx.get(f"{v2(live_system)}/services.json").json()
    assert len(services) == live_system.count("SELECT count(*) FROM categories")
    first = next(s for s in services if s["service_code"] == "10101")
    assert first == {
        "service_code": "10101",
        "service_name": "上水井盖",
        "description": first["description"],
        "metadata": False,
        "type": "realtime",
        "keywords": "上水井盖, 公用设施类, 部件",
        "group": "部件·公用设施类",
    }
    # 市容环境类 is a major group of both kinds: the group keeps them apart.
    assert {s["group"] for s in services} >= {"部件·市容环境类", "事件·市容环境类"}
    root = ET.fromstring(httpx.get(f"{v2(live_system)}/services.xml").content)
    assert root.tag == "services" and {child.tag for child in root} == {"service"}
    assert [s.findtext("service_code") for s in root] == [s["service_code"] for s in services]
    assert root[0].findtext("metadata") == "false" and root[0].findtext("group") == services[0]["group"]


def test_a_service_definition_has_no_attributes_and_an_unknown_code_is_404(live_system: LiveSystem):
    assert httpx.get(f"{v2(live_system)}/services/10101.json").json() == {
        "service_code": "10101",
        "attributes": [],
    }
    root = ET.fromstring(httpx.get(f"{v2(live_system)}/services/10101.xml").content)
    assert root.tag == "service_definition" and root.findtext("service_code") == "10101"
    assert root.find("attributes") is not None and len(root.find("attributes") or []) == 0
    missing = httpx.get(f"{v2(live_system)}/services/99999.xml")
    assert missing.status_code == 404 and errors_of(missing)[0]["code"] == 404


def test_a_form_posted_request_is_routed_and_shows_as_its_case(live_system: LiveSystem, clients):
    name, key = clients["hotline"]
    answer = post_request(
        live_system,
        key,
        description="公厕门锁损坏\r\n无法关门",
        media_url="https://example.org/photos/1.jpg",
        email="resident@example.org",
        first_name="三",
        last_name="张",
        phone="13800000000",
        **{"attribute[report_url]": "https://example.org/r/1", "jurisdiction_id": "dalian.gov.cn"},
    )
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json; charset=utf-8"
    (created,) = answer.json()
    request_id = created["service_request_id"]
    assert uuid.UUID(request_id) and created["service_notice"] and created["account_id"] is None
    wait_routed(live_system, key, request_id)
    case_open = "SELECT count(*) FROM reports r JOIN cases c USING (case_id) WHERE r.report_id = :r"
    wait_until(lambda: live_system.count(case_open, r=request_id) == 1, timeout=30, what="the case")
    (shown,) = get_request(live_system, key, request_id).json()
    assert shown["status"] == "open" and shown["status_notes"] == "已派遣 (dispatched)"
    assert shown["service_code"] == TOILET and shown["service_name"] == "公共厕所"
    assert shown["expected_datetime"].endswith("+08:00") and shown["requested_datetime"]
    with live_system.engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT r.reporter_id, r.description, r.case_id, d.name AS department FROM reports r"
                " JOIN cases c ON c.case_id = r.case_id"
                " JOIN departments d ON d.code = c.department_code WHERE r.report_id = :r"
            ),
            {"r": request_id},
        ).one()
    assert row.reporter_id == f"open311:{name}" and shown["agency_responsible"] == row.department
    assert (
        shown["description"].startswith("公厕门锁损坏\n无法关门") and shown["description"] == row.description
    )
    # The resident's contact details are not kept; the link is kept as a note, never fetched.
    assert "13800000000" not in row.description and "resident@" not in row.description
    assert shown["media_url"] == "https://example.org/photos/1.jpg"
    assert shown["address"].endswith("中山区, 大连市") and shown["lat"] and shown["long"]
    root = ET.fromstring(get_request(live_system, key, request_id, "xml").content)
    assert root.tag == "service_requests" and root.findtext("request/service_request_id") == request_id
    assert root.findtext("request/status") == "open" and root.findtext("request/zipcode") is not None


def test_a_request_posted_for_xml_is_answered_in_xml(live_system: LiveSystem, clients):
    answer = post_request(live_system, clients["hotline"][1], fmt="xml", description="厕所无水")
    assert answer.status_code == 200 and answer.headers["content-type"] == "text/xml; charset=utf-8"
    root = ET.fromstring(answer.content)
    assert root.tag == "service_requests" and uuid.UUID(root.findtext("request/service_request_id") or "")
    account = root.find("request/account_id")
    assert account is not None and account.text is None  # null: an empty element


def test_the_list_filters_and_shows_a_client_only_its_own_requests(live_system: LiveSystem, clients):
    key, other_key = clients["hotline"][1], clients["other"][1]
    toilet, bikes = submitted(live_system, key), submitted(live_system, key, service_code=BIKES)
    foreign = submitted(live_system, other_key)
    for request_id, who in [(toilet, key), (bikes, key), (foreign, other_key)]:
        wait_routed(live_system, who, request_id)
    ids = {r["service_request_id"] for r in listed(live_system, key).json()}
    assert {toilet, bikes} <= ids and foreign not in ids
    assert get_request(live_system, other_key, toilet).status_code == 404
    by_ids = listed(live_system, key, service_request_id=f"{toilet},{foreign}", status="closed")
    assert [r["service_request_id"] for r in by_ids.json()] == [toilet]  # ids override the other filters
    assert [r["service_code"] for r in listed(live_system, key, service_code=BIKES).json()] == [BIKES]
    assert {toilet, bikes} <= {
        r["service_request_id"] for r in listed(live_system, key, status="open").json()
    }
    assert {toilet, bikes}.isdisjoint(
        r["service_request_id"] for r in listed(live_system, key, status="closed").json()
    )
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert listed(live_system, key, start_date=later).json() == []
    earlier = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert {toilet, bikes} <= {
        r["service_request_id"] for r in listed(live_system, key, start_date=earlier).json()
    }


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-05-01T00:00:00Z"}, "start_date"),
        ({"start_date": "2026-01-01T00:00:00"}, "start_date"),
        ({"status": "pending"}, "status"),
        ({"service_request_id": "not-a-uuid"}, "service_request_id"),
        ({"service_code": "abc"}, "service_code"),
    ],
    ids=["over-90-days", "no-time-zone", "unknown-status", "bad-id", "bad-code"],
)
def test_a_bad_list_filter_is_a_400_naming_it(live_system: LiveSystem, clients, params, field):
    answer = listed(live_system, clients["hotline"][1], **params)
    assert answer.status_code == 400
    assert errors_of(answer)[0]["description"].startswith(f"{field}: ")


def test_a_missing_or_invalid_api_key_is_a_403_in_the_spec_format(live_system: LiveSystem):
    missing = post_request(live_system, None)
    assert missing.status_code == 403 and errors_of(missing)[0]["code"] == 403
    invalid = post_request(live_system, "not-a-key", fmt="xml")
    assert invalid.status_code == 403 and "api_key" in errors_of(invalid)[0]["description"]
    assert httpx.get(f"{v2(live_system)}/requests.json").status_code == 403


@pytest.mark.parametrize(
    ("fields", "status", "field"),
    [
        ({"lat": "91"}, 400, "lat"),
        ({"long": "abc"}, 400, "long"),
        ({"lat": "NaN"}, 400, "lat"),
        ({"lat": "", "long": "", "address_string": "中山路1号"}, 400, "lat"),
        ({"service_code": "99999"}, 404, None),
        ({"service_code": ""}, 400, "service_code"),
        ({"description": "坏" * 2001}, 400, "description"),
        ({"media_url": "file:///etc/passwd"}, 400, "media_url"),
    ],
    ids=[
        "lat-out-of-range",
        "long-not-a-number",
        "lat-nan",
        "address-only",
        "unknown-code",
        "no-code",
        "description-too-long",
        "media-url-not-http",
    ],
)
def test_a_refused_request_is_answered_in_the_spec_format_naming_the_field(
    live_system: LiveSystem, clients, fields: dict[str, str], status: int, field: str | None
):
    answer = post_request(live_system, clients["hotline"][1], **fields)
    assert answer.status_code == status, answer.text
    (error,) = errors_of(answer)
    assert error["code"] == status and (field is None or error["description"].startswith(f"{field}: "))


def test_a_json_body_is_refused_for_the_spec_wants_a_form(live_system: LiveSystem, clients):
    answer = httpx.post(f"{v2(live_system)}/requests.json", json={"api_key": clients["hotline"][1]})
    assert answer.status_code == 400 and errors_of(answer)[0]["description"].startswith("Content-Type: ")


def test_a_request_closed_through_the_case_loop_shows_closed(live_system: LiveSystem, clients):
    key = clients["hotline"][1]
    request_id = submitted(live_system, key, description="公厕照明损坏")
    wait_routed(live_system, key, request_id)
    with live_system.engine.connect() as conn:
        case_id = conn.execute(text("SELECT case_id FROM reports WHERE report_id = :r"), {"r": request_id})
        case = {"case_id": str(case_id.scalar_one())}
    applied(live_system, case, "accept")
    applied(live_system, case, "handle", note="已更换灯具")
    closed = applied(live_system, case, "verify", passed=True, note="现场核查通过")
    (shown,) = get_request(live_system, key, request_id).json()
    assert shown["status"] == "closed" and shown["status_notes"] == "已结案 (closed)"
    assert datetime.fromisoformat(shown["updated_datetime"]) == datetime.fromisoformat(
        closed["closed_at"]
    ).replace(microsecond=0)
    assert request_id in {r["service_request_id"] for r in listed(live_system, key, status="closed").json()}


def test_a_key_revoked_in_the_database_is_refused_within_seconds(live_system: LiveSystem, accounts: Accounts):
    key = issue_key(accounts, f"revoked-{uuid.uuid4().hex[:6]}")
    assert post_request(live_system, key).status_code == 200
    with live_system.engine.begin() as conn:
        digest = conn.execute(text("SELECT encode(sha256(convert_to(:k, 'UTF8')), 'hex')"), {"k": key})
        conn.execute(
            text("UPDATE api_keys SET revoked_at = now(), revoked_by = 'test' WHERE key_hash = :h"),
            {"h": digest.scalar()},
        )
    wait_until(lambda: post_request(live_system, key).status_code == 403, timeout=20, what="the key refused")
