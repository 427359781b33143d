"""A stand-in for the gridflow API, speaking the same contract, for tests that must not need Kafka.

One object serves two ways: as an httpx.MockTransport handler (unit tests, no sockets) and over real HTTP on
loopback (screen tests and the kill test, where the app runs in another process). The photo store is the
real one from api/attachments, so the app's resumable uploads (a report's photos, a case's 核查 photos) meet
the real protocol. Every route but
sign-in asks for a bearer token (fake_auth.py); the 核查 queue and case actions are in fake_cases.py.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from api.attachments import MAX_ATTACHMENT_BYTES, AttachmentStore, Owner, Stored
from api.errors import DEFAULT_STATUS_CODES, GridflowError
from tests.field_app.fake_auth import PASSWORD, FakeAccounts, FakeUser, problem, refusal
from tests.field_app.fake_cases import FakeCases

# Codes as in geo/catalog.py: kind (1 部件, 2 事件) + 大类 + 小类.
CATEGORIES = [
    {
        "code": "10101",
        "name": "上水井盖",
        "kind": "component",
        "major_code": "101",
        "major_name": "公用设施类",
    },
    {
        "code": "10102",
        "name": "污水井盖",
        "kind": "component",
        "major_code": "101",
        "major_name": "公用设施类",
    },
    {
        "code": "10103",
        "name": "雨水箅子",
        "kind": "component",
        "major_code": "101",
        "major_name": "公用设施类",
    },
    {
        "code": "10201",
        "name": "道路破损",
        "kind": "component",
        "major_code": "102",
        "major_name": "道路交通类",
    },
    {"code": "10204", "name": "护栏", "kind": "component", "major_code": "102", "major_name": "道路交通类"},
    {"code": "10401", "name": "行道树", "kind": "component", "major_code": "104", "major_name": "园林绿化类"},
    {"code": "20102", "name": "暴露垃圾", "kind": "event", "major_code": "201", "major_name": "市容环境类"},
    {"code": "20103", "name": "道路不洁", "kind": "event", "major_code": "201", "major_name": "市容环境类"},
    {
        "code": "20201",
        "name": "违规张贴小广告",
        "kind": "event",
        "major_code": "202",
        "major_name": "宣传广告类",
    },
    {"code": "20501", "name": "占道经营", "kind": "event", "major_code": "205", "major_name": "街面秩序类"},
    {"code": "20504", "name": "无照经营", "kind": "event", "major_code": "205", "major_name": "街面秩序类"},
]
DEPARTMENT = {"code": "210202-CG", "name": "中山区城市管理局"}
AREA = {"city": "210200000000", "district": "210202000000", "township": "210202001000", "community": None}
_REPORT = re.compile(r"^/api/v1/reports/([0-9a-f-]{36})$")
_PHOTO = re.compile(r"^/api/v1/reports/([0-9a-f-]{36})/attachments/([0-9a-f]{64})$")
_CASE_PHOTO = re.compile(r"^/api/v1/cases/([0-9a-f-]{36})/attachments/([0-9a-f]{64})$")
WORKER = "wg-0001"  # the grid worker every fake knows, password fake_auth.PASSWORD
_RANGE = re.compile(r"^bytes (?:(\d+)-(\d+)|\*)/(\d+)$")


class FakeApi:
    def __init__(self, photo_root: Path) -> None:
        self.photos = AttachmentStore(photo_root)
        self.accepted: dict[str, dict[str, Any]] = {}
        self.answers: Counter[str] = Counter()  # 202s given per report_id (a resend is answered again)
        self.offline = False  # no answer at all, as with no signal
        self.unavailable = False  # 503 with Retry-After, as when the broker is down
        self.triage_categories: set[str] = set()
        self.unprocessed: set[str] = set()  # report_ids the router has "not reached yet": GET answers 404
        self.hashes = True  # False: answer as the API did before content hashes (no content_hash anywhere)
        self.conflicts: dict[str, list[dict[str, str]]] = {}  # per id: later content the stream refused
        self._first_elsewhere: dict[str, dict[str, Any]] = {}  # see other_content_first
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str, str | None]] = []  # (method, path, Content-Range)
        self.delay_s = 0.0  # per request, so that a kill lands inside a request more often
        self.batch = True  # False: answer as an API older than batch intake (404 on /batch)
        self.batch_sizes: list[int] = []  # reports per batch request received
        self.accounts = FakeAccounts()
        self.accounts.add(WORKER, password=PASSWORD)
        self.cases = FakeCases(
            photo_linked=lambda case_id, sha: self.photos.linked_by_anyone(Owner("case", _uuid(case_id)), sha)
        )
        self.reporters: dict[str, str] = {}  # report_id → who reported it: only they add its photos
        self.authorizations: list[str | None] = []  # the Authorization header of every request

    def other_content_first(self, report_id: str, other: dict[str, Any]) -> None:
        """Simulate the race of issue 8: `other` (same id, other content) reached the stream just before the
        next POST of report_id, but was not in the database yet. That POST still gets its 202 (intake cannot
        know), then the stream keeps `other` and records the POST's content under `conflicts`."""
        self._first_elsewhere[report_id] = {**other, "report_id": report_id}

    # --- the contract ------------------------------------------------------------------------
    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.offline:
            raise httpx.ConnectError("network is unreachable", request=request)
        if self.delay_s:
            time.sleep(self.delay_s)
        path, method = request.url.path, request.method
        self.requests.append((method, path, request.headers.get("content-range")))
        self.authorizations.append(request.headers.get("authorization"))
        with self.lock:
            answer = self.accounts.handle(request)
            user = self.accounts.caller(request)
        if answer is not None:
            return answer
        if user is None:  # every /api/v1 route but sign-in asks for a token
            return refusal(request)
        if method == "GET" and path == "/api/v1/categories":
            return httpx.Response(200, json=CATEGORIES)
        if method == "POST" and path == "/api/v1/reports":
            return self._submit(json.loads(request.content or b"null"), user)
        if method == "POST" and path == "/api/v1/reports/batch" and self.batch:
            return self._submit_batch(json.loads(request.content or b"null"), user)
        if (match := _REPORT.match(path)) and method == "GET":
            return self._status(match.group(1))
        if (match := _PHOTO.match(path)) and method == "PUT":
            return self._photo(match.group(1), match.group(2), request, user)
        if (match := _CASE_PHOTO.match(path)) and method == "PUT":
            return self._case_photo(match.group(1), match.group(2), request, user)
        with self.lock:
            answer = self.cases.handle(request, user)
        return answer or httpx.Response(404, json={"error": "not_found", "detail": "Not Found"})

    def _submit(self, body: Any, user: FakeUser) -> httpx.Response:
        if self.unavailable:
            return httpx.Response(
                503, headers={"Retry-After": "5"}, json={"detail": {"code": "broker_unavailable"}}
            )
        problems = []
        if not isinstance(body, dict):
            return httpx.Response(
                422, json={"detail": [{"loc": ["body"], "msg": "not an object", "type": "x"}]}
            )
        for name in ("report_id", "reporter_id", "category", "location", "observed_at"):
            if name not in body:
                problems.append({"loc": ["body", name], "msg": "Field required", "type": "missing"})
        if body.get("category") not in {c["code"] for c in CATEGORIES}:
            problems.append({"loc": ["body", "category"], "msg": "unknown category", "type": "invalid"})
        if body.get("reporter_id", user.username) != user.username:
            msg = f"reporter_id {body['reporter_id']!r} is not the signed-in user (不能以他人名义上报)"
            problems.append({"loc": ["body", "reporter_id"], "msg": msg, "type": "invalid"})
        if problems:
            return httpx.Response(422, json={"detail": problems})
        rid = body["report_id"]
        with self.lock:
            known = self.accepted.get(rid)
            if known is not None and known != body:
                return httpx.Response(
                    409, json={"detail": {"code": "report_id_conflict", "message": "编号已被其他内容使用"}}
                )
            self.answers[rid] += 1
            self.reporters.setdefault(rid, user.username)
            first = self._first_elsewhere.pop(rid, None)
            if first is None:
                self.accepted[rid] = body
            else:
                self.accepted[rid] = first
                refused = {"content_hash": content_hash(body), "submitted_at": _now()}
                self.conflicts.setdefault(rid, []).append(refused)
        answer = {"report_id": rid, "status": "accepted"}
        if self.hashes:
            answer["content_hash"] = content_hash(body)
        return httpx.Response(202, json=answer)

    def _submit_batch(self, body: Any, user: FakeUser) -> httpx.Response:
        """As api/reports/batch.py answers: 207 with one result per item, or 503 when nothing was taken."""
        reports = body.get("reports") if isinstance(body, dict) else None
        if not isinstance(reports, list) or not 1 <= len(reports) <= 500:
            problem = {"loc": ["body", "reports"], "msg": "1 to 500 reports", "type": "x"}
            return httpx.Response(422, json={"detail": [problem]})
        if self.unavailable:
            return self._submit(reports[0], user)  # the 503 of the single path
        self.batch_sizes.append(len(reports))
        results = []
        for index, item in enumerate(reports):
            answer = self._submit(item, user)
            rid = item.get("report_id") if isinstance(item, dict) else None
            result: dict[str, Any] = {"index": index, "report_id": rid, "status": 202}
            if answer.status_code == 202:
                result["content_hash"] = answer.json().get("content_hash")
                result["duplicate"] = self.answers[rid] > 1
            else:
                detail = answer.json()["detail"]
                if isinstance(detail, list):  # located under the item, as the real API does
                    detail = [{**d, "loc": ["body", "reports", index, *d["loc"][1:]]} for d in detail]
                else:
                    detail = detail["message"]
                error = "conflict" if answer.status_code == 409 else "invalid"
                result.update(status=answer.status_code, error=error, detail=detail)
            results.append(result)
        accepted = sum(1 for r in results if r["status"] == 202)
        return httpx.Response(207, json={"accepted": accepted, "results": results})

    def _status(self, rid: str) -> httpx.Response:
        body = self.accepted.get(rid)
        if body is None or rid in self.unprocessed:
            return httpx.Response(404, json={"detail": {"code": "not_found", "message": "not processed yet"}})
        if body["category"] in self.triage_categories:
            state = {"status": "triage", "area": AREA, "department": None, "triage_reason": "no_duty_rule"}
        else:
            state = {"status": "routed", "area": AREA, "department": DEPARTMENT, "triage_reason": None}
        if self.hashes:
            state["content_hash"] = content_hash(body)
            state["conflicts"] = list(self.conflicts.get(rid, []))
        return httpx.Response(200, json={"report_id": rid, **state})

    def _photo(self, rid: str, sha: str, request: httpx.Request, user: FakeUser) -> httpx.Response:
        reporter = self.reporters.get(rid)
        if reporter is not None and reporter != user.username:  # as api/attachments: the reporter only
            message = "仅该上报的上报人可上传照片 (only the report's reporter adds its photos)"
            return problem(403, "forbidden", message, needed=[])
        return self._receive(Owner("report", _uuid(rid)), sha, request, uploader=None)

    def _case_photo(self, case_id: str, sha: str, request: httpx.Request, user: FakeUser) -> httpx.Response:
        """As api/attachments/case_routes.py: whoever may verify the case adds its photos, whoever reported
        it (404 when the case is not in the worker's grids, 403 for a role that may not verify)."""
        case = self.cases.cases.get(case_id)
        if case is None or case.grid not in user.grid_codes:
            return problem(404, "not_found", "案件不存在 (no such case)")
        if user.role != "grid_worker":
            return problem(
                403, "forbidden", "仅可核查或处置该案件者可上传照片", needed=["grid_worker", "department"]
            )
        return self._receive(Owner("case", _uuid(case_id)), sha, request, uploader=user.username)

    def _receive(
        self, owner: Owner, sha: str, request: httpx.Request, uploader: str | None
    ) -> httpx.Response:
        match = _RANGE.match(request.headers.get("content-range", ""))
        if match is None:
            return httpx.Response(422, json={"detail": [{"loc": ["header", "content-range"], "msg": "bad"}]})
        first, _last, total = (int(g) if g is not None else None for g in match.groups())
        assert total is not None
        if total > MAX_ATTACHMENT_BYTES:
            return httpx.Response(
                413, json={"detail": [{"loc": ["header", "content-range"], "msg": "too big"}]}
            )
        try:
            if first is None:
                result = self.photos.status(owner, sha, total, uploader=uploader)
            else:
                content_type = request.headers.get("content-type", "")
                result = self.photos.put_chunk(
                    owner, sha, first, request.content, total, content_type, uploader=uploader
                )
        except GridflowError as refusal:
            status = DEFAULT_STATUS_CODES[type(refusal)]
            loc = (refusal.field or "body").split(".")
            return httpx.Response(status, json={"detail": [{"loc": loc, "msg": refusal.message}]})
        if isinstance(result, Stored):
            return httpx.Response(201 if result.created else 200, json={"sha256": sha, "size": result.size})
        return httpx.Response(308, headers={"Range": f"bytes=0-{result - 1}"} if result else {})

    # --- serving -----------------------------------------------------------------------------
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def serve(self) -> tuple[str, ThreadingHTTPServer]:
        """Serve over HTTP on a free loopback port; returns (base_url, server). Call server.shutdown()."""
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = httpx.Request(
                    self.command, f"http://fake{self.path}", headers=dict(self.headers.items()), content=body
                )
                try:
                    response = api.handle(request)
                except httpx.ConnectError:
                    self.close_connection = True  # "offline": hang up without an answer
                    return
                self.send_response(response.status_code)
                for key, value in response.headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(response.content)))
                self.end_headers()
                self.wfile.write(response.content)

            do_GET = do_POST = do_PUT = _any

            def log_message(self, *args: object) -> None:
                pass

        server = _QuietServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name="fake-api", daemon=True).start()
        return f"http://127.0.0.1:{server.server_address[1]}", server


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client killed mid-request (the kill test does that on purpose) is not a server fault.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def content_hash(body: dict[str, Any]) -> str:
    """Stands for the server's hash of a report's content: everything but the id, canonically serialised."""
    content = {key: value for key, value in body.items() if key != "report_id"}
    return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _uuid(text: str) -> Any:
    import uuid

    return uuid.UUID(text)
