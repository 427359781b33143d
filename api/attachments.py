"""Report photos (照片附件): stored once by sha256 under state_dir/attachments, sent whole or resumably.

Protocol (what the field app uses; any HTTP client can follow it):

- `POST /api/v1/reports/{report_id}/attachments` — the whole photo as the request body, `Content-Type`
  image/jpeg, image/png or image/webp. 201 with `{"sha256", "size", "content_type", "url"}`; the same bytes
  again give 200 and the same body (idempotent).
- `PUT /api/v1/reports/{report_id}/attachments/{sha256}` — resumable, in the style of RFC 9110 ranges:
  `Content-Range: bytes */N` with an empty body asks how much is held; `Content-Range: bytes A-B/N` sends
  bytes A..B of an N-byte photo. While incomplete the answer is 308 with `Range: bytes=0-K` (K+1 bytes held;
  no Range header when nothing is), so after a dropped connection the client asks and goes on from K+1.
  A chunk that does not start where the server stands changes nothing and gets the same 308. When all N bytes
  are held and their sha256 is the one in the path: 201 (200 if the photo was already stored).
- `GET /api/v1/reports/{report_id}/attachments/{sha256}` — the photo, with its content type.

Limits: at most 10 MiB; JPEG, PNG or WebP, checked by the magic bytes and not only the declared type.
Errors name the field, FastAPI style: 413 too large, 415 not an allowed image, 422 bad hash, range or id.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import anyio.to_thread
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel

from infra.settings import get_settings

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
ALLOWED_TYPES = ("image/jpeg", "image/png", "image/webp")
SHA256_PATTERN = r"^[0-9a-f]{64}$"
_RANGE = re.compile(r"^bytes (?:(\d+)-(\d+)|\*)/(\d+)$")

router = APIRouter(prefix="/api/v1/reports/{report_id}/attachments", tags=["attachments"])


class AttachmentOut(BaseModel):
    sha256: str
    size: int
    content_type: str
    url: str


class UploadProblem(Exception):
    def __init__(self, status: int, loc: list[str], msg: str, kind: str) -> None:
        super().__init__(msg)
        self.status, self.loc, self.msg, self.kind = status, loc, msg, kind

    def http(self) -> HTTPException:
        return HTTPException(self.status, detail=[{"loc": self.loc, "msg": self.msg, "type": self.kind}])


def sniff(head: bytes) -> str | None:
    """The image type by its magic bytes; None for anything that is not JPEG, PNG or WebP."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def _declared_type(value: str | None) -> str:
    declared = (value or "").split(";")[0].strip().lower()
    if declared not in ALLOWED_TYPES:
        raise UploadProblem(
            415, ["header", "content-type"], f"photos must be {', '.join(ALLOWED_TYPES)}", "unsupported_type"
        )
    return declared


def _check_content(head: bytes, declared: str) -> None:
    actual = sniff(head)
    if actual is None or actual != declared:
        raise UploadProblem(
            415,
            ["body"],
            f"content is not {declared} (found {actual or 'no known image type'})",
            "type_mismatch",
        )


@dataclass(frozen=True)
class Stored:
    sha256: str
    size: int
    content_type: str
    created: bool


class AttachmentStore:
    """Files only, no database: objects/<aa>/<sha256>, partial/<sha256>.<N>.part, links/<report_id>/<sha256>.

    Every change takes an flock on the partial file, so two API processes cannot interleave writes.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def object_path(self, sha256: str) -> Path:
        return self.root / "objects" / sha256[:2] / sha256

    def _partial(self, sha256: str, total: int) -> Path:
        return self.root / "partial" / f"{sha256}.{total}.part"

    def link(self, report_id: UUID, sha256: str) -> None:
        marker = self.root / "links" / str(report_id) / sha256
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch(exist_ok=True)

    def linked(self, report_id: UUID, sha256: str) -> bool:
        return (self.root / "links" / str(report_id) / sha256).exists() and self.object_path(sha256).exists()

    def stored(self, sha256: str, created: bool = False) -> Stored:
        path = self.object_path(sha256)
        with path.open("rb") as fh:
            content_type = sniff(fh.read(16)) or "application/octet-stream"
        return Stored(sha256, path.stat().st_size, content_type, created)

    @contextmanager
    def _locked(self, path: Path) -> Iterator[int]:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield fd
        finally:
            os.close(fd)

    def put_whole(self, body: bytes, declared: str) -> Stored:
        _check_content(body[:16], declared)
        sha256 = hashlib.sha256(body).hexdigest()
        if self.object_path(sha256).exists():
            return self.stored(sha256)
        partial = self._partial(sha256, len(body))
        with self._locked(partial) as fd:
            os.ftruncate(fd, 0)
            os.pwrite(fd, body, 0)
            return self._finish(sha256, partial, fd)

    def held(self, sha256: str, total: int) -> int | None:
        """Bytes held of an upload in progress; None once the photo is stored."""
        if self.object_path(sha256).exists():
            return None
        partial = self._partial(sha256, total)
        return partial.stat().st_size if partial.exists() else 0

    def put_chunk(self, sha256: str, start: int, chunk: bytes, total: int, declared: str) -> Stored | int:
        """Append a chunk; the Stored photo when complete, else the number of bytes now held."""
        if self.object_path(sha256).exists():
            return self.stored(sha256)
        partial = self._partial(sha256, total)
        with self._locked(partial) as fd:
            held = os.fstat(fd).st_size
            if start == 0 and chunk:
                _check_content(chunk[:16], declared)
            if start <= held < start + len(chunk):
                # Resent bytes the server already has (a lost answer) are skipped, not written twice.
                os.pwrite(fd, chunk[held - start :], held)
                os.fsync(fd)
                held = start + len(chunk)
            if held < total:
                return held
            return self._finish(sha256, partial, fd)

    def _finish(self, sha256: str, partial: Path, fd: int) -> Stored:
        digest = hashlib.sha256()
        with open(fd, "rb", closefd=False) as fh:
            fh.seek(0)
            head = fh.read(16)
            fh.seek(0)
            for block in iter(lambda: fh.read(1 << 16), b""):
                digest.update(block)
        if digest.hexdigest() != sha256:
            partial.unlink(missing_ok=True)
            raise UploadProblem(
                422, ["path", "sha256"], "uploaded bytes do not match this sha256", "hash_mismatch"
            )
        if sniff(head) is None:
            partial.unlink(missing_ok=True)
            raise UploadProblem(415, ["body"], "content is not a JPEG, PNG or WebP image", "type_mismatch")
        os.fsync(fd)
        target = self.object_path(sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(partial, target)  # atomic: a photo is stored whole or not at all
        return self.stored(sha256, created=True)


def get_store() -> AttachmentStore:
    return AttachmentStore(get_settings().state_dir / "attachments")


StoreDep = Annotated[AttachmentStore, Depends(get_store)]
Sha256 = Annotated[str, PathParam(pattern=SHA256_PATTERN, description="lowercase hex sha256 of the photo")]
PROBLEMS: dict[int | str, dict[str, Any]] = {
    413: {"description": "larger than 10 MiB"},
    415: {"description": "not a JPEG, PNG or WebP image (by its magic bytes)"},
}


async def _read_body(request: Request, limit: int) -> bytes:
    declared_length = request.headers.get("content-length")
    if declared_length and declared_length.isdigit() and int(declared_length) > limit:
        raise UploadProblem(413, ["header", "content-length"], f"at most {limit} bytes", "too_large")
    body = bytearray()
    async for part in request.stream():
        body += part
        if len(body) > limit:
            raise UploadProblem(413, ["body"], f"at most {limit} bytes", "too_large")
    return bytes(body)


def _answer(report_id: UUID, stored: Stored) -> JSONResponse:
    out = AttachmentOut(
        sha256=stored.sha256,
        size=stored.size,
        content_type=stored.content_type,
        url=f"/api/v1/reports/{report_id}/attachments/{stored.sha256}",
    )
    return JSONResponse(out.model_dump(), status_code=201 if stored.created else 200)


@router.post("", status_code=201, response_model=AttachmentOut, responses=PROBLEMS)
async def upload(report_id: UUID, request: Request, store: StoreDep) -> JSONResponse:
    """Upload a whole photo (raw body). Idempotent: the same bytes again answer 200."""
    try:
        declared = _declared_type(request.headers.get("content-type"))
        body = await _read_body(request, MAX_ATTACHMENT_BYTES)
        if not body:
            raise UploadProblem(422, ["body"], "the photo is empty", "empty")
        stored = await anyio.to_thread.run_sync(store.put_whole, body, declared)
        await anyio.to_thread.run_sync(store.link, report_id, stored.sha256)
    except UploadProblem as problem:
        raise problem.http() from None
    return _answer(report_id, stored)


@router.put(
    "/{sha256}",
    status_code=201,
    response_model=AttachmentOut,
    responses={**PROBLEMS, 308: {"description": "incomplete; Range: bytes=0-K says what is held"}},
)
async def upload_range(report_id: UUID, sha256: Sha256, request: Request, store: StoreDep) -> Response:
    """Resumable upload by content hash with Content-Range (see the module's docstring)."""
    try:
        declared = _declared_type(request.headers.get("content-type"))
        match = _RANGE.match(request.headers.get("content-range", "").strip())
        if match is None:
            raise UploadProblem(
                422, ["header", "content-range"], "expected 'bytes A-B/N' or 'bytes */N'", "bad_range"
            )
        first, last, total = (int(g) if g is not None else None for g in match.groups())
        assert total is not None
        if total > MAX_ATTACHMENT_BYTES:
            raise UploadProblem(
                413, ["header", "content-range"], f"at most {MAX_ATTACHMENT_BYTES} bytes", "too_large"
            )
        if total == 0 or (first is not None and (last is None or not first <= last < total)):
            raise UploadProblem(422, ["header", "content-range"], "range outside the photo", "bad_range")
        body = await _read_body(request, MAX_ATTACHMENT_BYTES)
        if first is None:
            result: Stored | int | None = await anyio.to_thread.run_sync(store.held, sha256, total)
            if result is None:
                result = store.stored(sha256)
        else:
            assert last is not None
            if len(body) != last - first + 1:
                raise UploadProblem(422, ["body"], "body length differs from Content-Range", "bad_range")
            result = await anyio.to_thread.run_sync(store.put_chunk, sha256, first, body, total, declared)
        if isinstance(result, Stored):
            await anyio.to_thread.run_sync(store.link, report_id, sha256)
            return _answer(report_id, result)
    except UploadProblem as problem:
        raise problem.http() from None
    headers = {"Range": f"bytes=0-{result - 1}"} if result else {}
    return JSONResponse({"received": result}, status_code=308, headers=headers)


@router.get("/{sha256}", response_class=FileResponse, responses={404: {"description": "no such photo"}})
async def fetch(report_id: UUID, sha256: Sha256, store: StoreDep) -> FileResponse:
    """The photo as uploaded, with its content type."""
    if not store.linked(report_id, sha256):
        raise HTTPException(404, detail={"code": "not_found", "message": "no such photo for this report"})
    stored = store.stored(sha256)
    return FileResponse(store.object_path(sha256), media_type=stored.content_type)
