"""The rules of the closed loop (GB/T 30428) as one pure function: `next_state(case, action, ...)`.

Which action is allowed in which state is the data `TRANSITIONS` (action → state → possible next states);
everything else is derived from it. The table below is `render_table()`, checked by a test:

              T      D      P      H      C      E      R      W      S      V
    dispatch  D      =      D      -      -      -      D      D      -      -
    accept    -      P      -      -      -      -      -      -      -      -
    return    -      R      R      -      -      -      -      -      -      -
    handle    -      -      H      -      -      -      -      H      -      -
    verify    -      -      -      C|W    -      -      -      -      -      -
    evaluate  -      -      -      -      E      -      -      -      -      -
    postpone  -      =      =      -      -      -      -      =      -      -
    approve   -      =|S    =|S    -      -      -      -      =|S    -      -
    reject    -      =      =      -      -      -      -      =      -      -
    suspend   -      =      =      -      -      -      -      =      -      -
    resume    -      -      -      -      -      -      -      -      D|P|W  -
    escalate  =      =      =      -      -      -      =      =      -      -
    void      V      V      V      V      -      -      V      V      V      -
    warn      -      =      =      -      -      -      =      =      -      -

    T triage, D dispatched, P in_progress, H handled, C closed
    E evaluated, R returned, W rework, S suspended, V voided

A state letter is the next state, `=` keeps the state, `-` is refused as `illegal_transition`. Past the
table, an action may still be refused as `invalid` when the case's data does not allow it (noted below).

Decisions where the issue is silent:
- dispatch also reassigns from rework; naming the lead department it already has is invalid. The clock starts
  at the first dispatch (basis: the action's `deadline_hours`, else the duty rule's, else
  `LifecycleRules.default_deadline_hours`); a reassignment or a dispatch after a return keeps the running
  deadline, and a basis given while it runs is invalid (ask for a postponement instead). A new lead is
  dropped from the helpers.
- return clears the lead department and leaves the clock running: the dispatch center has to re-dispatch in
  time. Rework keeps the original deadline; the time spent waiting for the check counts.
- One request (postponement or suspension) may wait at a time; another is invalid, and approve or reject
  with nothing waiting is invalid. A waiting request is dropped when the case leaves dispatched, in
  progress or rework, or changes lead department; it survives accept and escalation.
- A suspension stops the clock at its approval: the deadline is cleared and the time left (never below 0)
  kept; resume sets the deadline that much after the resume, in the rule's kind of time.
- escalate is allowed where a level can still act (not handled: the check on site has no deadline; not
  suspended: the case is parked); at the city it is invalid. Any escalation, by hand or by the timer, gives
  the new level the rule's full allowance from the moment of escalation and re-arms the warning.
- warn is for the system actor only, once per level, and only while the clock runs; an approved
  postponement does not re-arm it (the timer would otherwise fire twice at one level).
- `at` is not checked against the previous transition (actions stamped by several API processes may
  arrive slightly out of order); `updated_at` takes the later of the two.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from cases.actions import CaseAction
from cases.calendar import WorkCalendar
from cases.effects import Context, LifecycleRules, effect
from cases.model import Case, Transition
from cases.states import (
    ACTION_LABELS,
    OPEN_STATES,
    REQUEST_STATES,
    STATE_LABELS,
    SYSTEM_ACTOR,
    SYSTEM_ONLY_ACTIONS,
    TIMED_STATES,
    ActionName,
    CaseState,
)

__all__ = ["TRANSITIONS", "Applied", "LifecycleRules", "Refusal", "RefusalCode", "next_state", "render_table"]

S = CaseState
A = ActionName


def _to(targets: Iterable[CaseState], sources: Iterable[CaseState]) -> dict[CaseState, frozenset[CaseState]]:
    return {source: frozenset(targets) for source in sources}


def _stay(sources: Iterable[CaseState], *also: CaseState) -> dict[CaseState, frozenset[CaseState]]:
    return {source: frozenset({source, *also}) for source in sources}


TRANSITIONS: Mapping[ActionName, Mapping[CaseState, frozenset[CaseState]]] = {
    A.DISPATCH: _to({S.DISPATCHED}, {S.TRIAGE, S.RETURNED, S.DISPATCHED, S.IN_PROGRESS, S.REWORK}),
    A.ACCEPT: _to({S.IN_PROGRESS}, {S.DISPATCHED}),
    A.RETURN: _to({S.RETURNED}, {S.DISPATCHED, S.IN_PROGRESS}),
    A.HANDLE: _to({S.HANDLED}, {S.IN_PROGRESS, S.REWORK}),
    A.VERIFY: _to({S.CLOSED, S.REWORK}, {S.HANDLED}),
    A.EVALUATE: _to({S.EVALUATED}, {S.CLOSED}),
    A.POSTPONE: _stay(REQUEST_STATES),
    A.APPROVE: _stay(REQUEST_STATES, S.SUSPENDED),
    A.REJECT: _stay(REQUEST_STATES),
    A.SUSPEND: _stay(REQUEST_STATES),
    A.RESUME: _to(REQUEST_STATES, {S.SUSPENDED}),
    A.ESCALATE: _stay({S.TRIAGE, S.DISPATCHED, S.IN_PROGRESS, S.RETURNED, S.REWORK}),
    A.VOID: _to({S.VOIDED}, OPEN_STATES),
    A.WARN: _stay(TIMED_STATES),
}

STATE_LETTERS: dict[CaseState, str] = {
    S.TRIAGE: "T",
    S.DISPATCHED: "D",
    S.IN_PROGRESS: "P",
    S.HANDLED: "H",
    S.CLOSED: "C",
    S.EVALUATED: "E",
    S.RETURNED: "R",
    S.REWORK: "W",
    S.SUSPENDED: "S",
    S.VOIDED: "V",
}


def render_table() -> str:
    """TRANSITIONS as text: one row per action, one column per state."""
    states = list(CaseState)
    lines = ["    " + "".ljust(10) + "".join(STATE_LETTERS[s].ljust(7) for s in states).rstrip()]
    for action in ActionName:
        cells = []
        for state in states:
            targets = TRANSITIONS[action].get(state)
            if targets is None:
                cells.append("-")
                continue
            letters = sorted("=" if t is state else STATE_LETTERS[t] for t in targets)
            cells.append("|".join(letters))
        lines.append("    " + action.value.ljust(10) + "".join(c.ljust(7) for c in cells).rstrip())
    legend = [f"{STATE_LETTERS[s]} {s.value}" for s in states]
    return "\n".join([*lines, "", "    " + ", ".join(legend[:5]), "    " + ", ".join(legend[5:])])


class RefusalCode(StrEnum):
    ILLEGAL_TRANSITION = "illegal_transition"  # the state does not allow the action (TRANSITIONS)
    INVALID = "invalid"  # the state allows it, the case's data does not (detail says why)


class Refusal(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: RefusalCode
    state: CaseState
    action: ActionName
    detail: str  # for people, in Chinese


class Applied(BaseModel):
    model_config = ConfigDict(frozen=True)

    case: Case
    transition: Transition


def next_state(
    case: Case,
    action: CaseAction,
    *,
    actor: str,
    at: datetime,
    calendar: WorkCalendar,
    rules: LifecycleRules | None = None,
) -> Applied | Refusal:
    """Apply `action` by `actor` at `at` to `case`: the new case and its transition, or why not."""
    if not actor.strip():
        raise ValueError("actor must not be blank")
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"at must be an aware datetime, got {at!r}")
    name = action.action
    targets = TRANSITIONS[name].get(case.state)
    if targets is None:
        detail = f"案件{STATE_LABELS[case.state]}，不能{ACTION_LABELS[name]}"
        return Refusal(code=RefusalCode.ILLEGAL_TRANSITION, state=case.state, action=name, detail=detail)
    if name in SYSTEM_ONLY_ACTIONS and actor != SYSTEM_ACTOR:
        return _invalid(case, name, "该操作仅限系统执行")
    outcome = effect(case, action, Context(actor, at, calendar, rules or LifecycleRules()))
    if isinstance(outcome, str):
        return _invalid(case, name, outcome)
    to_state: CaseState = outcome.get("state", case.state)
    if to_state not in targets:  # cases.effects disagrees with the table: a bug
        raise AssertionError(f"{name} from {case.state} gave {to_state}, table allows {sorted(targets)}")
    lead = outcome.get("department_code", case.department_code)
    if to_state not in REQUEST_STATES or lead != case.department_code:
        outcome["pending"] = None
    outcome |= {"seq": case.seq + 1, "updated_at": max(case.updated_at, at)}
    new = Case.model_validate(case.model_dump() | outcome)
    reason = getattr(action, "reason", None) or None
    transition = Transition(
        case_id=case.case_id,
        seq=new.seq,
        action=name,
        from_state=case.state,
        to_state=to_state,
        actor=actor,
        at=at,
        reason=reason,
        note=getattr(action, "note", None),
        payload=action,
        level=new.level,
        department_code=new.department_code,
        deadline_at=new.deadline_at,
    )
    return Applied(case=new, transition=transition)


def _invalid(case: Case, name: ActionName, detail: str) -> Refusal:
    return Refusal(code=RefusalCode.INVALID, state=case.state, action=name, detail=detail)
