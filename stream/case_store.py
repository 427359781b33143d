"""Reading and writing the cases for the case agent: one load and one transaction per batch.

Writes are idempotent: a case row is replaced by its newer state, history rows and command outcomes are keyed
(case_id, seq) and command_id and never written twice, so a batch replayed after a crash converges.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from cases.calendar import WorkCalendar
from cases.model import Case
from cases.states import OPEN_STATES
from cases.timers import next_timer_at
from stream.aggregates import count_history
from stream.bulk import bulk_upsert
from stream.casework import BatchOutcome, Result
from stream.duplicates import DuplicateRule, Match
from stream.events import CaseOpening, ReportSubmitted
from stream.tables import case_commands, case_history, cases, reports

# Columns copied from the case on every write; point and observed_at are the first report's and stay.
_UPDATED = (
    "doc",
    "state",
    "department_code",
    "helper_codes",
    "level",
    "deadline_at",
    "next_timer_at",
    "pending",
    "updated_at",
    "closed_at",
    "reporter_count",
    "seq",
)


@dataclass(frozen=True)
class Loaded:
    cases: dict[UUID, Case]
    reporters: dict[UUID, set[str]]
    done: frozenset[UUID]  # commands already applied or refused
    replayed_history: list[dict[str, Any]]  # rows of those commands, to publish again (at least once)


async def load(conn: AsyncConnection, case_ids: Iterable[UUID], command_ids: Iterable[UUID]) -> Loaded:
    ids, commands = list(set(case_ids)), list(set(command_ids))
    found = await conn.execute(select(cases.c.case_id, cases.c.doc).where(cases.c.case_id.in_(ids)))
    loaded = {row.case_id: Case.model_validate(row.doc) for row in found}
    # Who reported what the cases hold so far (not every report naming the case: a duplicate's row names its
    # case before the case has counted it).
    member = {rid: case.case_id for case in loaded.values() for rid in case.report_ids}
    who = await conn.execute(
        select(reports.c.report_id, reports.c.reporter_id).where(reports.c.report_id.in_(list(member)))
    )
    reporters: dict[UUID, set[str]] = {}
    for report_id, reporter_id in who:
        reporters.setdefault(member[report_id], set()).add(reporter_id)
    done = frozenset(
        (
            await conn.execute(
                select(case_commands.c.command_id).where(case_commands.c.command_id.in_(commands))
            )
        )
        .scalars()
        .all()
    )
    replayed: list[dict[str, Any]] = []
    if done:
        rows = await conn.execute(select(case_history).where(case_history.c.command_id.in_(list(done))))
        replayed = [dict(row._mapping) for row in rows]
    return Loaded(loaded, reporters, done, replayed)


def case_row(case: Case, opening: CaseOpening | None, calendar: WorkCalendar, share: float) -> dict[str, Any]:
    """The `cases` row of `case` as the case agent stores it (the view benchmark's bulk path writes the same
    rows); `opening` is given when the case opens in this batch, and supplies its point and observed time."""
    point = None
    if opening is not None and opening.lon is not None and opening.lat is not None:
        point = f"SRID=4326;POINT({opening.lon} {opening.lat})"
    return {
        "case_id": case.case_id,
        "doc": case.model_dump(mode="json"),
        "state": case.state.value,
        "category": case.category,
        "city_code": case.city_code,
        "district_code": case.district_code,
        "township_code": case.township_code,
        "community_code": case.community_code,
        "grid_code": case.grid_code,
        "department_code": case.department_code,
        "helper_codes": list(case.helper_codes),
        "level": case.level.value,
        "deadline_at": case.deadline_at,
        "next_timer_at": next_timer_at(case, calendar, share),
        "pending": case.pending.kind.value if case.pending else None,
        "point": point,
        "observed_at": opening.observed_at if opening is not None else case.opened_at,
        "opened_at": case.opened_at,
        "updated_at": case.updated_at,
        "closed_at": case.closed_at,
        "reporter_count": case.reporter_count,
        "seq": case.seq,
    }


async def save(conn: AsyncConnection, out: BatchOutcome, calendar: WorkCalendar, share: float) -> None:
    """Store what a batch changed, in the caller's transaction."""
    opened = [c for c in out.cases.values() if c.case_id in out.openings]
    changed = [c for c in out.cases.values() if c.case_id not in out.openings]
    new_rows = [case_row(c, out.openings[c.case_id], calendar, share) for c in opened]
    await bulk_upsert(conn, cases, new_rows, conflict="(case_id)", update=_UPDATED, where=_NEWER)
    # A case that changed without opening in this batch exists: only its current fields are replaced.
    changed_rows = [case_row(c, None, calendar, share) for c in changed]
    await bulk_upsert(conn, cases, changed_rows, conflict="(case_id)", update=_UPDATED, where=_NEWER)
    await bulk_upsert(conn, case_history, out.history, conflict="(case_id, seq)")
    await record_results(conn, out.results)
    await _link_reports(conn, out.links)
    # Last, and after the case rows above are written (so locked): see stream/aggregates.py.
    await count_history(conn, out.history, calendar)


async def record_results(conn: AsyncConnection, results: Sequence[Result]) -> None:
    rows = [
        {
            "command_id": r.command_id,
            "case_id": r.case_id,
            "kind": r.kind,
            "outcome": r.outcome,
            "code": r.code,
            "detail": r.detail,
            "seq": r.seq,
            "at": r.at,
            "action": r.action,
        }
        for r in results
    ]
    await bulk_upsert(conn, case_commands, rows, conflict="(command_id)")


# A stale write (a replay of an older batch) never moves a case back.
_NEWER = "cases.seq <= excluded.seq"


async def _link_reports(conn: AsyncConnection, links: dict[UUID, UUID]) -> None:
    if not links:
        return
    await conn.execute(
        text(
            "UPDATE reports SET case_id = v.case_id"
            " FROM unnest(CAST(:reports AS uuid[]), CAST(:cases AS uuid[])) AS v(report_id, case_id)"
            " WHERE reports.report_id = v.report_id AND reports.case_id <> v.case_id"
        ),
        {"reports": list(links), "cases": list(links.values())},
    )


async def due_timers(
    conn: AsyncConnection, now: datetime, limit: int = 1000
) -> Sequence[tuple[UUID, datetime]]:
    """(case, when its next timer is due) for every case whose timer is due at `now`."""
    rows = await conn.execute(
        select(cases.c.case_id, cases.c.next_timer_at)
        .where(cases.c.next_timer_at <= now)
        .order_by(cases.c.next_timer_at)
        .limit(limit)
    )
    return [(row.case_id, row.next_timer_at) for row in rows]


async def open_cases_near(
    conn: AsyncConnection, reports: Sequence[ReportSubmitted], rules: Mapping[str, DuplicateRule]
) -> dict[UUID, Match]:
    """The nearest open case of the same category within each report's distance and time, if any."""
    if not reports:
        return {}
    rows = await conn.execute(
        text(_NEAR),
        {
            "ids": [r.report_id for r in reports],
            "categories": [r.category for r in reports],
            "lons": [r.location_wgs84.lon for r in reports],
            "lats": [r.location_wgs84.lat for r in reports],
            "observed": [r.observed_at for r in reports],
            "radii": [rules[r.category].radius_m for r in reports],
            "windows": [rules[r.category].window_h for r in reports],
            "open": sorted(s.value for s in OPEN_STATES),
        },
    )
    return {row.report_id: Match(row.case_id, row.first_report) for row in rows}


# The bounding box (1° ≥ 80 km in Dalian) lets the GiST index find candidates; the geography test decides.
_NEAR = """
SELECT DISTINCT ON (r.report_id) r.report_id, c.case_id, CAST(c.doc->'report_ids'->>0 AS uuid) AS first_report
FROM unnest(CAST(:ids AS uuid[]), CAST(:categories AS text[]), CAST(:lons AS float8[]),
            CAST(:lats AS float8[]), CAST(:observed AS timestamptz[]), CAST(:radii AS float8[]),
            CAST(:windows AS float8[]))
     AS r(report_id, category, lon, lat, observed_at, radius_m, window_h)
CROSS JOIN LATERAL (SELECT ST_SetSRID(ST_MakePoint(r.lon, r.lat), 4326) AS here) AS p
JOIN cases c
  ON c.category = r.category
 AND c.state = ANY(CAST(:open AS text[]))
 AND c.observed_at BETWEEN r.observed_at - make_interval(secs => r.window_h * 3600)
                       AND r.observed_at + make_interval(secs => r.window_h * 3600)
 AND c.point && ST_Expand(p.here, r.radius_m / 80000.0)
 AND ST_DWithin(CAST(c.point AS geography), CAST(p.here AS geography), r.radius_m)
ORDER BY r.report_id, ST_Distance(CAST(c.point AS geography), CAST(p.here AS geography))
"""
