"""The report photo routes, and the protocol every owner's photo routes share (`receive_whole`,
`receive_range`, `serve`): parse the request, call the store in a thread, answer; errors go to
api/errors.py."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from uuid import UUID

import anyio.to_thread
from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from accounts.scope import ReportFacts, sees_report
from api.attachments.store import MAX_ATTACHMENT_BYTES, AttachmentStore, Owner, Stored
from api.auth import scoping
from api.deps import CurrentPrincipal
from api.errors import Forbidden, InvalidInput, NotFound, PayloadTooLarge, UnsupportedMediaType
from infra.db import async_engine
from infra.settings import get_settings

ALLOWED_TYPES = ("image/jpeg", "image/png", "image/webp")
SHA256_PATTERN = r"^[0-9a-f]{64}$"
_RANGE = re.compile(r"^bytes (?:(\d+)-(\d+)|\*)/(\d+)$")

router = APIRouter(prefix="/api/v1/reports/{report_id}/attachments", tags=["attachments"])


class AttachmentOut(BaseModel):
    sha256: str
    size: int
    content_type: str
    url: str


def get_store() -> AttachmentStore:
    settings = get_settings()
    return AttachmentStore(
        settings.state_dir / "attachments",
        quota_bytes=settings.attachments_quota_bytes,
        partial_max_age_s=settings.attachments_partial_max_age_s,
    )


StoreDep = Annotated[AttachmentStore, Depends(get_store)]
ReportLookup = Callable[[UUID], Awaitable[ReportFacts | None]]


async def _stored_report(report_id: UUID) -> ReportFacts | None:
    async with async_engine().connect() as conn:
        return await scoping.report_facts(conn, report_id)


def get_report_lookup() -> ReportLookup:
    """How a route learns a stored report's reporter and place (a dependency, so tests can stand in)."""
    return _stored_report


LookupDep = Annotated[ReportLookup, Depends(get_report_lookup)]


async def _uploader(report_id: UUID, principal: scoping.ReporterPrincipal, lookup: LookupDep) -> str:
    """Who uploads: a reporter, and for a report already stored only its own reporter (404 when the caller
    does not see that report, 403 when it does). A report not stored yet — intake writes no database, so the
    photo may come first — is checked when the photo is read: only its reporter's upload counts then."""
    try:
        facts = await lookup(report_id)
    except (OperationalError, InterfaceError, PoolTimeout):
        facts = (
            None  # the database is away: keep the photo under its uploader, as for a report not stored yet
        )
    if facts is not None and facts.reporter_id != principal.reporter_id:
        if not sees_report(principal, facts):
            raise scoping.report_missing(report_id)
        raise Forbidden("仅该上报的上报人可上传照片 (only the report's reporter adds its photos)", needed=[])
    return principal.reporter_id


UploaderDep = Annotated[str, Depends(_uploader)]
Sha256 = Annotated[str, PathParam(pattern=SHA256_PATTERN, description="lowercase hex sha256 of the photo")]
PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"description": "not signed in"},
    403: {"description": "not a reporter (`detail.needed`), or not this report's reporter"},
    404: {"description": "the report is stored and not one the caller sees"},
    413: {"description": "larger than 10 MiB"},
    415: {"description": "not a JPEG, PNG or WebP image (by its magic bytes)"},
    507: {"description": "the server's photo storage is full (code quota_exceeded); try again later"},
}


def declared_type(value: str | None) -> str:
    declared = (value or "").split(";")[0].strip().lower()
    if declared not in ALLOWED_TYPES:
        raise UnsupportedMediaType(f"photos must be {', '.join(ALLOWED_TYPES)}", field="header.content-type")
    return declared


def parse_content_range(value: str | None) -> tuple[int | None, int | None, int]:
    """(first, last, total) of `bytes A-B/N`, or (None, None, total) of `bytes */N`."""
    match = _RANGE.match((value or "").strip())
    if match is None:
        raise InvalidInput("expected 'bytes A-B/N' or 'bytes */N'", field="header.content-range")
    first, last, total = (int(g) if g is not None else None for g in match.groups())
    assert total is not None
    if total > MAX_ATTACHMENT_BYTES:
        raise PayloadTooLarge(f"at most {MAX_ATTACHMENT_BYTES} bytes", field="header.content-range")
    if total == 0 or (first is not None and (last is None or not first <= last < total)):
        raise InvalidInput("range outside the photo", field="header.content-range")
    return first, last, total


async def _read_body(request: Request, limit: int) -> bytes:
    declared_length = request.headers.get("content-length")
    if declared_length and declared_length.isdigit() and int(declared_length) > limit:
        raise PayloadTooLarge(f"at most {limit} bytes", field="header.content-length")
    body = bytearray()
    async for part in request.stream():
        body += part
        if len(body) > limit:
            raise PayloadTooLarge(f"at most {limit} bytes", field="body")
    return bytes(body)


def _url(owner: Owner, sha256: str) -> str:
    return f"/api/v1/{owner.kind}s/{owner.id}/attachments/{sha256}"


def _answer(owner: Owner, stored: Stored) -> JSONResponse:
    out = AttachmentOut(
        sha256=stored.sha256,
        size=stored.size,
        content_type=stored.content_type,
        url=_url(owner, stored.sha256),
    )
    return JSONResponse(out.model_dump(), status_code=201 if stored.created else 200)


async def receive_whole(
    owner: Owner, request: Request, store: AttachmentStore, uploader: str
) -> JSONResponse:
    """A whole photo (raw body) for `owner` from `uploader`, whom the route has already let upload."""
    declared = declared_type(request.headers.get("content-type"))
    body = await _read_body(request, MAX_ATTACHMENT_BYTES)
    if not body:
        raise InvalidInput("the photo is empty", field="body")
    stored = await anyio.to_thread.run_sync(lambda: store.put_whole(owner, body, declared, uploader=uploader))
    return _answer(owner, stored)


async def receive_range(
    owner: Owner, sha256: str, request: Request, store: AttachmentStore, uploader: str
) -> Response:
    """One step of a resumable upload by content hash with Content-Range (see the package's docstring)."""
    declared = declared_type(request.headers.get("content-type"))
    first, last, total = parse_content_range(request.headers.get("content-range"))
    body = await _read_body(request, MAX_ATTACHMENT_BYTES)
    if first is None:
        result = await anyio.to_thread.run_sync(lambda: store.status(owner, sha256, total, uploader=uploader))
    else:
        assert last is not None
        start = first
        if len(body) != last - first + 1:
            raise InvalidInput("body length differs from Content-Range", field="body")
        result = await anyio.to_thread.run_sync(
            lambda: store.put_chunk(owner, sha256, start, body, total, declared, uploader=uploader)
        )
    if isinstance(result, Stored):
        return _answer(owner, result)
    headers = {"Range": f"bytes=0-{result - 1}"} if result else {}
    return JSONResponse({"received": result}, status_code=308, headers=headers)


def serve(store: AttachmentStore, sha256: str) -> FileResponse:
    """The stored photo with its content type; the route has checked who may read it and that it is linked."""
    stored = store.stored(sha256)
    return FileResponse(store.object_path(sha256), media_type=stored.content_type)


RANGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    308: {"description": "incomplete; Range: bytes=0-K says what is held"}
}


@router.post("", status_code=201, response_model=AttachmentOut, responses=PROBLEMS)
async def upload(report_id: UUID, request: Request, store: StoreDep, uploader: UploaderDep) -> JSONResponse:
    """Upload a whole photo (raw body) to one's own report. Idempotent: the same bytes again answer 200."""
    return await receive_whole(Owner("report", report_id), request, store, uploader)


@router.put(
    "/{sha256}",
    status_code=201,
    response_model=AttachmentOut,
    responses={**PROBLEMS, **RANGE_RESPONSES},
)
async def upload_range(
    report_id: UUID, sha256: Sha256, request: Request, store: StoreDep, uploader: UploaderDep
) -> Response:
    """Resumable upload by content hash with Content-Range (see the package's docstring)."""
    return await receive_range(Owner("report", report_id), sha256, request, store, uploader)


@router.get(
    "/{sha256}",
    response_class=FileResponse,
    responses={404: {"description": "no such photo, or its report is not one the caller sees"}},
)
async def fetch(
    report_id: UUID, sha256: Sha256, store: StoreDep, principal: CurrentPrincipal, lookup: LookupDep
) -> FileResponse:
    """The photo as uploaded, with its content type: to whoever sees its report, and only a photo that the
    report's reporter sent for it. Before the report is stored, its uploader alone sees their own photo."""
    missing = NotFound("no such photo for this report", field="path.sha256")
    facts = await lookup(report_id)
    if facts is not None and not sees_report(principal, facts):
        raise missing
    owner = facts.reporter_id if facts is not None else principal.reporter_id
    if not store.linked(report_id, sha256, uploader=owner):
        raise missing
    return serve(store, sha256)
