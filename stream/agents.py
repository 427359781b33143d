"""Faust agents: short loops over batches that call plain functions (router, sink).

A batch is acknowledged when the loop body returns (or raises), so the body never gives up on a transient
failure: database and broker errors are retried in place until they pass, and the offsets are committed only
for work that is done. A worker killed mid-batch replays it; the sinks make that harmless.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, OperationalError

from geo.versions import read_versions
from infra.db import async_engine
from stream.app import (
    app,
    area_changes_topic,
    deadletter_topic,
    decisions_topic,
    routed_topic,
    settings,
    submitted_topic,
    transitions_topic,
    triage_topic,
)
from stream.events import AreaChange, ReportRouted, ReportSubmitted, ReportTriaged
from stream.router import Decision, decide_batch
from stream.rulebook import RoutingState
from stream.sink import apply_decisions, record_received

log = logging.getLogger("gridflow.stream")
T = TypeVar("T")
BATCH, WITHIN = 500, 0.2


STATE = RoutingState()  # this worker's area index and rule book, refreshed when their versions change


async def retrying(what: str, step: Callable[[], Awaitable[T]]) -> T:
    """Run `step` until it succeeds; back off on database errors (a restart of PostGIS is an outage, not
    a reason to drop the batch)."""
    delay = 0.2
    while True:
        try:
            return await step()
        except (OperationalError, DBAPIError, OSError) as exc:
            log.warning("%s failed (%s); retrying in %.1fs", what, type(exc).__name__, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


async def _send_all(sends: list[tuple[object, bytes, bytes]]) -> None:
    # Await the broker's acknowledgement of every output before the batch's offsets may be committed.
    futures = [await topic.send(key=key, value=value) for topic, key, value in sends]  # type: ignore[attr-defined]
    for future in futures:
        await future


def _parse(values: list[bytes]) -> tuple[list[ReportSubmitted], list[bytes]]:
    good, bad = [], []
    for value in values:
        try:
            good.append(ReportSubmitted.model_validate_json(value))
        except ValidationError:
            bad.append(value)
    return good, bad


@app.agent(submitted_topic)
async def route(stream):  # type: ignore[no-untyped-def]
    async for values in stream.take(BATCH, within=WITHIN):
        reports, malformed = _parse(values)
        if malformed:
            await _send_all([(deadletter_topic, b"", value) for value in malformed])
        if not reports:
            continue
        decisions = await retrying("route batch", functools.partial(_route, reports))
        await _send_all(
            [
                (
                    routed_topic if isinstance(d, ReportRouted) else triage_topic,
                    d.report.report_id.bytes,
                    d.model_dump_json().encode(),
                )
                for d in decisions
            ]
        )


async def _route(reports: list[ReportSubmitted]) -> list[Decision]:
    async with async_engine().begin() as conn:
        known = await record_received(conn, reports, settings.city_code)
        current = await conn.run_sync(read_versions)  # one small read: has anything been edited?
    await STATE.refresh(async_engine(), current)
    # A report already decided (a resubmission) or re-using an id with other content is not decided again.
    fresh = [r for r in reports if known.get(r.report_id) == ("accepted", r.content_hash)]
    for r in reports:
        _status, content_hash = known.get(r.report_id, ("missing", ""))
        if content_hash and content_hash != r.content_hash:
            log.warning("report %s re-uses an id with other content; the first one stands", r.report_id)
    assert STATE.index is not None and STATE.rulebook is not None
    return decide_batch(fresh, STATE.index, STATE.rulebook, datetime.now(UTC), STATE.versions())


def _parse_decision(topic: str, value: bytes) -> Decision:
    if topic == routed_topic.get_topic_name():
        return ReportRouted.model_validate_json(value)
    return ReportTriaged.model_validate_json(value)


@app.agent(decisions_topic)
async def sink(stream):  # type: ignore[no-untyped-def]
    async for events in stream.take_events(BATCH, within=WITHIN):
        decisions = [_parse_decision(e.message.topic, e.value) for e in events]

        async def write(decisions: list[Decision] = decisions):  # type: ignore[no-untyped-def]
            async with async_engine().begin() as conn:
                return await apply_decisions(conn, decisions, settings.city_code)

        transitions = await retrying("write decisions", write)
        await _send_all(
            [(transitions_topic, t.case_id.bytes, t.model_dump_json().encode()) for t in transitions]
        )


@app.agent(area_changes_topic)
async def area_changes(stream):  # type: ignore[no-untyped-def]
    # Only one worker of the group reads each change, so the reload does not hang on it: every worker
    # compares versions before each batch. This keeps a line in each reader's log of what was edited.
    async for value in stream:
        try:
            change = AreaChange.model_validate_json(value)
        except ValidationError:
            log.warning("unreadable areas.changes event: %r", value[:200])
            continue
        log.info("edit seen: %s v%d by %s (%s)", change.kind, change.version, change.actor, change.note)
