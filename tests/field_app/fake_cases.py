"""The fake API's cases: the 核查 queue, the verify action with its Idempotency-Key, grid names.

Shaped as api/queues and api/cases answer (test_contract.py holds the shapes to the real OpenAPI); the
action body is parsed by the server's own model (cases.actions), so what the app sends is what it takes.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx
from pydantic import ValidationError

from cases.actions import VerifyAction, parse_action
from tests.field_app.fake_auth import GRID_A, GRID_NAMES, FakeUser, problem

DEPARTMENT = {"code": "210202000000:water", "name": "中山区水务局"}
STATE_LABELS = {"handled": "已处置", "closed": "已结案", "rework": "返工", "in_progress": "处置中"}
_ACT = re.compile(r"^/api/v1/cases/([0-9a-f-]{36})/actions$")
_VIEW = re.compile(r"^/api/v1/views/(\d{12,15})$")


@dataclass
class FakeCase:
    case_id: str
    grid: str
    category: str
    category_name: str
    report_ids: list[str]
    state: str = "handled"
    due: str = "on_time"
    opened_at: datetime = field(default_factory=lambda: datetime.now(UTC) - timedelta(days=2))
    deadline_at: datetime = field(default_factory=lambda: datetime.now(UTC) + timedelta(hours=20))
    history: list[dict[str, Any]] = field(default_factory=list)

    def area(self) -> dict[str, Any]:
        community = self.grid[:12]
        codes = {
            "city": "210200000000",
            "district": "210202000000",
            "township": community[:9] + "000",
            "community": community,
            "grid": self.grid,
        }
        names = {
            "city": "大连市",
            "district": "中山区",
            "township": "青泥洼桥街道",
            "community": "青泥洼桥社区",
        }
        if self.grid in GRID_NAMES:
            names["grid"] = GRID_NAMES[self.grid]
        return {"codes": codes, "names": names}

    def common(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "state": self.state,
            "state_label": STATE_LABELS[self.state],
            "category": self.category,
            "category_name": self.category_name,
            "department": DEPARTMENT,
            "level": "grid",
            "deadline_at": self.deadline_at.isoformat(),
            "due": self.due,
            "pending": None,
            "opened_at": self.opened_at.isoformat(),
            "reporter_count": len(self.report_ids),
            "report_ids": self.report_ids,
        }

    def queue_item(self) -> dict[str, Any]:
        return {**self.common(), "area": self.area(), "location": {"lon": 121.6447, "lat": 38.9206}}

    def case_out(self) -> dict[str, Any]:
        area = self.area()
        closed = self.history[-1]["at"] if self.state == "closed" else None
        flat = {**area["codes"], "names": area["names"]}
        return {**self.common(), "area": flat, "helpers": [], "closed_at": closed, "history": self.history}


class FakeCases:
    def __init__(self, photo_linked: Callable[[str, str], bool] = lambda case_id, sha: False) -> None:
        self.photo_linked = photo_linked  # (case_id, sha256) → uploaded to the case, as api/cases checks
        self.cases: dict[str, FakeCase] = {}
        self.outcomes: dict[str, tuple[str, httpx.Response]] = {}  # Idempotency-Key → (case_id, answer)
        self.posts: list[tuple[str, str | None, dict[str, Any]]] = []  # (case_id, key, body) as received
        self.lose_answers = 0  # apply, then drop the connection: the phone never hears the outcome
        self.queued_answers = 0  # answer 504 (queued) without applying, as the API past its 10 s wait

    def add_handled(
        self,
        *,
        grid: str = GRID_A,
        category: str = "10101",
        category_name: str = "上水井盖",
        report_id: str | None = None,
        due: str = "on_time",
    ) -> FakeCase:
        case = FakeCase(
            case_id=str(uuid.uuid4()),
            grid=grid,
            category=category,
            category_name=category_name,
            report_ids=[report_id or str(uuid.uuid4())],
            due=due,
        )
        self.cases[case.case_id] = case
        return case

    def handle(self, request: httpx.Request, user: FakeUser) -> httpx.Response | None:
        path, method = request.url.path, request.method
        if method == "GET" and path == "/api/v1/queues/to_verify":
            return self._queue(request, user)
        if method == "GET" and path.startswith("/api/v1/queues/"):
            return problem(404, "not_found", "没有该队列 (no such queue)")
        if method == "POST" and (match := _ACT.match(path)):
            return self._act(match.group(1), request, user)
        if method == "GET" and (match := _VIEW.match(path)):
            code = match.group(1)
            if code not in GRID_NAMES:
                return problem(404, "not_found", f"no area with code {code}")
            area = {
                "code": code,
                "name": GRID_NAMES[code],
                "mca_name": None,
                "level": "grid",
                "synthetic": True,
            }
            return httpx.Response(200, json={"area": area})
        return None

    def _queue(self, request: httpx.Request, user: FakeUser) -> httpx.Response:
        if user.role not in ("grid_worker", "community"):
            return problem(
                403, "forbidden", "需要以下角色之一：网格员、社区", needed=["grid_worker", "community"]
            )
        query = {k: v[0] for k, v in parse_qs(request.url.query.decode()).items()}
        page, size = int(query.get("page", 1)), int(query.get("size", 20))
        mine = [c for c in self.cases.values() if c.state == "handled" and c.grid in user.grid_codes]
        items = [c.queue_item() for c in mine[(page - 1) * size : page * size]]
        body = {"name": "to_verify", "label": "待核查", "total": len(mine), "page": page, "size": size}
        return httpx.Response(200, json={**body, "items": items})

    def _act(self, case_id: str, request: httpx.Request, user: FakeUser) -> httpx.Response:
        key = request.headers.get("idempotency-key")
        body = json.loads(request.content or b"null")
        self.posts.append((case_id, key, body))
        if key is not None and key in self.outcomes:
            earlier_case, answer = self.outcomes[key]
            if earlier_case != case_id:
                return problem(422, "invalid", "Idempotency-Key 已用于另一案件的操作")
            return answer
        case = self.cases.get(case_id)
        if case is None or case.grid not in user.grid_codes:
            return problem(404, "not_found", "案件不存在 (no such case)")
        try:
            action = parse_action(body)
        except ValidationError as exc:
            detail = [
                {"loc": ["body", *e["loc"][1:]], "msg": e["msg"], "type": e["type"]} for e in exc.errors()
            ]
            return httpx.Response(422, json={"error": "invalid", "detail": detail})
        if not isinstance(action, VerifyAction) or user.role != "grid_worker":
            return problem(403, "forbidden", "需要以下角色之一：网格员 (grid_worker)", needed=["grid_worker"])
        unlinked = [sha for sha in action.attachments if not self.photo_linked(case_id, sha)]
        if unlinked:
            problem_ = {
                "loc": ["body", "attachments"],
                "msg": f"照片未上传到该案件：{unlinked}",
                "type": "invalid",
            }
            return httpx.Response(422, json={"error": "invalid", "detail": [problem_]})
        if self.queued_answers:
            self.queued_answers -= 1
            return problem(504, "queued", "操作已进入案件队列，将按顺序办理，请稍后查看案件")
        answer = self._verify(case, action, user)
        if key is not None:
            self.outcomes[key] = (case_id, answer)
        if self.lose_answers:
            self.lose_answers -= 1
            raise httpx.ReadError("connection lost before the answer", request=request)
        return answer

    def _verify(self, case: FakeCase, action: VerifyAction, user: FakeUser) -> httpx.Response:
        if case.state != "handled":
            label = STATE_LABELS[case.state]
            refusal = {
                "error": "illegal_transition",
                "state": case.state,
                "action": "verify",
                "detail": f"案件当前为「{label}」，不能核查",
            }
            return httpx.Response(409, json=refusal)
        before, case.state = case.state, "closed" if action.passed else "rework"
        case.history.append(
            {
                "seq": len(case.history) + 1,
                "action": "verify",
                "action_label": "核查",
                "from_state": before,
                "to_state": case.state,
                "actor": user.username,
                "at": datetime.now(UTC).isoformat(),
                "reason": None,
                "note": action.note,
            }
        )
        return httpx.Response(200, json=case.case_out())
