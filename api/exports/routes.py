"""GET /api/v1/exports/cases.{csv,xlsx} and /api/v1/exports/indicators.{csv,xlsx}.

Cases: the rows of the case list with the same filters (by default the cases registered in the period), read
through a server-side cursor. Indicators: the view's figures for the area and each child, one row each.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from sqlalchemy import text
from sqlalchemy.sql import Select

from api.cases.listing import CaseQuery, c, due_expr, select_cases
from api.deps import ConnDep, EngineDep, SettingsDep
from api.errors import NotFound
from api.exports.writers import csv_stream, file_stream, xlsx_file
from api.read_models import area_rows, categories, departments
from api.views import service
from api.views.filters import CategoryQuery, DepartmentQuery, FiltersDep, SeesDep, check_filters
from api.views.schemas import AreaFigures, ViewOut
from cases.states import STATE_LABELS, CaseState
from geo.schemas import LEVEL_LABELS, Level
from indicators.measures import Measure
from stream.router import work_calendar

router = APIRouter(prefix="/api/v1/exports", tags=["exports"])
Format = Literal["csv", "xlsx"]
BATCH = 2000
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DUE_LABELS = {"on_time": "正常", "warning": "预警", "overdue": "超期"}
CASE_HEADERS = (
    "案件编号", "状态", "类别代码", "类别名称", "区县", "街道/乡镇", "社区/村", "网格代码", "主办部门代码",
    "主办部门", "办理层级", "发现时间", "立案时间", "处置时限", "时限状态", "结案时间", "上报人数",
)  # fmt: skip
INDICATOR_HEADERS = (
    "区划代码", "名称", "层级", "统计起", "统计止", "立案数", "派遣数", "处置数", "结案数", "应结案数",
    "缓办数", "应结案中结案数", "按期结案数", "结案率(%)", "按期结案率(%)", "返工数", "返工率(%)",
    "延期数", "延期率(%)", "超期未结", "平均结案用时(工作小时)", "下级上报", "向上报送", "下派", "回退",
    "网格员", "常住人口", "人口为估算", "每万人网格员", "综合得分", "排名",
)  # fmt: skip


def _local(at: datetime | None) -> str:
    return at.astimezone(work_calendar().tz).strftime("%Y-%m-%d %H:%M:%S") if at else ""


async def _respond(kind: str, fmt: Format, headers: Sequence[str], rows: AsyncIterator[Sequence[Any]]) -> Any:
    name = f"{kind}.{fmt}"
    disposition = {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"}
    if fmt == "csv":
        return StreamingResponse(
            csv_stream(headers, rows), media_type="text/csv; charset=utf-8", headers=disposition
        )
    path = await xlsx_file(kind, headers, rows)
    return StreamingResponse(file_stream(path), media_type=XLSX, headers=disposition)


def _case_query(q: CaseQuery, share: float, tz: str) -> Select[Any]:
    now = datetime.now(UTC)
    district, township, community = (area_rows.alias(n) for n in ("district", "township", "community"))
    query = select_cases(
        q,
        c.case_id, c.state, c.category, categories.c.name, district.c.name, township.c.name,
        community.c.name, c.grid_code, c.department_code, departments.c.name, c.level, c.observed_at,
        c.opened_at, c.deadline_at, due_expr(now, share), c.closed_at, c.reporter_count,
        now=now, share=share, tz=tz,
    )  # fmt: skip
    return (
        query.outerjoin(categories, categories.c.code == c.category)
        .outerjoin(departments, departments.c.code == c.department_code)
        .outerjoin(district, district.c.code == c.district_code)
        .outerjoin(township, township.c.code == c.township_code)
        .outerjoin(community, community.c.code == c.community_code)
        .order_by(c.opened_at, c.case_id)
    )


def _case_row(row: Sequence[Any]) -> list[Any]:
    (case_id, state, category, category_name, district, township, community, grid, dept, dept_name, level,
     observed, opened, deadline, due, closed, reporters) = row  # fmt: skip
    return [
        str(case_id), STATE_LABELS[CaseState(state)], category, category_name or "", district or "",
        township or "", community or "", grid or "", dept or "", dept_name or "", LEVEL_LABELS[Level(level)],
        _local(observed), _local(opened), _local(deadline), DUE_LABELS[due], _local(closed), reporters,
    ]  # fmt: skip


@router.get("/cases.{fmt}", responses={200: {"content": {"text/csv": {}, XLSX: {}}}})
async def export_cases(
    fmt: Format,
    engine: EngineDep,
    conn: ConnDep,
    settings: SettingsDep,
    sees: SeesDep,
    area_code: Annotated[str | None, Query(pattern=r"^\d{12,15}$", description="default: the city")] = None,
    measure: Annotated[Measure | None, Query(description="as in GET /api/v1/cases")] = None,
    start: Annotated[date | None, Query(alias="from", description="first day (inclusive)")] = None,
    end: Annotated[date | None, Query(alias="to", description="last day (inclusive)")] = None,
    category: CategoryQuery = None,
    department: DepartmentQuery = None,
) -> Any:
    """案件明细: an area's cases (by default those registered in the period), one row each, oldest first."""
    code = area_code or settings.city_code
    if not sees(code):
        raise NotFound(f"no area with code {code}")
    await check_filters(conn, category=category, department=department, start=start, end=end)
    q = CaseQuery(code, measure, start=start, end=end, category=category, department=department)
    query = _case_query(q, settings.case_warning_share, work_calendar().tz.key)

    async def rows() -> AsyncIterator[Sequence[Any]]:
        async with engine.connect() as stream_conn, stream_conn.begin():
            # A server-side cursor: the rows come BATCH at a time; a year's sort may take longer than the
            # API's usual statement limit.
            await stream_conn.execute(text("SET LOCAL statement_timeout = '600s'"))
            result = await stream_conn.stream(query.execution_options(yield_per=BATCH))
            async for part in result.partitions(BATCH):
                yield [_case_row(r) for r in part]

    return await _respond("cases", fmt, CASE_HEADERS, rows())


def _percent(rate: float | None) -> float | str:
    return round(rate * 100, 2) if rate is not None else ""


def _indicator_row(code: str, name: str, level: str, start: date, end: date, f: AreaFigures) -> list[Any]:
    i, flows, staff, score = f.indicators, f.flows, f.staffing, f.score
    return [
        code, name, LEVEL_LABELS[Level(level)], start.isoformat(), end.isoformat(), i.registered.value,
        i.dispatched.value, i.handled.value, i.closed.value, i.due.value, i.due_suspended.value,
        i.due_closed.value, i.due_on_time.value, _percent(i.closure_rate), _percent(i.on_time_rate),
        i.reworked.value, _percent(i.rework_rate), i.postponed.value, _percent(i.postpone_rate),
        i.open_overdue.value, i.mean_close_hours if i.mean_close_hours is not None else "",
        flows.escalated_in.value, flows.escalated_out.value, flows.dispatched_down.value,
        flows.returned.value,
        staff.grid_workers, staff.residents or "", "是" if staff.residents_estimated else "否",
        staff.per_10k if staff.per_10k is not None else "", score.score if score.score is not None else "",
        score.rank or "",
    ]  # fmt: skip


@router.get("/indicators.{fmt}", responses={200: {"content": {"text/csv": {}, XLSX: {}}}})
async def export_indicators(
    fmt: Format,
    conn: ConnDep,
    settings: SettingsDep,
    filters: FiltersDep,
    sees: SeesDep,
    area_code: Annotated[str | None, Query(pattern=r"^\d{12,15}$", description="default: the city")] = None,
) -> Any:
    """考核指标: the area's indicators, then each child's in the order of the ranking, for the period."""
    view = ViewOut.model_validate(
        await service.area_view(
            conn=conn,
            area_code=area_code or settings.city_code,
            filters=filters,
            sees=sees,
            warning_share=settings.case_warning_share,
        )
    )
    start, end = filters.start, filters.end
    table = [_indicator_row(view.area.code, view.area.name, view.area.level, start, end, view.figures)]
    table += [_indicator_row(ch.code, ch.name, ch.level, start, end, ch.figures) for ch in view.children]

    async def rows() -> AsyncIterator[Sequence[Any]]:
        yield table

    return await _respond("indicators", fmt, INDICATOR_HEADERS, rows())
