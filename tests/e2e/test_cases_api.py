"""The cases API on the live system: a report opens a case, HTTP actions move it through the closed loop, the
answer comes once the case agent has applied the action, refusals say why, and conflicting actions sent at
once apply exactly once."""

from __future__ import annotations

import random
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from itertools import count
from typing import Any

import httpx
import pytest
from shapely import Point
from sqlalchemy import text

from accounts.roles import Role
from geo.boundaries import district_polygons
from tests.e2e.test_report_trip import post_report, report, wait_decided
from tests.fixtures import LiveSystem, accounts_of, auth, wait_until

# 城市道路附属设施 (72 working hours, district urban management): a category the other live tests leave alone,
# so that no report of theirs joins a case of these tests as a duplicate.
CATEGORY = "10106"
DISTRICTS = ["210202", "210203", "210204"]


@cache
def _spots(per_district: int = 12) -> list[tuple[float, float]]:
    """Points well inside the central districts, each far beyond the duplicate radius from the others."""
    rng = random.Random(30428)
    found: list[tuple[float, float]] = []
    for polygon in district_polygons(DISTRICTS).values():
        inner = polygon.buffer(-0.003)
        minx, miny, maxx, maxy = inner.bounds
        wanted = len(found) + per_district
        while len(found) < wanted:
            lon, lat = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
            far = all(abs(lon - x) > 0.003 or abs(lat - y) > 0.003 for x, y in found)
            if far and inner.contains(Point(lon, lat)):
                found.append((lon, lat))
    return found


_USED = count()


def new_case(system: LiveSystem) -> dict[str, Any]:
    """A case opened by posting a report at a spot of its own, as GET answers it."""
    body = report(*_spots()[next(_USED)], category=CATEGORY)
    assert post_report(system, body).status_code == 202
    status = wait_decided(system, str(body["report_id"]))
    assert status["status"] == "routed", status
    url = f"{system.api_url}/api/v1/cases/{status['case_id']}"
    wait_until(lambda: httpx.get(url, headers=auth(system)).status_code == 200, timeout=30, what="the case")
    case: dict[str, Any] = httpx.get(url, headers=auth(system)).json()
    return case


def act(
    system: LiveSystem,
    case: dict[str, Any],
    action: str,
    who: str | None = None,
    key: str | None = None,
    **fields: object,
) -> httpx.Response:
    """POST the action as `who` (a username), by default as a user who may take it on the case as it
    stands (accounts.actor_for); `key` is sent as the Idempotency-Key."""
    accounts = accounts_of(system)
    headers = accounts.headers(who or accounts.actor_for(action, case["case_id"]))
    if key is not None:
        headers["Idempotency-Key"] = key
    return httpx.post(
        f"{system.api_url}/api/v1/cases/{case['case_id']}/actions",
        json={"action": action, **fields},
        headers=headers,
        timeout=20,
    )


def applied(system: LiveSystem, case: dict[str, Any], action: str, **fields: object) -> dict[str, Any]:
    answer = act(system, case, action, **fields)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def get_case(system: LiveSystem, case_id: str) -> dict[str, Any]:
    answer = httpx.get(f"{system.api_url}/api/v1/cases/{case_id}", headers=auth(system))
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def other_department(system: LiveSystem, code: str) -> str:
    area = code.split(":")[0]
    with system.engine.connect() as conn:
        found = conn.execute(
            text("SELECT code FROM departments WHERE area_code = :a AND code <> :c ORDER BY code LIMIT 1"),
            {"a": area, "c": code},
        ).scalar()
    assert found is not None
    return str(found)


def test_a_new_case_is_dispatched_on_time_with_its_deadline_and_its_opening(live_system: LiveSystem):
    case = new_case(live_system)
    assert case["state"] == "dispatched" and case["state_label"] == "已派遣"
    assert case["category"] == CATEGORY and case["category_name"]
    assert case["department"]["code"].endswith(":urban_management") and case["department"]["name"]
    assert case["level"] == "district" and case["deadline_at"] and case["due"] == "on_time"
    assert case["pending"] is None and case["closed_at"] is None
    assert len(case["report_ids"]) == 1 and case["reporter_count"] == 1
    assert set(case["area"]["names"]) == {"city", "district", "township", "community", "grid"}
    (opening,) = case["history"]
    assert opening["seq"] == 0 and opening["action"] == "open" and opening["action_label"] == "立案"
    assert opening["from_state"] is None and opening["to_state"] == "dispatched"


def test_the_full_loop_by_api_closes_and_evaluates_the_case_with_five_steps_of_history(
    live_system: LiveSystem,
):
    case = new_case(live_system)
    assert applied(live_system, case, "accept")["state"] == "in_progress"
    assert applied(live_system, case, "handle", note="已修复护栏")["state"] == "handled"
    closed = applied(live_system, case, "verify", passed=True, note="现场核查通过")
    assert closed["state"] == "closed" and closed["closed_at"]
    evaluated = applied(live_system, case, "evaluate", score=5, note="满意")
    assert evaluated["state"] == "evaluated"
    history = evaluated["history"]
    assert [h["action"] for h in history] == ["open", "accept", "handle", "verify", "evaluate"]
    assert [h["seq"] for h in history] == [0, 1, 2, 3, 4]
    department = accounts_of(live_system).department(case["department"]["code"])
    assert history[2]["note"] == "已修复护栏" and history[1]["actor"] == f"user:{department}"
    assert history[3]["actor"].startswith("user:t_gw.") and history[4]["actor"] == "user:t_city_dispatch"
    assert get_case(live_system, case["case_id"]) == evaluated  # visible in GET at once


def test_a_failed_verification_sends_the_case_back_for_rework(live_system: LiveSystem):
    case = new_case(live_system)
    applied(live_system, case, "accept")
    applied(live_system, case, "handle", note="已处置")
    rework = applied(live_system, case, "verify", passed=False, note="仍有破损")
    assert rework["state"] == "rework" and rework["state_label"] == "返工"


def test_a_returned_case_is_dispatched_again_to_another_department(live_system: LiveSystem):
    case = new_case(live_system)
    returned = applied(live_system, case, "return", reason="不属于本部门职责")
    assert returned["state"] == "returned" and returned["department"] is None
    assert returned["history"][-1]["reason"] == "不属于本部门职责"
    other = other_department(live_system, case["department"]["code"])
    again = applied(live_system, case, "dispatch", department_code=other)
    assert again["state"] == "dispatched" and again["department"]["code"] == other


def test_a_dispatch_to_a_department_that_does_not_exist_is_refused_naming_the_field(live_system: LiveSystem):
    case = new_case(live_system)
    applied(live_system, case, "return", reason="不属于本部门职责")
    answer = act(live_system, case, "dispatch", department_code="210202000000:nobody")
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["body", "department_code"]


def test_an_approved_postponement_moves_the_deadline(live_system: LiveSystem):
    case = new_case(live_system)
    asked = applied(live_system, case, "postpone", hours=8, reason="需协调施工单位")
    assert asked["pending"]["kind"] == "postpone" and asked["pending"]["hours"] == 8
    assert asked["deadline_at"] == case["deadline_at"]
    approved = applied(live_system, case, "approve")
    assert approved["pending"] is None and approved["deadline_at"] > case["deadline_at"]


def test_a_suspension_stops_the_clock_once_approved_and_resume_restarts_it(live_system: LiveSystem):
    case = new_case(live_system)
    applied(live_system, case, "accept")
    assert applied(live_system, case, "suspend", reason="等待司法认定")["pending"]["kind"] == "suspend"
    suspended = applied(live_system, case, "approve")
    assert suspended["state"] == "suspended" and suspended["deadline_at"] is None
    resumed = applied(live_system, case, "resume")
    assert resumed["state"] == "in_progress" and resumed["deadline_at"]


def test_a_voided_case_is_closed_to_every_further_action(live_system: LiveSystem):
    case = new_case(live_system)
    voided = applied(live_system, case, "void", reason="重复立案")
    assert voided["state"] == "voided" and voided["history"][-1]["reason"] == "重复立案"
    assert act(live_system, case, "accept").status_code == 409


def test_an_escalation_by_hand_hands_the_case_to_the_level_above(live_system: LiveSystem):
    case = new_case(live_system)
    escalated = applied(live_system, case, "escalate", reason="需市级协调")
    assert (case["level"], escalated["level"]) == ("district", "city")
    assert escalated["history"][-1]["action_label"] == "上报"


def test_an_action_the_state_does_not_allow_is_a_409_naming_state_and_action(live_system: LiveSystem):
    case = new_case(live_system)
    answer = act(live_system, case, "handle", note="未签收就处置")
    assert answer.status_code == 409
    assert answer.json() == {
        "error": "illegal_transition",
        "state": "dispatched",
        "action": "handle",
        "detail": "案件已派遣，不能处置完成",
    }
    assert [h["action"] for h in get_case(live_system, case["case_id"])["history"]] == ["open"]


def test_an_approval_with_nothing_waiting_is_a_409_invalid_with_the_reason(live_system: LiveSystem):
    answer = act(live_system, new_case(live_system), "approve")
    assert answer.status_code == 409
    body = answer.json()
    assert body["error"] == "invalid" and body["state"] == "dispatched" and body["action"] == "approve"
    assert body["detail"]  # the lifecycle's reason, in Chinese


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "fly"}, "body.action"),
        ({"note": "no action named"}, "body.action"),
        ({"action": "return"}, "body.reason"),
        ({"action": "evaluate", "score": 9}, "body.score"),
        ({"action": "accept", "extra": 1}, "body.extra"),
        ({"action": "warn"}, "body.action"),
    ],
    ids=["unknown-action", "no-action", "missing-reason", "score-out-of-range", "extra-field", "warn"],
)
def test_a_malformed_action_is_a_422_naming_the_field_and_nothing_is_sent(
    live_system: LiveSystem, body: dict[str, object], field: str
):
    case = new_case(live_system)
    url = f"{live_system.api_url}/api/v1/cases/{case['case_id']}/actions"
    answer = httpx.post(url, json=body, headers=auth(live_system))
    assert answer.status_code == 422 and answer.json()["error"] == "invalid"
    assert field in [".".join(str(p) for p in e["loc"]) for e in answer.json()["detail"]]
    sent = "SELECT count(*) FROM case_commands WHERE case_id = :c AND kind = 'act'"
    assert live_system.count(sent, c=case["case_id"]) == 0


def test_the_history_names_the_signed_in_user_and_an_actor_header_changes_nothing(live_system: LiveSystem):
    case = new_case(live_system)
    accounts = accounts_of(live_system)
    department = accounts.department(case["department"]["code"])
    answer = httpx.post(
        f"{live_system.api_url}/api/v1/cases/{case['case_id']}/actions",
        json={"action": "accept"},
        headers={**accounts.headers(department), "X-Gridflow-Actor": "system"},
        timeout=20,
    )
    assert answer.status_code == 200 and answer.json()["history"][-1]["actor"] == f"user:{department}"


def test_an_action_resent_with_its_idempotency_key_is_applied_once_and_answered_again(
    live_system: LiveSystem,
):
    case = new_case(live_system)
    key = str(uuid.uuid4())
    first = act(live_system, case, "accept", key=key)
    again = act(live_system, case, "accept", key=key)  # a phone resending after a lost answer
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json()["history"] == again.json()["history"]
    assert [h["action"] for h in again.json()["history"]] == ["open", "accept"]
    sent = "SELECT count(*) FROM case_commands WHERE command_id = :k"
    assert live_system.count(sent, k=key) == 1
    other = act(live_system, case, "handle", key=key, note="同一个键，另一个操作")  # a client's bug
    assert other.status_code == 422, other.text  # never the accept's answer, as if the handle were done
    assert other.json()["detail"][0]["loc"] == ["header", "idempotency-key"]
    assert "accept" in other.json()["detail"][0]["msg"]
    assert live_system.count("SELECT count(*) FROM case_history WHERE command_id = :k", k=key) == 1
    elsewhere = act(live_system, new_case(live_system), "accept", key=key)
    assert elsewhere.status_code == 422
    assert elsewhere.json()["detail"][0]["loc"] == ["header", "idempotency-key"]
    malformed = act(live_system, case, "handle", key="not-a-uuid", note="x")
    assert malformed.status_code == 422
    assert malformed.json()["detail"][0]["loc"] == ["header", "idempotency-key"]


def test_two_actions_sent_at_once_under_one_key_apply_one_and_refuse_the_other(live_system: LiveSystem):
    """Whichever way they interleave (the second finds the key used before sending, or both are sent and the
    agent applies the key once), the request whose action was applied gets the case and the other a 422
    naming the key, never the first one's answer as its own."""
    case = new_case(live_system)
    key = str(uuid.uuid4())
    with ThreadPoolExecutor(2) as pool:
        answers = list(
            pool.map(
                lambda kw: act(live_system, case, key=key, **kw),
                [{"action": "accept"}, {"action": "return", "reason": "不属于本部门职责"}],
            )
        )
    codes = sorted(a.status_code for a in answers)
    assert codes == [200, 422], [a.text for a in answers]
    applied = next(a for a in answers if a.status_code == 200).json()["history"][-1]["action"]
    refused = next(a for a in answers if a.status_code == 422).json()["detail"][0]
    assert refused["loc"] == ["header", "idempotency-key"] and applied in refused["msg"]
    assert live_system.count("SELECT count(*) FROM case_history WHERE command_id = :k", k=key) == 1


def test_a_department_that_returns_a_case_gets_its_answer_again_on_a_resend(live_system: LiveSystem):
    case = new_case(live_system)
    department = accounts_of(live_system).department(case["department"]["code"])
    key = str(uuid.uuid4())
    first = act(live_system, case, "return", who=department, key=key, reason="不属于本部门职责")
    again = act(live_system, case, "return", who=department, key=key, reason="不属于本部门职责")
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json()["state"] == "returned"
    read = httpx.get(
        f"{live_system.api_url}/api/v1/cases/{case['case_id']}", headers=auth(live_system, department)
    )
    assert read.status_code == 404  # no longer the department's to see


# Pairs where whichever comes second is refused: accept after accept (illegal), and a second request while
# one waits (invalid). Not accept and return: a department may return a case it has signed for.
@pytest.mark.parametrize(
    "actions", [("accept", "accept"), ("postpone", "suspend")], ids=["two-accepts", "postpone-and-suspend"]
)
def test_two_conflicting_actions_at_once_apply_exactly_once(
    live_system: LiveSystem, actions: tuple[str, str]
):
    case = new_case(live_system)
    fields: dict[str, dict[str, object]] = {
        "accept": {},
        "postpone": {"hours": 8, "reason": "需协调施工单位"},
        "suspend": {"reason": "等待司法认定"},
    }
    start = threading.Barrier(2)
    answers: dict[int, httpx.Response] = {}

    def send(i: int, action: str) -> None:
        start.wait()
        answers[i] = act(live_system, case, action, **fields[action])

    threads = [threading.Thread(target=send, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(a.status_code for a in answers.values()) == [200, 409]
    (refused,) = [a.json() for a in answers.values() if a.status_code == 409]
    assert refused["error"] == ("illegal_transition" if actions[0] == actions[1] else "invalid")
    history = get_case(live_system, case["case_id"])["history"]
    assert len(history) == 2  # the opening and the one that applied


def test_a_report_shows_its_case_moving(live_system: LiveSystem):
    case = new_case(live_system)
    applied(live_system, case, "accept")
    (report_id,) = case["report_ids"]
    status = httpx.get(f"{live_system.api_url}/api/v1/reports/{report_id}", headers=auth(live_system)).json()
    assert status["case_id"] == case["case_id"] and status["case_state"] == "in_progress"


def test_an_unknown_case_is_a_404_for_reading_and_for_acting(live_system: LiveSystem):
    missing = "00000000-0000-4000-8000-00000000dead"
    headers = auth(live_system)
    read = httpx.get(f"{live_system.api_url}/api/v1/cases/{missing}", headers=headers)
    acted = httpx.post(
        f"{live_system.api_url}/api/v1/cases/{missing}/actions", json={"action": "accept"}, headers=headers
    )
    for answer in (read, acted):
        assert answer.status_code == 404 and answer.json()["error"] == "not_found"
        assert answer.json()["detail"]["code"] == "not_found"


def test_a_nan_in_a_duty_rule_edit_is_a_422_not_a_500(live_system: LiveSystem):
    answer = httpx.put(
        f"{live_system.api_url}/api/v1/duty-rules/10101/district",
        content=b'{"department_kind": "water", "deadline_hours": NaN, "legal_basis": "x"}',
        headers={"Content-Type": "application/json", **auth(live_system, Role.ADMIN)},
    )
    assert answer.status_code == 422 and answer.json()["error"] == "invalid"
    (error,) = answer.json()["detail"]
    assert error["loc"] == ["body", "deadline_hours"] and error["input"] == "NaN"
