"""The routing decision (一口受理): from a located report and the duty list to one department, or triage.

Pure functions of plain data, so every rule is unit-tested without a broker or database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from geo.schemas import Department, DutyRule, Location, ancestor_code


@dataclass(frozen=True)
class Routed:
    department: Department
    rule: DutyRule


@dataclass(frozen=True)
class Unroutable:
    reason: str  # a TriageReason value; geo does not import stream, so it speaks in strings
    detail: str


RoutingDecision = Routed | Unroutable


def route_report(
    *,
    category_code: str,
    location: Location | None,
    known_categories: frozenset[str],
    rules: Sequence[DutyRule],
    departments: Mapping[tuple[str, str], Department],
) -> RoutingDecision:
    """Pick the responsible department: the duty rule for the category names a level and a department kind,
    and the department of that kind whose jurisdiction is the report's area at that level answers for it.

    `departments` is keyed by (area code, department kind). Several rules for one category are tried from
    the lowest level up (handle problems where they are, 街道 before 区 before 市).
    """
    if category_code not in known_categories:
        return Unroutable("unknown_category", f"类别 {category_code} 不在事项目录中")
    if location is None or location.district is None:
        return Unroutable("outside_jurisdiction", "坐标不在本市任何区县范围内")
    candidates = sorted(
        (rule for rule in rules if rule.category_code == category_code),
        key=lambda rule: -rule.level.depth,
    )
    if not candidates:
        return Unroutable("no_duty_rule", f"权责清单中没有类别 {category_code} 的责任规定")
    for rule in candidates:
        area_code = location.code_at(rule.level)
        if area_code is None:
            continue
        department = departments.get((area_code, rule.department_kind))
        if department is not None:
            return Routed(department=department, rule=rule)
    wanted = ", ".join(f"{rule.level.label}级{rule.department_kind}" for rule in candidates)
    return Unroutable("no_department", f"辖区 {location.deepest} 内没有责任部门（需要：{wanted}）")


def share_across_boundary(
    routed: Routed, location: Location, departments: Mapping[tuple[str, str], Department]
) -> tuple[Department, tuple[Department, ...]]:
    """Lead and helpers (协办) when the GPS accuracy circle reaches units that another department serves for
    this rule: one case, led by the department of the unit with the lowest code, the others helping."""
    rule = routed.rule
    serving: dict[str, tuple[str, Department]] = {}
    for unit in sorted(code for code in (location.deepest, *location.candidates) if code):
        try:
            area = ancestor_code(unit, rule.level)
        except ValueError:  # a rule below the unit's own level (a grid rule, a community unit)
            continue
        department = departments.get((area, rule.department_kind))
        if department is not None:
            serving.setdefault(department.code, (unit, department))
    if not serving:
        return routed.department, ()
    ordered = [department for _, department in sorted(serving.values(), key=lambda pair: pair[0])]
    return ordered[0], tuple(ordered[1:])


def rule_helpers(
    rule: DutyRule, location: Location, departments: Mapping[tuple[str, str], Department]
) -> tuple[Department, ...]:
    """The departments a duty rule names as helpers (协办), those of its kinds that serve the same area."""
    area = location.code_at(rule.level)
    if area is None:
        return ()
    found = (departments.get((area, kind)) for kind in rule.helper_kinds)
    return tuple(department for department in found if department is not None)
