"""Applying a batch of case commands to the cases they name: pure, so the case agent only loads, calls this
and stores what it returns.

The rules themselves are `cases.lifecycle.next_state` and `cases.timers.run_timers`; this module turns
commands into calls of them, in order, and keeps what a batch changed: the cases, the new history rows, the
outcome of every command, and which case each report belongs to.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import ValidationError

from cases.actions import parse_action
from cases.calendar import WorkCalendar
from cases.lifecycle import Applied, next_state
from cases.model import Case, Transition, attach_report, open_case
from cases.replay import ReplayError, replay
from cases.states import SYSTEM_ONLY_ACTIONS
from cases.timers import run_timers
from geo.schemas import Level
from stream.events import CaseCommand, CaseOpening, ReportRouted
from stream.router import ROUTER_ACTOR, Decision, case_id_for

COMMAND_NAMESPACE = uuid.UUID("0b7f6f0e-5a39-4c8e-a1d2-3c4b5d6e7f80")
OPENING = "open"


def open_command_id(case_id: UUID, report_id: UUID) -> UUID:
    return uuid.uuid5(COMMAND_NAMESPACE, f"{case_id}:open:{report_id}")


def case_command_for(decision: Decision) -> CaseCommand:
    """The command a decision sends to its case: open it, or join the open case it duplicates."""
    report, point = decision.report, decision.report.location_wgs84
    opening = CaseOpening(
        report_id=report.report_id,
        reporter_id=report.reporter_id,
        category=report.category,
        area=decision.area,
        lon=point.lon,
        lat=point.lat,
        observed_at=report.observed_at,
    )
    kind: Literal["open", "attach"] = "open"
    if isinstance(decision, ReportRouted):
        rule = decision.duty_rule
        opening = opening.model_copy(
            update={
                "department_code": decision.department.code,
                "helper_codes": tuple(h.code for h in decision.helpers),
                "level": rule.level,
                "deadline_hours": rule.deadline_hours,
                "working_hours": rule.working_hours,
            }
        )
        at = decision.routed_at
    else:
        opening = opening.model_copy(update={"triage_reason": decision.reason.value})
        at = decision.triaged_at
    if decision.duplicate_of is not None:
        kind = "attach"
    return CaseCommand(
        command_id=open_command_id(decision.case_id, report.report_id),
        case_id=decision.case_id,
        kind=kind,
        at=at,
        actor=ROUTER_ACTOR,
        opening=opening,
    )


def tick_command_id(case_id: UUID, due_at: datetime) -> UUID:
    """One id per due timer, so a scan repeated before the tick is applied fires it once."""
    return uuid.uuid5(COMMAND_NAMESPACE, f"{case_id}:tick:{due_at.isoformat()}")


@dataclass(frozen=True)
class Result:
    command_id: UUID
    case_id: UUID
    kind: str
    outcome: str  # applied | refused
    at: datetime
    code: str | None = None
    detail: str | None = None
    seq: int | None = None
    action: dict[str, Any] | None = None  # an act command's request, as sent: an Idempotency-Key's resend


@dataclass
class BatchOutcome:
    cases: dict[UUID, Case] = field(default_factory=dict)  # changed or opened, as they stand now
    history: list[dict[str, Any]] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)
    links: dict[UUID, UUID] = field(default_factory=dict)  # report → case
    openings: dict[UUID, CaseOpening] = field(default_factory=dict)  # case → what opened it (new cases)


def opened(opening: CaseOpening, case_id: UUID, at: datetime, calendar: WorkCalendar) -> Case:
    area = opening.area
    return open_case(
        case_id=case_id,
        report_id=opening.report_id,
        category=opening.category,
        opened_at=at,
        calendar=calendar,
        department_code=opening.department_code,
        helper_codes=opening.helper_codes,
        level=Level(opening.level) if opening.level else None,
        deadline_hours=opening.deadline_hours,
        working_hours=opening.working_hours,
        city_code=area.city,
        district_code=area.district,
        township_code=area.township,
        community_code=area.community,
        grid_code=area.grid,
    )


def opening_row(case: Case, command: CaseCommand, opening: CaseOpening) -> dict[str, Any]:
    """History row 0: how the case came to be (routed and dispatched, or waiting in triage)."""
    reason = f"triage: {opening.triage_reason}" if opening.triage_reason else "自动派遣"
    return {
        "case_id": case.case_id,
        "seq": 0,
        "command_id": command.command_id,
        "action": OPENING,
        "from_state": None,
        "to_state": case.state.value,
        "actor": command.actor,
        "at": command.at,
        "reason": reason,
        "note": None,
        "payload": opening.model_dump(mode="json"),
        "level": case.level.value,
        "department_code": case.department_code,
        "deadline_at": case.deadline_at,
    }


def transition_row(transition: Transition, command_id: UUID) -> dict[str, Any]:
    return {
        "case_id": transition.case_id,
        "seq": transition.seq,
        "command_id": command_id,
        "action": transition.action.value,
        "from_state": transition.from_state.value,
        "to_state": transition.to_state.value,
        "actor": transition.actor,
        "at": transition.at,
        "reason": transition.reason,
        "note": transition.note,
        "payload": transition.payload.model_dump(mode="json"),
        "level": transition.level.value,
        "department_code": transition.department_code,
        "deadline_at": transition.deadline_at,
    }


def apply_commands(
    commands: list[CaseCommand],
    loaded: dict[UUID, Case],
    reporters: dict[UUID, set[str]],
    done: frozenset[UUID],
    calendar: WorkCalendar,
    warning_share: float,
) -> BatchOutcome:
    """Apply `commands` in order to the `loaded` cases. A command in `done` (or seen earlier in the batch) is
    a replay and changes nothing; `reporters` holds who already reported each case (for the reporter count).
    """
    out = BatchOutcome()
    seen = set(done)

    def current(case_id: UUID) -> Case | None:
        return out.cases.get(case_id) or loaded.get(case_id)

    def open_new(command: CaseCommand, opening: CaseOpening, case_id: UUID) -> None:
        case = opened(opening, case_id, command.at, calendar)
        out.cases[case_id] = case
        out.openings[case_id] = opening
        out.history.append(opening_row(case, command, opening))
        out.links[opening.report_id] = case_id
        reporters.setdefault(case_id, set()).add(opening.reporter_id)

    for command in commands:
        if command.command_id in seen:
            continue
        seen.add(command.command_id)
        case = current(command.case_id)
        applied = Result(
            command.command_id, command.case_id, command.kind, "applied", command.at, action=command.action
        )
        if command.kind in ("open", "attach"):
            opening = command.opening
            assert opening is not None, "open and attach commands carry the opening"
            if case is None:
                open_new(command, opening, command.case_id)
            elif opening.report_id in case.report_ids:
                out.links[opening.report_id] = case.case_id
            elif case.is_open:
                new_reporter = opening.reporter_id not in reporters.setdefault(case.case_id, set())
                out.cases[case.case_id] = attach_report(case, opening.report_id, new_reporter=new_reporter)
                reporters[case.case_id].add(opening.reporter_id)
                out.links[opening.report_id] = case.case_id
            else:
                # The case closed before its duplicate arrived: the report opens a case of its own.
                own = case_id_for(opening.report_id)
                if current(own) is None:
                    open_new(command, opening, own)
            out.results.append(applied)
        elif command.kind == "act":
            out.results.append(_act(command, case, calendar, out))
        else:  # tick
            if case is not None:
                case, transitions = run_timers(case, command.at, calendar, warning_share)
                if transitions:
                    out.cases[case.case_id] = case
                    out.history += [transition_row(t, command.command_id) for t in transitions]
            out.results.append(applied)
    return out


def _act(command: CaseCommand, case: Case | None, calendar: WorkCalendar, out: BatchOutcome) -> Result:
    def refused(code: str, detail: str) -> Result:
        key, case_id, at = command.command_id, command.case_id, command.at
        return Result(key, case_id, "act", "refused", at, code, detail, action=command.action)

    if case is None:
        return refused("not_found", f"case {command.case_id} does not exist")
    try:
        action = parse_action(command.action or {})
    except ValidationError as exc:
        return refused("invalid", str(exc.errors(include_url=False, include_input=False))[:500])
    if action.action in SYSTEM_ONLY_ACTIONS and not command.actor.startswith("system"):
        return refused("invalid", f"{action.action} is the system's own action")
    result = next_state(case, action, actor=command.actor, at=command.at, calendar=calendar)
    if not isinstance(result, Applied):
        return refused(result.code.value, result.detail)
    out.cases[case.case_id] = result.case
    out.history.append(transition_row(result.transition, command.command_id))
    seq, request = result.case.seq, command.action
    return Result(command.command_id, case.case_id, "act", "applied", command.at, seq=seq, action=request)


def replay_history(rows: list[dict[str, Any]], calendar: WorkCalendar) -> Case:
    """The case its stored history leads to: row 0 opens it, the others replay through the lifecycle."""
    ordered = sorted(rows, key=lambda row: row["seq"])
    first = ordered[0]
    if first["seq"] != 0 or first["action"] != OPENING:
        raise ReplayError(f"case {first['case_id']}: the history does not start with its opening")
    initial = opened(CaseOpening.model_validate(first["payload"]), first["case_id"], first["at"], calendar)
    transitions = [
        Transition(
            case_id=row["case_id"],
            seq=row["seq"],
            action=row["action"],
            from_state=row["from_state"],
            to_state=row["to_state"],
            actor=row["actor"],
            at=row["at"],
            reason=row["reason"],
            note=row["note"],
            payload=parse_action(row["payload"]),
            level=row["level"],
            department_code=row["department_code"],
            deadline_at=row["deadline_at"],
        )
        for row in ordered[1:]
    ]
    return replay(initial, transitions, calendar=calendar)
