"""A worker's Prometheus metrics, the port it serves them on, and the log line each decision and case step
leaves (with its report, case and command ids).

Each worker is a process of its own, so each serves its own registry on a port of its own
(prometheus_client's start_http_server): `metrics_port` if free, else any free port; the port is logged.
Prometheus's multiprocess mode is for forked children of one server, which the workers are not.

  gridflow_reports_decided_total{outcome, reason}  routed, or triaged with the reason (processing_failed
      and malformed_event are the ones set aside), counted as stored by the sink
  gridflow_events_set_aside_total{stage}  dead letters sent, by the stage that gave up on the event
  gridflow_case_commands_total{kind, outcome, code}  open/attach/act/tick, applied or refused (and why)
  gridflow_case_transitions_total{action}  steps the cases took
  gridflow_timer_firings_total{kind}  warn and escalate steps the timers caused
  gridflow_batch_size{stage}, gridflow_batch_duration_seconds{stage}  route, sink and cases batches
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ParamSpec, TypeVar

from prometheus_client import Counter, Histogram, start_http_server

from infra.settings import Settings
from stream.casework import BatchOutcome
from stream.events import ReportRouted, ReportTriaged

log = logging.getLogger("gridflow.stream.metrics")
decisions_log = logging.getLogger("gridflow.stream.decisions")
cases_log = logging.getLogger("gridflow.stream.cases")

P = ParamSpec("P")
R = TypeVar("R")
TIMER_ACTIONS = ("warn", "escalate")

DECIDED = Counter(
    "gridflow_reports_decided_total", "Reports decided, by outcome and reason", ["outcome", "reason"]
)
SET_ASIDE = Counter("gridflow_events_set_aside_total", "Events sent to the dead letters, by stage", ["stage"])
CASE_COMMANDS = Counter(
    "gridflow_case_commands_total", "Case commands by kind and outcome", ["kind", "outcome", "code"]
)
CASE_TRANSITIONS = Counter("gridflow_case_transitions_total", "Case steps by action", ["action"])
TIMER_FIRINGS = Counter("gridflow_timer_firings_total", "Timer steps (warn, escalate)", ["kind"])
BATCH_SIZE = Histogram(
    "gridflow_batch_size",
    "Events per batch an agent took",
    ["stage"],
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000),
)
BATCH_SECONDS = Histogram(
    "gridflow_batch_duration_seconds",
    "Time a stage took over one batch, retries included",
    ["stage"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)


def serve_metrics(settings: Settings) -> int:
    """Serve this process's metrics; returns the port. A port another worker holds means a free one."""
    try:
        server, _thread = start_http_server(settings.metrics_port, addr=settings.api_host)
    except OSError as exc:
        log.info("metrics port %d is taken (%s); using a free one", settings.metrics_port, exc.strerror)
        server, _thread = start_http_server(0, addr=settings.api_host)
    port = int(server.server_port)
    log.info("worker metrics on http://%s:%d/metrics", settings.api_host, port)
    return port


def timed_batch(stage: str) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Wrap a stage's batch function (events first): its batch size and duration, by stage."""

    def wrap(step: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @functools.wraps(step)
        async def timed(*args: P.args, **kwargs: P.kwargs) -> R:
            events = args[0] if args else kwargs.get("events", ())
            BATCH_SIZE.labels(stage).observe(len(events))  # type: ignore[arg-type]
            started = time.perf_counter()
            try:
                return await step(*args, **kwargs)
            finally:
                BATCH_SECONDS.labels(stage).observe(time.perf_counter() - started)

        return timed

    return wrap


def decisions_stored(decisions: Sequence[ReportRouted | ReportTriaged]) -> None:
    """Count the decisions the sink stored and leave one line per report."""
    for decision in decisions:
        ids = {"report_id": str(decision.report.report_id), "case_id": str(decision.case_id)}
        if isinstance(decision, ReportRouted):
            DECIDED.labels("routed", "").inc()
            decisions_log.info(
                "report routed to %s (%s)", decision.department.code, decision.area.grid, extra=ids
            )
        else:
            DECIDED.labels("triaged", decision.reason.value).inc()
            decisions_log.info("report triaged: %s", decision.reason.value, extra=ids)


def sent(sends: Sequence[tuple[Any, bytes, bytes]], deadletter_topic: Any) -> None:
    """Count the dead letters among records sent (the stage is in the letter)."""
    for topic, _key, value in sends:
        if topic is deadletter_topic:
            try:
                stage = str(json.loads(value).get("stage", "unknown"))
            except ValueError:
                stage = "unknown"
            SET_ASIDE.labels(stage).inc()


def case_batch(out: BatchOutcome) -> None:
    """Count the commands' outcomes and the steps of a case batch, and leave one line per step."""
    for result in out.results:
        CASE_COMMANDS.labels(result.kind, result.outcome, result.code or "").inc()
        if result.outcome != "applied":
            ids = {"case_id": str(result.case_id), "command_id": str(result.command_id)}
            cases_log.info("command %s refused: %s (%s)", result.kind, result.code, result.detail, extra=ids)
    for row in out.history:
        action = str(row["action"])
        CASE_TRANSITIONS.labels(action).inc()
        if action in TIMER_ACTIONS:
            TIMER_FIRINGS.labels(action).inc()
        ids = {"case_id": str(row["case_id"]), "command_id": str(row["command_id"])}
        cases_log.info("case %s: %s → %s", action, row["from_state"], row["to_state"], extra=ids)
