"""The API's error table: every error body carries a stable `error` code beside the `detail` clients parse,
and FastAPI's own 422 stays JSON whatever the rejected input was."""

from __future__ import annotations

import json
import math
import uuid

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from accounts.roles import Principal, Role
from api.deps import _current_principal
from api.duties.routes import router as duties_router
from api.errors import (
    ActionQueued,
    ActionRefused,
    BrokerUnavailable,
    InvalidInput,
    NotFound,
    add_exception_handlers,
    json_safe,
    validation_errors,
)

RULE = "/api/v1/duty-rules/10101/district"


def make_app() -> FastAPI:
    app = FastAPI()
    add_exception_handlers(app)
    app.include_router(duties_router)
    app.state.producer = object()  # never reached: the body is refused first
    # An admin's token stands in: editing a duty rule needs one (its refusal is tested in tests/e2e).
    admin = Principal(user_id=uuid.uuid4(), username="root", role=Role.ADMIN)
    app.dependency_overrides[_current_principal] = lambda: admin

    @app.get("/raise/{kind}")
    async def raising(kind: str) -> None:
        errors = {
            "not_found": NotFound("没有"),
            "invalid": InvalidInput("坏了", field="body.category"),
            "broker": BrokerUnavailable("消息队列暂不可用"),
            "refused": ActionRefused(
                "illegal_transition", "案件已派遣，不能处置完成", state="dispatched", action="handle"
            ),
            "queued": ActionQueued("已排队", command_id="c-1"),
        }
        raise errors[kind]

    return app


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(make_app(), raise_server_exceptions=False)


def put_rule(client: TestClient, raw: str) -> tuple[int, dict[str, object]]:
    answer = client.put(
        RULE, content=raw.encode("utf-8", "surrogatepass"), headers={"content-type": "application/json"}
    )
    return answer.status_code, answer.json()


@pytest.mark.parametrize(
    ("value", "echo"),
    [("NaN", "NaN"), ("-Infinity", "-Infinity"), ('"ab\\ud800"', "ab\\ud800")],
    ids=["nan", "minus-infinity", "lone-surrogate"],
)
def test_a_value_json_cannot_carry_is_a_422_naming_the_field_not_a_500(
    client: TestClient, value: str, echo: str
):
    status, body = put_rule(
        client, f'{{"department_kind": "water", "deadline_hours": {value}, "legal_basis": "x"}}'
    )
    assert status == 422 and body["error"] == "invalid"
    (error,) = body["detail"]  # type: ignore[misc]
    assert error["loc"] == ["body", "deadline_hours"] and error["input"] == echo


def test_deeply_nested_input_is_echoed_cut_short(client: TestClient):
    deep = "[" * 800 + "]" * 800
    status, body = put_rule(
        client, f'{{"department_kind": "water", "deadline_hours": 1, "legal_basis": "x", "y": {deep}}}'
    )
    assert status == 422
    (error,) = body["detail"]  # type: ignore[misc]
    assert error["loc"] == ["body", "y"] and len(json.dumps(error)) < 500


def test_an_unknown_route_carries_an_error_code(client: TestClient):
    answer = client.get("/api/v1/nothing-here")
    assert answer.status_code == 404 and answer.json() == {"error": "not_found", "detail": "Not Found"}


@pytest.mark.parametrize(
    ("kind", "status", "body"),
    [
        ("not_found", 404, {"error": "not_found", "detail": {"code": "not_found", "message": "没有"}}),
        (
            "invalid",
            422,
            {"error": "invalid", "detail": [{"loc": ["body", "category"], "msg": "坏了", "type": "invalid"}]},
        ),
        (
            "broker",
            503,
            {
                "error": "broker_unavailable",
                "detail": {"code": "broker_unavailable", "message": "消息队列暂不可用"},
            },
        ),
        (
            "refused",
            409,
            {
                "error": "illegal_transition",
                "state": "dispatched",
                "action": "handle",
                "detail": "案件已派遣，不能处置完成",
            },
        ),
        (
            "queued",
            504,
            {"error": "queued", "detail": {"code": "queued", "message": "已排队", "command_id": "c-1"}},
        ),
    ],
)
def test_each_domain_error_answers_its_status_with_its_code_and_the_detail_shape(
    client: TestClient, kind: str, status: int, body: dict[str, object]
):
    answer = client.get(f"/raise/{kind}")
    assert answer.status_code == status and answer.json() == body


def test_json_safe_spells_out_what_strict_json_cannot_carry():
    value = {
        "n": math.nan,
        "i": math.inf,
        "s": "a\udc80",
        "big": 10**5000,
        "b": b"\xff",
        "e": ValueError("x"),
    }
    safe = json_safe(value)
    assert safe == {
        "n": "NaN",
        "i": "Infinity",
        "s": "a\\udc80",
        "big": "<integer of 16610 bits>",
        "b": "\\xff",
        "e": "x",
    }
    json.dumps(safe, allow_nan=False).encode()


def test_json_safe_bounds_depth_width_and_length():
    deep: object = 1
    for _ in range(50):
        deep = [deep]
    assert json_safe(deep) == [[["[…]"]]]
    assert len(json_safe(list(range(1000)))) == 20  # type: ignore[arg-type]
    assert len(json_safe("字" * 10_000)) == 501  # type: ignore[arg-type]


def test_validation_errors_keep_only_the_documented_keys_and_a_printable_location():
    errors = [{"type": "extra_forbidden", "loc": ("body", "\udfff"), "msg": "no", "input": 1, "url": "u"}]
    assert validation_errors(errors) == [
        {"type": "extra_forbidden", "loc": ["body", "\\udfff"], "msg": "no", "input": 1}
    ]
