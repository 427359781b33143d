"""Who may do what to a case, on the live system (accounts/scope.py ACTION_RULES): the department its own
case, the grid worker the cases of its grids, the level holding the case (or above) a request, the dispatch
center dispatching and voiding, anyone doing casework an escalation; the auditor reads everything and writes
nothing. A case out of the caller's scope is 404; a wrong role inside it is 403 naming the roles that may."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text

from accounts.roles import Role
from tests.e2e.casework import URBAN, WATER, act_as, open_case, report_body
from tests.e2e.test_report_trip import SEA_OFF_DALIAN, wait_decided
from tests.fixtures import Accounts, LiveSystem, wait_until

pytestmark = pytest.mark.services


def user(accounts: Accounts, role: Role, other: bool = False) -> str:
    return (accounts.others if other else accounts.users)[role].username


def home_grid(accounts: Accounts, other: bool = False) -> str:
    return user_grid(accounts.others if other else accounts.users)


def user_grid(users: dict[Role, Any]) -> str:
    return str(users[Role.GRID_WORKER].grid_codes[0])


def refused(answer: httpx.Response, *needed: str) -> None:
    assert answer.status_code == 403, answer.text
    assert answer.json()["error"] == "forbidden" and answer.json()["detail"]["needed"] == list(needed)


def hidden(answer: httpx.Response) -> None:
    assert answer.status_code == 404, answer.text
    assert answer.json()["error"] == "not_found"


def ok(answer: httpx.Response, state: str) -> dict[str, Any]:
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    assert body["state"] == state, body
    return body


@pytest.fixture
def water_case(live_system: LiveSystem, accounts: Accounts) -> str:
    """A case of 中山区's water bureau (t_department), in t_grid_worker's grid, reported by t_grid_worker."""
    reporter = user(accounts, Role.GRID_WORKER)
    return open_case(live_system, reporter, home_grid(accounts), WATER[2]).case_id


def test_the_department_accepts_and_handles_its_own_case_not_another_districts_nor_a_grid_worker(
    live_system: LiveSystem, accounts: Accounts, water_case: str
) -> None:
    hidden(act_as(live_system, user(accounts, Role.DEPARTMENT, other=True), water_case, "accept"))
    refused(act_as(live_system, user(accounts, Role.GRID_WORKER), water_case, "accept"), "department")
    refused(act_as(live_system, user(accounts, Role.DISTRICT), water_case, "accept"), "department")
    department = user(accounts, Role.DEPARTMENT)
    accepted = ok(act_as(live_system, department, water_case, "accept"), "in_progress")
    assert accepted["history"][-1]["actor"] == f"user:{department}"
    ok(act_as(live_system, department, water_case, "handle", note="已更换井盖"), "handled")


def test_the_department_returns_its_case_and_then_no_longer_sees_it(
    live_system: LiveSystem, accounts: Accounts, water_case: str
) -> None:
    department = user(accounts, Role.DEPARTMENT)
    hidden(act_as(live_system, user(accounts, Role.DEPARTMENT, other=True), water_case, "return", reason="x"))
    ok(act_as(live_system, department, water_case, "return", reason="不属于本部门职责"), "returned")
    answer = httpx.get(
        f"{live_system.api_url}/api/v1/cases/{water_case}", headers=accounts.headers(department), timeout=10
    )
    hidden(answer)


def test_the_grid_worker_verifies_handled_cases_in_their_grids_only(
    live_system: LiveSystem, accounts: Accounts, water_case: str
) -> None:
    department = user(accounts, Role.DEPARTMENT)
    ok(act_as(live_system, department, water_case, "accept"), "in_progress")
    ok(act_as(live_system, department, water_case, "handle", note="已处置"), "handled")
    verify = {"passed": True, "note": "现场核查通过"}
    hidden(act_as(live_system, user(accounts, Role.GRID_WORKER, other=True), water_case, "verify", **verify))
    refused(
        act_as(live_system, user(accounts, Role.COMMUNITY), water_case, "verify", **verify), "grid_worker"
    )
    refused(act_as(live_system, department, water_case, "verify", **verify), "grid_worker")
    closed = ok(
        act_as(live_system, user(accounts, Role.GRID_WORKER), water_case, "verify", **verify), "closed"
    )
    assert closed["closed_at"]


def test_the_level_holding_the_case_or_above_approves_a_postponement(
    live_system: LiveSystem, accounts: Accounts, water_case: str
) -> None:
    department = user(accounts, Role.DEPARTMENT)
    refused(
        act_as(live_system, user(accounts, Role.TOWNSHIP), water_case, "postpone", hours=8, reason="x"),
        "department",
    )
    asked = act_as(live_system, department, water_case, "postpone", hours=8, reason="需协调施工单位")
    assert asked.status_code == 200 and asked.json()["pending"]["kind"] == "postpone"
    for below in (Role.DEPARTMENT, Role.TOWNSHIP, Role.COMMUNITY, Role.GRID_WORKER):
        refused(
            act_as(live_system, user(accounts, below), water_case, "approve"), "district", "city_dispatch"
        )
    hidden(act_as(live_system, user(accounts, Role.DISTRICT, other=True), water_case, "approve"))
    refused(
        act_as(live_system, user(accounts, Role.AUDITOR), water_case, "approve"), "district", "city_dispatch"
    )
    approved = ok(act_as(live_system, user(accounts, Role.DISTRICT), water_case, "approve"), "dispatched")
    assert approved["pending"] is None and approved["history"][-1]["actor"] == "user:t_district"


def test_the_dispatch_center_dispatches_from_triage_reassigns_and_voids(
    live_system: LiveSystem, accounts: Accounts
) -> None:
    body = report_body(SEA_OFF_DALIAN, URBAN)
    posted = httpx.post(
        f"{live_system.api_url}/api/v1/reports",
        json=body,
        headers=accounts.headers(Role.CITY_DISPATCH),  # a 12345 call, entered by the dispatch center
        timeout=15,
    )
    assert posted.status_code == 202
    case_id = str(wait_decided(live_system, body["report_id"])["case_id"])
    wait_until(
        lambda: live_system.count("SELECT count(*) FROM cases WHERE case_id = :c", c=case_id) == 1,
        timeout=30,
        what="the triage case",
    )
    target = {"department_code": "210202000000:water", "deadline_hours": 24}
    # Offshore: in no district, so no area office sees it; the reporter does (it is the dispatch center).
    hidden(act_as(live_system, user(accounts, Role.DISTRICT), case_id, "dispatch", **target))
    refused(act_as(live_system, user(accounts, Role.AUDITOR), case_id, "dispatch", **target), "city_dispatch")
    dispatch = user(accounts, Role.CITY_DISPATCH)
    sent = ok(act_as(live_system, dispatch, case_id, "dispatch", **target), "dispatched")
    assert sent["department"]["code"] == "210202000000:water"
    again = {"department_code": "210202000000:urban_management"}
    refused(
        act_as(live_system, user(accounts, Role.DEPARTMENT), case_id, "dispatch", **again), "city_dispatch"
    )
    moved = ok(act_as(live_system, dispatch, case_id, "dispatch", **again), "dispatched")
    assert moved["department"]["code"] == again["department_code"]
    refused(act_as(live_system, user(accounts, Role.ADMIN), case_id, "void", reason="重复"), "city_dispatch")
    ok(act_as(live_system, dispatch, case_id, "void", reason="重复立案"), "voided")


def test_anyone_doing_casework_who_sees_a_case_may_escalate_it(
    live_system: LiveSystem, accounts: Accounts, water_case: str
) -> None:
    hidden(
        act_as(live_system, user(accounts, Role.COMMUNITY, other=True), water_case, "escalate", reason="x")
    )
    casework = ["grid_worker", "community", "township", "district", "department", "city_dispatch"]
    for writes_nothing in (Role.AUDITOR, Role.ADMIN):
        answer = act_as(live_system, user(accounts, writes_nothing), water_case, "escalate", reason="x")
        refused(answer, *casework)
    up = act_as(live_system, user(accounts, Role.GRID_WORKER), water_case, "escalate", reason="需市级协调")
    assert up.status_code == 200 and up.json()["level"] == "city"


def test_the_auditor_reads_everything_and_writes_nothing(
    live_system: LiveSystem, accounts: Accounts, water_case: str
) -> None:
    auditor = accounts.headers(Role.AUDITOR)
    api = live_system.api_url
    elsewhere = open_case(
        live_system, user(accounts, Role.GRID_WORKER, other=True), home_grid(accounts, True), URBAN
    )
    for case_id in (water_case, elsewhere.case_id):
        assert httpx.get(f"{api}/api/v1/cases/{case_id}", headers=auditor, timeout=10).status_code == 200
    assert (
        httpx.get(f"{api}/api/v1/reports/{elsewhere.report_id}", headers=auditor, timeout=10).status_code
        == 200
    )
    refused(
        httpx.post(
            f"{api}/api/v1/reports", json=report_body(SEA_OFF_DALIAN, URBAN), headers=auditor, timeout=10
        ),
        "grid_worker",
        "city_dispatch",
    )
    refused(act_as(live_system, user(accounts, Role.AUDITOR), water_case, "accept"), "department")
    rule = {"department_kind": "water", "deadline_hours": 24, "legal_basis": "x"}
    refused(
        httpx.put(f"{api}/api/v1/duty-rules/10101/district", json=rule, headers=auditor, timeout=10), "admin"
    )
    refused(httpx.delete(f"{api}/api/v1/duty-rules/10101/district", headers=auditor, timeout=10), "admin")
    commands = "SELECT count(*) FROM case_commands WHERE case_id = :c AND kind = 'act'"
    assert live_system.count(commands, c=elsewhere.case_id) == 0


def test_the_reporter_is_the_token_s_user_and_a_body_naming_another_is_refused(
    live_system: LiveSystem, accounts: Accounts
) -> None:
    api, worker = live_system.api_url, user(accounts, Role.GRID_WORKER)
    headers = accounts.headers(worker)
    other = report_body(SEA_OFF_DALIAN, URBAN, reporter_id=user(accounts, Role.GRID_WORKER, other=True))
    answer = httpx.post(f"{api}/api/v1/reports", json=other, headers=headers, timeout=15)
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["body", "reporter_id"]
    batch = httpx.post(f"{api}/api/v1/reports/batch", json={"reports": [other]}, headers=headers, timeout=15)
    assert batch.status_code == 207
    (item,) = batch.json()["results"]
    assert item["status"] == 422 and item["detail"][0]["loc"] == ["body", "reports", 0, "reporter_id"]
    own = report_body(SEA_OFF_DALIAN, URBAN)  # no reporter_id: filled in from the token
    assert httpx.post(f"{api}/api/v1/reports", json=own, headers=headers, timeout=15).status_code == 202
    named = report_body(SEA_OFF_DALIAN, URBAN, reporter_id=worker)  # one's own name: fine
    assert httpx.post(f"{api}/api/v1/reports", json=named, headers=headers, timeout=15).status_code == 202
    for body in (own, named):
        wait_decided(live_system, body["report_id"])
        with live_system.engine.connect() as conn:
            stored = conn.execute(
                text("SELECT reporter_id FROM reports WHERE report_id = :r"), {"r": body["report_id"]}
            ).scalar()
        assert stored == worker
    refused(
        httpx.post(f"{api}/api/v1/reports", json=own, headers=accounts.headers(Role.COMMUNITY), timeout=15),
        "grid_worker",
        "city_dispatch",
    )
    no_token = httpx.post(f"{api}/api/v1/reports", json=own, timeout=15)
    assert no_token.status_code == 401 and no_token.headers["www-authenticate"].startswith("Bearer")


def test_duty_rules_are_read_by_anyone_signed_in_and_edited_by_the_admin_only(
    live_system: LiveSystem, accounts: Accounts
) -> None:
    api = live_system.api_url
    assert httpx.get(f"{api}/api/v1/duty-rules", timeout=10).status_code == 401
    read = httpx.get(f"{api}/api/v1/duty-rules/10101/district", headers=accounts.headers(Role.GRID_WORKER))
    assert read.status_code == 200
    rule = {key: read.json()[key] for key in ("department_kind", "deadline_hours", "legal_basis")}
    refused(
        httpx.put(
            f"{api}/api/v1/duty-rules/10101/district", json=rule, headers=accounts.headers(Role.DISTRICT)
        ),
        "admin",
    )
    edited = httpx.put(
        f"{api}/api/v1/duty-rules/10101/district",
        json={**rule, "note": "账号测试：原样保存"},
        headers=accounts.headers(Role.ADMIN),
        timeout=30,
    )
    assert edited.status_code == 200, edited.text
    version = edited.json()["duty_rules_version"]
    with live_system.engine.connect() as conn:
        actor = conn.execute(
            text("SELECT updated_by FROM geo_versions WHERE kind = 'duty_rules' AND version >= :v"),
            {"v": version},
        ).scalar()
    assert actor == "user:t_admin"  # the version says who edited
