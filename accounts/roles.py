"""The roles a user holds (one each), and the principal: who a request comes from, as a token tells it.

A role's assignment is part of the principal: the area a community, township or district office answers for,
the department a department's staff works for, the grids a grid worker walks. `assignment_problem` states
once which role needs which; the store adds whether the codes exist.
"""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, model_validator

from geo.schemas import Level, level_of_code


class Role(StrEnum):
    GRID_WORKER = "grid_worker"
    COMMUNITY = "community"
    TOWNSHIP = "township"
    DISTRICT = "district"
    DEPARTMENT = "department"
    CITY_DISPATCH = "city_dispatch"
    AUDITOR = "auditor"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS: dict[Role, str] = {
    Role.GRID_WORKER: "网格员",
    Role.COMMUNITY: "社区",
    Role.TOWNSHIP: "街道",
    Role.DISTRICT: "区县",
    Role.DEPARTMENT: "职能部门",
    Role.CITY_DISPATCH: "指挥中心",
    Role.AUDITOR: "审计",
    Role.ADMIN: "管理员",
}

# The offices of the four-level hierarchy below the city, each bound to one area at its level; the city's
# own office is the dispatch center (city_dispatch), which answers for the whole city.
AREA_ROLES: dict[Role, Level] = {
    Role.COMMUNITY: Level.COMMUNITY,
    Role.TOWNSHIP: Level.TOWNSHIP,
    Role.DISTRICT: Level.DISTRICT,
}
LEVEL_ROLES: dict[Level, Role] = {
    **{level: role for role, level in AREA_ROLES.items()},
    Level.CITY: Role.CITY_DISPATCH,
}
# Roles that see the whole city.
CITY_ROLES: frozenset[Role] = frozenset({Role.CITY_DISPATCH, Role.AUDITOR, Role.ADMIN})


class PrincipalKind(StrEnum):
    USER = "user"  # a person with an account and a role
    CLIENT = "client"  # an Open311 client system, known by its API key; no role


def assignment_problem(
    role: Role, *, area_code: str | None, department_code: str | None, grid_codes: tuple[str, ...]
) -> tuple[str, str] | None:
    """(field, Chinese message) when the assignment does not fit the role, else None. Shapes only: whether
    the codes exist is the store's question."""
    level = AREA_ROLES.get(role)
    if level is not None:
        if not area_code:
            return "area_code", f"{role.label}账号须指定辖区代码 area_code（{level.label}级）"
        if _level(area_code) is not level:
            return "area_code", f"{area_code} 不是{level.label}级的12位区划代码"
    elif role is Role.GRID_WORKER:
        if area_code is not None and _level(area_code) is not Level.COMMUNITY:
            return "area_code", f"网格员的 area_code 须为社区级代码，{area_code} 不是"
    elif area_code is not None:
        return "area_code", f"{role.label}账号不绑定辖区，请勿填写 area_code"
    if role is Role.DEPARTMENT:
        if not department_code:
            return "department_code", "职能部门账号须指定部门代码 department_code"
    elif department_code is not None:
        return "department_code", f"{role.label}账号不绑定部门，请勿填写 department_code"
    if role is Role.GRID_WORKER:
        if not grid_codes:
            return "grid_codes", "网格员须至少分配一个网格 grid_codes"
        for code in grid_codes:
            if _level(code) is not Level.GRID:
                return "grid_codes", f"{code} 不是网格代码"
            if area_code is not None and code[:12] != area_code:
                return "grid_codes", f"网格 {code} 不在社区 {area_code} 内"
    elif grid_codes:
        return "grid_codes", f"{role.label}账号不分配网格，请勿填写 grid_codes"
    return None


def _level(code: str) -> Level | None:
    try:
        return level_of_code(code)
    except ValueError:
        return None


class Principal(BaseModel):
    """Who a request comes from. For a client, `user_id` is its key's id and `username` its client name."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: PrincipalKind = PrincipalKind.USER
    user_id: UUID
    username: str
    role: Role | None = None
    area_code: str | None = None
    department_code: str | None = None
    grid_codes: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _fits(self) -> Principal:
        if self.kind is PrincipalKind.CLIENT:
            if self.role is not None or self.area_code or self.department_code or self.grid_codes:
                raise ValueError("a client principal has no role, area, department or grids")
            return self
        if self.role is None:
            raise ValueError("a user principal has a role")
        problem = assignment_problem(
            self.role,
            area_code=self.area_code,
            department_code=self.department_code,
            grid_codes=self.grid_codes,
        )
        if problem is not None:
            raise ValueError(f"{problem[0]}: {problem[1]}")
        return self

    @property
    def reporter_id(self) -> str:
        """The `reporter_id` of what this principal reports: a user's username, `open311:<client>` for a
        client (so a client's reports never pass for a person's)."""
        return self.username if self.kind is PrincipalKind.USER else f"open311:{self.username}"

    @property
    def actor(self) -> str:
        """The name the audit trail records (a case transition's `actor`)."""
        return f"{self.kind.value}:{self.username}"

    @property
    def level(self) -> Level | None:
        """The level of the office this principal acts for: an area role's, the city for city_dispatch."""
        if self.role is Role.CITY_DISPATCH:
            return Level.CITY
        return AREA_ROLES.get(self.role) if self.role is not None else None
