"""The API is assembled from routers by a factory; nothing runs at import."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import attachments, catalog
from api.auth.admin import router as users_router
from api.auth.routes import router as auth_router
from api.cases.routes import router as cases_router
from api.dashboard import mount_dashboard
from api.duties.routes import router as duties_router
from api.errors import add_exception_handlers
from api.events.feed import LiveFeed
from api.events.routes import router as events_router
from api.exports.routes import router as exports_router
from api.limits import BodySizeLimit
from api.map.routes import router as map_router
from api.open311.routes import router as open311_router
from api.ops.heap import freeze_when
from api.ops.lag import KafkaProbe
from api.ops.metrics import RequestMetrics
from api.ops.routes import router as ops_router
from api.producer import EventProducer
from api.queues.routes import router as queues_router
from api.reports.outline import OUTLINE, keep_loaded
from api.reports.routes import router as reports_router
from api.views.routes import router as views_router
from infra.settings import get_settings


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    app.state.producer = EventProducer(settings)
    app.state.kafka_probe = KafkaProbe(settings)
    app.state.live_feed = LiveFeed(settings)
    outline = asyncio.create_task(keep_loaded(settings.city_code))
    heap = asyncio.create_task(freeze_when(lambda: OUTLINE.geometry is not None))
    try:
        yield
    finally:
        heap.cancel()
        outline.cancel()
        await app.state.live_feed.stop()
        await app.state.kafka_probe.close()
        await app.state.producer.stop()


def create_app() -> FastAPI:
    app = FastAPI(
        title="gridflow",
        summary="网格化管理平台 API: report intake, four-level views",
        version="0.1.0",
        lifespan=lifespan,
        # FastAPI's OpenTelemetry hooks asked the environment for providers on every request (5 % of an
        # intake request); the API's metrics are its own (Prometheus, api/ops).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    add_exception_handlers(app)
    app.add_middleware(BodySizeLimit)
    app.add_middleware(RequestMetrics)  # outermost: it times and counts what the body limit refuses too
    app.include_router(reports_router)
    app.include_router(catalog.router)
    app.include_router(views_router)
    app.include_router(duties_router)
    # Routers added by other modules go below this line.
    app.include_router(attachments.router)
    app.include_router(cases_router)
    app.include_router(exports_router)
    app.include_router(auth_router)
    app.include_router(users_router)
    app.include_router(queues_router)
    app.include_router(ops_router)
    app.include_router(events_router)
    app.include_router(open311_router)
    app.include_router(map_router)
    mount_dashboard(app)  # last: its mounts and / must not shadow an API route
    return app
