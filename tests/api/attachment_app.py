"""The attachment routes on their own, with the API's error table, over a store in a temp folder."""

from __future__ import annotations

import uuid

from fastapi import FastAPI

from accounts.roles import Principal, Role
from accounts.scope import ReportFacts
from api import attachments
from api.attachments import AttachmentStore, get_store
from api.attachments.routes import get_report_lookup
from api.deps import _current_principal
from api.errors import add_exception_handlers

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
JPEG = b"\xff\xd8\xff\xe0" + b"gridflow-jpeg" * 3000


WORKER = Principal(
    user_id=uuid.uuid4(), username="wg_photo", role=Role.GRID_WORKER, grid_codes=("210202001001001",)
)


def make_app(
    store: AttachmentStore,
    principal: Principal = WORKER,
    reports: dict[uuid.UUID, ReportFacts] | None = None,
) -> FastAPI:
    """The routes as `principal` calls them (its token stands in); `reports` are the stored ones (none:
    every report is still on its way, as intake leaves it)."""
    stored = reports if reports is not None else {}

    async def lookup(report_id: uuid.UUID) -> ReportFacts | None:
        return stored.get(report_id)

    app = FastAPI()
    add_exception_handlers(app)
    app.include_router(attachments.router)
    app.dependency_overrides[get_store] = lambda: store
    app.dependency_overrides[_current_principal] = lambda: principal
    app.dependency_overrides[get_report_lookup] = lambda: lookup
    return app


def base(report_id: uuid.UUID) -> str:
    return f"/api/v1/reports/{report_id}/attachments"


def jpeg_range(content_range: str) -> dict[str, str]:
    return {"Content-Type": "image/jpeg", "Content-Range": content_range}


def files_under(store: AttachmentStore, part: str) -> list[str]:
    return sorted(str(p.relative_to(store.root)) for p in (store.root / part).rglob("*") if p.is_file())
