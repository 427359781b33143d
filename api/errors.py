"""Domain errors and the one table that maps them to HTTP status codes (no try/except in routes).

Every error body carries `error`, a stable machine code, beside `detail`, whose shape clients already parse:
FastAPI's located list (loc, msg, type) for a 422 or a refusal of the request's form, `{code, message}` for
the others. FastAPI's own errors (validation, unknown route, unparsable body) get the same `error`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.utils import is_body_allowed_for_status_code
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException


class GridflowError(Exception):
    code = "error"
    located = False  # True: answered as FastAPI's located list (loc/msg/type) whatever the status

    headers: dict[str, str] | None = None  # sent with the answer (WWW-Authenticate, Retry-After)

    def __init__(self, message: str, *, field: str | None = None, **context: object) -> None:
        """`field` is the dotted location FastAPI would give, e.g. `body.category` or `path.area_code`;
        `context` adds fields to the `{code, message}` detail (e.g. the command_id of a queued action)."""
        super().__init__(message)
        self.message = message
        self.field = field
        self.context = context


class NotFound(GridflowError):
    code = "not_found"


class Conflict(GridflowError):
    code = "conflict"


class InvalidInput(GridflowError):
    """Semantic validation beyond the schema (an unknown category, a point with swapped lat/lon...)."""

    code = "invalid"


class PayloadTooLarge(GridflowError):
    code = "too_large"
    located = True


class UnsupportedMediaType(GridflowError):
    code = "unsupported_media_type"
    located = True


class QuotaExceeded(GridflowError):
    """The server's storage for this kind of data is full: not the client's fault, worth trying later."""

    code = "quota_exceeded"


class BrokerUnavailable(GridflowError):
    code = "broker_unavailable"


class DatabaseUnavailable(GridflowError):
    code = "database_unavailable"


class ActionRefused(GridflowError):
    """A case action the case agent refused. Answered in the case's own terms, flat:
    `{"error": illegal_transition | invalid | failed, "state", "action", "detail": <Chinese>}`."""

    def __init__(self, code: str, message: str, *, state: str, action: str) -> None:
        super().__init__(message)
        self.code = code
        self.state = state
        self.action = action


class ActionQueued(GridflowError):
    """The action is in the case's queue but its outcome did not come back in time; it will be applied."""

    code = "queued"


class Unauthorized(GridflowError):
    """No valid credentials: `not_authenticated` (no token), `invalid_token` (expired, forged, revoked...),
    `invalid_credentials` (a wrong username or password at sign-in). Answered with WWW-Authenticate: Bearer
    (RFC 6750), never with the reason a token was refused, which only the log gets."""

    def __init__(self, message: str, *, code: str = "invalid_token") -> None:
        super().__init__(message)
        self.code = code
        challenge = 'Bearer realm="gridflow"'
        if code == "invalid_token":
            challenge += ', error="invalid_token"'
        self.headers = {"WWW-Authenticate": challenge}


class Forbidden(GridflowError):
    """Signed in, but the role may not do this: `detail.needed` lists the roles that may."""

    code = "forbidden"

    def __init__(self, message: str, *, needed: list[str]) -> None:
        super().__init__(message, needed=needed)


class TooManyAttempts(GridflowError):
    """Sign-in slowed down after repeated failures: retry after `retry_after` seconds."""

    code = "too_many_attempts"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, retry_after=retry_after)
        self.headers = {"Retry-After": str(retry_after)}


DEFAULT_STATUS_CODES: dict[type[GridflowError], int] = {
    NotFound: 404,
    Conflict: 409,
    InvalidInput: 422,
    PayloadTooLarge: 413,
    UnsupportedMediaType: 415,
    QuotaExceeded: 507,
    BrokerUnavailable: 503,
    DatabaseUnavailable: 503,
    ActionRefused: 409,
    ActionQueued: 504,
    Unauthorized: 401,
    Forbidden: 403,
    TooManyAttempts: 429,
}
RETRY_AFTER_S = 5


def _body(exc: GridflowError, status: int) -> dict[str, object]:
    if isinstance(exc, ActionRefused):
        return {"error": exc.code, "state": exc.state, "action": exc.action, "detail": exc.message}
    if status == 422 or exc.located:
        # Same shape as FastAPI's own validation errors, so clients parse one format.
        loc = exc.field.split(".") if exc.field else ["body"]
        return {"error": exc.code, "detail": [{"loc": loc, "msg": exc.message, "type": exc.code}]}
    detail = {"code": exc.code, "message": exc.message, **exc.context}
    if exc.field:
        detail["field"] = exc.field
    return {"error": exc.code, "detail": detail}


# FastAPI's 422 echoes what was sent (`input`) and the rule's parameters (`ctx`). JSON cannot carry NaN, a
# lone surrogate or an integer of thousands of digits, and deep or wide input makes the answer as large as
# the attack: so each error is copied with such values spelled out, text cut short and containers bounded.
# Only the keys FastAPI documents are kept.
_ERROR_KEYS = ("type", "loc", "msg", "input", "ctx")
_MAX_ERRORS = 100
_MAX_TEXT = 500
_MAX_ITEMS = 20
_MAX_DEPTH = 3
_MAX_INT = 2**63


def _text(value: str, limit: int = _MAX_TEXT) -> str:
    safe = value.encode("utf-8", "backslashreplace").decode("utf-8")  # a lone surrogate becomes \udXXX
    return safe if len(safe) <= limit else safe[:limit] + "…"


def json_safe(value: object, depth: int = 0) -> object:
    """A copy of `value` that strict JSON can carry and that stays small."""
    if value is None or isinstance(value, bool | str | int | float | bytes | bytearray):
        return _scalar(value)
    if isinstance(value, Mapping):
        if depth >= _MAX_DEPTH:
            return "{…}"
        items = list(value.items())[:_MAX_ITEMS]
        return {_text(str(k), 100): json_safe(v, depth + 1) for k, v in items}
    if isinstance(value, Sequence | set | frozenset):
        if depth >= _MAX_DEPTH:
            return "[…]"
        return [json_safe(v, depth + 1) for v in list(value)[:_MAX_ITEMS]]
    try:
        return _text(str(value))  # an exception in ctx, a Decimal, an enum...
    except Exception:  # a __str__ that fails must not turn a 422 into a 500
        return f"<{type(value).__name__}>"


def _scalar(value: object) -> object:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if -_MAX_INT < value < _MAX_INT else f"<integer of {value.bit_length()} bits>"
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, bytes | bytearray):
        return _text(bytes(value[: _MAX_TEXT * 4]).decode("utf-8", "backslashreplace"))
    assert isinstance(value, str)
    return _text(value)


def validation_errors(errors: Sequence[Mapping[str, object]]) -> list[dict[str, object]]:
    """FastAPI's error list made safe to answer with (see above)."""
    safe: list[dict[str, object]] = []
    for error in errors[:_MAX_ERRORS]:
        entry: dict[str, object] = {k: json_safe(error[k]) for k in _ERROR_KEYS if k in error}
        loc = error.get("loc")
        parts = loc if isinstance(loc, list | tuple) else ()
        entry["loc"] = [p if isinstance(p, int) else _text(str(p), 100) for p in parts]
        safe.append(entry)
    return safe


def _http_code(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "http_error"


def add_exception_handlers(
    app: FastAPI, codes: dict[type[GridflowError], int] = DEFAULT_STATUS_CODES
) -> None:
    for exc_type, status in codes.items():

        async def handler(request: Request, exc: Exception, status: int = status) -> JSONResponse:
            assert isinstance(exc, GridflowError)
            headers = {"Retry-After": str(RETRY_AFTER_S)} if status == 503 else exc.headers
            return JSONResponse(_body(exc, status), status_code=status, headers=headers)

        app.add_exception_handler(exc_type, handler)

    async def database_down(request: Request, exc: Exception) -> JSONResponse:
        # A read while PostGIS restarts: the client should retry, as after any 503.
        error = DatabaseUnavailable("数据库暂不可用，请稍后重试 (database unavailable)")
        return JSONResponse(_body(error, 503), status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)})

    # A pool with no free connection (slow reads holding them all) is an overload to retry, never a 500.
    for db_error in (OperationalError, InterfaceError, PoolTimeout):
        app.add_exception_handler(db_error, database_down)

    async def invalid_request(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return JSONResponse({"error": "invalid", "detail": validation_errors(exc.errors())}, status_code=422)

    async def http_error(request: Request, exc: Exception) -> Response:
        # FastAPI's and Starlette's own: unknown route (404), wrong method (405), unparsable body (400).
        assert isinstance(exc, HTTPException)
        if not is_body_allowed_for_status_code(exc.status_code):
            return Response(status_code=exc.status_code, headers=exc.headers)
        body = {"error": _http_code(exc.status_code), "detail": exc.detail}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(HTTPException, http_error)
