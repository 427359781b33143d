"""The cases API's own logic, without services: how a body becomes an action or a located 422, how the answer
is waited for, and how a stored case is presented. (Who acts is the token's principal: tests/e2e.)"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from itertools import islice
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.exceptions import RequestValidationError

from api.cases.schemas import CaseArea
from api.cases.service import parse_body, poll_intervals, present, wait_for
from api.errors import InvalidInput
from cases.actions import ReturnAction
from cases.lifecycle import Applied, next_state
from cases.states import OPEN_STATES, TIMED_STATES, ActionName, CaseState
from cases.timers import warning_at
from tests.cases.builders import CAL, CLERK, LEAD, T0, routed


def locations(body: dict[str, Any]) -> list[list[object]]:
    with pytest.raises(RequestValidationError) as refused:
        parse_body(body)
    return [error["loc"] for error in refused.value.errors()]


def test_a_body_parses_into_its_action_model():
    assert parse_body({"action": "return", "reason": " 不属于本部门 "}) == ReturnAction(reason="不属于本部门")


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"action": "fly"}, ["body", "action"]),
        ({}, ["body", "action"]),
        ({"action": "return"}, ["body", "reason"]),
        ({"action": "postpone", "hours": float("nan"), "reason": "x"}, ["body", "hours"]),
        ({"action": "accept", "extra": 1}, ["body", "extra"]),
    ],
    ids=["unknown", "absent", "missing-field", "nan", "extra"],
)
def test_a_malformed_body_is_located_at_the_field_the_client_sent(body: dict[str, Any], loc: list[object]):
    assert loc in locations(body)


def test_an_unknown_action_is_told_the_actions_a_person_may_take():
    with pytest.raises(RequestValidationError) as refused:
        parse_body({"action": "fly"})
    (error,) = refused.value.errors()
    assert "accept" in error["msg"] and "warn" not in error["msg"] and "未知的操作" in error["msg"]


def test_warn_is_the_systems_own_and_refused_from_a_person():
    with pytest.raises(InvalidInput) as refused:
        parse_body({"action": "warn"})
    assert refused.value.field == "body.action"


def test_waiting_returns_as_soon_as_the_outcome_is_there():
    looks = []

    async def read() -> str | None:
        looks.append(time.monotonic())
        return "applied" if len(looks) == 3 else None

    assert asyncio.run(wait_for(read, within=5, first=0.01, most=0.02)) == "applied"
    assert len(looks) == 3


def test_waiting_gives_up_after_its_time():
    async def never() -> None:
        return None

    started = time.monotonic()
    assert asyncio.run(wait_for(never, within=0.3, first=0.02, most=0.05)) is None
    assert 0.3 <= time.monotonic() - started < 2


def test_looks_grow_less_frequent_up_to_a_cap():
    looks = list(islice(poll_intervals(0.025, 0.2, 1.5), 8))
    assert looks[:3] == pytest.approx([0.025, 0.0375, 0.05625])
    assert looks[-2:] == [0.2, 0.2] and looks == sorted(looks)


def row(seq: int, action: str, from_state: str | None, to_state: str, **extra: object) -> SimpleNamespace:
    base = {"actor": CLERK, "at": T0, "reason": None, "note": None}
    return SimpleNamespace(seq=seq, action=action, from_state=from_state, to_state=to_state, **base | extra)


def show(case: Any, rows: list[SimpleNamespace], now: Any = T0) -> Any:
    return present(
        case,
        rows,
        area=CaseArea(city="210200000000", names={"city": "大连市"}),
        departments={LEAD: "中山区城市管理局"},
        category="井盖",
        now=now,
        warning_share=0.8,
    )


def test_a_case_is_presented_with_labels_names_and_its_history():
    case = routed()
    out = show(case, [row(0, "open", None, "dispatched", actor="system:router", reason="自动派遣")])
    assert (out.state, out.state_label, out.due.value) == (CaseState.DISPATCHED, "已派遣", "on_time")
    assert out.department is not None and out.department.name == "中山区城市管理局"
    assert out.category_name == "井盖" and out.report_ids == list(case.report_ids)
    (opening,) = out.history
    assert (opening.action, opening.action_label, opening.from_state) == ("open", "立案", None)


def test_a_department_no_longer_known_keeps_its_code_without_a_name():
    case = routed().model_copy(update={"helper_codes": ("210203000000:gone",)})
    assert [(h.code, h.name) for h in show(case, []).helpers] == [("210203000000:gone", None)]


def test_due_follows_the_clock_of_the_answer():
    case = routed()
    warn = warning_at(case, CAL, 0.8)
    assert warn is not None and case.deadline_at is not None
    assert show(case, [], now=warn + timedelta(minutes=1)).due.value == "warning"
    assert show(case, [], now=case.deadline_at).due.value == "overdue"


def test_an_applied_action_shows_its_label_and_reason():
    case = routed()
    result = next_state(case, ReturnAction(reason="不属于本部门"), actor=CLERK, at=T0, calendar=CAL)
    assert isinstance(result, Applied)
    step = result.transition
    out = show(result.case, [row(1, step.action.value, "dispatched", "returned", reason=step.reason)])
    assert out.history[0].action_label == "回退" and out.history[0].reason == "不属于本部门"
    assert out.department is None and step.action is ActionName.RETURN


def test_the_open_states_the_overdue_count_leaves_unread_are_never_overdue():
    """api.cases.listing.open_and_maybe_overdue reads the timed, suspended and handled cases, the only open
    ones due_expr can call overdue (running, suspended, handled late): an open state added to the loop must
    be added there too, or its overdue cases would go uncounted."""
    unread = OPEN_STATES - TIMED_STATES - {CaseState.SUSPENDED, CaseState.HANDLED}
    assert unread == {CaseState.TRIAGE}
