"""The view's answer (GET /api/v1/views/{area_code}): the OpenAPI is the contract.

`area`, `totals` and the children's `code` … `totals` are the view's fields from before the aggregates, kept
as they were (every report received, all time, counted live from the reports table). The rest is for the
period and filters asked, from the aggregates the stream keeps (indicators.measures says what each counts,
indicators.formulas how rates and the score are computed); every count links to the cases behind it.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field


class AreaOut(BaseModel):
    code: str
    name: str
    mca_name: str | None = Field(description="the Ministry of Civil Affairs name, where it differs")
    level: str
    synthetic: bool


class Totals(BaseModel):
    reports: int
    by_status: dict[str, int]
    by_category: dict[str, int]
    by_department: dict[str, int]
    triage: int


class Figure(BaseModel):
    value: int
    label: str
    cases: str = Field(description="the list of the cases this figure counts (GET /api/v1/cases?...)")


class IndicatorsOut(BaseModel):
    registered: Figure = Field(description="立案数, on the day the first report was observed")
    dispatched: Figure
    handled: Figure
    reworked: Figure
    postponed: Figure
    closed: Figure = Field(description="结案数, on the day of closing")
    cohandled: Figure
    due: Figure = Field(description="应结案数: cases whose deadline fell in the period")
    due_suspended: Figure = Field(description="缓办数: due cases suspended")
    due_closed: Figure
    due_on_time: Figure = Field(description="按期结案数")
    open_overdue: Figure = Field(description="超期未结: open cases overdue now (not by period)")
    closure_rate: float | None = Field(description="结案率 = due_closed ÷ (due − due_suspended)")
    on_time_rate: float | None = Field(description="按期结案率 = due_on_time ÷ (due − due_suspended)")
    rework_rate: float | None = Field(description="返工率 = reworked ÷ handled")
    postpone_rate: float | None = Field(description="延期率 = postponed ÷ dispatched")
    mean_close_hours: float | None = Field(description="平均结案用时, working hours from opening to closing")


class FlowsOut(BaseModel):
    escalated_in: Figure = Field(description="上报: escalations into this area's level from below")
    escalated_out: Figure = Field(description="上报: escalations from this area's level to the one above")
    dispatched_down: Figure = Field(description="下派: dispatches by hand made at this area's level")
    returned: Figure = Field(description="回退: cases returned by their lead department")


class StaffingOut(BaseModel):
    grid_workers: int = Field(description="active accounts with role grid_worker in the area")
    residents: int | None
    residents_estimated: bool = Field(description="the residents are an estimate (no official figure)")
    per_10k: float | None = Field(description="grid workers per 10,000 residents")
    target_per_10k: float = Field(description="每万名城镇常住人口拥有社区工作者18人")
    meets_target: bool | None


class ScoreOut(BaseModel):
    score: float | None = Field(description="综合得分 0–100 (indicators/formulas.py: 金华's weights)")
    rank: int | None = Field(description="among the siblings, 1 best; none when not scored")
    earned: dict[str, float]
    not_assessed: list[str]
    note: str | None


class AreaFigures(BaseModel):
    cases_by_state: dict[str, Figure] = Field(description="cases in each state now (not by period)")
    indicators: IndicatorsOut
    flows: FlowsOut
    staffing: StaffingOut
    score: ScoreOut


class ChildOut(AreaOut):
    totals: Totals
    figures: AreaFigures


class PeriodOut(BaseModel):
    start: date = Field(alias="from")
    end: date = Field(alias="to")
    category: str | None
    department: str | None

    model_config = {"populate_by_name": True}


class ViewOut(BaseModel):
    area: AreaOut
    totals: Totals
    period: PeriodOut
    figures: AreaFigures
    children: list[ChildOut] = Field(description="ranked by the composite score, best first")
