"""/health, /ready and /metrics: for the orchestrator, the load balancer and Prometheus, not for people.

/health says the process runs (200 as long as it can answer at all); /ready says it can do its work now:
Kafka answers a metadata request, PostGIS a `SELECT 1`, each within `ready_timeout_s`, and the workers'
backlog stays below `ready_max_lag`. A load balancer takes a 503 from /ready as "send traffic elsewhere",
a 503 from /health would mean "restart me", which a broker outage does not call for.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from sqlalchemy import text

from api.deps import SettingsDep
from api.ops.lag import KafkaProbe
from api.ops.metrics import CONSUMER_LAG
from infra.db import async_engine
from infra.settings import Settings

router = APIRouter(tags=["operations"])
log = logging.getLogger("gridflow.api.ops")


def _probe(request: Request) -> KafkaProbe:
    probe: KafkaProbe = request.app.state.kafka_probe
    return probe


@router.get("/health")
async def health() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


async def _database(settings: Settings) -> dict[str, Any]:
    async def select_one() -> None:
        async with async_engine().connect() as conn:
            await conn.execute(text("SELECT 1"))

    await asyncio.wait_for(select_one(), timeout=settings.ready_timeout_s)
    return {}


async def _kafka_and_lag(probe: KafkaProbe, settings: Settings) -> dict[str, dict[str, Any]]:
    checks: dict[str, dict[str, Any]] = {}
    try:
        await probe.answers()
        checks["kafka"] = {"ok": True}
    except Exception as exc:
        checks["kafka"] = {"ok": False, "error": _describe(exc)}
        checks["lag"] = {"ok": False, "error": "not read: Kafka does not answer"}
        return checks
    try:
        lag = await probe.lag()
    except Exception as exc:
        checks["lag"] = {"ok": False, "error": _describe(exc)}
        return checks
    ok = lag.total <= settings.ready_max_lag
    checks["lag"] = {"ok": ok, "total": lag.total, "max": settings.ready_max_lag}
    if not ok:
        checks["lag"]["error"] = f"the workers have {lag.total} events yet to read"
    return checks


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    return f"{type(exc).__name__}: {exc}"[:300]


@router.get(
    "/ready",
    responses={503: {"description": "a check failed: `failed` names it, `checks` says why"}},
)
async def ready(request: Request, settings: SettingsDep) -> JSONResponse:
    """Kafka and PostGIS reachable, the workers' consumer lag below the bound (`GRIDFLOW_READY_MAX_LAG`)."""
    database, kafka = await asyncio.gather(
        _database(settings), _kafka_and_lag(_probe(request), settings), return_exceptions=True
    )
    checks: dict[str, dict[str, Any]] = {}
    checks["database"] = (
        {"ok": True}
        if not isinstance(database, BaseException)
        else {"ok": False, "error": _describe(database)}
    )
    if isinstance(kafka, BaseException):
        raise kafka
    checks.update(kafka)
    failed = [name for name, check in checks.items() if not check["ok"]]
    if failed:
        log.warning("not ready: %s", ", ".join(f"{name} ({checks[name].get('error')})" for name in failed))
        body = {"error": "not_ready", "status": "not_ready", "failed": failed, "checks": checks}
        return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})
    return JSONResponse({"status": "ready", "failed": [], "checks": checks})


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus text format; the consumer lag is refreshed (from its cache) on each scrape."""
    try:
        lag = await _probe(request).lag()
    except Exception as exc:  # a scrape must answer while Kafka is away: no lag series then, not stale ones
        log.debug("consumer lag not read for /metrics: %r", exc)
        CONSUMER_LAG.clear()
    else:
        CONSUMER_LAG.clear()
        for (topic, partition), behind in lag.by_partition.items():
            CONSUMER_LAG.labels(topic, str(partition)).set(behind)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
