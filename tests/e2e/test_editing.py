"""Editing the responsibility list on the live system: the running workers route by the new rule without a
restart, every decision records the versions it used, and refused edits name the field and change nothing."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from kafka import KafkaConsumer, TopicPartition

from accounts.roles import Role
from stream.events import AreaChange
from tests.e2e.test_report_trip import LANDMARKS, post_report, report, submitted_end_offset, wait_decided
from tests.fixtures import LiveSystem, Process, auth, wait_until

CATEGORY = "20504"  # 无照经营, a district duty of the market regulator
RULE = f"/api/v1/duty-rules/{CATEGORY}/district"
ZHONGSHAN = LANDMARKS["中山广场"][0]


@pytest.fixture
def rule(live_system: LiveSystem) -> Iterator[dict[str, Any]]:
    """The rule as it stands; put back afterwards, since the live system is shared."""
    original: dict[str, Any] = httpx.get(f"{live_system.api_url}{RULE}", headers=auth(live_system)).json()
    yield original
    keep = ("department_kind", "deadline_hours", "legal_basis")
    restored = httpx.put(
        f"{live_system.api_url}{RULE}",
        json={k: original[k] for k in keep},
        headers=auth(live_system, Role.ADMIN),
    )
    assert restored.status_code == 200, restored.text


BASIS = "《城市市容和环境卫生管理条例》第十四条"


def _edit(system: LiveSystem, kind: str) -> dict[str, Any]:
    body = {"department_kind": kind, "deadline_hours": 36, "legal_basis": BASIS, "note": "e2e"}
    answer = httpx.put(f"{system.api_url}{RULE}", json=body, headers=auth(system, Role.ADMIN))
    assert answer.status_code == 200, answer.text
    edited: dict[str, Any] = answer.json()
    return edited


def _route_one(system: LiveSystem) -> dict[str, Any]:
    body = report(*ZHONGSHAN, category=CATEGORY)
    assert post_report(system, body).status_code == 202
    return wait_decided(system, str(body["report_id"]))


def _changes(system: LiveSystem) -> list[AreaChange]:
    topic = system.settings.topic("areas.changes")
    consumer = KafkaConsumer(bootstrap_servers=system.settings.kafka_bootstrap, consumer_timeout_ms=2_000)
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        return [AreaChange.model_validate_json(message.value) for message in consumer]
    finally:
        consumer.close()


def test_edited_rule_routes_the_next_report_without_a_restart(live_system: LiveSystem, rule: dict[str, Any]):
    assert _route_one(live_system)["department"]["code"] == f"210202000000:{rule['department_kind']}"
    edited = _edit(live_system, "urban_management")
    assert edited["rule"]["version"] == rule["version"] + 1
    answer = _route_one(live_system)
    assert answer["department"]["code"] == "210202000000:urban_management"
    assert answer["versions"]["duty_rules"] == edited["duty_rules_version"]
    report_id = answer["report_id"]
    recorded = live_system.count("SELECT duty_rules_version FROM reports WHERE report_id = :r", r=report_id)
    assert recorded == edited["duty_rules_version"]
    assert live_system.count(
        "SELECT (duty_rule->>'version')::int FROM reports WHERE report_id = :r", r=report_id
    ) == (rule["version"] + 1)
    published = [c for c in _changes(live_system) if c.kind == "duty_rules"]
    assert published and published[-1].version == edited["duty_rules_version"] and published[-1].note == "e2e"


def test_every_worker_of_the_group_follows_an_edit(live_system: LiveSystem, rule: dict[str, Any]):
    """Only one worker reads each areas.changes event; each compares versions before a batch instead."""
    first = live_system.workers[0]
    second = Process(f"worker-{uuid.uuid4().hex[:4]}", first.args, first.env)
    logs = [first, second]
    seen = {process.name: process.log.stat().st_size if process.log.exists() else 0 for process in logs}
    second.start()  # its log file exists from here on
    try:
        edited = _edit(live_system, "urban_management")
        line = f"duty rules v{edited['duty_rules_version']}"

        def both_reloaded() -> bool:
            texts = [p.log.read_bytes()[seen[p.name] :].decode(errors="replace") for p in logs]
            return all(line in text for text in texts)

        routed: list[dict[str, Any]] = []
        for _ in range(40):  # reports spread over the partitions, so both workers get batches
            routed += [_route_one(live_system) for _ in range(4)]
            if both_reloaded():
                break
        assert both_reloaded(), f"both workers should log '{line}'"
        assert {r["department"]["code"] for r in routed} == {"210202000000:urban_management"}
    finally:
        second.stop()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"department_kind": "water", "deadline_hours": 24, "legal_basis": "  "}, ["body", "legal_basis"]),
        ({"department_kind": "water", "deadline_hours": 24}, ["body", "legal_basis"]),
        ({"department_kind": "", "deadline_hours": 24, "legal_basis": BASIS}, ["body", "department_kind"]),
        (
            {"department_kind": "navy", "deadline_hours": 24, "legal_basis": BASIS},
            ["body", "department_kind"],
        ),
        ({"department_kind": "water", "deadline_hours": 0, "legal_basis": BASIS}, ["body", "deadline_hours"]),
    ],
    ids=["blank-legal-basis", "no-legal-basis", "no-department", "unknown-department", "no-deadline"],
)
def test_refused_rule_gets_422_naming_the_field_and_changes_nothing(
    live_system: LiveSystem, body: dict[str, Any], field: list[str]
):
    before = httpx.get(f"{live_system.api_url}{RULE}", headers=auth(live_system)).json()
    answer = httpx.put(f"{live_system.api_url}{RULE}", json=body, headers=auth(live_system, Role.ADMIN))
    assert answer.status_code == 422, answer.text
    assert field in [item["loc"] for item in answer.json()["detail"]]
    assert httpx.get(f"{live_system.api_url}{RULE}", headers=auth(live_system)).json() == before


def test_unknown_category_or_level_is_refused_in_the_path(live_system: LiveSystem):
    body = {"department_kind": "water", "deadline_hours": 24, "legal_basis": "《城市供水条例》"}
    unknown = httpx.put(
        f"{live_system.api_url}/api/v1/duty-rules/99999/district",
        json=body,
        headers=auth(live_system, Role.ADMIN),
    )
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["path", "category_code"]
    level = httpx.put(
        f"{live_system.api_url}/api/v1/duty-rules/{CATEGORY}/province",
        json=body,
        headers=auth(live_system, Role.ADMIN),
    )
    assert level.status_code == 422 and level.json()["detail"][0]["loc"] == ["path", "level"]


def test_removed_rule_sends_reports_to_triage_until_it_is_back(live_system: LiveSystem, rule: dict[str, Any]):
    removed = httpx.delete(f"{live_system.api_url}{RULE}", headers=auth(live_system, Role.ADMIN))
    assert removed.status_code == 200 and removed.json()["rule"]["legal_basis"] == rule["legal_basis"]
    assert httpx.get(f"{live_system.api_url}{RULE}", headers=auth(live_system)).status_code == 404
    assert (
        httpx.delete(f"{live_system.api_url}{RULE}", headers=auth(live_system, Role.ADMIN)).status_code == 404
    )
    answer = _route_one(live_system)
    assert (answer["status"], answer["triage_reason"]) == ("triage", "no_duty_rule")


def test_departments_are_listed_with_their_jurisdiction(live_system: LiveSystem):
    url = f"{live_system.api_url}/api/v1/departments"
    found = httpx.get(url, params={"area_code": "210202000000"}, headers=auth(live_system)).json()
    by_kind = {d["kind"]: d for d in found}
    assert by_kind["water"] == {
        "code": "210202000000:water",
        "name": "中山区水务局",
        "kind": "water",
        "level": "district",
        "area_code": "210202000000",
    }
    paths = httpx.get(f"{live_system.api_url}/openapi.json").json()["paths"]
    assert (
        "Only an `admin` may edit"
        in paths["/api/v1/duty-rules/{category_code}/{level}"]["put"]["description"]
    )


def test_swapped_latitude_and_longitude_are_refused_with_a_hint(live_system: LiveSystem):
    before = submitted_end_offset(live_system)
    lon, lat = ZHONGSHAN
    answer = post_report(live_system, report(lat, lon))
    assert answer.status_code == 422, answer.text
    (error,) = answer.json()["detail"]
    assert error["loc"] == ["body", "location"] and "经纬度可能填反了" in error["msg"]
    assert submitted_end_offset(live_system) == before


def _cli(system: LiveSystem, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gridflow_cli", *args],
        env={**system.api.env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_refuses_a_duty_without_legal_basis_with_exit_code_2(live_system: LiveSystem):
    before = httpx.get(f"{live_system.api_url}{RULE}", headers=auth(live_system)).json()
    args = ("--department-kind", "water", "--deadline-hours", "24")  # and no --legal-basis
    answer = _cli(live_system, "duty", "set", CATEGORY, "district", *args)
    assert answer.returncode == 2
    assert "legal_basis" in answer.stderr and "工作事项准入" in answer.stderr
    assert httpx.get(f"{live_system.api_url}{RULE}", headers=auth(live_system)).json() == before


def test_cli_edit_is_followed_by_the_running_worker(live_system: LiveSystem, rule: dict[str, Any]):
    args = ("--department-kind", "urban_management", "--deadline-hours", "12", "--legal-basis", "《条例》一")
    answer = _cli(live_system, "duty", "set", CATEGORY, "district", *args)
    assert answer.returncode == 0, answer.stderr
    wait_until(
        lambda: _route_one(live_system)["department"]["code"] == "210202000000:urban_management",
        timeout=60,
        what="the worker to route by the rule set from the CLI",
    )
    listed = _cli(live_system, "duty", "list", "--category", CATEGORY)
    assert "urban_management" in listed.stdout and "《条例》一" in listed.stdout


def test_a_rule_with_helpers_and_natural_hours_opens_cases_with_those_helpers_and_deadline(
    live_system: LiveSystem, rule: dict[str, Any]
):
    body = {
        "department_kind": rule["department_kind"],
        "deadline_hours": 36,
        "legal_basis": BASIS,
        "working_hours": False,
        "helper_kinds": ["urban_management"],
    }
    answer = httpx.put(f"{live_system.api_url}{RULE}", json=body, headers=auth(live_system, Role.ADMIN))
    assert answer.status_code == 200, answer.text
    assert answer.json()["rule"]["helper_kinds"] == ["urban_management"]
    # Away from the other tests' reports of this category at 中山广场, which would make this one a duplicate.
    lon, lat = ZHONGSHAN
    fresh = report(lon + 0.003, lat, category=CATEGORY)
    assert post_report(live_system, fresh).status_code == 202
    status = wait_decided(live_system, str(fresh["report_id"]))
    from tests.e2e.test_cases_stream import case_row

    case_id = str(status["case_id"])
    wait_until(lambda: case_row(live_system, case_id) is not None, timeout=30, what="the case")
    row = case_row(live_system, case_id)
    assert row is not None
    assert row["helper_codes"] == ["210202000000:urban_management"]
    assert row["deadline_at"] - row["opened_at"] == timedelta(hours=36)  # natural hours: to the minute


def test_a_helper_kind_that_no_department_has_is_refused_naming_the_field(
    live_system: LiveSystem, rule: dict[str, Any]
):
    body = {"department_kind": rule["department_kind"], "deadline_hours": 36, "legal_basis": BASIS}
    answer = httpx.put(
        f"{live_system.api_url}{RULE}",
        json={**body, "helper_kinds": ["astronauts"]},
        headers=auth(live_system, Role.ADMIN),
    )
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"][-1] == "helper_kinds"
    assert httpx.get(f"{live_system.api_url}{RULE}", headers=auth(live_system)).json()["helper_kinds"] == []
