"""The request body's size limit: a JSON body larger than any valid request is refused (413) unread.

A pure ASGI middleware, so that it sees the body as it streams in, with or without a Content-Length (a chunked
body is counted as it arrives and refused as soon as it passes the limit). A body within the limit is read
whole here and handed on as one message: at 64 KiB that costs nothing, and nothing raised mid-read can reach
the route. Photo uploads stream up to 10 MiB and are checked by their own routes (api/attachments), so their
paths pass through untouched.
"""

from __future__ import annotations

import re

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import PayloadTooLarge

# The largest valid report (2000 characters of description, each \u-escaped, 10 attachments) is under 30 KB.
JSON_BODY_LIMIT = 64 * 1024
UPLOAD_PATHS = re.compile(r"^/api/v1/reports/[^/]+/attachments(/|$)")
# Batch intake takes up to 500 reports: a typical one is 300-400 bytes, so 4 MiB leaves room for long
# descriptions while bounding what one request holds in memory (the field app sends at most 1 MiB at once).
BATCH_BODY_LIMIT = 4 * 1024 * 1024
BATCH_PATHS = re.compile(r"^/api/v1/reports/batch$")


class BodySizeLimit:
    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int = JSON_BODY_LIMIT,
        exempt: re.Pattern[str] = UPLOAD_PATHS,
        larger: tuple[re.Pattern[str], int] = (BATCH_PATHS, BATCH_BODY_LIMIT),
    ):
        self.app, self.default_limit, self.exempt, self.larger = app, limit, exempt, larger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.exempt.match(scope["path"]):
            await self.app(scope, receive, send)
            return
        pattern, larger = self.larger
        limit = larger if pattern.match(scope["path"]) else self.default_limit
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await self._refuse(scope, receive, send, limit)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left: nobody to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._refuse(scope, receive, send, limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        whole: Message | None = {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        async def replay() -> Message:
            nonlocal whole
            if whole is not None:
                message, whole = whole, None
                return message
            return await receive()  # after the body: only http.disconnect is left to wait for

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        # The shape of a 422 (loc, msg, type), so that clients read every refusal of a request one way. The
        # rest of the body is never read: the connection closes after the answer.
        response = JSONResponse(
            {
                "error": PayloadTooLarge.code,
                "detail": [
                    {
                        "loc": ["body"],
                        "msg": f"request body larger than {limit} bytes (请求内容过大)",
                        "type": PayloadTooLarge.code,
                    }
                ],
            },
            status_code=413,
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None
