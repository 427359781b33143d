"""Who sees what and who may do what to a case: pure decisions every endpoint calls.

Seeing (`sees_area`, `sees_case`, `sees_report`) is stated once as a `Scope` (`scope_of`): a few conditions
joined by OR that a query can also turn into SQL. An endpoint answers 404 for what its caller does not see,
and 403 (`Refusal.needed`) for what the caller sees but may not do.

Who may act follows the loop (GB/T 30428), one rule per action in `ACTION_RULES`:

    dispatch, void                 city_dispatch (派遣 from triage, reassignment, 作废)
    accept, return, handle         the lead department (主办); a helper (协办) sees the case but may not
    postpone, suspend              the lead department asks (延期/缓办申请) ...
    approve, reject                ... the office holding the case, or one above it, decides
    resume                         the lead department, or the offices that may approve
    verify                         a grid worker of the case's grid; the case's community if it has no grid
    evaluate                       city_dispatch, or the office at the level holding the case
    escalate                       anyone who sees the case and does casework (not auditor, admin, client)
    warn                           nobody: the timer's own action

Decisions where the issue is silent:
- "The level above approves": the requester is the department, which works for the level that holds the case
  (a district bureau for a district-held case), so the level above the requester is the holding level. It
  decides, and so may every level above it (a district may decide for a township-held case in its district);
  the city's office is city_dispatch. So a community-held case's request goes to the community itself or up.
- admin manages accounts and rules (`may_edit_rules`, `may_manage_accounts`) and sees the whole city, but
  does no casework at all: the audit trail should name the office that answers for each step, and an admin
  who must act does so through an account of that office. auditor reads everything and writes nothing.
- A department sees its cases (lead or helper) but no area: its figures are its own cases. A returned case
  has no lead, so the department that returned it no longer sees it.
- A grid worker sees its grids (as areas), the cases and reports in them, and everything it reported.
- An Open311 client sees only what it reported (`open311:<client>` as reporter id); what Open311 shows the
  public is the Open311 layer's choice, not a scope.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from accounts.roles import AREA_ROLES, CITY_ROLES, LEVEL_ROLES, Principal, PrincipalKind, Role
from cases.model import CASE_LEVELS, Case
from cases.states import ACTION_LABELS, ActionName
from geo.schemas import Level, ancestor_code, level_of_code


class CaseFacts(BaseModel):
    """What the scope rules need to know of a case."""

    model_config = ConfigDict(frozen=True)

    area_codes: tuple[str, ...] = ()  # its city, district, township and community codes, where known
    grid_code: str | None = None
    department_code: str | None = None  # lead (主办)
    helper_codes: tuple[str, ...] = ()  # 协办
    reporter_ids: tuple[str, ...] = ()
    level: Level = Level.CITY  # the level holding it now

    @classmethod
    def of_case(cls, case: Case, reporter_ids: Iterable[str] = ()) -> CaseFacts:
        codes = (case.city_code, case.district_code, case.township_code, case.community_code)
        return cls(
            area_codes=tuple(c for c in codes if c),
            grid_code=case.grid_code,
            department_code=case.department_code,
            helper_codes=case.helper_codes,
            reporter_ids=tuple(reporter_ids),
            level=case.level,
        )


class ReportFacts(BaseModel):
    """What the scope rules need to know of a report."""

    model_config = ConfigDict(frozen=True)

    reporter_id: str
    area_codes: tuple[str, ...] = ()
    grid_code: str | None = None
    department_codes: tuple[str, ...] = ()  # its case's lead and helpers


class Scope(BaseModel):
    """What a principal sees: everything, or the rows matching any of the set conditions (OR).

    As SQL: `{area_level}_code = area_code`, `department_code = d OR helper_codes ? d`, `grid_code IN
    grid_codes`, `reporter_id = reporter_id`; nothing set (and not whole_city) means nothing.
    """

    model_config = ConfigDict(frozen=True)

    whole_city: bool = False
    area_level: Level | None = None
    area_code: str | None = None
    department_code: str | None = None
    grid_codes: tuple[str, ...] = ()
    reporter_id: str | None = None

    def admits_area(self, code: str) -> bool:
        if self.whole_city:
            return True
        if self.area_code is not None and _under(code, self.area_code):
            return True
        return code in self.grid_codes

    def admits_case(self, facts: CaseFacts) -> bool:
        return self.whole_city or self._admits(
            (*facts.area_codes, *([facts.grid_code] if facts.grid_code else [])),
            facts.grid_code,
            (facts.department_code, *facts.helper_codes),
            facts.reporter_ids,
        )

    def admits_report(self, facts: ReportFacts) -> bool:
        return self.whole_city or self._admits(
            (*facts.area_codes, *([facts.grid_code] if facts.grid_code else [])),
            facts.grid_code,
            facts.department_codes,
            (facts.reporter_id,),
        )

    def _admits(
        self,
        codes: tuple[str, ...],
        grid_code: str | None,
        departments: tuple[str | None, ...],
        reporters: tuple[str, ...],
    ) -> bool:
        if self.area_code is not None and any(_under(code, self.area_code) for code in codes):
            return True
        if self.department_code is not None and self.department_code in departments:
            return True
        if grid_code is not None and grid_code in self.grid_codes:
            return True
        return self.reporter_id is not None and self.reporter_id in reporters


def _under(code: str, ancestor: str) -> bool:
    """Whether `code` is `ancestor` or lies below it (by the 12-digit code's prefix)."""
    try:
        level, top = level_of_code(code), level_of_code(ancestor)
    except ValueError:
        return False
    if top is Level.GRID or level.depth < top.depth:
        return code == ancestor
    return ancestor_code(code, top) == ancestor


def scope_of(p: Principal) -> Scope:
    """What `p` sees, as conditions a query can use."""
    if p.kind is PrincipalKind.CLIENT:
        return Scope(reporter_id=p.reporter_id)
    if p.role in CITY_ROLES:
        return Scope(whole_city=True)
    if p.role in AREA_ROLES:
        return Scope(area_level=p.level, area_code=p.area_code)
    if p.role is Role.DEPARTMENT:
        return Scope(department_code=p.department_code)
    return Scope(grid_codes=p.grid_codes, reporter_id=p.reporter_id)  # grid worker


def sees_area(p: Principal, area_code: str) -> bool:
    """Whether `p` sees the area (a 12-digit code or a grid code) and what lies in it."""
    return scope_of(p).admits_area(area_code)


def sees_case(p: Principal, facts: CaseFacts) -> bool:
    return scope_of(p).admits_case(facts)


def sees_report(p: Principal, facts: ReportFacts) -> bool:
    return scope_of(p).admits_report(facts)


def may_edit_rules(p: Principal) -> bool:
    """Duty rules, departments and boundaries: admin only."""
    return p.kind is PrincipalKind.USER and p.role is Role.ADMIN


def may_manage_accounts(p: Principal) -> bool:
    """Users and API keys: admin only."""
    return p.kind is PrincipalKind.USER and p.role is Role.ADMIN


class Refusal(BaseModel):
    """Why `p` may not act: `needed` the roles that may (empty: no person may), `message` in Chinese.
    `out_of_scope`: the case is not `p`'s to see, so the endpoint answers 404, not 403."""

    model_config = ConfigDict(frozen=True)

    action: ActionName
    needed: tuple[Role, ...]
    message: str
    out_of_scope: bool = False


@dataclass(frozen=True)
class ActionRule:
    allows: Callable[[Principal, CaseFacts], bool]
    needed: Callable[[CaseFacts], tuple[Role, ...]]
    who: str  # who may, in Chinese, for the refusal's message


def _is_dispatch(p: Principal, f: CaseFacts) -> bool:
    return p.role is Role.CITY_DISPATCH


def _is_lead(p: Principal, f: CaseFacts) -> bool:
    lead = f.department_code
    return p.role is Role.DEPARTMENT and lead is not None and p.department_code == lead


def _levels_from(level: Level) -> tuple[Level, ...]:
    """The holding level and every level above it, up to the city."""
    return tuple(reversed(CASE_LEVELS[: CASE_LEVELS.index(level) + 1]))


def _holds_or_above(p: Principal, f: CaseFacts) -> bool:
    # Seeing the case is checked before any rule: an area office above the holding level sees it by prefix.
    return p.level is not None and p.level in _levels_from(f.level)


def _lead_or_approver(p: Principal, f: CaseFacts) -> bool:
    return _is_lead(p, f) or _holds_or_above(p, f)


def _holds(p: Principal, f: CaseFacts) -> bool:
    return p.role is Role.CITY_DISPATCH or (p.level is not None and p.level is f.level)


def _verifies(p: Principal, f: CaseFacts) -> bool:
    if f.grid_code is None:
        return p.role is Role.COMMUNITY
    return p.role is Role.GRID_WORKER and f.grid_code in p.grid_codes


def _does_casework(p: Principal, f: CaseFacts) -> bool:
    return p.role in CASEWORK_ROLES


def _nobody(p: Principal, f: CaseFacts) -> bool:
    return False


CASEWORK_ROLES: tuple[Role, ...] = tuple(r for r in Role if r not in (Role.AUDITOR, Role.ADMIN))


def _dispatch(f: CaseFacts) -> tuple[Role, ...]:
    return (Role.CITY_DISPATCH,)


def _department(f: CaseFacts) -> tuple[Role, ...]:
    return (Role.DEPARTMENT,)


def _approvers(f: CaseFacts) -> tuple[Role, ...]:
    return tuple(LEVEL_ROLES[level] for level in _levels_from(f.level))


def _lead_or_approvers(f: CaseFacts) -> tuple[Role, ...]:
    return (Role.DEPARTMENT, *_approvers(f))


def _verifiers(f: CaseFacts) -> tuple[Role, ...]:
    return (Role.GRID_WORKER,) if f.grid_code else (Role.COMMUNITY,)


def _holders(f: CaseFacts) -> tuple[Role, ...]:
    return tuple(dict.fromkeys((Role.CITY_DISPATCH, LEVEL_ROLES[f.level])))


def _caseworkers(f: CaseFacts) -> tuple[Role, ...]:
    return CASEWORK_ROLES


def _none(f: CaseFacts) -> tuple[Role, ...]:
    return ()


_LEAD = ActionRule(_is_lead, _department, "主办部门")
_APPROVER = ActionRule(_holds_or_above, _approvers, "案件所在层级或其上级")
ACTION_RULES: dict[ActionName, ActionRule] = {
    ActionName.DISPATCH: ActionRule(_is_dispatch, _dispatch, "指挥中心"),
    ActionName.VOID: ActionRule(_is_dispatch, _dispatch, "指挥中心"),
    ActionName.ACCEPT: _LEAD,
    ActionName.RETURN: _LEAD,
    ActionName.HANDLE: _LEAD,
    ActionName.POSTPONE: _LEAD,
    ActionName.SUSPEND: _LEAD,
    ActionName.APPROVE: _APPROVER,
    ActionName.REJECT: _APPROVER,
    ActionName.RESUME: ActionRule(_lead_or_approver, _lead_or_approvers, "主办部门或案件所在层级及上级"),
    ActionName.VERIFY: ActionRule(_verifies, _verifiers, "案件所在网格的网格员（无网格时为所在社区）"),
    ActionName.EVALUATE: ActionRule(_holds, _holders, "指挥中心或案件所在层级"),
    ActionName.ESCALATE: ActionRule(_does_casework, _caseworkers, "办案人员（审计、管理员除外）"),
    ActionName.WARN: ActionRule(_nobody, _none, "系统计时器"),
}


def may_act(p: Principal, action: ActionName, facts: CaseFacts) -> Refusal | None:
    """None when `p` may ask for `action` on the case; else why not. Whether the case's state allows the
    action is `cases.lifecycle.next_state`'s question, asked after this one."""
    rule = ACTION_RULES[action]
    needed = rule.needed(facts)
    label = ACTION_LABELS[action]
    if not sees_case(p, facts):
        return Refusal(action=action, needed=needed, message="案件不存在或不在您的辖区", out_of_scope=True)
    if p.kind is PrincipalKind.USER and rule.allows(p, facts):
        return None
    roles = "、".join(role.label for role in needed) or "无"
    message = f"仅{rule.who}可{label}（所需角色：{roles}）"
    return Refusal(action=action, needed=needed, message=message)
