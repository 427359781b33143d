from __future__ import annotations

import orjson
from fastapi import APIRouter
from fastapi.responses import Response

from api.deps import ReadConnDep, SettingsDep
from api.views import service
from api.views.filters import FiltersDep, SeesDep
from api.views.schemas import ViewOut

router = APIRouter(prefix="/api/v1/views", tags=["views"])


@router.get(
    "/{area_code}",
    response_model=ViewOut,
    responses={
        404: {"description": "no such area"},
        422: {"description": "a malformed code or filter, named"},
    },
)
async def area_view(
    area_code: str, conn: ReadConnDep, settings: SettingsDep, filters: FiltersDep, sees: SeesDep
) -> Response:
    """四级联动视图: an area (city, district, township, community or grid) and its children — report totals,
    cases by state, the GB/T indicators, flows between levels, staffing and the composite score (children
    ranked by it), for the period (`from`, `to`, local days; default the last 30) and filters asked."""
    # Built as plain data shaped as ViewOut and sent as it is, serialised by orjson (as the batch answer
    # is): FastAPI would validate and serialise a district's nine hundred figures again, and json.dumps
    # takes five times as long. tests/e2e/test_view.py holds the answers to ViewOut.
    view = await service.area_view(
        conn=conn,
        area_code=area_code,
        filters=filters,
        sees=sees,
        warning_share=settings.case_warning_share,
    )
    return Response(orjson.dumps(view), media_type="application/json")
