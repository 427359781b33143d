"""The states a case passes through and the actions that move it, with their Chinese labels for the UI.

The loop follows GB/T 30428 (信息采集 → 立案 → 派遣 → 处置 → 反馈 → 核查结案 → 综合评价);
which action is allowed in which state is stated once, in `cases.lifecycle.TRANSITIONS`.
"""

from __future__ import annotations

from enum import StrEnum


class CaseState(StrEnum):
    TRIAGE = "triage"  # could not be routed: the dispatch center decides
    DISPATCHED = "dispatched"  # 自动派遣 by the duty rule, or by hand
    IN_PROGRESS = "in_progress"  # the department signed for it (签收)
    HANDLED = "handled"  # 处置完成, awaiting the grid worker's check on site
    CLOSED = "closed"  # 核查结案
    EVALUATED = "evaluated"  # 综合评价
    RETURNED = "returned"  # 回退: the department says it is not theirs
    REWORK = "rework"  # 返工: verification failed
    SUSPENDED = "suspended"  # 缓办: the clock stops
    VOIDED = "voided"  # 作废


class ActionName(StrEnum):
    DISPATCH = "dispatch"
    ACCEPT = "accept"
    RETURN = "return"
    HANDLE = "handle"
    VERIFY = "verify"
    EVALUATE = "evaluate"
    POSTPONE = "postpone"
    APPROVE = "approve"
    REJECT = "reject"
    SUSPEND = "suspend"
    RESUME = "resume"
    ESCALATE = "escalate"
    VOID = "void"
    WARN = "warn"  # system only: the timer marking the case at risk


STATE_LABELS: dict[CaseState, str] = {
    CaseState.TRIAGE: "待分拨",
    CaseState.DISPATCHED: "已派遣",
    CaseState.IN_PROGRESS: "处置中",
    CaseState.HANDLED: "已处置",
    CaseState.CLOSED: "已结案",
    CaseState.EVALUATED: "已评价",
    CaseState.RETURNED: "已回退",
    CaseState.REWORK: "返工",
    CaseState.SUSPENDED: "缓办",
    CaseState.VOIDED: "已作废",
}

ACTION_LABELS: dict[ActionName, str] = {
    ActionName.DISPATCH: "派遣",
    ActionName.ACCEPT: "签收",
    ActionName.RETURN: "回退",
    ActionName.HANDLE: "处置完成",
    ActionName.VERIFY: "核查",
    ActionName.EVALUATE: "综合评价",
    ActionName.POSTPONE: "申请延期",
    ActionName.APPROVE: "批准",
    ActionName.REJECT: "驳回",
    ActionName.SUSPEND: "申请缓办",
    ActionName.RESUME: "恢复办理",
    ActionName.ESCALATE: "上报",
    ActionName.VOID: "作废",
    ActionName.WARN: "超时预警",
}

# The actor of timer actions (warn, and escalate when the deadline passes).
SYSTEM_ACTOR = "system"
SYSTEM_ONLY_ACTIONS: frozenset[ActionName] = frozenset({ActionName.WARN})

# Nothing but `evaluate` (on closed) moves a case out of these.
TERMINAL_STATES: frozenset[CaseState] = frozenset({CaseState.CLOSED, CaseState.EVALUATED, CaseState.VOIDED})
OPEN_STATES: frozenset[CaseState] = frozenset(CaseState) - TERMINAL_STATES
# Where a department holds the case, so a postponement or suspension may be asked for.
REQUEST_STATES: frozenset[CaseState] = frozenset(
    {CaseState.DISPATCHED, CaseState.IN_PROGRESS, CaseState.REWORK}
)
# Where the deadline clock runs and the timers watch it. Not in handled: the department's part is done and
# the check on site has no deadline of its own; not in suspended: the clock stops (缓办).
TIMED_STATES: frozenset[CaseState] = REQUEST_STATES | {CaseState.RETURNED}
