"""Every Open311 failure in the spec's error format: `[{"code", "description"}]` in JSON,
`<errors><error><code/><description/></error></errors>` in XML, in the format the URL asked for.

The spec's statuses: 404 for a resource that does not exist (a service_code, a service_request_id), 403 for a
missing or invalid api_key, 400 for any other request that cannot be fulfilled. gridflow adds 503 with
Retry-After when Kafka or PostgreSQL cannot answer: the spec would say 400, which tells a client the request
itself is wrong, while it only needs sending again later.

The rest of the API answers errors in its own shape (api/errors.py, one table for /api/v1). Open311 clients
parse only the spec's, so this router's routes use `Open311Route`, which turns the same domain errors into
it through the table below; routes keep no try/except of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException

from api.errors import (
    RETRY_AFTER_S,
    BrokerUnavailable,
    Conflict,
    DatabaseUnavailable,
    GridflowError,
    InvalidInput,
    NotFound,
)
from api.open311.formats import FALLBACK, format_of, render


class Open311Error(Exception):
    """A failure to answer in the spec's format: the HTTP status and one or more descriptions, each an
    `error` whose `code` is that status (the spec allows other codes; clients key on the status)."""

    def __init__(self, status: int, *descriptions: str, headers: dict[str, str] | None = None) -> None:
        super().__init__("; ".join(descriptions))
        self.status = status
        self.descriptions = descriptions or ("error",)
        self.headers = headers


def bad_request(field: str, message: str) -> Open311Error:
    """400 naming the field, as `field: message`."""
    return Open311Error(400, f"{field}: {message}")


def not_found(message: str) -> Open311Error:
    return Open311Error(404, message)


def forbidden(message: str) -> Open311Error:
    return Open311Error(403, message)


# The domain errors of the services Open311 reuses (intake, reads), by the spec's statuses.
STATUS_CODES: dict[type[GridflowError], int] = {
    InvalidInput: 400,
    Conflict: 400,
    NotFound: 404,
    BrokerUnavailable: 503,
    DatabaseUnavailable: 503,
}
_DATABASE_DOWN = (OperationalError, InterfaceError, PoolTimeout)


def as_open311(exc: Exception) -> Open311Error | None:
    """The Open311 answer to `exc`, None for an error nobody expected (it stays a 500, and is logged)."""
    if isinstance(exc, Open311Error):
        return exc
    if isinstance(exc, GridflowError):
        for kind, status in STATUS_CODES.items():
            if isinstance(exc, kind):
                named = f"{exc.field.removeprefix('body.')}: " if exc.field else ""
                return Open311Error(status, named + exc.message)
    if isinstance(exc, _DATABASE_DOWN):
        return Open311Error(503, "数据库暂不可用，请稍后重试 (database unavailable, try again later)")
    if isinstance(exc, RequestValidationError):
        return Open311Error(400, *(_located(error) for error in exc.errors()))
    if isinstance(exc, HTTPException):  # Starlette's own, e.g. a form body it cannot parse
        return Open311Error(exc.status_code, str(exc.detail))
    return None


def _located(error: Any) -> str:
    loc = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path")]
    return f"{'.'.join(loc) or 'request'}: {error.get('msg', 'invalid')}"


def error_response(error: Open311Error, request: Request) -> Response:
    """The spec's error document, in the format the path's extension names (XML when it names none)."""
    extension = request.path_params.get("fmt") or request.url.path.rpartition(".")[2]
    fmt = format_of(extension) or FALLBACK
    document = [{"code": error.status, "description": d} for d in error.descriptions]
    headers = {"Retry-After": str(RETRY_AFTER_S)} if error.status == 503 else error.headers
    return render(document, root="errors", fmt=fmt, status=error.status, headers=headers)


class Open311Route(APIRoute):
    """A route whose failures are answered in the spec's error format (see the module's docstring)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                error = as_open311(exc)
                if error is None:
                    raise
                return error_response(error, request)

        return answer
