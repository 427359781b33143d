"""What the view counts, stated once: each measure's name, its Chinese label and the day it is counted on.

Days are local days of the working calendar's zone (Asia/Shanghai). Three kinds of measure:
- once per case, on the day it first happened (`ONCE`): a case is counted at most once in each, so the list
  behind a figure is exactly the cases it counts. 立案 (registered) is counted on the day the first report was
  *observed*, so a report uploaded late from an offline phone corrects that day; the others on the day of the
  transition.
- flows between levels (`FLOWS`): every transition counts, on its day.
- the due cohort (`COHORT`): a case is due (应结案) on the day of its deadline as it stands (a postponement or
  an escalation moves it; a suspension keeps the day the deadline had, and counts the case as 缓办 there
  until it resumes); a voided case is in no cohort.
"""

from __future__ import annotations

from enum import StrEnum


class Measure(StrEnum):
    REGISTERED = "registered"  # 立案数: cases opened (routed or in triage)
    DISPATCHED = "dispatched"  # 派遣数: cases dispatched to a department, the first time
    HANDLED = "handled"  # 处置数: cases handled (处置完成), the first time
    REWORKED = "reworked"  # 返工数: cases sent back for rework (核查未通过), the first time
    POSTPONED = "postponed"  # 延期数: cases with an approved postponement, the first approval
    CLOSED = "closed"  # 结案数: cases closed (核查结案), on the day of closing
    COHANDLED = "cohandled"  # 协办数: cases opened with helper departments (协办)
    CLOSE_SECONDS = "close_seconds"  # working seconds from opening to closing, summed on the closing day
    ESCALATED_IN = "escalated_in"  # 上报(收): escalations into the area's level, from the level below
    ESCALATED_OUT = "escalated_out"  # 上报(报出): escalations out of the area's level, to the level above
    DISPATCHED_DOWN = "dispatched_down"  # 下派: dispatches by hand made by the level holding the case
    RETURNED = "returned"  # 回退: returns by the lead department (counted under that department)
    DUE = "due"  # 应结案数: cases whose deadline falls on the day
    DUE_SUSPENDED = "due_suspended"  # 缓办数: due cases suspended (缓办)
    DUE_CLOSED = "due_closed"  # due cases closed
    DUE_ON_TIME = "due_on_time"  # 按期结案数: due cases closed, handled by the deadline


ONCE: frozenset[Measure] = frozenset(
    {
        Measure.REGISTERED,
        Measure.DISPATCHED,
        Measure.HANDLED,
        Measure.REWORKED,
        Measure.POSTPONED,
        Measure.CLOSED,
        Measure.COHANDLED,
    }
)
FLOWS: frozenset[Measure] = frozenset(
    {Measure.ESCALATED_IN, Measure.ESCALATED_OUT, Measure.DISPATCHED_DOWN, Measure.RETURNED}
)
COHORT: frozenset[Measure] = frozenset(
    {Measure.DUE, Measure.DUE_SUSPENDED, Measure.DUE_CLOSED, Measure.DUE_ON_TIME}
)
# Counted only at the area of one level (the level the flow enters or leaves), not at every level.
LEVEL_FLOWS: frozenset[Measure] = frozenset(
    {Measure.ESCALATED_IN, Measure.ESCALATED_OUT, Measure.DISPATCHED_DOWN}
)

LABELS: dict[Measure, str] = {
    Measure.REGISTERED: "立案数",
    Measure.DISPATCHED: "派遣数",
    Measure.HANDLED: "处置数",
    Measure.REWORKED: "返工数",
    Measure.POSTPONED: "延期数",
    Measure.CLOSED: "结案数",
    Measure.COHANDLED: "协办数",
    Measure.CLOSE_SECONDS: "结案用时(工作秒)",
    Measure.ESCALATED_IN: "下级上报数",
    Measure.ESCALATED_OUT: "向上报送数",
    Measure.DISPATCHED_DOWN: "下派数",
    Measure.RETURNED: "回退数",
    Measure.DUE: "应结案数",
    Measure.DUE_SUSPENDED: "缓办数",
    Measure.DUE_CLOSED: "应结案中结案数",
    Measure.DUE_ON_TIME: "按期结案数",
}
