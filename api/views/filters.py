"""The filters the view, the case lists and the exports share: period (local days), category, department.

Malformed values are refused by FastAPI with a 422 naming the query field; well-formed ones that name
nothing (an unknown category or department, a period ending before it starts) by `check_filters`, likewise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import Depends, Query
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from api.auth.scoping import AreaSeer
from api.errors import InvalidInput
from api.read_models import categories, departments
from stream.router import work_calendar

DEFAULT_DAYS = 30
MAX_DAYS = 3660  # ten years: a longer period is a typo


def today() -> date:
    """Today in the working calendar's zone (Asia/Shanghai): the days of the aggregates."""
    return work_calendar().local_date(datetime.now(UTC))


@dataclass(frozen=True)
class Filters:
    start: date
    end: date
    category: str | None = None
    department: str | None = None


CategoryQuery = Annotated[
    str | None, Query(pattern=r"^\d{4,6}$", description="类别代码 (GB/T 30428.2 小类), e.g. 10101")
]
DepartmentQuery = Annotated[
    str | None,
    Query(max_length=64, pattern=r"^[0-9A-Za-z_.:-]+$", description="部门代码, e.g. 210202000000:water"),
]


def period_filters(
    start: Annotated[
        date | None,
        Query(alias="from", description=f"first day (inclusive); default {DEFAULT_DAYS} days ago"),
    ] = None,
    end: Annotated[date | None, Query(alias="to", description="last day (inclusive); default today")] = None,
    category: CategoryQuery = None,
    department: DepartmentQuery = None,
) -> Filters:
    last = end or today()
    first = start or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise InvalidInput(f"from ({first}) is after to ({last}) (起始日期晚于结束日期)", field="query.from")
    if (last - first).days >= MAX_DAYS:
        raise InvalidInput(f"a period of at most {MAX_DAYS} days (统计期过长)", field="query.from")
    return Filters(first, last, category, department)


FiltersDep = Annotated[Filters, Depends(period_filters)]


async def check_filters(
    conn: AsyncConnection,
    *,
    category: str | None,
    department: str | None,
    start: date | None = None,
    end: date | None = None,
) -> None:
    """A 422 naming the field when the category or department does not exist, or the period is reversed."""
    if start is not None and end is not None and start > end:
        raise InvalidInput(f"from ({start}) is after to ({end}) (起始日期晚于结束日期)", field="query.from")
    if category is not None:
        found = await conn.execute(select(categories.c.code).where(categories.c.code == category))
        if found.first() is None:
            raise InvalidInput(f"no category {category} (类别不存在)", field="query.category")
    if department is not None:
        query = select(departments.c.code).where(departments.c.code == department)
        if (await conn.execute(query)).first() is None:
            raise InvalidInput(f"no department {department} (部门不存在)", field="query.department")


# The caller's visible areas (api/auth/scoping.py: accounts' scope): a view, list or export of an area it does
# not see answers 404 as an unknown one, and children it does not see are left out.
SeesDep = AreaSeer
