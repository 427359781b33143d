"""Read-only catalogue endpoints: report categories (and, later, departments and the duty list)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import select

from api.deps import ConnDep, CurrentPrincipal
from geo.models import categories

router = APIRouter(prefix="/api/v1", tags=["catalog"])


class CategoryOut(BaseModel):
    code: str
    name: str
    kind: str
    major_code: str
    major_name: str


@router.get("/categories", response_model=list[CategoryOut])
async def list_categories(principal: CurrentPrincipal, conn: ConnDep) -> list[CategoryOut]:
    """事项类别 after GB/T 30428.2: 部件 (component) and 事件 (event), 大类 → 小类. Any signed-in user."""
    rows = await conn.execute(select(categories).order_by(categories.c.code))
    return [CategoryOut.model_validate(row._mapping) for row in rows]
