"""Duplicates (重复上报): a report of the same category near an open case, seen about the same time, joins
that case instead of opening another, so a problem reported by five people is handled once.

"Near" and "about the same time" are per category (defaults 50 m and 48 h, settings.duplicate_*), measured on
when the report was observed, not sent: a late offline upload clusters with what was seen when it was. The
open cases come from PostGIS (stream.case_store.open_cases_near); reports of one batch are also matched with
each other here, since none of them has a case yet.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from uuid import UUID

from stream.events import ReportSubmitted
from stream.router import case_id_for

EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True)
class DuplicateRule:
    radius_m: float
    window_h: float


@dataclass(frozen=True)
class Match:
    case_id: UUID
    first_report: UUID  # the report that opened the case (duplicate_of)


def rule_for(
    category: str, default: DuplicateRule, overrides: Mapping[str, Mapping[str, float]]
) -> DuplicateRule:
    own = overrides.get(category, {})
    return DuplicateRule(own.get("radius_m", default.radius_m), own.get("window_h", default.window_h))


def distance_m(a: ReportSubmitted, b: ReportSubmitted) -> float:
    """Great-circle distance between two reports' WGS-84 points."""
    lat1, lat2 = math.radians(a.location_wgs84.lat), math.radians(b.location_wgs84.lat)
    dlat = lat2 - lat1
    dlon = math.radians(b.location_wgs84.lon - a.location_wgs84.lon)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def same_problem(a: ReportSubmitted, b: ReportSubmitted, rule: DuplicateRule) -> bool:
    return (
        a.category == b.category
        and abs((a.observed_at - b.observed_at).total_seconds()) <= rule.window_h * 3600
        and distance_m(a, b) <= rule.radius_m
    )


def within_batch(
    reports: Sequence[ReportSubmitted],
    known: Mapping[UUID, Match],
    rules: Mapping[str, DuplicateRule],
) -> dict[UUID, Match]:
    """`known` (matches with open cases) completed by matches among the batch: a report that matched nothing
    joins the case of the first earlier report of the batch it duplicates."""
    matches = dict(known)
    # Only reports of the same category can match: comparing within each category, in batch order, finds
    # the same first earlier report as comparing with all of them (500 reports of 30 categories: 4,000
    # comparisons instead of 125,000).
    earlier_of: dict[str, list[ReportSubmitted]] = {}
    for report in reports:
        earlier = earlier_of.setdefault(report.category, [])
        if report.report_id not in matches:
            rule = rules[report.category]
            for other in earlier:
                if same_problem(other, report, rule):
                    matches[report.report_id] = matches.get(
                        other.report_id, Match(case_id_for(other.report_id), other.report_id)
                    )
                    break
        earlier.append(report)
    return matches
