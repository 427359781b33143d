"""The API process's Prometheus metrics, and the middleware that times every request by its route template.

Names and labels (README "Operations"):
  gridflow_http_request_duration_seconds{method, route, status}  until the response's head is sent, so a
      stream (the live feed, an export) counts its start, not its length; `route` is the template
      (`/api/v1/reports/{report_id}`), never the raw path, so ids do not multiply the series
  gridflow_produce_duration_seconds{topic, outcome}  a record sent until the broker acknowledged it
  gridflow_intake_reports_total{outcome, reason}  accepted (new | duplicate) or refused (the answer's `error`)
  gridflow_consumer_lag{topic, partition}  the workers' group, set on each scrape from the cached lag
  gridflow_live_clients, gridflow_live_dropped_total  the live feed's connections and slow clients cut off
"""

from __future__ import annotations

import json
import time
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

INTAKE = ("POST", "/api/v1/reports")
BATCH_INTAKE = ("POST", "/api/v1/reports/batch")
MAX_READ = 8 * 1024 * 1024  # an intake answer longer than this is not ours (a batch's is below 1 MiB)
UNMATCHED = "(unmatched)"  # 404s and the like: one series for every path no route knows

REQUEST_SECONDS = Histogram(
    "gridflow_http_request_duration_seconds",
    "HTTP requests until the response head is sent, by route template and status",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
PRODUCE_SECONDS = Histogram(
    "gridflow_produce_duration_seconds",
    "A record sent to Kafka until the broker acknowledged it (acks=all)",
    ["topic", "outcome"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
)
INTAKE_REPORTS = Counter(
    "gridflow_intake_reports_total",
    "Reports posted to the intake, by outcome and reason",
    ["outcome", "reason"],
)
CONSUMER_LAG = Gauge(
    "gridflow_consumer_lag",
    "Events the workers' consumer group has yet to read, per topic partition",
    ["topic", "partition"],
)
LIVE_CLIENTS = Gauge("gridflow_live_clients", "Clients connected to the live event feed")
LIVE_DROPPED = Counter(
    "gridflow_live_dropped_total", "Live-feed clients cut off because they read too slowly"
)


def route_of(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


def intake_outcomes(
    path: str, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> list[tuple[str, str]]:
    """(outcome, reason) of each report in one intake answer, read from the answer (so the intake code
    stays as it is): the answer of POST /api/v1/reports, or each item of a batch's 207."""
    try:
        answer = json.loads(body) if body else {}
    except ValueError:
        answer = {}
    if not isinstance(answer, dict):
        answer = {}
    if path == BATCH_INTAKE[1] and status == 207:
        return [_item_outcome(item) for item in answer.get("results", []) if isinstance(item, dict)]
    if status < 400:
        duplicate = (b"x-gridflow-duplicate", b"true") in [(k.lower(), v) for k, v in headers]
        return [("accepted", "duplicate" if duplicate else "new")]
    return [("refused", str(answer.get("error") or status))]


def _item_outcome(item: dict[str, Any]) -> tuple[str, str]:
    if item.get("status") == 202:
        return "accepted", "duplicate" if item.get("duplicate") else "new"
    return "refused", str(item.get("error") or item.get("status"))


class RequestMetrics:
    """Pure ASGI (no BaseHTTPMiddleware), so streamed answers pass through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        head: dict[str, Any] = {}
        path = scope["path"].rstrip("/")
        is_intake = (scope["method"], path) in (INTAKE, BATCH_INTAKE)
        body = bytearray()

        async def timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                head.update(status=message["status"], headers=list(message.get("headers", [])))
                observe(scope, message["status"], time.perf_counter() - started)
            elif is_intake and message["type"] == "http.response.body":
                # A single report's 202 says all in its head; a refusal's reason and a batch's items are
                # in the body.
                if (head["status"] >= 400 or path == BATCH_INTAKE[1]) and len(body) < MAX_READ:
                    body.extend(message.get("body", b""))
                if not message.get("more_body", False):
                    for outcome in intake_outcomes(path, head["status"], head["headers"], bytes(body)):
                        INTAKE_REPORTS.labels(*outcome).inc()
            await send(message)

        try:
            await self.app(scope, receive, timed)
        finally:
            if not head:  # the app raised before answering: the server answers 500
                observe(scope, 500, time.perf_counter() - started)
                if is_intake:
                    INTAKE_REPORTS.labels("refused", "500").inc()


def observe(scope: Scope, status: int, seconds: float) -> None:
    REQUEST_SECONDS.labels(scope["method"], route_of(scope), str(status)).observe(seconds)
