"""Case life stories for the ten-million-case view benchmark, told by the product's own rules.

A *template* is one case's whole story — opened at a given instant under a given duty rule, then handled
along one of a few shapes (on time, late, rework, postponed, escalated, returned, suspended, from triage) —
with a placeholder category, department and five area codes. Its history rows come from
`stream.casework.apply_commands` (the lifecycle and the timers, exactly as the case agent applies them,
with a timer tick before every action and at "now"), its final case row from the case store's `case_row`, and
its contribution to the view's aggregates from `indicators.ledger.advance` — the function the case agent
counts with. The generator (benchmarks/view_data.py) then gives each template to many cases in SQL,
replacing the placeholders: a case's aggregates are its template's cells with its own codes.

Only the instant of opening, the rule's level and deadline, and the shape change what a case counts, so a few
hundred thousand templates tell ten million stories.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cases.calendar import WorkCalendar
from indicators.ledger import advance
from stream.case_store import case_row
from stream.casework import apply_commands, open_command_id, tick_command_id
from stream.events import AreaCodes, CaseCommand, CaseOpening

# Placeholders the generator replaces in SQL (text of the JSON and the columns alike).
CATEGORY = "CAT00000"
LEAD = "DEPT:LEAD"
AREA = {
    "city": "PL:city",
    "district": "PL:district",
    "township": "PL:township",
    "community": "PL:community",
    "grid": "PL:grid",
}
CASE_ID = uuid.UUID("00000000-0000-4000-8000-00000000c0de")
REPORT_ID = uuid.UUID("00000000-0000-4000-8000-0000000fee1d")
REPORTER = "bench:reporter"
TIMER_SHARE = 0.8
ZONE = ZoneInfo("Asia/Shanghai")
# Local opening times of the day's reports (a real day spreads wider; three are enough for the counts).
SLOTS = (time(8, 50), time(11, 20), time(15, 40))


@dataclass(frozen=True)
class RuleKey:
    """What of a duty rule shapes a case's story: None level is a case opened in triage."""

    level: str | None
    deadline_hours: int
    working_hours: bool


# (shape, share of the cases under a routed rule). Triage cases take TRIAGE_SHAPES.
ROUTED_SHAPES: tuple[tuple[str, int], ...] = (
    ("on_time", 62),
    ("evaluated", 10),
    ("late", 8),
    ("rework", 5),
    ("postponed", 3),
    ("escalated", 3),
    ("returned", 3),
    ("suspended", 1),
)
TRIAGE_SHAPES: tuple[tuple[str, int], ...] = (("dispatched_by_hand", 4), ("voided", 1))


def _actions(
    shape: str, opened: datetime, deadline: datetime | None
) -> list[tuple[datetime, dict[str, Any]]]:
    """The people's actions of a shape, at their instants (the timers add their own)."""
    span = (deadline - opened) if deadline else timedelta(hours=24)
    at = lambda share, extra=0.0: opened + span * share + timedelta(hours=extra)  # noqa: E731
    accept = (opened + timedelta(minutes=40), {"action": "accept"})
    handled = {"action": "handle", "note": "已处置"}
    passed = {"action": "verify", "passed": True, "note": "核查通过"}
    failed = {"action": "verify", "passed": False, "note": "未处置到位"}
    dispatch = {"action": "dispatch", "department_code": LEAD}
    if shape == "on_time":
        return [accept, (at(0.45), handled), (at(0.45, 2), passed)]
    if shape == "evaluated":
        return [
            accept,
            (at(0.3), handled),
            (at(0.3, 2), passed),
            (at(0.3, 26), {"action": "evaluate", "score": 5}),
        ]
    if shape == "late":
        return [accept, (at(1.35), handled), (at(1.35, 3), passed)]
    if shape == "rework":
        return [accept, (at(0.25), handled), (at(0.25, 2), failed), (at(0.6), handled), (at(0.6, 2), passed)]
    if shape == "postponed":
        postpone = {"action": "postpone", "hours": 24, "reason": "需协调施工"}
        return [
            accept,
            (at(0.4), postpone),
            (at(0.4, 1), {"action": "approve"}),
            (at(1.1), handled),
            (at(1.1, 2), passed),
        ]
    if shape == "escalated":
        escalate = {"action": "escalate", "reason": "本级无法解决"}
        return [accept, (at(0.2), escalate), (at(0.7), handled), (at(0.7, 2), passed)]
    if shape == "returned":
        back = {"action": "return", "reason": "非本部门职责"}
        return [
            (opened + timedelta(hours=1), back),
            (opened + timedelta(hours=2), dispatch),
            (at(0.2), {"action": "accept"}),
            (at(0.5), handled),
            (at(0.5, 2), passed),
        ]
    if shape == "suspended":
        suspend = {"action": "suspend", "reason": "等待汛期结束"}
        return [
            accept,
            (at(0.3), suspend),
            (at(0.3, 1), {"action": "approve"}),
            (at(0.3, 73), {"action": "resume"}),
            (at(0.9, 72), handled),
            (at(0.9, 74), passed),
        ]
    if shape == "dispatched_by_hand":
        by_hand = {**dispatch, "deadline_hours": 24}
        return [
            (opened + timedelta(hours=1), by_hand),
            (opened + timedelta(hours=2), {"action": "accept"}),
            (opened + timedelta(hours=20), handled),
            (opened + timedelta(hours=22), passed),
        ]
    if shape == "voided":
        return [(opened + timedelta(hours=2), {"action": "void", "reason": "重复上报"})]
    raise ValueError(f"no shape {shape}")


@dataclass(frozen=True)
class Template:
    history: list[dict[str, Any]]  # the case's history rows, JSON-ready
    case: dict[str, Any]  # its row of `cases`, JSON-ready (doc included)
    mark: dict[str, Any]  # its view_case_marks row (seq, mark)
    cells: list[dict[str, Any]]  # area ('' = every area; else a placeholder), day, measure, dept, n


def tell(key: RuleKey, shape: str, opened: datetime, now: datetime, calendar: WorkCalendar) -> Template:
    """One case's story up to `now`, as the case agent would have stored and counted it."""
    opening = CaseOpening(
        report_id=REPORT_ID,
        reporter_id=REPORTER,
        category=CATEGORY,
        area=AreaCodes(**AREA),
        department_code=LEAD if key.level else None,
        level=key.level,
        deadline_hours=key.deadline_hours if key.level else None,
        working_hours=key.working_hours,
        triage_reason=None if key.level else "no_rule",
        lon=121.6,
        lat=38.9,
        observed_at=opened,
    )
    first = CaseCommand(
        command_id=open_command_id(CASE_ID, REPORT_ID),
        case_id=CASE_ID,
        kind="open",
        at=opened,
        opening=opening,
    )
    out = apply_commands([first], {}, {}, frozenset(), calendar, TIMER_SHARE)
    case, history, opening_of = out.cases[CASE_ID], list(out.history), out.openings[CASE_ID]
    steps = [(at, action) for at, action in _actions(shape, opened, case.deadline_at) if at <= now] + [
        (now, None)
    ]
    for i, (at, action) in enumerate(steps):
        commands = [CaseCommand(command_id=tick_command_id(CASE_ID, at), case_id=CASE_ID, kind="tick", at=at)]
        if action is not None:
            actor = "bench:staff"
            command_id = uuid.uuid5(CASE_ID, f"act:{i}")
            commands.append(
                CaseCommand(
                    command_id=command_id, case_id=CASE_ID, kind="act", at=at, actor=actor, action=action
                )
            )
        step = apply_commands(
            commands, {CASE_ID: case}, {CASE_ID: {REPORTER}}, frozenset(), calendar, TIMER_SHARE
        )
        case = step.cases.get(CASE_ID, case)
        history += step.history
    mark, change = advance(None, history, calendar)
    assert mark is not None
    row = case_row(case, opening_of, calendar, TIMER_SHARE)
    row["point"] = None
    cells = [
        {"area": c.area_code, "day": c.day.isoformat() if c.day else None, "measure": c.measure}
        | {"dept": c.department, "category": c.category, "n": n}
        for c, n in change.items()
    ]
    return Template(
        history=[json.loads(json.dumps(h, default=str)) for h in history],
        case=json.loads(json.dumps(row, default=str)),
        mark={"seq": mark.seq, "mark": mark.model_dump(mode="json")},
        cells=cells,
    )


def opening_instants(days: list[date]) -> list[datetime]:
    return [datetime.combine(day, slot, ZONE).astimezone(UTC) for day in days for slot in SLOTS]
