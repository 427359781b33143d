"""The four-level interaction view (四级互动): one area and its children, each with its report totals (as
before), its cases by state, the GB/T indicators, the flows between levels, staffing and the composite
score, the children ranked by it. Counts come from the aggregates the case agent keeps (stream/aggregates.py);
the formulas and weights from indicators/formulas.py.

`sees` is the caller's visible area (a predicate on area codes): an area it does not admit is answered as
unknown (404) and its children are left out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncConnection

from api.errors import InvalidInput, NotFound
from api.views import queries
from api.views.filters import Filters, check_filters
from cases.states import STATE_LABELS, CaseState
from geo.schemas import Level, level_of_code
from indicators.formulas import Rates, Score, rank, rates, score, staffing
from indicators.measures import FLOWS, LABELS, Measure

CASES_URL = "/api/v1/cases"


class _Links:
    """What every figure's link of a view shares: the filters and the period, encoded once a view (an area
    code is digits: it needs no encoding)."""

    def __init__(self, f: Filters) -> None:
        given = {"category": f.category, "department": f.department}
        filters = urlencode({k: v for k, v in given.items() if v is not None})
        self.filters = f"&{filters}" if filters else ""
        self.period = urlencode({"from": f.start.isoformat(), "to": f.end.isoformat()})


class _Area:
    """The figures of one area, built from the counts read for the whole view, as plain data shaped as
    AreaFigures: a district's view holds about nine hundred figures, and building them as pydantic objects
    and serialising them again was a third of the API's time for it (py-spy, 10 million cases)."""

    def __init__(self, code: str, links: _Links, daily: Counter[str], now: Counter[str]) -> None:
        self.daily, self.now = daily, now
        # Each figure's link is this area's query plus a measure or a state: made once, not per figure
        # (urlencode for each of a view's several hundred links was a third of its time).
        self.base = f"{CASES_URL}?area_code={code}{links.filters}"
        self.period = links.period
        self.rates: Rates = rates({m: daily.get(value, 0) for m, value in _MEASURES})

    def measures(self, which: tuple[tuple[str, str], ...]) -> dict[str, dict[str, Any]]:
        daily, base, period = self.daily, self.base, self.period
        return {
            value: _figure(daily.get(value, 0), label, f"{base}&measure={value}&{period}")
            for value, label in which
        }

    def figures(self, overdue: int, workers: int, area: Any, s: Score, place: int | None) -> dict[str, Any]:
        r, now, base = self.rates, self.now, self.base
        by_state = {
            value: _figure(now.get(value, 0), label, f"{base}&state={value}") for value, label in _STATES
        }
        indicators: dict[str, Any] = self.measures(_ONCE)
        indicators |= {
            "open_overdue": _figure(overdue, "超期未结案件", f"{base}&open=true&due=overdue"),
            "closure_rate": r.closure_rate,
            "on_time_rate": r.on_time_rate,
            "rework_rate": r.rework_rate,
            "postpone_rate": r.postpone_rate,
            "mean_close_hours": round(r.mean_close_hours, 2) if r.mean_close_hours is not None else None,
        }
        staff = staffing(workers, area.population, estimated=area.population_estimated)
        return {
            "cases_by_state": by_state,
            "indicators": indicators,
            "flows": self.measures(_FLOWS),
            "staffing": dict(staff.__dict__),
            "score": {
                "score": s.score,
                "rank": place,
                "earned": s.earned,
                "not_assessed": list(s.not_assessed),
                "note": s.note,
            },
        }


# The enums' values and labels, listed once: iterating the enums and reading .value for each figure was
# most of what was left of the view's time in Python.
_MEASURES = tuple((m, m.value) for m in Measure)
_STATES = tuple((state.value, STATE_LABELS[state]) for state in CaseState)
# Under indicators, the measures shown once each (the flows have their own block; the closing time is shown
# as its mean).
_ONCE = tuple((m.value, LABELS[m]) for m in Measure if m not in FLOWS and m is not Measure.CLOSE_SECONDS)
_FLOWS = tuple((m.value, LABELS[m]) for m in Measure if m in FLOWS)


def _figure(value: int, label: str, cases: str) -> dict[str, Any]:
    return {"value": value, "label": label, "cases": cases}


async def area_view(
    *,
    conn: AsyncConnection,
    area_code: str,
    filters: Filters,
    sees: Callable[[str], bool],
    warning_share: float,
) -> dict[str, Any]:
    """The view as plain data shaped as ViewOut (the route serialises it as it is; exports validate it)."""
    try:
        level_of_code(area_code)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="path.area_code") from exc
    # The areas come with the counts (one statement); a filter naming no category or department counts
    # nothing, and is refused once the area is known to be there (404 before 422, as each alone would be).
    counts = await queries.counts(conn, area_code, filters)
    if not counts.areas or counts.areas[0].code != area_code or not sees(area_code):
        raise NotFound(f"no area with code {area_code}")
    area = counts.areas[0]
    children = [child for child in counts.areas[1:] if sees(child.code)]
    await check_filters(conn, category=filters.category, department=filters.department)
    child_level = Level(children[0].level) if children else None
    codes = [area_code, *(child.code for child in children)]
    daily, now, workers, totals = counts.daily, counts.current, counts.workers, counts.totals
    overdue = await queries.open_overdue(
        conn, area_code, child_level, filters, datetime.now(UTC), warning_share
    )

    links = _Links(filters)
    views = {code: _Area(code, links, daily.get(code, Counter()), now.get(code, Counter())) for code in codes}
    ranked = rank([(child.code, views[child.code].rates) for child in children])
    by_code = {child.code: child for child in children}
    out_children = [
        _area(by_code[r.code])
        | {
            "totals": totals[r.code],
            "figures": views[r.code].figures(
                overdue[r.code], workers[r.code], by_code[r.code], r.score, r.rank
            ),
        }
        for r in ranked
    ]
    own = views[area_code]
    period = {"from": filters.start.isoformat(), "to": filters.end.isoformat()}
    return {
        "area": _area(area),
        "totals": totals[area_code],
        "period": period | {"category": filters.category, "department": filters.department},
        "figures": own.figures(overdue[area_code], workers[area_code], area, score(own.rates), None),
        "children": out_children,
    }


def _area(row: Any) -> dict[str, Any]:
    return {
        "code": row.code,
        "name": row.name,
        "mca_name": row.mca_name,
        "level": row.level,
        "synthetic": row.synthetic,
    }
