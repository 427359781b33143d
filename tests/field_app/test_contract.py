"""The app's payloads and the answers it reads, checked against the API's own OpenAPI schema.

This test may import `api` (it lives in tests/); the app itself never does.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from field_app.core.models import build_payload
from field_app.core.service import FieldService
from tests.field_app.conftest import complete_draft
from tests.field_app.fake_api import WORKER, FakeApi
from tests.field_app.openapi_check import problems


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return create_app().openapi()


def request_schema(spec: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    return spec["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]


def response_schema(spec: dict[str, Any], path: str, method: str, status: str) -> dict[str, Any]:
    return spec["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]


def properties(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return dict(schema.get("properties", {}))


def test_report_payload_matches_the_intake_schema(
    spec: dict[str, Any], service: FieldService, photo: Path
) -> None:
    schema = request_schema(spec, "/api/v1/reports", "post")
    bare = complete_draft(service, description="")
    assert problems(build_payload(bare, observed_at=datetime.now().astimezone()), schema, spec) == []
    full = complete_draft(service)
    service.attach_photo(full, photo)
    payload = build_payload(full, observed_at=datetime.now().astimezone())
    assert problems(payload, schema, spec) == []


def test_the_checker_catches_what_the_api_would_refuse(spec: dict[str, Any], service: FieldService) -> None:
    schema = request_schema(spec, "/api/v1/reports", "post")
    payload = build_payload(complete_draft(service), observed_at=datetime.now().astimezone())
    broken = {**payload, "location": {**payload["location"], "lat": 120.0}, "extra": 1}
    del broken["report_id"]
    assert sorted(problems(broken, schema, spec)) == [
        "$.extra: not allowed",
        "$.location.lat: above 90.0",
        "$.report_id: required",
    ]


def test_saved_outbox_payload_is_what_is_sent(spec: dict[str, Any], service: FieldService) -> None:
    entry = service.submit(complete_draft(service))
    assert problems(entry.payload, request_schema(spec, "/api/v1/reports", "post"), spec) == []


def test_status_answer_has_every_field_the_app_reads(spec: dict[str, Any]) -> None:
    status = properties(spec, response_schema(spec, "/api/v1/reports/{report_id}", "get", "200"))
    assert {"report_id", "status", "area", "department", "triage_reason"} <= set(status)
    assert status["status"]["enum"] == ["accepted", "routed", "triage"]
    area = properties(spec, status["area"])
    assert {"city", "district", "township", "community"} <= set(area)
    department = next(s for s in status["department"]["anyOf"] if "$ref" in s)
    assert {"code", "name"} <= set(properties(spec, department))


def test_accepted_answer_names_the_content_it_accepted(spec: dict[str, Any]) -> None:
    accepted = properties(spec, response_schema(spec, "/api/v1/reports", "post", "202"))
    assert {"report_id", "status", "content_hash"} <= set(accepted)
    assert accepted["content_hash"]["type"] == "string"


def test_status_answer_names_the_standing_content_and_the_refused_ones(spec: dict[str, Any]) -> None:
    status = properties(spec, response_schema(spec, "/api/v1/reports/{report_id}", "get", "200"))
    assert {"content_hash", "conflicts"} <= set(status)
    assert status["content_hash"]["type"] == "string"
    assert status["conflicts"]["type"] == "array"
    assert {"content_hash", "submitted_at"} <= set(properties(spec, status["conflicts"]["items"]))


def test_fake_answers_conform_to_the_api_schemas(
    spec: dict[str, Any], service: FieldService, fake_api: FakeApi
) -> None:
    """The fake's 202 and the hash fields of its status, as the real API describes them."""
    draft = complete_draft(service)
    other = build_payload(complete_draft(service, "另一份报告"), observed_at=datetime.now().astimezone())
    fake_api.other_content_first(draft.report_id, other)
    entry = service.submit(draft)
    service.sync_now()
    auth = fake_api.accounts.headers(WORKER)
    posted = httpx.Request("POST", "http://fake/api/v1/reports", json=other, headers=auth)
    accepted = fake_api.handle(posted).json()
    assert problems(accepted, response_schema(spec, "/api/v1/reports", "post", "202"), spec) == []
    asked = httpx.Request("GET", f"http://fake/api/v1/reports/{entry.report_id}", headers=auth)
    status = fake_api.handle(asked).json()
    assert status["conflicts"]  # this test would prove nothing about an empty list
    fields = properties(spec, response_schema(spec, "/api/v1/reports/{report_id}", "get", "200"))
    for name in ("content_hash", "conflicts"):
        assert problems(status[name], fields[name], spec, f"$.{name}") == []


def test_category_list_has_every_field_the_picker_reads(spec: dict[str, Any]) -> None:
    schema = response_schema(spec, "/api/v1/categories", "get", "200")
    assert schema["type"] == "array"
    assert {"code", "name", "kind", "major_code", "major_name"} <= set(properties(spec, schema["items"]))


def test_photo_endpoints_exist_as_the_app_calls_them(spec: dict[str, Any]) -> None:
    put = spec["paths"]["/api/v1/reports/{report_id}/attachments/{sha256}"]["put"]
    assert {"201", "308", "413", "415", "422"} <= set(put["responses"])
    assert "post" in spec["paths"]["/api/v1/reports/{report_id}/attachments"]


def test_case_photo_endpoint_exists_as_the_app_and_the_fake_call_it(spec: dict[str, Any]) -> None:
    put = spec["paths"]["/api/v1/cases/{case_id}/attachments/{sha256}"]["put"]
    assert {"201", "308", "403", "404", "413", "415", "422"} <= set(put["responses"])
    assert "get" in spec["paths"]["/api/v1/cases/{case_id}/attachments/{sha256}"]
    assert "post" in spec["paths"]["/api/v1/cases/{case_id}/attachments"]
    verify = spec["paths"]["/api/v1/cases/{case_id}/actions"]["post"]["responses"]["422"]["description"]
    assert "attachments" in verify  # a photo not on the case: the fake answers it as the server does


def test_batch_request_and_answer_as_the_app_sends_and_reads_them(
    spec: dict[str, Any], service: FieldService
) -> None:
    payloads = [service.submit(complete_draft(service, f"批量 {n}")).payload for n in range(2)]
    schema = request_schema(spec, "/api/v1/reports/batch", "post")
    assert problems({"reports": payloads}, schema, spec) == []
    answer = properties(spec, response_schema(spec, "/api/v1/reports/batch", "post", "207"))
    assert {"accepted", "results"} <= set(answer)
    item = properties(spec, answer["results"]["items"])
    assert {"index", "report_id", "status", "content_hash", "detail"} <= set(item)
    assert sorted(item["status"]["enum"]) == [202, 409, 422, 503]


def test_fake_batch_answer_conforms_to_the_api_schema(
    spec: dict[str, Any], service: FieldService, fake_api: FakeApi
) -> None:
    good = service.submit(complete_draft(service)).payload
    bad = {**service.submit(complete_draft(service, "类别错误")).payload, "category": "9999"}
    taken = service.submit(complete_draft(service, "编号已被占用")).payload
    fake_api.accepted[taken["report_id"]] = {**taken, "description": "另一份报告"}
    body = {"reports": [good, bad, taken, good]}
    auth = fake_api.accounts.headers(WORKER)
    batch = httpx.Request("POST", "http://fake/api/v1/reports/batch", json=body, headers=auth)
    answer = fake_api.handle(batch)
    assert answer.status_code == 207
    assert [r["status"] for r in answer.json()["results"]] == [202, 422, 409, 202]
    schema = response_schema(spec, "/api/v1/reports/batch", "post", "207")
    assert problems(answer.json(), schema, spec) == []
