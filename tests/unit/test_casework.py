"""Applying case commands (stream/casework.py), duplicates within a batch and co-handling: plain data only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from cases.calendar import default_calendar
from cases.model import Case
from geo.routing import Routed, share_across_boundary
from geo.schemas import Level, Location
from stream.casework import apply_commands, open_command_id, tick_command_id
from stream.duplicates import DuplicateRule, Match, within_batch
from stream.events import AreaCodes, CaseCommand, CaseOpening, Point, ReportSubmitted
from stream.router import case_id_for
from tests.unit.test_routing import DEPARTMENTS, DISTRICT, RULES, dept

CAL = default_calendar()
AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday, 17:00 in Dalian
RULE = DuplicateRule(radius_m=50, window_h=48)


def opening(
    report_id: uuid.UUID, reporter: str = "wg1", department: str | None = "210202:water"
) -> CaseOpening:
    return CaseOpening(
        report_id=report_id,
        reporter_id=reporter,
        category="10101",
        area=AreaCodes(city="210200000000", district=DISTRICT),
        department_code=department,
        level="district" if department else None,
        deadline_hours=8 if department else None,
        lon=121.6,
        lat=38.9,
        observed_at=AT,
    )


def open_cmd(case_id: uuid.UUID, report_id: uuid.UUID, **kw: object) -> CaseCommand:
    return CaseCommand(
        command_id=open_command_id(case_id, report_id),
        case_id=case_id,
        kind="open",
        at=AT,
        opening=opening(report_id, **kw),  # type: ignore[arg-type]
    )


def act(case_id: uuid.UUID, action: dict[str, object], at: datetime = AT) -> CaseCommand:
    return CaseCommand(
        command_id=uuid.uuid4(), case_id=case_id, kind="act", at=at, actor="dept", action=action
    )


def run(
    commands: list[CaseCommand], loaded: dict[uuid.UUID, Case] | None = None, done: frozenset = frozenset()
):
    return apply_commands(commands, dict(loaded or {}), {}, done, CAL, 0.8)


def test_open_then_duplicates_count_each_reporter_once_and_link_every_report():
    first, second, third = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    case_id = case_id_for(first)
    out = run(
        [
            open_cmd(case_id, first, reporter="wg1"),
            open_cmd(case_id, second, reporter="wg2").model_copy(update={"kind": "attach"}),
            open_cmd(case_id, third, reporter="wg1").model_copy(update={"kind": "attach"}),
        ]
    )
    case = out.cases[case_id]
    assert case.state == "dispatched" and case.report_ids == (first, second, third)
    assert case.reporter_count == 2
    assert out.links == {first: case_id, second: case_id, third: case_id}
    assert [row["action"] for row in out.history] == ["open"]


def test_a_duplicate_of_a_closed_case_opens_its_own():
    first, late = uuid.uuid4(), uuid.uuid4()
    case_id = case_id_for(first)
    opened = run([open_cmd(case_id, first)]).cases[case_id]
    closed = opened.model_copy(update={"state": "closed"})
    out = run([open_cmd(case_id, late).model_copy(update={"kind": "attach"})], {case_id: closed})
    assert out.links == {late: case_id_for(late)}
    assert out.cases[case_id_for(late)].report_ids == (late,)


def test_a_command_applied_before_changes_nothing():
    report_id = uuid.uuid4()
    case_id = case_id_for(report_id)
    case = run([open_cmd(case_id, report_id)]).cases[case_id]
    accept = act(case_id, {"action": "accept"})
    again = run([accept, accept], {case_id: case}, done=frozenset({accept.command_id}))
    assert again.cases == {} and again.history == [] and again.results == []
    once = run([accept, accept], {case_id: case})
    assert [r.outcome for r in once.results] == ["applied"] and once.cases[case_id].state == "in_progress"


def test_an_illegal_or_malformed_action_is_refused_with_its_code():
    report_id = uuid.uuid4()
    case_id = case_id_for(report_id)
    case = run([open_cmd(case_id, report_id)]).cases[case_id]
    out = run(
        [act(case_id, {"action": "evaluate", "score": 5}), act(case_id, {"action": "nonsense"})],
        {case_id: case},
    )
    assert [(r.outcome, r.code) for r in out.results] == [
        ("refused", "illegal_transition"),
        ("refused", "invalid"),
    ]
    assert out.cases == {}


def test_the_system_alone_may_warn():
    report_id = uuid.uuid4()
    case_id = case_id_for(report_id)
    case = run([open_cmd(case_id, report_id)]).cases[case_id]
    out = run([act(case_id, {"action": "warn"})], {case_id: case})
    assert out.results[0].code == "invalid"


def test_a_tick_after_the_deadline_warns_and_escalates_once_per_due_timer():
    report_id = uuid.uuid4()
    case_id = case_id_for(report_id)
    case = run([open_cmd(case_id, report_id)]).cases[case_id]
    assert case.deadline_at is not None
    tick = CaseCommand(
        command_id=tick_command_id(case_id, case.deadline_at),
        case_id=case_id,
        kind="tick",
        at=case.deadline_at + timedelta(minutes=1),
    )
    out = run([tick, tick], {case_id: case})
    assert [row["action"] for row in out.history] == ["warn", "escalate"]
    assert out.cases[case_id].level is Level.CITY and out.cases[case_id].escalations == 1


def report(lon: float, lat: float, minutes: int = 0, category: str = "10101") -> ReportSubmitted:
    point = Point(lon=lon, lat=lat)
    return ReportSubmitted(
        report_id=uuid.uuid4(),
        reporter_id="wg",
        category=category,
        description="",
        location=point,
        location_wgs84=point,
        observed_at=AT + timedelta(minutes=minutes),
        submitted_at=AT,
        content_hash="h",
    )


def test_reports_of_one_batch_within_distance_and_time_share_the_first_ones_case():
    a = report(121.6, 38.9)
    near = report(121.6002, 38.9001)  # about 20 m
    far = report(121.61, 38.9)  # about 870 m
    other_kind = report(121.6, 38.9, category="20501")
    later = report(121.6, 38.9, minutes=49 * 60)
    known = {other_kind.report_id: Match(uuid.uuid4(), uuid.uuid4())}
    rules = {"10101": RULE, "20501": RULE}
    matches = within_batch([a, near, far, other_kind, later], known, rules)
    assert matches[near.report_id] == Match(case_id_for(a.report_id), a.report_id)
    assert far.report_id not in matches and later.report_id not in matches and a.report_id not in matches
    assert matches[other_kind.report_id] == known[other_kind.report_id]


def test_an_accuracy_circle_across_districts_gives_the_lowest_code_the_lead_and_the_other_the_help():
    other = "210203000000"
    departments = {**DEPARTMENTS, (other, "water"): dept(other, "water", Level.DISTRICT)}
    rule = RULES[0]
    location = Location(
        city="210200000000",
        district=other,
        township="210203001000",
        community="210203001001",
        candidates=("210202001001",),
    )
    routed = Routed(department=departments[(other, "water")], rule=rule)
    lead, helpers = share_across_boundary(routed, location, departments)
    assert lead.area_code == DISTRICT and [h.area_code for h in helpers] == [other]
    alone = location.model_copy(update={"candidates": ()})
    assert share_across_boundary(routed, alone, departments) == (departments[(other, "water")], ())
