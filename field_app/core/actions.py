"""The outbox of case actions: a verification (核查) is committed here, with its Idempotency-Key, before
anything is sent, and kept with the server's outcome — applied, or refused with the server's words.

Photos go up first (to the case, POST/PUT /api/v1/cases/{case_id}/attachments); the body is frozen at the
first send with the hashes the server took, and every resend carries that body under the same key.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from field_app.core.cases import CaseItem
from field_app.core.clock import Clock
from field_app.core.db import Database
from field_app.core.photos import Photo

NOTE_MAX = 2000  # as the server's cases.actions.NOTE_MAX
PHOTOS_MAX = 10  # as the server's ATTACHMENTS_MAX


class ActionStatus(StrEnum):
    WAITING = "waiting"  # 待发送 (also after a network failure or a 504: sent again with the same key)
    SENDING = "sending"  # 发送中
    APPLIED = "applied"  # 已生效: the case moved (closed, or back to rework)
    REFUSED = "refused"  # 未被接受: the server said no (already verified by someone else, not yours...)


@dataclass
class VerifyDraft:
    """A verification being filled in. Its action_id is made once, here: it is the Idempotency-Key."""

    case: CaseItem
    actor: str
    action_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    passed: bool | None = None
    note: str = ""
    photos: list[Photo] = field(default_factory=list)

    def problems(self) -> dict[str, str]:
        """Field → what is wrong, in the worker's words; empty when it can be saved."""
        found: dict[str, str] = {}
        if not self.actor.strip():
            found["actor"] = "请先登录"
        if self.passed is None:
            found["passed"] = "请选择核查结果：通过或不通过"
        note = self.note.strip()
        if self.passed is False and not note:
            found["note"] = "不通过时请写明原因"
        elif len(note) > NOTE_MAX:
            found["note"] = f"核查说明不能超过{NOTE_MAX}字"
        if not self.photos:
            found["photos"] = "请拍摄现场照片"
        elif len(self.photos) > PHOTOS_MAX:
            found["photos"] = f"最多 {PHOTOS_MAX} 张照片"
        return found


@dataclass(frozen=True)
class ActionPhoto:
    sha256: str
    path: str
    content_type: str
    size: int
    uploaded: bool
    error: str | None


@dataclass(frozen=True)
class ActionEntry:
    action_id: str
    case_id: str
    action: str
    actor: str
    fields: dict[str, Any]
    body: dict[str, Any] | None
    summary: dict[str, Any]
    created_at: float
    status: ActionStatus
    attempts: int
    next_attempt_at: float
    last_error: str | None
    outcome_error: str | None
    outcome_detail: str | None
    case_state: str | None
    case_state_label: str | None
    done_at: float | None
    photos: list[ActionPhoto] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.fields.get("passed"))

    @property
    def photos_pending(self) -> list[ActionPhoto]:
        return [p for p in self.photos if not p.uploaded and p.error is None]


def _entry(row: Any, photos: list[ActionPhoto]) -> ActionEntry:
    return ActionEntry(
        action_id=row["action_id"],
        case_id=row["case_id"],
        action=row["action"],
        actor=row["actor"],
        fields=json.loads(row["fields"]),
        body=json.loads(row["body"]) if row["body"] else None,
        summary=json.loads(row["summary"]),
        created_at=row["created_at"],
        status=ActionStatus(row["status"]),
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        last_error=row["last_error"],
        outcome_error=row["outcome_error"],
        outcome_detail=row["outcome_detail"],
        case_state=row["case_state"],
        case_state_label=row["case_state_label"],
        done_at=row["done_at"],
        photos=photos,
    )


def _photo(row: Any) -> ActionPhoto:
    return ActionPhoto(
        sha256=row["sha256"],
        path=row["path"],
        content_type=row["content_type"],
        size=row["size"],
        uploaded=bool(row["uploaded"]),
        error=row["error"],
    )


class AlreadyQueued(ValueError):
    """The case has a verification in the outbox that is not refused: a second one would only be refused."""


class ActionOutbox:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    # --- writing ---------------------------------------------------------------------------------
    def save_verification(self, draft: VerifyDraft) -> ActionEntry:
        """Commit the verification and its photos in one transaction; from here on it cannot be lost."""
        problems = draft.problems()
        if problems:
            raise ValueError(f"verification is not complete: {problems}")
        case = draft.case
        summary = {
            "category_name": case.title,
            "place": case.place,
            "department": case.department_name,
        }
        fields = {"passed": draft.passed, "note": draft.note.strip()}
        with self.db.transaction() as conn:
            if conn.execute("SELECT 1 FROM case_actions WHERE action_id = ?", (draft.action_id,)).fetchone():
                return self._get(conn, draft.action_id)  # a double tap on 提交 saves once
            standing = conn.execute(
                "SELECT 1 FROM case_actions WHERE case_id = ? AND action = 'verify' AND status != ?",
                (case.case_id, ActionStatus.REFUSED),
            ).fetchone()
            if standing:
                raise AlreadyQueued("该案件的核查结果已在发件箱中")
            conn.execute(
                "INSERT INTO case_actions (action_id, case_id, action, actor, fields,"
                " summary, created_at, status) VALUES (?, ?, 'verify', ?, ?, ?, ?, ?)",
                (
                    draft.action_id,
                    case.case_id,
                    draft.actor,
                    json.dumps(fields, ensure_ascii=False),
                    json.dumps(summary, ensure_ascii=False),
                    self.clock.now(),
                    ActionStatus.WAITING,
                ),
            )
            for photo in {p.sha256: p for p in draft.photos}.values():
                conn.execute(
                    "INSERT INTO case_action_photos (action_id, sha256, path, content_type, size)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (draft.action_id, photo.sha256, photo.path, photo.content_type, photo.size),
                )
            return self._get(conn, draft.action_id)

    def recover(self) -> int:
        """After a crash, a kill or a lost session, an action that was in flight is sent again (same key)."""
        return self.db.execute(
            "UPDATE case_actions SET status = ?, next_attempt_at = 0 WHERE status = ?",
            (ActionStatus.WAITING, ActionStatus.SENDING),
        )

    def mark_sending(self, action_id: str) -> None:
        self._set(action_id, status=ActionStatus.SENDING)

    def mark_photo(self, action_id: str, sha256: str, *, uploaded: bool, error: str | None = None) -> None:
        self.db.execute(
            "UPDATE case_action_photos SET uploaded = ?, error = ? WHERE action_id = ? AND sha256 = ?",
            (int(uploaded), error, action_id, sha256),
        )

    def freeze_body(self, action_id: str) -> dict[str, Any]:
        """The body every send of this action carries: fixed the first time, with the photos the server took.
        A photo it refused is left out (the verification stands without it, and the entry says so)."""
        with self.db.transaction() as conn:
            row = conn.execute("SELECT * FROM case_actions WHERE action_id = ?", (action_id,)).fetchone()
            if row["body"]:
                return dict(json.loads(row["body"]))
            hashes = [
                r["sha256"]
                for r in conn.execute(
                    "SELECT sha256 FROM case_action_photos WHERE action_id = ? AND uploaded = 1"
                    " ORDER BY rowid",
                    (action_id,),
                )
            ]
            body = {"action": row["action"], **json.loads(row["fields"]), "attachments": hashes}
            conn.execute(
                "UPDATE case_actions SET body = ? WHERE action_id = ?",
                (json.dumps(body, ensure_ascii=False, sort_keys=True), action_id),
            )
        return body

    def mark_retry(self, action_id: str, *, error: str, next_attempt_at: float) -> None:
        self.db.execute(
            "UPDATE case_actions SET status = ?, attempts = attempts + 1, last_error = ?, next_attempt_at = ?"
            " WHERE action_id = ?",
            (ActionStatus.WAITING, error, next_attempt_at, action_id),
        )

    def mark_applied(self, action_id: str, *, state: str | None, state_label: str | None) -> None:
        self._set(
            action_id,
            status=ActionStatus.APPLIED,
            case_state=state,
            case_state_label=state_label,
            last_error=None,
            done_at=self.clock.now(),
        )

    def mark_refused(
        self, action_id: str, *, error: str | None, detail: str, state: str | None = None
    ) -> None:
        self._set(
            action_id,
            status=ActionStatus.REFUSED,
            outcome_error=error,
            outcome_detail=detail,
            case_state=state,
            done_at=self.clock.now(),
        )

    def _set(self, action_id: str, **values: Any) -> None:
        columns = ", ".join(f"{name} = :{name}" for name in values)
        self.db.execute(
            f"UPDATE case_actions SET {columns} WHERE action_id = :action_id",
            {**values, "action_id": action_id},
        )

    # --- reading ---------------------------------------------------------------------------------
    def get(self, action_id: str) -> ActionEntry | None:
        rows = self.db.query("SELECT * FROM case_actions WHERE action_id = ?", (action_id,))
        return self._entries(rows)[0] if rows else None

    def _get(self, conn: Any, action_id: str) -> ActionEntry:
        row = conn.execute("SELECT * FROM case_actions WHERE action_id = ?", (action_id,)).fetchone()
        photos = conn.execute("SELECT * FROM case_action_photos WHERE action_id = ?", (action_id,))
        return _entry(row, [_photo(p) for p in photos])

    def entries(self) -> list[ActionEntry]:
        """Newest first, as the outbox screen lists them."""
        return self._entries(self.db.query("SELECT * FROM case_actions ORDER BY created_at DESC"))

    def latest_for(self, case_id: str) -> ActionEntry | None:
        rows = self.db.query(
            "SELECT * FROM case_actions WHERE case_id = ? ORDER BY created_at DESC LIMIT 1", (case_id,)
        )
        return self._entries(rows)[0] if rows else None

    def counts(self) -> dict[ActionStatus, int]:
        found = dict.fromkeys(ActionStatus, 0)
        for row in self.db.query("SELECT status, count(*) AS n FROM case_actions GROUP BY status"):
            found[ActionStatus(row["status"])] = row["n"]
        return found

    def due(self, now: float, *, actor: str) -> list[ActionEntry]:
        """The actor's actions to send now, oldest first (another account's wait for its own sign-in)."""
        rows = self.db.query(
            "SELECT * FROM case_actions WHERE status = ? AND next_attempt_at <= ? AND actor = ?"
            " ORDER BY created_at",
            (ActionStatus.WAITING, now, actor),
        )
        return self._entries(rows)

    def next_due_at(self, *, actor: str) -> float | None:
        rows = self.db.query(
            "SELECT min(next_attempt_at) AS t FROM case_actions WHERE status = ? AND actor = ?",
            (ActionStatus.WAITING, actor),
        )
        return rows[0]["t"] if rows and rows[0]["t"] is not None else None

    def _entries(self, rows: list[Any]) -> list[ActionEntry]:
        if not rows:
            return []
        ids = [row["action_id"] for row in rows]
        marks = ", ".join("?" for _ in ids)
        by_action: dict[str, list[ActionPhoto]] = {}
        photos = self.db.query(f"SELECT * FROM case_action_photos WHERE action_id IN ({marks})", tuple(ids))
        for prow in photos:
            by_action.setdefault(prow["action_id"], []).append(_photo(prow))
        return [_entry(row, by_action.get(row["action_id"], [])) for row in rows]
