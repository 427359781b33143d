"""What the live feed sends for one record of its topics, and who may see it.

Events: `report.routed`, `report.triaged`, `case.transitioned`, and `case.escalated` for a transition whose
action is an escalation (the timers' or a person's). Each carries the area codes it belongs to, so a client
watching an area sees its whole subtree.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from geo.schemas import Level, level_of_code
from stream.events import AreaCodes, CaseTransitioned, ReportRouted, ReportTriaged

log = logging.getLogger("gridflow.api.events")

ESCALATE = "escalate"


@dataclass(frozen=True)
class LiveEvent:
    topic: str
    partition: int
    offset: int
    kind: str
    area: AreaCodes
    data: str  # JSON


def _area(area: AreaCodes) -> dict[str, Any]:
    return area.model_dump(mode="json", exclude_none=True)


def _routed(value: bytes) -> tuple[str, AreaCodes, dict[str, Any]]:
    event = ReportRouted.model_validate_json(value)
    report = event.report
    return (
        "report.routed",
        event.area,
        {
            "report_id": str(report.report_id),
            "case_id": str(event.case_id),
            "category": report.category,
            "area": _area(event.area),
            "department": event.department.model_dump(mode="json"),
            "deadline_at": event.deadline_at.isoformat(),
            "duplicate_of": str(event.duplicate_of) if event.duplicate_of else None,
            "observed_at": report.observed_at.isoformat(),
            "routed_at": event.routed_at.isoformat(),
        },
    )


def _triaged(value: bytes) -> tuple[str, AreaCodes, dict[str, Any]]:
    event = ReportTriaged.model_validate_json(value)
    report = event.report
    return (
        "report.triaged",
        event.area,
        {
            "report_id": str(report.report_id),
            "case_id": str(event.case_id),
            "category": report.category,
            "area": _area(event.area),
            "reason": event.reason.value,
            "detail": event.detail,
            "observed_at": report.observed_at.isoformat(),
            "triaged_at": event.triaged_at.isoformat(),
        },
    )


def _transitioned(value: bytes) -> tuple[str, AreaCodes, dict[str, Any]]:
    event = CaseTransitioned.model_validate_json(value)
    data = event.model_dump(mode="json", exclude={"schema_version", "area"})
    data["area"] = _area(event.area)
    kind = "case.escalated" if event.action == ESCALATE else "case.transitioned"
    return kind, event.area, data


PARSERS = {"routed": _routed, "triage": _triaged, "transitions": _transitioned}


def live_event(key: str, topic: str, partition: int, offset: int, value: bytes) -> LiveEvent | None:
    """The event for a record of the topic `key` (routed, triage, transitions); None if it cannot be read
    (the workers set such records aside; the feed skips them, its position still moves past them)."""
    try:
        kind, area, data = PARSERS[key](value)
    except (ValidationError, ValueError) as exc:
        log.warning("live feed: unreadable record at %s[%d]@%d: %r", topic, partition, offset, exc)
        return None
    return LiveEvent(topic, partition, offset, kind, area, json.dumps(data, ensure_ascii=False))


def in_subtree(area: AreaCodes, area_code: str, city_code: str) -> bool:
    """Whether an event with these codes lies in the subtree of `area_code` (its own code at that level).

    A report triaged with no place at all (outside every district) waits in the city's dispatch center,
    so the city sees it.
    """
    level = level_of_code(area_code)
    if getattr(area, level.value) == area_code:
        return True
    unplaced = not any(getattr(area, lv.value) for lv in Level)
    return unplaced and level is Level.CITY and area_code == city_code
