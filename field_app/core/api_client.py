"""The app's HTTP client for the gridflow API (JSON over httpx), called from the sync thread, never the UI's.

It turns every answer into an outcome the outbox understands; transport trouble raises NetworkError.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx

from field_app.core.auth import Auth, Session, SignedOut

UPLOAD_CHUNK = 256 * 1024
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
FIELD_NAMES = {
    "report_id": "编号",
    "reporter_id": "上报人",
    "category": "类别",
    "description": "描述",
    "location": "位置",
    "lon": "经度",
    "lat": "纬度",
    "accuracy_m": "精度",
    "crs": "坐标系",
    "observed_at": "发现时间",
    "attachments": "照片",
}


class NetworkError(Exception):
    """No answer from the server: offline, timeout, refused connection. Worth trying again later."""


class Outcome(StrEnum):
    ACCEPTED = "accepted"  # 202 (and 200/201): in Kafka, counted once
    INVALID = "invalid"  # 422
    CONFLICT = "conflict"  # 409
    UNAVAILABLE = "unavailable"  # 503 / 429: the server asks us to come back later
    SERVER_ERROR = "server_error"  # other 5xx: maybe transient
    REJECTED = "rejected"  # any other 4xx


@dataclass(frozen=True)
class Answer:
    outcome: Outcome
    reason: str = ""
    retry_after: float | None = None
    content_hash: str | None = None  # with ACCEPTED: what the server accepted (None from an older server)


class AttachmentRefused(Exception):
    """413/415/422 (or 403: not this account's to attach to) for a photo: sending it again will not help."""


def describe_error(response: httpx.Response) -> str:
    """The server's reason in one line, field names in Chinese (FastAPI 422 lists and {"code","message"})."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:200] or f"HTTP {response.status_code}"
    return describe_detail(body.get("detail", body) if isinstance(body, dict) else body)


def describe_detail(detail: Any, skip: int = 0) -> str:
    """A `detail` in one line; `skip` drops that many leading parts of each location (a batch item's
    errors are located under body, reports, its index)."""
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if not isinstance(item, dict):
                parts.append(str(item))
                continue
            where_sent = list(item.get("loc", []))[skip:]
            loc = [str(p) for p in where_sent if p not in ("body", "header", "path", "query")]
            where = "·".join(FIELD_NAMES.get(p, p) for p in loc)
            parts.append(f"{where}：{item.get('msg', '')}" if where else str(item.get("msg", "")))
        return "；".join(parts)
    if isinstance(detail, dict):
        return str(detail.get("message") or detail.get("code") or detail)
    return str(detail)


def _content_hash(response: httpx.Response) -> str | None:
    """The 202's content_hash (64 lowercase hex); None from an older server or for anything malformed."""
    try:
        body = response.json()
    except ValueError:
        return None  # the report is accepted all the same; only the late-conflict check is lost
    value = body.get("content_hash") if isinstance(body, dict) else None
    return value if isinstance(value, str) and SHA256_HEX.fullmatch(value) else None


def _item_answer(item: dict[str, Any]) -> Answer:
    """One item of a batch answer (api/reports/batch.py) as the outbox reads a single answer."""
    status = item["status"]
    if status == 202:
        value = item.get("content_hash")
        valid = isinstance(value, str) and SHA256_HEX.fullmatch(value)
        return Answer(Outcome.ACCEPTED, content_hash=value if valid else None)
    reason = describe_detail(item.get("detail"), skip=3) if item.get("detail") else ""
    if status == 409:
        return Answer(Outcome.CONFLICT, reason or "编号已被其他内容使用")
    if status == 422:
        return Answer(Outcome.INVALID, reason)
    if status in (429, 503):
        return Answer(Outcome.UNAVAILABLE, "服务器暂时不可用")
    return Answer(Outcome.SERVER_ERROR, f"服务器错误 {status}")


def retry_after_of(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # the HTTP-date form; our backoff covers it


class ApiClient:
    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 15.0,
        auth: Auth | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.auth = auth  # None: anonymous (the sign-in itself)
        self.batch_supported: bool | None = None  # False once the server said it has no batch endpoint
        self._http = httpx.Client(
            base_url=self.base_url,
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            headers={"Accept": "application/json", "User-Agent": "gridflow-field-app"},
        )

    def close(self) -> None:
        self._http.close()

    def send(self, method: str, url: str, *, token: str | None = None, **kwargs: Any) -> httpx.Response:
        """One request as given: with `token` as its bearer, else anonymous (the sign-in itself)."""
        if token is not None:
            kwargs["headers"] = {**kwargs.get("headers", {}), "Authorization": f"Bearer {token}"}
        try:
            return self._http.request(method, url, **kwargs)
        except httpx.TransportError as exc:  # connect, read, write, timeout, protocol
            raise NetworkError(_network_reason(exc)) from exc

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send with the session's bearer token. A 401 renews the token once and sends again; a refused
        renewal ends the session (SignedOut), so the caller pauses instead of dropping its work."""
        if self.auth is None:
            return self.send(method, url, **kwargs)
        if self.auth.due_for_renewal():
            self._renew(self.auth.access_token())
        token = self.auth.access_token()
        if token is None:
            raise SignedOut("请先登录")
        response = self.send(method, url, token=token, **kwargs)
        if response.status_code != 401:
            return response
        self._renew(token)
        response = self.send(method, url, token=self.auth.access_token(), **kwargs)
        if response.status_code == 401:
            self.auth.end()
            raise SignedOut()
        return response

    def _renew(self, stale: str | None) -> None:
        """A new token pair for the refresh token, unless another thread already replaced `stale`."""
        assert self.auth is not None
        with self.auth.lock:
            session = self.auth.session
            if session is None:
                raise SignedOut()
            if session.access_token != stale:
                return
            body = {"refresh_token": session.refresh_token}
            response = self.send("POST", "/api/v1/auth/refresh", json=body)
            if response.status_code == 200:
                answer = response.json()
                self.auth.start(Session.from_answer(session.username, answer, self.auth.clock.now()))
                return
            if response.status_code in (400, 401, 403, 422):
                self.auth.end()
                raise SignedOut()
            # 503, 5xx: the server cannot say now; the tokens are kept and the pass tried again later.
            raise NetworkError(f"登录续期失败：HTTP {response.status_code}")

    def submit_reports(self, payloads: list[dict[str, Any]]) -> list[Answer] | None:
        """Send several reports in one request (POST /api/v1/reports/batch): one answer per payload, in
        order. None when the server does not take them as a batch — an older server without the endpoint
        (404/405, remembered in `batch_supported`), or one that refuses the batch's form (413/422) — and
        they are to be sent one at a time."""
        response = self.request("POST", "/api/v1/reports/batch", json={"reports": payloads})
        code = response.status_code
        if code in (404, 405):
            self.batch_supported = False
            return None
        if code in (413, 422):
            return None
        if code < 300 and code != 207:
            return [Answer(Outcome.SERVER_ERROR, f"服务器答复无法识别 (HTTP {code})")] * len(payloads)
        if code != 207:
            return [self._answer(response)] * len(payloads)  # 503, 5xx...: the same for every item
        try:
            items = response.json()["results"]
            answers = [_item_answer(item) for item in sorted(items, key=lambda i: i["index"])]
        except (ValueError, KeyError, TypeError):
            return [Answer(Outcome.SERVER_ERROR, "服务器答复无法识别")] * len(payloads)
        if len(answers) != len(payloads):
            return [Answer(Outcome.SERVER_ERROR, "服务器答复条数不符")] * len(payloads)
        return answers

    def submit_report(self, payload: dict[str, Any]) -> Answer:
        return self._answer(self.request("POST", "/api/v1/reports", json=payload))

    def _answer(self, response: httpx.Response) -> Answer:
        code = response.status_code
        if code in (200, 201, 202):
            return Answer(Outcome.ACCEPTED, content_hash=_content_hash(response))
        if code == 409:
            return Answer(Outcome.CONFLICT, describe_error(response))
        if code == 422:
            return Answer(Outcome.INVALID, describe_error(response))
        if code in (429, 503):
            return Answer(Outcome.UNAVAILABLE, "服务器暂时不可用", retry_after_of(response))
        if code >= 500:
            return Answer(Outcome.SERVER_ERROR, f"服务器错误 {code}")
        return Answer(Outcome.REJECTED, describe_error(response) or f"HTTP {code}")

    def report_state(self, report_id: str) -> dict[str, Any] | None:
        """The server's view of a report; None while it has not been processed yet (404)."""
        response = self.request("GET", f"/api/v1/reports/{report_id}")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise NetworkError(f"查询状态失败：HTTP {response.status_code}")
        return dict(response.json())

    def categories(self) -> list[dict[str, Any]]:
        response = self.request("GET", "/api/v1/categories")
        if response.status_code != 200:
            raise NetworkError(f"下载类别失败：HTTP {response.status_code}")
        return list(response.json())

    def upload_photo(
        self, report_id: str, sha256: str, path: Path, content_type: str, *, missing_is_final: bool = False
    ) -> None:
        """A report's photo, resumably (`_upload_resumable`). A 404 is "not yet" for a report just accepted
        (retried), final for an older one (`missing_is_final`)."""
        url = f"/api/v1/reports/{report_id}/attachments/{sha256}"
        self._upload_resumable(url, path, content_type, missing_is_final)

    def upload_case_photo(self, case_id: str, sha256: str, path: Path, content_type: str) -> None:
        """A case's evidence photo (核查), resumably, to the case itself: whoever may verify it may add its
        photos, whoever reported it. A 404 (not a case the worker sees) is final."""
        url = f"/api/v1/cases/{case_id}/attachments/{sha256}"
        self._upload_resumable(url, path, content_type, missing_is_final=True)

    def _upload_resumable(self, url: str, path: Path, content_type: str, missing_is_final: bool) -> None:
        """Ask how much the server holds, then send the rest in chunks.

        Protocol (see api/attachments/__init__.py): PUT .../attachments/{sha256} with `Content-Range: bytes
        */N` asks; 308 with `Range: bytes=0-K` means K+1 bytes are held; 200/201 means the server has the
        whole photo.
        """
        total = path.stat().st_size
        offset = self._upload_step(url, content_type, f"bytes */{total}", b"", missing_is_final)
        with path.open("rb") as fh:
            while offset is not None:
                fh.seek(offset)
                chunk = fh.read(UPLOAD_CHUNK)
                if not chunk:
                    raise AttachmentRefused("服务器未确认照片已完整接收")
                content_range = f"bytes {offset}-{offset + len(chunk) - 1}/{total}"
                offset = self._upload_step(url, content_type, content_range, chunk, missing_is_final)

    def _upload_step(
        self, url: str, content_type: str, content_range: str, body: bytes, missing_is_final: bool
    ) -> int | None:
        """Send one PUT; the next offset to send from, or None when the upload is complete."""
        headers = {"Content-Range": content_range, "Content-Type": content_type}
        response = self.request("PUT", url, content=body, headers=headers)
        code = response.status_code
        if code in (200, 201):
            return None
        if code == 308:
            held = response.headers.get("Range")  # "bytes=0-K"; absent when nothing is held
            return int(held.rsplit("-", 1)[1]) + 1 if held else 0
        if code in (413, 415, 422, 416):
            raise AttachmentRefused(describe_error(response))
        if code == 403 or (code == 404 and missing_is_final):
            raise AttachmentRefused(describe_error(response) or f"HTTP {code}")
        raise NetworkError(f"上传照片失败：HTTP {code}")


def _network_reason(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "连接超时"
    if isinstance(exc, httpx.ConnectError):
        return "无法连接服务器"
    return "连接中断"  # the server or the cell dropped the connection mid-request
