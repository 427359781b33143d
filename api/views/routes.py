from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import ConnDep
from api.views import service

router = APIRouter(prefix="/api/v1/views", tags=["views"])


@router.get("/{area_code}")
async def area_view(area_code: str, conn: ConnDep) -> dict[str, Any]:
    """四级联动视图: an area's report totals (by status, category, department, triage) and its children's."""
    return await service.area_view(conn=conn, area_code=area_code)
