"""The duty-list and department contracts of the API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class DutyRuleIn(BaseModel):
    """A duty rule as edited: who answers for a category at a level, by when, on what legal basis."""

    model_config = ConfigDict(extra="forbid")

    department_kind: str = Field(description="a department kind that exists at the rule's level, e.g. water")
    deadline_hours: int = Field(description="handling deadline, 1 to 2160 hours")
    legal_basis: str = Field(description="法律依据, e.g. 《城市供水条例》第三十二条; required (工作事项准入)")
    working_hours: bool = Field(
        default=True, description="the deadline counts working hours (false: natural)"
    )
    helper_kinds: list[str] = Field(
        default_factory=list,
        max_length=5,
        description="协办: other kinds of department at the level that help",
    )
    note: str = Field(default="", max_length=500, description="why the rule changes, for the edit log")


class DutyRuleOut(BaseModel):
    category_code: str
    level: str
    department_kind: str
    deadline_hours: int
    legal_basis: str
    working_hours: bool = True
    helper_kinds: list[str] = Field(default_factory=list)
    version: int = Field(description="this rule's own version, +1 on every edit")


class DutyRuleEdited(BaseModel):
    rule: DutyRuleOut
    duty_rules_version: int = Field(description="the responsibility list's version after the edit")


class DepartmentOut(BaseModel):
    code: str
    name: str
    kind: str
    level: str
    area_code: str
