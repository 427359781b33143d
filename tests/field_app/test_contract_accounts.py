"""Sign-in, the 核查 queue, case actions and grid names: what the app sends and reads, and what the fake
answers, held to the API's own OpenAPI schema and its own error table.

This test may import `api` and `cases` (it lives in tests/); the app itself never does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.errors import (
    ActionRefused,
    Forbidden,
    NotFound,
    TooManyAttempts,
    Unauthorized,
    add_exception_handlers,
)
from cases.actions import VerifyAction, parse_action
from field_app.core.cases import PAGE_SIZE, VERIFY_QUEUE
from field_app.core.service import FieldService
from tests.field_app.conftest import complete_draft
from tests.field_app.fake_api import WORKER, FakeApi
from tests.field_app.fake_auth import GRID_A, PASSWORD
from tests.field_app.openapi_check import problems
from tests.field_app.test_contract import properties, request_schema, response_schema

TOKEN, REFRESH, ME = "/api/v1/auth/token", "/api/v1/auth/refresh", "/api/v1/auth/me"
QUEUE, ACT, VIEW = "/api/v1/queues/{name}", "/api/v1/cases/{case_id}/actions", "/api/v1/views/{area_code}"


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return create_app().openapi()


def ask(fake_api: FakeApi, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return fake_api.handle(httpx.Request(method, f"http://fake{path}", **kwargs))


# --- signing in -----------------------------------------------------------------------------------------
def test_sign_in_form_and_token_answer(spec: dict[str, Any], fake_api: FakeApi) -> None:
    body = spec["paths"][TOKEN]["post"]["requestBody"]["content"]
    assert list(body) == ["application/x-www-form-urlencoded"]  # a form, as the app posts it
    assert (
        problems(
            {"username": WORKER, "password": PASSWORD},
            body["application/x-www-form-urlencoded"]["schema"],
            spec,
        )
        == []
    )
    answer = ask(fake_api, "POST", TOKEN, data={"username": WORKER, "password": PASSWORD})
    schema = response_schema(spec, TOKEN, "post", "200")
    assert problems(answer.json(), schema, spec) == []
    read = {"access_token", "expires_in", "refresh_token", "refresh_expires_in"}
    assert read <= set(properties(spec, schema))
    assert {"401", "429"} <= set(spec["paths"][TOKEN]["post"]["responses"])


def test_refresh_request_and_answer(spec: dict[str, Any], fake_api: FakeApi) -> None:
    pair = ask(fake_api, "POST", TOKEN, data={"username": WORKER, "password": PASSWORD}).json()
    sent = {"refresh_token": pair["refresh_token"]}  # what ApiClient._renew posts
    assert problems(sent, request_schema(spec, REFRESH, "post"), spec) == []
    answer = ask(fake_api, "POST", REFRESH, json=sent)
    assert problems(answer.json(), response_schema(spec, REFRESH, "post", "200"), spec) == []


def test_who_am_i_answer(spec: dict[str, Any], fake_api: FakeApi) -> None:
    answer = ask(fake_api, "GET", ME, headers=fake_api.accounts.headers(WORKER))
    schema = response_schema(spec, ME, "get", "200")
    assert problems(answer.json(), schema, spec) == []
    assert {"username", "role", "role_label", "area_code", "grid_codes"} <= set(properties(spec, schema))


# --- the error bodies, as the API's own error table renders them -----------------------------------------
@pytest.fixture(scope="module")
def real_errors() -> TestClient:
    app = FastAPI()
    add_exception_handlers(app)
    refusals: dict[str, Exception] = {
        "credentials": Unauthorized("用户名或密码错误", code="invalid_credentials"),
        "token": Unauthorized("访问令牌无效、已过期或已被撤销，请重新登录"),
        "throttled": TooManyAttempts("登录失败次数过多，请 42 秒后再试", retry_after=42),
        "forbidden": Forbidden("需要以下角色之一：网格员 (grid_worker)", needed=["grid_worker"]),
        "missing": NotFound("案件不存在 (no such case)"),
        "transition": ActionRefused(
            "illegal_transition", "案件当前为「已结案」，不能核查", state="closed", action="verify"
        ),
    }

    @app.get("/{which}")
    async def refuse(which: str) -> None:
        raise refusals[which]

    return TestClient(app)


def shape(response: httpx.Response) -> tuple[int, set[str], set[str], set[str]]:
    body = response.json()
    detail = body.get("detail")
    headers = {h for h in ("www-authenticate", "retry-after") if h in response.headers}
    return response.status_code, set(body), set(detail) if isinstance(detail, dict) else set(), headers


def test_fake_refusals_are_shaped_as_the_apis(
    real_errors: TestClient, fake_api: FakeApi, photo: Path
) -> None:
    bad_password = ask(fake_api, "POST", TOKEN, data={"username": WORKER, "password": "x"})
    assert shape(bad_password) == shape(real_errors.get("/credentials"))
    assert bad_password.json()["error"] == "invalid_credentials"
    stale = ask(fake_api, "GET", ME, headers={"Authorization": "Bearer stale"})
    assert shape(stale) == shape(real_errors.get("/token"))
    assert stale.headers["www-authenticate"] == real_errors.get("/token").headers["www-authenticate"]
    fake_api.accounts.throttle_s = 42
    throttled = ask(fake_api, "POST", TOKEN, data={"username": WORKER, "password": PASSWORD})
    assert shape(throttled) == shape(real_errors.get("/throttled"))
    assert throttled.json()["detail"]["retry_after"] == 42

    auth = fake_api.accounts.headers(WORKER)
    case = fake_api.cases.add_handled()
    body = {"action": "verify", "passed": True, "note": "", "attachments": []}
    path = f"/api/v1/cases/{case.case_id}/actions"
    ask(fake_api, "POST", path, json=body, headers=auth)
    again = ask(fake_api, "POST", path, json=body, headers=auth)  # a second verification, no key: refused
    assert shape(again) == shape(real_errors.get("/transition"))
    elsewhere = fake_api.cases.add_handled(grid="210202001002001")
    missing = ask(fake_api, "POST", f"/api/v1/cases/{elsewhere.case_id}/actions", json=body, headers=auth)
    assert shape(missing) == shape(real_errors.get("/missing"))
    photo_of_another = f"/api/v1/reports/{case.report_ids[0]}/attachments/{'a' * 64}"
    fake_api.reporters[case.report_ids[0]] = "resident-12345"
    refused = ask(fake_api, "PUT", photo_of_another, headers={**auth, "Content-Range": "bytes */10"})
    assert shape(refused) == shape(real_errors.get("/forbidden"))


# --- the 核查 queue ------------------------------------------------------------------------------------
def test_queue_page_the_app_reads(spec: dict[str, Any], fake_api: FakeApi) -> None:
    operation = spec["paths"][QUEUE]["get"]
    size = next(p for p in operation["parameters"] if p["name"] == "size")
    assert size["schema"]["maximum"] >= PAGE_SIZE
    assert VERIFY_QUEUE in operation["description"]
    fake_api.cases.add_handled(due="overdue")
    answer = ask(
        fake_api, "GET", "/api/v1/queues/to_verify?page=1&size=50", headers=fake_api.accounts.headers(WORKER)
    )
    schema = response_schema(spec, QUEUE, "get", "200")
    assert problems(answer.json(), schema, spec) == []
    item = properties(spec, properties(spec, schema)["items"]["items"])
    read = {"case_id", "state", "state_label", "category", "category_name", "area", "department"}
    assert read | {"deadline_at", "due", "report_ids"} <= set(item)
    assert {"codes", "names"} <= set(properties(spec, item["area"]))


# --- acting on a case ----------------------------------------------------------------------------------
def test_verification_body_and_key_as_the_api_takes_them(
    spec: dict[str, Any], service: FieldService, fake_api: FakeApi, photo: Path
) -> None:
    report = service.submit(complete_draft(service))
    service.sync_now()
    case = fake_api.cases.add_handled(report_id=report.report_id)
    page = service.load_verify_queue()
    assert page is not None
    draft = service.new_verification(page.items[0])
    draft.passed, draft.note = False, "仍有积水"
    service.attach_photo(draft, photo)
    entry = service.submit_verification(draft)
    service.sync_now()
    sent = service.actions.get(entry.action_id)
    assert sent is not None and sent.body is not None and sent.body["attachments"]
    assert isinstance(parse_action(sent.body), VerifyAction)  # the server's own model of the body

    operation = spec["paths"][ACT]["post"]
    (key,) = [p for p in operation["parameters"] if p["name"].lower() == "idempotency-key"]
    assert key["in"] == "header"
    assert problems(entry.action_id, key["schema"], spec) == []  # a UUID
    ((_case, sent_key, _body),) = [p for p in fake_api.cases.posts if p[0] == case.case_id]
    assert sent_key == entry.action_id
    assert {"403", "404", "409", "504"} <= set(operation["responses"])

    answer = fake_api.cases.outcomes[entry.action_id][1]
    assert problems(answer.json(), response_schema(spec, ACT, "post", "200"), spec) == []


def test_grid_name_from_the_view(spec: dict[str, Any], fake_api: FakeApi) -> None:
    answer = ask(fake_api, "GET", f"/api/v1/views/{GRID_A}", headers=fake_api.accounts.headers(WORKER))
    area = properties(spec, response_schema(spec, VIEW, "get", "200"))["area"]
    assert problems(answer.json()["area"], area, spec) == []  # the app reads only the area's name
    assert "name" in properties(spec, area)
