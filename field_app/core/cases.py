"""Cases as the phone sees them: the 核查 queue (handled cases in the worker's grids), kept for offline use,
and the server's answer to an action.

Plain data and HTTP calls; what the worker does to a case goes through the action outbox (core/actions.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import httpx

from field_app.core.api_client import ApiClient, NetworkError, describe_error, retry_after_of
from field_app.core.db import Database

VERIFY_QUEUE = "to_verify"
PAGE_SIZE = 50
MOST_ITEMS = 200  # a grid worker's handled cases fit; more would be a backlog for the office, not a phone
DUE_LABELS = {"on_time": "正常", "warning": "预警", "overdue": "超期"}
PLACE_LEVELS = ("district", "township", "grid")


@dataclass(frozen=True)
class CaseItem:
    """One item of a queue, as GET /api/v1/queues/{name} lists it."""

    case_id: str
    state: str
    state_label: str
    category: str
    category_name: str | None
    codes: dict[str, str | None]  # the case's area codes by level: city, district … grid
    names: dict[str, str]  # their Chinese names, where known
    department_name: str | None
    deadline_at: str | None
    due: str
    report_ids: tuple[str, ...]
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> CaseItem:
        department = item.get("department") or {}
        area = item.get("area") or {}
        return cls(
            case_id=str(item["case_id"]),
            state=str(item.get("state") or ""),
            state_label=str(item.get("state_label") or item.get("state") or ""),
            category=str(item.get("category") or ""),
            category_name=item.get("category_name"),
            codes=dict(area.get("codes") or {}),
            names=dict(area.get("names") or {}),
            department_name=department.get("name") or department.get("code"),
            deadline_at=item.get("deadline_at"),
            due=str(item.get("due") or "on_time"),
            report_ids=tuple(str(r) for r in item.get("report_ids") or ()),
            raw=item,
        )

    @property
    def title(self) -> str:
        return self.category_name or self.category

    @property
    def place(self) -> str:
        """Where, by the server's names (区 街道 网格), falling back to the community or a code."""
        names = self.names
        parts = [names[level] for level in PLACE_LEVELS if names.get(level)]
        if not names.get("grid"):
            codes = self.codes
            parts.append(names.get("community") or codes.get("grid") or codes.get("community") or "")
        return " ".join(p for p in parts if p) or "位置未知"

    @property
    def deadline_text(self) -> str:
        if not self.deadline_at:
            return "无处置期限"
        try:
            local = datetime.fromisoformat(self.deadline_at).astimezone()
        except ValueError:
            return f"期限 {self.deadline_at}"
        return f"期限 {local:%m-%d %H:%M}"

    @property
    def due_label(self) -> str:
        return DUE_LABELS.get(self.due, self.due)


@dataclass(frozen=True)
class QueuePage:
    items: list[CaseItem]
    total: int
    fetched_at: float


class QueueCache:
    """The last queue seen, so the 核查 list opens offline (in the app's database, table `cache`)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def save(self, name: str, page: QueuePage) -> None:
        body = json.dumps({"items": [i.raw for i in page.items], "total": page.total}, ensure_ascii=False)
        self.db.execute(
            "INSERT INTO cache (key, fetched_at, body) VALUES (?, ?, ?)"
            " ON CONFLICT (key) DO UPDATE SET fetched_at = excluded.fetched_at, body = excluded.body",
            (f"queue:{name}", page.fetched_at, body),
        )

    def load(self, name: str) -> QueuePage | None:
        rows = self.db.query("SELECT fetched_at, body FROM cache WHERE key = ?", (f"queue:{name}",))
        if not rows:
            return None
        body = json.loads(rows[0]["body"])
        items = [CaseItem.from_json(i) for i in body["items"]]
        return QueuePage(items=items, total=int(body["total"]), fetched_at=rows[0]["fetched_at"])

    def clear(self) -> None:
        self.db.execute("DELETE FROM cache WHERE key LIKE 'queue:%'")


def fetch_queue(client: ApiClient, name: str, *, now: float) -> QueuePage | None:
    """The caller's queue, page by page up to MOST_ITEMS; None when the server has no such queue."""
    items: list[CaseItem] = []
    total = 0
    page = 1
    while len(items) < MOST_ITEMS:
        params = {"page": page, "size": PAGE_SIZE}
        response = client.request("GET", f"/api/v1/queues/{name}", params=params)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise NetworkError(f"读取任务失败：HTTP {response.status_code}")
        body = response.json()
        got = [CaseItem.from_json(i) for i in body.get("items") or ()]
        items += got
        total = int(body.get("total") or len(items))
        if not got or len(items) >= total:
            break
        page += 1
    return QueuePage(items=items, total=total, fetched_at=now)


# --- acting on a case ----------------------------------------------------------------------------------
class ActionOutcome(StrEnum):
    APPLIED = "applied"  # 200: the case agent applied it; the answer is the case as it now stands
    REFUSED = "refused"  # 409/403/404/422: the server's no, kept with its words; never sent again
    LATER = "later"  # 504 (queued, not applied yet) or another 5xx: send again, same key
    UNAVAILABLE = "unavailable"  # 503/429: the server asks everyone to come back later


@dataclass(frozen=True)
class ActionAnswer:
    outcome: ActionOutcome
    state: str | None = None  # the case's state after it (applied) or when refused
    state_label: str | None = None
    error: str | None = None  # the server's code: illegal_transition, invalid, forbidden, not_found...
    detail: str = ""
    retry_after: float | None = None


def post_action(client: ApiClient, case_id: str, body: dict[str, Any], *, key: str) -> ActionAnswer:
    """POST an action as the signed-in user with its Idempotency-Key (a UUID): every resend of one action
    carries the same key, so a resend after a lost answer is applied once and answered with its outcome."""
    headers = {"Idempotency-Key": key}
    response = client.request("POST", f"/api/v1/cases/{case_id}/actions", json=body, headers=headers)
    return action_answer(response)


def action_answer(response: httpx.Response) -> ActionAnswer:
    code = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    body = body if isinstance(body, dict) else {}
    if code in (200, 201, 202):
        return ActionAnswer(ActionOutcome.APPLIED, body.get("state"), body.get("state_label"))
    if code == 409 and isinstance(body.get("detail"), str):  # the case agent's refusal, flat
        detail = str(body["detail"])
        return ActionAnswer(ActionOutcome.REFUSED, body.get("state"), error=body.get("error"), detail=detail)
    if 400 <= code < 500 and code != 429:
        error = body.get("error") or {403: "forbidden", 404: "not_found", 422: "invalid"}.get(code)
        return ActionAnswer(ActionOutcome.REFUSED, error=error, detail=describe_error(response))
    if code in (429, 503):
        wait = retry_after_of(response)
        return ActionAnswer(ActionOutcome.UNAVAILABLE, detail="服务器暂时不可用", retry_after=wait)
    if code == 504:
        return ActionAnswer(ActionOutcome.LATER, detail="服务器已收到，尚未处理完")
    return ActionAnswer(ActionOutcome.LATER, detail=f"服务器错误 {code}")
