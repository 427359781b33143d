"""Request bodies parse into their action, and bad ones name the field and the problem."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from cases.actions import (
    ACTION_MODELS,
    DispatchAction,
    HandleAction,
    PostponeAction,
    ReturnAction,
    parse_action,
    parse_action_json,
)
from cases.states import ACTION_LABELS, STATE_LABELS, ActionName, CaseState

from .builders import SAMPLE_ACTIONS

HASH = "0123456789abcdef" * 4


def test_every_action_and_state_has_a_model_and_a_chinese_label() -> None:
    assert set(ACTION_MODELS) == set(ActionName) == set(ACTION_LABELS) == set(SAMPLE_ACTIONS)
    assert set(STATE_LABELS) == set(CaseState)
    assert STATE_LABELS[CaseState.DISPATCHED] == "已派遣" and STATE_LABELS[CaseState.TRIAGE] == "待分拨"


@pytest.mark.parametrize("name", list(ActionName), ids=str)
def test_each_action_round_trips_through_json(name: ActionName) -> None:
    action = SAMPLE_ACTIONS[name]
    assert parse_action_json(action.model_dump_json()) == action
    assert type(parse_action(action.model_dump(mode="json"))) is ACTION_MODELS[name]


def test_dispatch_body_parses_to_its_model() -> None:
    action = parse_action({"action": "dispatch", "department_code": "210202000000:housing"})
    assert action == DispatchAction(department_code="210202000000:housing")


def test_reason_is_trimmed() -> None:
    assert parse_action({"action": "return", "reason": "  非本部门  "}) == ReturnAction(reason="非本部门")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "nope"}, "action"),
        ({"department_code": "x"}, "action"),
        ({"action": "dispatch"}, "department_code"),
        ({"action": "return", "reason": "   "}, "reason"),
        ({"action": "return", "reason": "x" * 501}, "reason"),
        ({"action": "void", "reason": "误报\x00"}, "reason"),
        ({"action": "handle", "note": "a\rb"}, "note"),
        ({"action": "handle", "note": "x" * 2001}, "note"),
        ({"action": "handle", "note": "", "attachments": ["not-a-hash"]}, "attachments"),
        ({"action": "handle", "note": "", "attachments": [HASH.upper()]}, "attachments"),
        ({"action": "handle", "note": "", "attachments": [HASH] * 11}, "attachments"),
        ({"action": "verify", "note": ""}, "passed"),
        ({"action": "evaluate", "score": 0}, "score"),
        ({"action": "evaluate", "score": 6}, "score"),
        ({"action": "postpone", "hours": 0, "reason": "x"}, "hours"),
        ({"action": "postpone", "hours": 721, "reason": "x"}, "hours"),
        ({"action": "suspend"}, "reason"),
        ({"action": "escalate", "reason": ""}, "reason"),
        ({"action": "accept", "note": "extra"}, "note"),
        ({"action": "reject", "reason": "\x07"}, "reason"),
    ],
)
def test_bad_bodies_are_refused_naming_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_action(body)
    locations = [str(part) for error in caught.value.errors() for part in error["loc"]]
    assert field in locations or field == "action"


def test_text_keeps_newlines_and_tabs() -> None:
    note = "第一行\n\t第二行"
    assert HandleAction(note=note, attachments=(HASH,) * 10).note == note
    assert PostponeAction(hours=720, reason="x").hours == 720


def test_reject_reason_may_be_empty() -> None:
    assert parse_action({"action": "reject"}).action is ActionName.REJECT
