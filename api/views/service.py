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

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from api.errors import InvalidInput, NotFound
from api.read_models import area_rows
from api.views import queries
from api.views.filters import Filters, check_filters
from api.views.schemas import (
    AreaFigures,
    AreaOut,
    ChildOut,
    Figure,
    FlowsOut,
    IndicatorsOut,
    PeriodOut,
    ScoreOut,
    StaffingOut,
    Totals,
    ViewOut,
)
from cases.states import STATE_LABELS, CaseState
from geo.schemas import Level, level_of_code
from indicators.formulas import Rates, Score, rank, rates, score, staffing
from indicators.measures import FLOWS, LABELS, Measure

CASES_URL = "/api/v1/cases"


class _Area:
    """The figures of one area, built from the counts read for the whole view."""

    def __init__(self, code: str, f: Filters, daily: Counter[str], now: Counter[str]) -> None:
        self.code, self.f, self.daily, self.now = code, f, daily, now
        # Each figure's link is this area's query plus a measure or a state: encoded once, not per figure
        # (urlencode for each of a view's several hundred links was a third of its time).
        given = {"area_code": code, "category": f.category, "department": f.department}
        self.query = urlencode({k: v for k, v in given.items() if v is not None})
        self.period = urlencode({"from": f.start.isoformat(), "to": f.end.isoformat()})

    def link(self, *more: str) -> str:
        """The cases behind a figure; `more` are parameters already encoded (enum values need no quoting)."""
        return "&".join([f"{CASES_URL}?{self.query}", *more])

    def measure(self, m: Measure) -> Figure:
        link = self.link(f"measure={m.value}", self.period)
        return Figure(value=self.daily.get(m.value, 0), label=LABELS[m], cases=link)

    def rates(self) -> Rates:
        return rates({m: self.daily.get(m.value, 0) for m in Measure})

    def figures(self, overdue: int, workers: int, area: Any, s: Score, place: int | None) -> AreaFigures:
        r = self.rates()
        by_state = {
            state.value: Figure(
                value=self.now.get(state.value, 0),
                label=STATE_LABELS[state],
                cases=self.link(f"state={state.value}"),
            )
            for state in CaseState
        }
        once = {
            m.value: self.measure(m) for m in Measure if m not in FLOWS and m is not Measure.CLOSE_SECONDS
        }
        overdue_link = self.link("open=true", "due=overdue")
        indicators = IndicatorsOut(
            **once,
            open_overdue=Figure(value=overdue, label="超期未结案件", cases=overdue_link),
            closure_rate=r.closure_rate,
            on_time_rate=r.on_time_rate,
            rework_rate=r.rework_rate,
            postpone_rate=r.postpone_rate,
            mean_close_hours=round(r.mean_close_hours, 2) if r.mean_close_hours is not None else None,
        )
        staff = staffing(workers, area.population, estimated=area.population_estimated)
        return AreaFigures(
            cases_by_state=by_state,
            indicators=indicators,
            flows=FlowsOut(**{m.value: self.measure(m) for m in FLOWS}),
            staffing=StaffingOut(**staff.__dict__),
            score=ScoreOut(
                score=s.score, rank=place, earned=s.earned, not_assessed=list(s.not_assessed), note=s.note
            ),
        )


async def area_view(
    *,
    conn: AsyncConnection,
    area_code: str,
    filters: Filters,
    sees: Callable[[str], bool],
    warning_share: float,
) -> ViewOut:
    try:
        level_of_code(area_code)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="path.area_code") from exc
    a = area_rows.c
    area = (await conn.execute(select(area_rows).where(a.code == area_code))).first()
    if area is None or not sees(area_code):
        raise NotFound(f"no area with code {area_code}")
    await check_filters(conn, category=filters.category, department=filters.department)
    found = await conn.execute(select(area_rows).where(a.parent_code == area_code).order_by(a.code))
    children = [row for row in found if sees(row.code)]
    child_level = Level(children[0].level) if children else None
    codes = [area_code, *(child.code for child in children)]

    totals, child_totals = await queries.report_totals(conn, area_code, codes[1:])
    daily = await queries.daily(conn, codes, filters)
    now = await queries.current(conn, codes, filters)
    overdue = await queries.open_overdue(
        conn, area_code, child_level, filters, datetime.now(UTC), warning_share
    )
    workers = await queries.grid_workers(conn, codes)

    views = {
        code: _Area(code, filters, daily.get(code, Counter()), now.get(code, Counter())) for code in codes
    }
    ranked = rank([(child.code, views[child.code].rates()) for child in children])
    by_code = {child.code: child for child in children}
    out_children = [
        ChildOut(
            **_area(by_code[r.code]).model_dump(),
            totals=Totals(**child_totals[r.code]),
            figures=views[r.code].figures(overdue[r.code], workers[r.code], by_code[r.code], r.score, r.rank),
        )
        for r in ranked
    ]
    own = views[area_code]
    return ViewOut(
        area=_area(area),
        totals=Totals(**totals),
        period=PeriodOut.model_validate(
            {"from": filters.start, "to": filters.end, "category": filters.category}
            | {"department": filters.department}
        ),
        figures=own.figures(overdue[area_code], workers[area_code], area, score(own.rates()), None),
        children=out_children,
    )


def _area(row: Any) -> AreaOut:
    return AreaOut(
        code=row.code, name=row.name, mca_name=row.mca_name, level=row.level, synthetic=row.synthetic
    )
