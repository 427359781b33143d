"""Work queues on the live system: each role's own, cut by its scope, paged, newest or most urgent first."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from accounts.roles import Role
from tests.e2e.casework import WATER, act_as, open_case, report_body
from tests.e2e.test_report_trip import SEA_OFF_DALIAN, wait_decided
from tests.fixtures import Accounts, LiveSystem, UserAccount, wait_until

pytestmark = pytest.mark.services
ITEM_KEYS = {
    "case_id", "state", "state_label", "category", "category_name", "area", "department", "level",
    "deadline_at", "due", "pending", "opened_at", "reporter_count", "report_ids", "location",
    "triage_reason", "triage_label", "triage_detail",
}  # fmt: skip


def page(
    system: LiveSystem, accounts: Accounts, who: Role | str, name: str, **params: object
) -> httpx.Response:
    return httpx.get(
        f"{system.api_url}/api/v1/queues/{name}", params=params, headers=accounts.headers(who), timeout=15
    )


def queue(system: LiveSystem, accounts: Accounts, who: Role | str, name: str) -> list[dict[str, Any]]:
    """Every item of the queue, page by page (100 at a time)."""
    items: list[dict[str, Any]] = []
    number = 1
    while True:
        answer = page(system, accounts, who, name, page=number, size=100)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        items += body["items"]
        if len(items) >= body["total"] or not body["items"]:
            assert len(items) == body["total"]
            return items
        number += 1


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["case_id"] for item in items]


def grid(accounts: Accounts, other: bool = False) -> str:
    return str((accounts.others if other else accounts.users)[Role.GRID_WORKER].grid_codes[0])


def worker(accounts: Accounts, other: bool = False) -> str:
    return (accounts.others if other else accounts.users)[Role.GRID_WORKER].username


def test_a_department_s_new_and_in_progress_queues_hold_its_own_cases_newest_first(
    live_system: LiveSystem, accounts: Accounts
) -> None:
    first = open_case(live_system, worker(accounts), grid(accounts), WATER[3])
    second = open_case(live_system, worker(accounts), grid(accounts), WATER[3])
    elsewhere = open_case(live_system, worker(accounts, True), grid(accounts, True), WATER[3])
    new = queue(live_system, accounts, Role.DEPARTMENT, "new")
    assert ids(new).index(second.case_id) < ids(new).index(first.case_id)  # newest first
    assert elsewhere.case_id not in ids(new)
    assert elsewhere.case_id in ids(
        queue(live_system, accounts, accounts.others[Role.DEPARTMENT].username, "new")
    )
    item = new[ids(new).index(first.case_id)]
    assert set(item) == ITEM_KEYS
    assert item["state"] == "dispatched" and item["state_label"] == "已派遣" and item["category_name"]
    assert item["department"]["code"] == "210202000000:water" and item["department"]["name"]
    assert item["area"]["codes"]["grid"] == grid(accounts) and set(item["area"]["names"]) >= {"grid"}
    assert item["report_ids"] == [first.report_id] and item["reporter_count"] == 1
    assert item["due"] == "on_time" and item["deadline_at"] and item["location"]["lon"] > 121
    one = page(live_system, accounts, Role.DEPARTMENT, "new", size=1).json()
    assert one["total"] == len(new) and len(one["items"]) == 1 and one["label"] == "待签收"
    department = accounts.users[Role.DEPARTMENT].username
    act_as(live_system, department, first.case_id, "accept")
    assert first.case_id not in ids(queue(live_system, accounts, Role.DEPARTMENT, "new"))
    assert first.case_id in ids(queue(live_system, accounts, Role.DEPARTMENT, "in_progress"))


def test_a_grid_worker_s_to_verify_queue_holds_the_handled_cases_of_its_grids(
    live_system: LiveSystem, accounts: Accounts
) -> None:
    opened = open_case(live_system, worker(accounts), grid(accounts), WATER[3])
    department = accounts.users[Role.DEPARTMENT].username
    act_as(live_system, department, opened.case_id, "accept")
    assert opened.case_id not in ids(queue(live_system, accounts, Role.GRID_WORKER, "to_verify"))
    act_as(live_system, department, opened.case_id, "handle", note="已处置")
    mine = queue(live_system, accounts, Role.GRID_WORKER, "to_verify")
    assert opened.case_id in ids(mine) and {i["state"] for i in mine} == {"handled"}
    assert all(i["area"]["codes"]["grid"] in accounts.users[Role.GRID_WORKER].grid_codes for i in mine)
    assert opened.case_id not in ids(queue(live_system, accounts, worker(accounts, True), "to_verify"))
    act_as(live_system, worker(accounts), opened.case_id, "verify", passed=True, note="核查通过")
    assert opened.case_id not in ids(queue(live_system, accounts, Role.GRID_WORKER, "to_verify"))


def test_a_postponement_waits_in_the_approvals_of_the_holding_level_and_above_only(
    live_system: LiveSystem, accounts: Accounts
) -> None:
    opened = open_case(live_system, worker(accounts), grid(accounts), WATER[3])
    department = accounts.users[Role.DEPARTMENT].username
    act_as(live_system, department, opened.case_id, "postpone", hours=4, reason="需协调施工单位")
    for office in (Role.DISTRICT, Role.CITY_DISPATCH):
        waiting = queue(live_system, accounts, office, "approvals")
        assert opened.case_id in ids(waiting)
        assert waiting[ids(waiting).index(opened.case_id)]["pending"]["kind"] == "postpone"
    for not_theirs in (Role.TOWNSHIP, Role.COMMUNITY):  # below the district, which holds the case
        assert opened.case_id not in ids(queue(live_system, accounts, not_theirs, "approvals"))
    other_district = accounts.others[Role.DISTRICT].username
    assert opened.case_id not in ids(queue(live_system, accounts, other_district, "approvals"))
    deadlines = [i["deadline_at"] for i in queue(live_system, accounts, Role.CITY_DISPATCH, "approvals")]
    assert deadlines == sorted(deadlines, key=lambda d: (d is None, d))  # soonest deadline first


def test_the_dispatch_center_s_triage_queue_says_why_each_case_waits(
    live_system: LiveSystem, accounts: Accounts
) -> None:
    body = report_body(SEA_OFF_DALIAN, WATER[3])
    headers = accounts.headers(Role.GRID_WORKER)
    assert httpx.post(f"{live_system.api_url}/api/v1/reports", json=body, headers=headers).status_code == 202
    offshore = str(wait_decided(live_system, body["report_id"])["case_id"])
    returned = open_case(live_system, worker(accounts), grid(accounts), WATER[3])
    department = accounts.users[Role.DEPARTMENT].username
    act_as(live_system, department, returned.case_id, "return", reason="不属于本部门职责")

    def both_waiting() -> bool:
        return {offshore, returned.case_id} <= set(
            ids(queue(live_system, accounts, Role.CITY_DISPATCH, "triage"))
        )

    wait_until(both_waiting, timeout=30, what="both cases in the triage queue")
    items = {i["case_id"]: i for i in queue(live_system, accounts, Role.CITY_DISPATCH, "triage")}
    assert items[offshore]["triage_reason"] == "outside_jurisdiction" and items[offshore]["triage_label"]
    assert items[returned.case_id]["triage_reason"] == "returned"
    assert items[returned.case_id]["triage_detail"] == "不属于本部门职责"
    assert ids(queue(live_system, accounts, Role.CITY_DISPATCH, "triage"))[0] == returned.case_id  # newest


def test_overdue_cases_show_to_their_department_and_the_offices_of_their_area(
    live_system: LiveSystem, accounts: Accounts
) -> None:
    opened = open_case(live_system, worker(accounts), grid(accounts), WATER[3])
    with live_system.engine.begin() as conn:
        before = conn.execute(
            text("SELECT deadline_at, doc FROM cases WHERE case_id = :c"), {"c": opened.case_id}
        ).one()
        # As if the deadline had passed an hour ago: a row changed behind the stream, put back afterwards so
        # that `gridflow stream replay` (test_replay.py) still finds the live tables equal to the topics.
        conn.execute(
            text(
                "UPDATE cases SET deadline_at = now() - interval '1 hour',"
                " doc = jsonb_set(doc, '{deadline_at}', to_jsonb(now() - interval '1 hour'))"
                " WHERE case_id = :c"
            ),
            {"c": opened.case_id},
        )
    try:
        for who in (Role.DEPARTMENT, Role.COMMUNITY, Role.TOWNSHIP, Role.DISTRICT, Role.CITY_DISPATCH):
            overdue = queue(live_system, accounts, who, "overdue")
            assert opened.case_id in ids(overdue), who
            assert overdue[ids(overdue).index(opened.case_id)]["due"] == "overdue"
        for who in (accounts.others[Role.DEPARTMENT].username, accounts.others[Role.DISTRICT].username):
            assert opened.case_id not in ids(queue(live_system, accounts, who, "overdue"))
    finally:
        with live_system.engine.begin() as conn:
            conn.execute(
                text("UPDATE cases SET deadline_at = :d, doc = CAST(:doc AS jsonb) WHERE case_id = :c"),
                {"d": before.deadline_at, "doc": json.dumps(before.doc), "c": opened.case_id},
            )


@pytest.mark.parametrize(
    ("role", "name", "needed"),
    [
        (Role.AUDITOR, "new", ["department"]),
        (Role.GRID_WORKER, "overdue", ["department", "community", "township", "district", "city_dispatch"]),
        (Role.DEPARTMENT, "triage", ["city_dispatch"]),
        (Role.ADMIN, "to_verify", ["grid_worker", "community"]),
        (Role.DEPARTMENT, "approvals", ["community", "township", "district", "city_dispatch"]),
    ],
)
def test_a_queue_the_role_does_not_have_is_403_naming_the_roles_that_do(
    live_system: LiveSystem, accounts: Accounts, role: Role, name: str, needed: list[str]
) -> None:
    answer = page(live_system, accounts, role, name)
    assert answer.status_code == 403 and answer.json()["detail"]["needed"] == needed


def test_an_unknown_queue_is_404_a_page_too_large_422_and_no_token_401(
    live_system: LiveSystem, accounts: Accounts
) -> None:
    assert page(live_system, accounts, Role.DEPARTMENT, "everything").status_code == 404
    too_big = page(live_system, accounts, Role.DEPARTMENT, "new", size=101)
    assert too_big.status_code == 422 and too_big.json()["detail"][0]["loc"] == ["query", "size"]
    assert httpx.get(f"{live_system.api_url}/api/v1/queues/new", timeout=10).status_code == 401


def test_the_field_app_s_worker_signs_in_and_reads_its_to_verify_queue(
    live_system: LiveSystem, accounts: Accounts, field_worker: UserAccount
) -> None:
    """The `field_worker` fixture the field app's live tests sign in with: 中山广场's grid worker."""
    assert field_worker.grid_codes and field_worker.grid_codes[0].startswith("210202")
    answer = page(live_system, accounts, field_worker.username, "to_verify")
    assert answer.status_code == 200 and answer.json()["label"] == "待核查"
