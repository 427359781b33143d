"""Report and case photos (照片附件): stored once by sha256 under state_dir/attachments, sent whole or
resumably.

A report's photos come from its reporter; a case's evidence photos (核查, 处置) from whoever may verify or
handle it, under /api/v1/cases/{case_id}/attachments with the same protocol (api/attachments/case_routes.py).

Protocol (what the field app uses; any HTTP client can follow it):

- `POST /api/v1/reports/{report_id}/attachments` — the whole photo as the request body, `Content-Type`
  image/jpeg, image/png or image/webp. 201 with `{"sha256", "size", "content_type", "url"}`; the same bytes
  again for the same report give 200 and the same body (idempotent).
- `PUT /api/v1/reports/{report_id}/attachments/{sha256}` — resumable, in the style of RFC 9110 ranges:
  `Content-Range: bytes */N` with an empty body asks how much this report's upload holds; `Content-Range:
  bytes A-B/N` sends bytes A..B of an N-byte photo. While incomplete the answer is 308 with `Range: bytes=0-K`
  (K+1 bytes held; no Range header when nothing is), so after a dropped connection the client asks and goes
  on from K+1. A chunk that does not start where the server stands changes nothing and gets the same 308.
  When all N bytes are held and their sha256 is the one in the path: 201 (200 if this report had it already).
- `GET /api/v1/reports/{report_id}/attachments/{sha256}` — the photo, with its content type.

A photo belongs to a report only once that report's uploader has sent all its bytes: knowing the hash of a
photo stored for another report is not enough to attach it or to read it (`bytes */N` answers 308 with
nothing held). The bytes are still stored once. An upload left unfinished for
GRIDFLOW_ATTACHMENTS_PARTIAL_MAX_AGE_S (24 h) is dropped; asked again, it answers 308 with nothing held.

Limits: at most 10 MiB; JPEG, PNG or WebP, checked by the magic bytes and not only the declared type; all
photos together at most GRIDFLOW_ATTACHMENTS_QUOTA_BYTES (20 GiB). Errors come from api/errors.py and name the
field, FastAPI style: 413 too large, 415 not an allowed image, 422 bad hash, range or id; 507 with
`{"detail": {"code": "quota_exceeded", "message", "field"}}` when the storage is full.
"""

from fastapi import APIRouter

from api.attachments import case_routes, routes
from api.attachments.routes import get_store
from api.attachments.store import MAX_ATTACHMENT_BYTES, AttachmentStore, Owner, Stored, sniff

router = APIRouter()
router.include_router(routes.router)
router.include_router(case_routes.router)

__all__ = ["MAX_ATTACHMENT_BYTES", "AttachmentStore", "Owner", "Stored", "get_store", "router", "sniff"]
