"""What the worker reads about an outbox entry, in zh-CN; plain functions so tests check the words."""

from __future__ import annotations

from field_app.core.actions import ActionEntry, ActionStatus
from field_app.core.models import FailureKind, ReportStatus
from field_app.core.outbox import OutboxEntry

STATUS_LABELS = {
    ReportStatus.WAITING: "待发送",
    ReportStatus.SENDING: "发送中",
    ReportStatus.SENT: "已发送",
    ReportStatus.FAILED: "失败",
}
FAILURE_LABELS = {
    FailureKind.INVALID: "服务器拒收",
    FailureKind.CONFLICT: "编号冲突",
    FailureKind.REJECTED: "服务器拒绝",
}
TRIAGE_REASONS = {
    "outside_jurisdiction": "不在大连市辖区内",
    "no_duty_rule": "权责清单中没有对应事项",
    "no_department": "没有找到责任部门",
    "suspicious_coordinates": "坐标可疑",
}


ACTION_LABELS = {
    ActionStatus.WAITING: "待发送",
    ActionStatus.SENDING: "发送中",
    ActionStatus.APPLIED: "已生效",
    ActionStatus.REFUSED: "未被接受",
}
REFUSALS = {
    "illegal_transition": "案件状态已变化",
    "invalid": "内容不符合要求",
    "forbidden": "无权核查",
    "not_found": "案件不存在或已不在你的网格",
    "failed": "服务器未能执行",
}
CASE_STATES = {"closed": "已结案", "rework": "已返工"}


def waiting_for(owner: str, signed_in_as: str | None) -> str | None:
    """Why an entry saved under another account does not go: it waits for that account's sign-in."""
    if signed_in_as is None or owner == signed_in_as:
        return None
    return f"待发送（等待 {owner} 登录后发送）"


def action_line(entry: ActionEntry, signed_in_as: str | None = None) -> str:
    """One line under a verification in the outbox: waiting, applied (and what became of the case), or
    refused with the server's words."""
    if entry.status is ActionStatus.REFUSED:
        kind = REFUSALS.get(entry.outcome_error or "", "服务器拒绝")
        return f"未被接受（{kind}）：{entry.outcome_detail or '无原因'}"
    if entry.status is ActionStatus.APPLIED:
        result = "核查通过" if entry.passed else "核查不通过"
        state = CASE_STATES.get(entry.case_state or "") or entry.case_state_label or entry.case_state
        line = f"已生效：{result}" + (f"，{state}" if state else "")
        refused = [p for p in entry.photos if p.error]
        if refused:
            line += f"；照片未能上传：{refused[0].error}"
        return line
    if entry.status is ActionStatus.SENDING:
        return "发送中…"
    waiting = waiting_for(entry.actor, signed_in_as)
    if waiting:
        return waiting
    if entry.last_error:
        return f"待发送（上次：{entry.last_error}，第{entry.attempts}次）"
    return "待发送"


def status_line(entry: OutboxEntry, signed_in_as: str | None = None) -> str:
    """One line under the report in the outbox: its state and, where known, where it went."""
    if entry.status is ReportStatus.FAILED:
        kind = FAILURE_LABELS.get(entry.failure_kind, "失败") if entry.failure_kind else "失败"
        line = f"失败（{kind}）：{entry.failure_reason or '无原因'}"
        if entry.superseded_by:
            line += f"；已另存为新报告 {entry.superseded_by[:8]}"
        return line
    if entry.status is ReportStatus.SENT:
        if entry.server_status == "routed" and entry.department_name:
            line = f"已发送 → {entry.department_name}"
        elif entry.server_status == "triage":
            reason = TRIAGE_REASONS.get(entry.triage_reason or "", entry.triage_reason or "")
            line = "已发送 → 指挥中心分拣" + (f"（{reason}）" if reason else "")
        else:
            line = "已发送，等待分派"
        refused = [a for a in entry.attachments if a.error]
        if entry.photos_waiting:
            line += f"；照片待上传 {entry.photos_waiting}"
        if refused:
            line += f"；照片被拒：{refused[0].error}"
        return line
    if entry.status is ReportStatus.SENDING:
        return "发送中…"
    waiting = waiting_for(str(entry.payload.get("reporter_id", "")), signed_in_as)
    if waiting:
        return waiting
    if entry.last_error:
        return f"待发送（上次：{entry.last_error}，第{entry.attempts}次）"
    return "待发送"
