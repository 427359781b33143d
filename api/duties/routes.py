"""The responsibility list (权责清单) and the departments: read by anyone signed in, edited by an admin
without a deploy."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import AdminPrincipal, ConnDep, CurrentPrincipal, ProducerDep, SettingsDep
from api.duties import service
from api.duties.schemas import DepartmentOut, DutyRuleEdited, DutyRuleIn, DutyRuleOut
from geo.schemas import Department, DutyRule, Level

router = APIRouter(prefix="/api/v1", tags=["duties"])

EDITING = (
    "Every edit bumps the responsibility list's version and is published to `areas.changes`; running "
    "workers route by it from their next batch, without a restart. 工作事项准入: a rule without a legal "
    "basis, or naming a department kind that no department at that level has, is refused with 422 naming "
    "the field. Only an `admin` may edit (403 naming the role otherwise); the version records who did."
)
_EDIT_RESPONSES: dict[int | str, dict[str, str]] = {
    401: {"description": "not signed in"},
    403: {"description": 'not an admin: `detail.needed` is `["admin"]`'},
    404: {"description": "no such rule"},
    422: {"description": "refused: the field and the reason"},
    503: {"description": "Kafka did not acknowledge the edit's event; nothing was changed"},
}


def _rule_out(rule: DutyRule) -> DutyRuleOut:
    return DutyRuleOut.model_validate(rule.model_dump(mode="json"))


def _department_out(department: Department) -> DepartmentOut:
    return DepartmentOut.model_validate(department.model_dump(mode="json"))


@router.get("/duty-rules", response_model=list[DutyRuleOut])
async def list_rules(
    principal: CurrentPrincipal, conn: ConnDep, category: str | None = None, level: Level | None = None
) -> list[DutyRuleOut]:
    """权责清单: which kind of department answers for a category at a level, with deadline and legal basis."""
    rules = await service.list_rules(conn=conn, category_code=category, level=level)
    return [_rule_out(rule) for rule in rules]


@router.get("/duty-rules/{category_code}/{level}", response_model=DutyRuleOut, responses={404: {}})
async def get_rule(
    category_code: str, level: Level, principal: CurrentPrincipal, conn: ConnDep
) -> DutyRuleOut:
    """One duty rule, by category code and level (city, district, township)."""
    return _rule_out(await service.get_rule(conn=conn, category_code=category_code, level=level))


@router.put(
    "/duty-rules/{category_code}/{level}",
    response_model=DutyRuleEdited,
    responses=_EDIT_RESPONSES,
    description=EDITING,
)
async def put_rule(
    category_code: str,
    level: Level,
    body: DutyRuleIn,
    admin: AdminPrincipal,
    producer: ProducerDep,
    settings: SettingsDep,
) -> DutyRuleEdited:
    """Create or change a duty rule (admin only)."""
    rule, version = await service.set_rule(
        producer=producer,
        settings=settings,
        actor=admin.actor,
        category_code=category_code,
        level=level,
        department_kind=body.department_kind,
        deadline_hours=body.deadline_hours,
        legal_basis=body.legal_basis,
        note=body.note,
        working_hours=body.working_hours,
        helper_kinds=body.helper_kinds,
    )
    return DutyRuleEdited(rule=_rule_out(rule), duty_rules_version=version)


@router.delete(
    "/duty-rules/{category_code}/{level}",
    response_model=DutyRuleEdited,
    responses=_EDIT_RESPONSES,
    description=EDITING,
)
async def delete_rule(
    category_code: str, level: Level, admin: AdminPrincipal, producer: ProducerDep, settings: SettingsDep
) -> DutyRuleEdited:
    """Remove a duty rule (admin only); answers with the rule as it was."""
    rule, version = await service.remove_rule(
        producer=producer, settings=settings, actor=admin.actor, category_code=category_code, level=level
    )
    return DutyRuleEdited(rule=_rule_out(rule), duty_rules_version=version)


@router.get("/departments", response_model=list[DepartmentOut])
async def list_departments(
    principal: CurrentPrincipal,
    conn: ConnDep,
    # Patterned: a free string reached PostgreSQL, and one with a NUL byte was a 500 instead of a 422.
    area_code: Annotated[str | None, Query(pattern=r"^\d{12,15}$", description="统计区划代码")] = None,
    kind: Annotated[
        str | None, Query(max_length=64, pattern=r"^[0-9A-Za-z_]+$", description="e.g. water")
    ] = None,
    level: Level | None = None,
) -> list[DepartmentOut]:
    """Departments (责任部门) with their kind, level and jurisdiction (the area they serve)."""
    found = await service.list_departments(conn=conn, area_code=area_code, kind=kind, level=level)
    return [_department_out(department) for department in found]
