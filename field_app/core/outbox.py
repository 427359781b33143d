"""The offline outbox: every report is committed here, with its client UUID, before anything is sent."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from field_app.core.clock import Clock
from field_app.core.db import Database
from field_app.core.models import Draft, FailureKind, ReportStatus, build_payload

FINAL_SERVER_STATES = ("routed", "triage")
LATE_CONFLICT_REASON = "该编号已被另一条内容不同的上报占用，请另存为新报告后重新提交"


@dataclass(frozen=True)
class AttachmentState:
    sha256: str
    path: str
    content_type: str
    size: int
    uploaded: bool
    error: str | None


@dataclass(frozen=True)
class OutboxEntry:
    report_id: str
    payload: dict[str, Any]
    category_name: str | None
    created_at: float
    status: ReportStatus
    attempts: int
    next_attempt_at: float
    last_error: str | None
    failure_kind: FailureKind | None
    failure_reason: str | None
    superseded_by: str | None
    sent_at: float | None
    server_status: str | None
    department_code: str | None
    department_name: str | None
    triage_reason: str | None
    area: dict[str, str | None] | None
    content_hash: str | None  # what the API's 202 said it accepted; None before that, or from an older server
    attachments: list[AttachmentState] = field(default_factory=list)

    @property
    def description(self) -> str:
        return str(self.payload.get("description", ""))

    @property
    def photos_waiting(self) -> int:
        return sum(1 for a in self.attachments if not a.uploaded and a.error is None)


def _entry(row: Any, attachments: list[AttachmentState]) -> OutboxEntry:
    return OutboxEntry(
        report_id=row["report_id"],
        payload=json.loads(row["payload"]),
        category_name=row["category_name"],
        created_at=row["created_at"],
        status=ReportStatus(row["status"]),
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        last_error=row["last_error"],
        failure_kind=FailureKind(row["failure_kind"]) if row["failure_kind"] else None,
        failure_reason=row["failure_reason"],
        superseded_by=row["superseded_by"],
        sent_at=row["sent_at"],
        server_status=row["server_status"],
        department_code=row["department_code"],
        department_name=row["department_name"],
        triage_reason=row["triage_reason"],
        area=json.loads(row["area"]) if row["area"] else None,
        content_hash=row["content_hash"],
        attachments=attachments,
    )


def taken_by_other_content(accepted_hash: str | None, state: dict[str, Any]) -> bool:
    """Whether the server's status says another report holds this id: it names other content for the id, or
    lists ours among the refused conflicts. Without both hashes (older server or app) nothing can be told."""
    if accepted_hash is None:
        return False
    conflicts = state.get("conflicts") or []
    if any(isinstance(c, dict) and c.get("content_hash") == accepted_hash for c in conflicts):
        return True
    standing = state.get("content_hash")
    return isinstance(standing, str) and standing != accepted_hash


class Outbox:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    # --- writing ---------------------------------------------------------------------------------
    def save(self, draft: Draft, *, observed_at: datetime) -> OutboxEntry:
        """Commit the report and its photos in one transaction; from here on it cannot be lost."""
        payload = build_payload(draft, observed_at=observed_at)
        body = json.dumps(payload, ensure_ascii=False, sort_keys=True)
        with self.db.transaction() as conn:
            existing = conn.execute("SELECT payload FROM reports WHERE report_id = ?", (draft.report_id,))
            row = existing.fetchone()
            if row is not None:
                # A double tap on 提交 saves once; other content under the same UUID is a bug, not a report.
                if row["payload"] != body:
                    raise ValueError(f"report {draft.report_id} is already in the outbox with other content")
            else:
                conn.execute(
                    "INSERT INTO reports (report_id, payload, category_name, created_at, status)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (draft.report_id, body, draft.category_name, self.clock.now(), ReportStatus.WAITING),
                )
                for photo in {p.sha256: p for p in draft.photos}.values():
                    conn.execute(
                        "INSERT INTO attachments (report_id, sha256, path, content_type, size)"
                        " VALUES (?, ?, ?, ?, ?)",
                        (draft.report_id, photo.sha256, photo.path, photo.content_type, photo.size),
                    )
        entry = self.get(draft.report_id)
        assert entry is not None
        return entry

    def recover(self) -> int:
        """After a crash or kill, a request that was in flight may or may not have arrived: send it again.

        Resending is safe because the API counts a report_id once.
        """
        return self.db.execute(
            "UPDATE reports SET status = ?, next_attempt_at = 0 WHERE status = ?",
            (ReportStatus.WAITING, ReportStatus.SENDING),
        )

    def mark_sending(self, report_id: str) -> None:
        self._set(report_id, status=ReportStatus.SENDING)

    def mark_accepted(self, report_id: str, *, content_hash: str | None = None) -> None:
        now = self.clock.now()
        self._set(
            report_id,
            status=ReportStatus.SENT,
            content_hash=content_hash,
            sent_at=now,
            last_error=None,
            failure_kind=None,
            failure_reason=None,
            server_status="accepted",
            next_check_at=now,
        )

    def mark_retry(self, report_id: str, *, error: str, next_attempt_at: float) -> None:
        self.db.execute(
            "UPDATE reports SET status = ?, attempts = attempts + 1, last_error = ?, next_attempt_at = ?"
            " WHERE report_id = ?",
            (ReportStatus.WAITING, error, next_attempt_at, report_id),
        )

    def mark_failed(self, report_id: str, *, kind: FailureKind, reason: str) -> None:
        self.db.execute(
            "UPDATE reports SET status = ?, attempts = attempts + 1, failure_kind = ?, failure_reason = ?"
            " WHERE report_id = ?",
            (ReportStatus.FAILED, kind, reason, report_id),
        )

    def retry(self, report_id: str) -> None:
        """The worker's 重试: send a failed or waiting report now."""
        self.db.execute(
            "UPDATE reports SET status = ?, next_attempt_at = 0, failure_kind = NULL WHERE report_id = ?"
            " AND status IN (?, ?) AND superseded_by IS NULL",
            (ReportStatus.WAITING, report_id, ReportStatus.FAILED, ReportStatus.WAITING),
        )
        self.db.execute(
            "UPDATE attachments SET error = NULL WHERE report_id = ? AND uploaded = 0", (report_id,)
        )

    def resubmit_as_new(self, report_id: str) -> str:
        """A conflict (409, or a status naming other content): keep the old entry visible, queue the same
        content under a fresh report_id."""
        new_id = str(uuid.uuid4())
        with self.db.transaction() as conn:
            row = conn.execute("SELECT * FROM reports WHERE report_id = ?", (report_id,)).fetchone()
            if row is None:
                raise KeyError(report_id)
            payload = json.loads(row["payload"])
            payload["report_id"] = new_id
            conn.execute(
                "INSERT INTO reports (report_id, payload, category_name, created_at, status)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    new_id,
                    json.dumps(payload, ensure_ascii=False, sort_keys=True),
                    row["category_name"],
                    self.clock.now(),
                    ReportStatus.WAITING,
                ),
            )
            conn.execute(
                "INSERT INTO attachments (report_id, sha256, path, content_type, size)"
                " SELECT ?, sha256, path, content_type, size FROM attachments WHERE report_id = ?",
                (new_id, report_id),
            )
            conn.execute("UPDATE reports SET superseded_by = ? WHERE report_id = ?", (new_id, report_id))
        return new_id

    def mark_attachment(
        self, report_id: str, sha256: str, *, uploaded: bool, error: str | None = None
    ) -> None:
        self.db.execute(
            "UPDATE attachments SET uploaded = ?, error = ? WHERE report_id = ? AND sha256 = ?",
            (int(uploaded), error, report_id, sha256),
        )

    def record_server_state(
        self, report_id: str, state: dict[str, Any] | None, *, next_check_at: float
    ) -> bool:
        """Store what GET /api/v1/reports/{id} said; None means not processed yet (404).

        Returns True when the status shows that another report took the id: the entry then fails as a
        conflict (its department, if any, is the other report's and is not stored) and is no longer checked.
        """
        if state is None:
            self.db.execute(
                "UPDATE reports SET checks = checks + 1, next_check_at = ? WHERE report_id = ?",
                (next_check_at, report_id),
            )
            return False
        rows = self.db.query("SELECT content_hash FROM reports WHERE report_id = ?", (report_id,))
        if rows and taken_by_other_content(rows[0]["content_hash"], state):
            self._set(
                report_id,
                status=ReportStatus.FAILED,
                failure_kind=FailureKind.CONFLICT,
                failure_reason=LATE_CONFLICT_REASON,
                next_check_at=None,
            )
            self.db.execute("UPDATE reports SET checks = checks + 1 WHERE report_id = ?", (report_id,))
            return True
        department = state.get("department") or {}
        self._set(
            report_id,
            server_status=state.get("status"),
            department_code=department.get("code"),
            department_name=department.get("name"),
            triage_reason=state.get("triage_reason"),
            area=json.dumps(state.get("area"), ensure_ascii=False) if state.get("area") else None,
            next_check_at=None if state.get("status") in FINAL_SERVER_STATES else next_check_at,
        )
        self.db.execute("UPDATE reports SET checks = checks + 1 WHERE report_id = ?", (report_id,))
        return False

    def _set(self, report_id: str, **values: Any) -> None:
        columns = ", ".join(f"{name} = :{name}" for name in values)
        self.db.execute(
            f"UPDATE reports SET {columns} WHERE report_id = :report_id", {**values, "report_id": report_id}
        )

    # --- reading ---------------------------------------------------------------------------------
    def get(self, report_id: str) -> OutboxEntry | None:
        rows = self.db.query("SELECT * FROM reports WHERE report_id = ?", (report_id,))
        return self._entries(rows)[0] if rows else None

    def entries(self, *statuses: ReportStatus) -> list[OutboxEntry]:
        """Newest first, as the outbox screen lists them."""
        if statuses:
            marks = ", ".join("?" for _ in statuses)
            rows = self.db.query(
                f"SELECT * FROM reports WHERE status IN ({marks}) ORDER BY created_at DESC", tuple(statuses)
            )
        else:
            rows = self.db.query("SELECT * FROM reports ORDER BY created_at DESC")
        return self._entries(rows)

    def counts(self) -> dict[ReportStatus, int]:
        found = dict.fromkeys(ReportStatus, 0)
        for row in self.db.query("SELECT status, count(*) AS n FROM reports GROUP BY status"):
            found[ReportStatus(row["status"])] = row["n"]
        return found

    # `reporter`: only that account's reports. The server takes a report only from its reporter's token, so
    # a report saved under another account (a shared phone, a shift change) waits for that account's sign-in.
    def due(self, now: float, *, reporter: str | None = None) -> list[OutboxEntry]:
        """Reports to send now, oldest first."""
        rows = self.db.query(
            "SELECT * FROM reports WHERE status = ? AND next_attempt_at <= ? ORDER BY created_at",
            (ReportStatus.WAITING, now),
        )
        return self._entries(_by(rows, reporter))

    def next_due_at(self, *, reporter: str | None = None) -> float | None:
        rows = self.db.query(
            "SELECT next_attempt_at AS t, payload FROM reports WHERE status = ?"
            " UNION ALL SELECT next_check_at, payload FROM reports"
            " WHERE status = ? AND next_check_at IS NOT NULL",
            (ReportStatus.WAITING, ReportStatus.SENT),
        )
        return min((row["t"] for row in _by(rows, reporter)), default=None)

    def photos_to_upload(self, *, reporter: str | None = None) -> list[tuple[str, AttachmentState]]:
        """Photos of accepted reports that the server does not hold yet (and did not refuse)."""
        rows = self.db.query(
            "SELECT a.*, r.payload FROM attachments a JOIN reports r USING (report_id)"
            " WHERE r.status = ? AND a.uploaded = 0 AND a.error IS NULL ORDER BY r.created_at",
            (ReportStatus.SENT,),
        )
        return [(row["report_id"], _attachment(row)) for row in _by(rows, reporter)]

    def to_check(self, now: float, *, reporter: str | None = None) -> list[OutboxEntry]:
        rows = self.db.query(
            "SELECT * FROM reports WHERE status = ? AND next_check_at IS NOT NULL AND next_check_at <= ?"
            " ORDER BY created_at",
            (ReportStatus.SENT, now),
        )
        return self._entries(_by(rows, reporter))

    def _entries(self, rows: list[Any]) -> list[OutboxEntry]:
        if not rows:
            return []
        ids = [row["report_id"] for row in rows]
        marks = ", ".join("?" for _ in ids)
        by_report: dict[str, list[AttachmentState]] = {}
        for arow in self.db.query(f"SELECT * FROM attachments WHERE report_id IN ({marks})", tuple(ids)):
            by_report.setdefault(arow["report_id"], []).append(_attachment(arow))
        return [_entry(row, by_report.get(row["report_id"], [])) for row in rows]


def _by(rows: list[Any], reporter: str | None) -> list[Any]:
    """The rows whose frozen payload names `reporter` (all of them for None)."""
    if reporter is None:
        return rows
    return [row for row in rows if json.loads(row["payload"]).get("reporter_id") == reporter]


def _attachment(row: Any) -> AttachmentState:
    return AttachmentState(
        sha256=row["sha256"],
        path=row["path"],
        content_type=row["content_type"],
        size=row["size"],
        uploaded=bool(row["uploaded"]),
        error=row["error"],
    )
