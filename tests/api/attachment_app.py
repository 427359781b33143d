"""The attachment routes on their own, with the API's error table, over a store in a temp folder."""

from __future__ import annotations

import uuid

from fastapi import FastAPI

from api import attachments
from api.attachments import AttachmentStore, get_store
from api.errors import add_exception_handlers

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
JPEG = b"\xff\xd8\xff\xe0" + b"gridflow-jpeg" * 3000


def make_app(store: AttachmentStore) -> FastAPI:
    app = FastAPI()
    add_exception_handlers(app)
    app.include_router(attachments.router)
    app.dependency_overrides[get_store] = lambda: store
    return app


def base(report_id: uuid.UUID) -> str:
    return f"/api/v1/reports/{report_id}/attachments"


def jpeg_range(content_range: str) -> dict[str, str]:
    return {"Content-Type": "image/jpeg", "Content-Range": content_range}


def files_under(store: AttachmentStore, part: str) -> list[str]:
    return sorted(str(p.relative_to(store.root)) for p in (store.root / part).rglob("*") if p.is_file())
