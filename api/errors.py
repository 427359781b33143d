"""Domain errors and the one table that maps them to HTTP status codes (no try/except in routes)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout


class GridflowError(Exception):
    code = "error"
    located = False  # True: answered as FastAPI's located list (loc/msg/type) whatever the status

    def __init__(self, message: str, *, field: str | None = None) -> None:
        """`field` is the dotted location FastAPI would give, e.g. `body.category` or `path.area_code`."""
        super().__init__(message)
        self.message = message
        self.field = field


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


DEFAULT_STATUS_CODES: dict[type[GridflowError], int] = {
    NotFound: 404,
    Conflict: 409,
    InvalidInput: 422,
    PayloadTooLarge: 413,
    UnsupportedMediaType: 415,
    QuotaExceeded: 507,
    BrokerUnavailable: 503,
    DatabaseUnavailable: 503,
}
RETRY_AFTER_S = 5


def _body(exc: GridflowError, status: int) -> dict[str, object]:
    if status == 422 or exc.located:
        # Same shape as FastAPI's own validation errors, so clients parse one format.
        loc = exc.field.split(".") if exc.field else ["body"]
        return {"detail": [{"loc": loc, "msg": exc.message, "type": exc.code}]}
    detail = {"code": exc.code, "message": exc.message}
    if exc.field:
        detail["field"] = exc.field
    return {"detail": detail}


def add_exception_handlers(
    app: FastAPI, codes: dict[type[GridflowError], int] = DEFAULT_STATUS_CODES
) -> None:
    for exc_type, status in codes.items():

        async def handler(request: Request, exc: Exception, status: int = status) -> JSONResponse:
            assert isinstance(exc, GridflowError)
            headers = {"Retry-After": str(RETRY_AFTER_S)} if status == 503 else None
            return JSONResponse(_body(exc, status), status_code=status, headers=headers)

        app.add_exception_handler(exc_type, handler)

    async def database_down(request: Request, exc: Exception) -> JSONResponse:
        # A read while PostGIS restarts: the client should retry, as after any 503.
        error = DatabaseUnavailable("数据库暂不可用，请稍后重试 (database unavailable)")
        return JSONResponse(_body(error, 503), status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)})

    # A pool with no free connection (slow reads holding them all) is an overload to retry, never a 500.
    for db_error in (OperationalError, InterfaceError, PoolTimeout):
        app.add_exception_handler(db_error, database_down)
