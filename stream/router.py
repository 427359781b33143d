"""Turning submitted reports into routing decisions: locate the batch with the worker's in-memory index
(kept in step with PostGIS by `stream.rulebook.RoutingState`), then `geo.routing`."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from functools import cache, lru_cache

from cases.calendar import WorkCalendar, add_time, calendar_from_config, default_calendar
from geo.index import AreaIndex
from geo.routing import Routed, route_report, rule_helpers, share_across_boundary
from geo.schemas import Location
from infra.settings import get_settings
from stream.events import (
    AreaCodes,
    CaseState,
    CaseTransition,
    DepartmentRef,
    DutyRuleRef,
    ReportRouted,
    ReportSubmitted,
    ReportTriaged,
    RoutingVersions,
    TriageReason,
)
from stream.rulebook import RuleBook

# Case ids derive from report ids, so a replayed or resubmitted report always lands on the same case.
CASE_NAMESPACE = uuid.UUID("6f1c2c64-3a53-4b8e-9d0c-2b1d2f0a7e11")
ROUTER_ACTOR = "system:router"

Decision = ReportRouted | ReportTriaged


@cache
def work_calendar() -> WorkCalendar:
    """Working time for deadlines: GRIDFLOW_WORK_CALENDAR (tz, periods, weekdays) over the defaults."""
    config = get_settings().work_calendar
    return calendar_from_config(config) if config else default_calendar()


@lru_cache(maxsize=65_536)  # asked for each report at receipt, decision and case opening (a SHA-1 each time)
def case_id_for(report_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(CASE_NAMESPACE, str(report_id))


def _area(location: Location | None) -> AreaCodes:
    if location is None:
        return AreaCodes()
    return AreaCodes(
        city=location.city,
        district=location.district,
        township=location.township,
        community=location.community,
        grid=location.grid,
        synthetic=location.synthetic,
    )


def decide(
    report: ReportSubmitted,
    location: Location | None,
    rulebook: RuleBook,
    now: datetime,
    versions: RoutingVersions | None = None,
) -> Decision:
    """The routing decision for one located report, as the event that records it (and what it used)."""
    decision = route_report(
        category_code=report.category,
        location=location,
        known_categories=rulebook.categories,
        rules=rulebook.rules,
        departments=rulebook.departments,
    )
    case_id = case_id_for(report.report_id)
    if isinstance(decision, Routed):
        rule = decision.rule
        assert location is not None  # routed implies located
        lead, across = share_across_boundary(decision, location, rulebook.departments)
        helpers = across + rule_helpers(rule, location, rulebook.departments)
        return ReportRouted(
            report=report,
            case_id=case_id,
            area=_area(location),
            department=DepartmentRef(code=lead.code, name=lead.name),
            helpers=tuple(DepartmentRef(code=h.code, name=h.name) for h in helpers),
            duty_rule=DutyRuleRef(
                category_code=rule.category_code,
                level=rule.level.value,
                department_kind=rule.department_kind,
                deadline_hours=rule.deadline_hours,
                legal_basis=rule.legal_basis,
                version=rule.version,
                working_hours=rule.working_hours,
            ),
            # The case opens at the routing decision; its deadline is the same (cases.model.open_case).
            deadline_at=add_time(
                now, rule.deadline_hours * 3600, work_calendar(), working=rule.working_hours
            ),
            locate_method=location.method.value,
            offshore_distance_m=location.offshore_distance_m,
            candidates=location.candidates,
            routed_at=now,
            versions=versions,
        )
    return ReportTriaged(
        report=report,
        case_id=case_id,
        reason=TriageReason(decision.reason),
        detail=decision.detail,
        area=_area(location),
        triaged_at=now,
        versions=versions,
    )


def decide_batch(
    reports: Sequence[ReportSubmitted],
    index: AreaIndex,
    rulebook: RuleBook,
    now: datetime,
    versions: RoutingVersions | None = None,
) -> list[Decision]:
    """Locate a batch in one bulk call (with each report's GPS accuracy, for the candidates), then decide."""
    if not reports:
        return []
    points = [r.location_wgs84 for r in reports]
    locations = index.locate_many(
        [p.lon for p in points], [p.lat for p in points], [p.accuracy_m for p in points]
    )
    return [decide(r, loc, rulebook, now, versions) for r, loc in zip(reports, locations, strict=True)]


def transitions_for(decision: Decision) -> list[CaseTransition]:
    """The audit trail a routing decision opens: reported by the worker, then dispatched or sent to triage."""
    report = decision.report
    reported = CaseTransition(
        case_id=decision.case_id,
        report_id=report.report_id,
        from_state=None,
        to_state=CaseState.REPORTED,
        actor=f"reporter:{report.reporter_id}",
        at=report.submitted_at,
        note=report.description[:200],
    )
    if isinstance(decision, ReportRouted):
        state, at = CaseState.DISPATCHED, decision.routed_at
        note = f"派遣至 {decision.department.name}（{decision.duty_rule.legal_basis}）"
    else:
        state, at = CaseState.TRIAGE, decision.triaged_at
        note = f"{decision.reason.value}: {decision.detail}"
    decided = CaseTransition(
        case_id=decision.case_id,
        report_id=report.report_id,
        from_state=CaseState.REPORTED,
        to_state=state,
        actor=ROUTER_ACTOR,
        at=at,
        note=note,
    )
    return [reported, decided]
