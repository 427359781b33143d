"""Faust agents: short loops over batches that call the stages (stream/stages.py).

Batches are taken with `noack_take` and acknowledged by hand once the stage returned, that is once every
event of the batch was decided, set aside or handed on. Faust's `take()` acknowledges in a `finally`, so a
worker stopped or failing mid-batch would commit offsets of events nobody processed; here a cancellation
leaves the batch unacknowledged, and it is read again by whoever owns the partition next (the sinks make the
replay harmless).
"""

from __future__ import annotations

import logging

from pydantic import ValidationError

from stream.app import (
    app,
    area_changes_topic,
    case_commands_topic,
    decisions_topic,
    settings,
    submitted_topic,
)
from stream.case_stage import case_events, scan_timers
from stream.events import AreaChange
from stream.stages import redrive_stale, route_events, sink_events

log = logging.getLogger("gridflow.stream")
BATCH, WITHIN = 500, 0.2


@app.agent(submitted_topic)
async def route(stream):  # type: ignore[no-untyped-def]
    async for events in stream.noack_take(BATCH, within=WITHIN):
        await route_events(events)
        for event in events:
            await stream.ack(event)


@app.agent(decisions_topic)
async def sink(stream):  # type: ignore[no-untyped-def]
    async for events in stream.noack_take(BATCH, within=WITHIN):
        await sink_events(events)
        for event in events:
            await stream.ack(event)


@app.agent(case_commands_topic)
async def cases(stream):  # type: ignore[no-untyped-def]
    # One partition holds all of a case's commands: they are applied one after another, in order.
    async for events in stream.noack_take(BATCH, within=WITHIN):
        await case_events(events)
        for event in events:
            await stream.ack(event)


@app.timer(interval=settings.timer_scan_every_s, on_leader=True)  # type: ignore[untyped-decorator]
async def timers() -> None:
    # Deadlines in the stream, not a cron: the leader looks for due timers and sends each case a tick.
    try:
        sent = await scan_timers()
        if sent:
            log.info("timer scan: %d cases due", sent)
    except Exception:
        log.exception("timer scan failed; trying again at the next tick")


@app.timer(interval=settings.redrive_every_s, on_leader=True)  # type: ignore[untyped-decorator]
async def redrive() -> None:
    # A safety net, not the path: reports are decided by the agents above. Any hit here is logged.
    try:
        await redrive_stale()
    except Exception:
        log.exception("re-drive of stale accepted reports failed; trying again at the next tick")


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
