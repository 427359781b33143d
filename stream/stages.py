"""The work of each agent on one batch, never raising for what an event holds.

Each stage runs its step over the batch through `isolating`: a service away is retried in place, an event
that fails permanently is set aside (dead letter + triage with the reason) and the rest goes on. A stage
returns only when every event of its batch is decided, set aside or handed on, so the agent may then
acknowledge the batch; a cancellation (the worker stopping) propagates and nothing is acknowledged.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from geo.versions import read_versions
from infra.db import async_engine
from stream.app import (
    app,
    case_commands_topic,
    deadletter_topic,
    routed_topic,
    settings,
    triage_topic,
)
from stream.bulk import bulk_upsert
from stream.case_store import open_cases_near
from stream.casework import case_command_for
from stream.duplicates import DuplicateRule, Match, rule_for, within_batch
from stream.events import ReportConflict, ReportRouted, ReportSubmitted, ReportTriaged
from stream.isolation import isolating
from stream.metrics import decisions_stored, sent, timed_batch
from stream.quarantine import (
    dead_letter,
    report_id_in,
    set_aside_decision,
    unreadable_decision,
)
from stream.router import Decision, decide_batch
from stream.rulebook import RoutingState
from stream.sink import Received, apply_decisions, record_received, stale_accepted, standing
from stream.tables import report_conflicts

log = logging.getLogger("gridflow.stream")

STATE = RoutingState()  # this worker's area index and rule book, refreshed when their versions change


class Event(Protocol):
    key: Any
    value: Any
    message: Any


def _now() -> datetime:
    return datetime.now(UTC)


Send = tuple[Any, bytes, bytes]  # (faust topic, key, value)


async def _send_batch(sends: Sequence[Send]) -> list[None]:
    # Await the broker's acknowledgement of every output before the batch may be acknowledged. Straight to
    # the app's producer: Topic.send's per-record machinery (serializers, callbacks, FutureMessage) cost
    # about a sixth of the worker's time, and our records are bytes already.
    producer = app.producer
    futures = [
        await producer.send(topic.get_topic_name(), key, value, None, None, None)
        for topic, key, value in sends
    ]
    for future in futures:
        await future
    return []


async def send_all(what: str, sends: Sequence[Send]) -> None:
    """Send every record; one the broker refuses for what it is goes to the dead letters with the error."""

    async def refused(send: Send, exc: Exception) -> None:
        topic, key, value = send
        letter = dead_letter(
            source_topic=str(topic.get_topic_name()), value=value, key=key, stage="send", error=exc, at=_now()
        )
        await _send_batch([(deadletter_topic, key, letter.model_dump_json().encode())])

    await isolating(what, sends, _send_batch, refused)
    sent(sends, deadletter_topic)


def decision_send(decision: Decision) -> Send:
    topic = routed_topic if isinstance(decision, ReportRouted) else triage_topic
    return topic, decision.report.report_id.bytes, decision.model_dump_json().encode()


# --- route: reports.submitted → reports.routed / reports.triage ----------------------------------------
@timed_batch("route")
async def route_events(events: Sequence[Event]) -> None:
    reports: list[ReportSubmitted] = []
    outputs: list[Send] = []
    for event in events:
        try:
            reports.append(ReportSubmitted.model_validate_json(event.value))
        except ValidationError as exc:
            outputs += _unreadable(event, exc)

    async def record_and_decide(batch: Sequence[ReportSubmitted]) -> list[Decision]:
        return await _route(batch)

    async def set_aside(report: ReportSubmitted, exc: Exception) -> None:
        decision = set_aside_decision(report, stage="route", error=exc, at=_now())
        letter = dead_letter(
            source_topic=submitted_name(),
            value=report.model_dump_json().encode(),
            key=report.report_id.bytes,
            stage="route",
            error=exc,
            report_id=report.report_id,
            at=decision.triaged_at,
        )
        outputs.extend(
            [
                decision_send(decision),
                (deadletter_topic, report.report_id.bytes, letter.model_dump_json().encode()),
            ]
        )

    decisions = await isolating("route batch", reports, record_and_decide, set_aside)
    await send_all("send decisions", [decision_send(d) for d in decisions] + outputs)


def submitted_name() -> str:
    return settings.topic("reports.submitted")


def _unreadable(event: Event, exc: ValidationError) -> list[Send]:
    value = bytes(event.value or b"")
    message = event.message
    report_id = report_id_in(value)
    letter = dead_letter(
        source_topic=str(message.topic),
        partition=message.partition,
        offset=message.offset,
        key=bytes(event.key or b""),
        value=value,
        stage="parse",
        error=exc,
        report_id=report_id,
        at=_now(),
    )
    log.error("unreadable event at %s[%s]@%s set aside", message.topic, message.partition, message.offset)
    sends: list[Send] = [(deadletter_topic, bytes(event.key or b""), letter.model_dump_json().encode())]
    if report_id is not None:
        sends.append(decision_send(unreadable_decision(report_id, value, exc, letter.at)))
    return sends


async def record_receipts(
    conn: AsyncConnection, reports: Sequence[ReportSubmitted], city_code: str
) -> Received:
    """Record the batch's receipt and every report_id re-used with other content (`stream replay` too)."""
    received = await record_received(conn, reports, city_code)
    known = received.known
    conflicts = [
        ReportConflict(report_id=r.report_id, content_hash=r.content_hash, submitted_at=r.submitted_at)
        for r in reports
        if known.get(r.report_id, ("", r.content_hash))[1] != r.content_hash
    ]
    if conflicts:
        # The first content stands; the other is kept so that its sender learns it from the status.
        log.warning("%d report ids re-used with other content; the first content stands", len(conflicts))
        await bulk_upsert(
            conn,
            report_conflicts,
            [c.model_dump(exclude={"schema_version"}) for c in conflicts],
            conflict="(report_id, content_hash)",
        )
    return received


async def _route(reports: Sequence[ReportSubmitted]) -> list[Decision]:
    # The receipts commit on their own: their insert moves the report counts (view_reports, kept by a
    # trigger), whose city row the sink updates too; held through the duplicate search, it made the sink wait.
    async with async_engine().begin() as conn:
        received = await record_receipts(conn, reports, settings.city_code)
    known = received.known
    replayed = received.replayed()
    if replayed:
        log.info("replay: %d of %d reports recorded by an earlier delivery", len(replayed), len(reports))
    # A report already decided (a resubmission) or re-using an id with other content is not decided again.
    fresh = [r for r in reports if known.get(r.report_id) == ("accepted", r.content_hash)]
    rules = duplicate_rules(fresh)
    async with async_engine().connect() as conn:
        near = await open_cases_near(conn, fresh, rules)
        current = await conn.run_sync(read_versions)  # one small read: has anything been edited?
    await STATE.refresh(async_engine(), current)
    assert STATE.index is not None and STATE.rulebook is not None
    decisions = decide_batch(fresh, STATE.index, STATE.rulebook, _now(), STATE.versions())
    matches = within_batch(fresh, near, rules)
    return [joined(d, matches[d.report.report_id]) if d.report.report_id in matches else d for d in decisions]


def duplicate_rules(reports: Sequence[ReportSubmitted]) -> dict[str, DuplicateRule]:
    default = DuplicateRule(settings.duplicate_radius_m, settings.duplicate_window_h)
    return {r.category: rule_for(r.category, default, settings.duplicate_rules) for r in reports}


def joined(decision: Decision, match: Match) -> Decision:
    """The decision of a duplicate: its report joins the open case it duplicates."""
    return decision.model_copy(update={"case_id": match.case_id, "duplicate_of": match.first_report})


# --- sink: decisions → PostGIS (reports) → cases.commands (open the case) -------------------------
def _parse_decision(topic: str, value: bytes) -> Decision:
    if topic == routed_topic.get_topic_name():
        return ReportRouted.model_validate_json(value)
    return ReportTriaged.model_validate_json(value)


@timed_batch("sink")
async def sink_events(events: Sequence[Event]) -> None:
    decisions: list[Decision] = []
    letters: list[Send] = []
    for event in events:
        try:
            decisions.append(_parse_decision(event.message.topic, event.value))
        except ValidationError as exc:
            letters += _unreadable(event, exc)[:1]  # a decision nobody can read: its report is re-driven

    async def write(batch: Sequence[Decision]) -> list[Decision]:
        async with async_engine().begin() as conn:
            applied = await apply_decisions(conn, batch, settings.city_code)
            stood = await standing(conn, batch)
        if len(applied) < len(stood):
            log.info(
                "replay: %d of %d decisions were applied by an earlier delivery",
                len(stood) - len(applied),
                len(batch),
            )
        return stood

    async def set_aside(decision: Decision, exc: Exception) -> None:
        letter = dead_letter(
            source_topic=str(_topic_of(decision)),
            value=decision.model_dump_json().encode(),
            key=decision.report.report_id.bytes,
            stage="sink",
            error=exc,
            report_id=decision.report.report_id,
            at=_now(),
        )
        letters.append((deadletter_topic, decision.report.report_id.bytes, letter.model_dump_json().encode()))
        fallback = set_aside_decision(decision.report, stage="sink", error=exc, at=letter.at)
        # Written here, not sent round again: a decision the database refuses must not loop on the topic.
        stood.extend(await isolating("write set-aside decision", [fallback], write, _give_up))

    stood: list[Decision] = []  # set_aside adds the fallback decisions too
    stood += await isolating("write decisions", decisions, write, set_aside)
    decisions_stored(stood)
    commands = [case_command_for(d) for d in stood]
    await send_all(
        "send case commands",
        [(case_commands_topic, c.case_id.bytes, c.model_dump_json().encode()) for c in commands] + letters,
    )


def _topic_of(decision: Decision) -> str:
    topic = routed_topic if isinstance(decision, ReportRouted) else triage_topic
    return str(topic.get_topic_name())


async def _give_up(decision: Decision, exc: Exception) -> None:
    # Even the sanitized triage row was refused: only a bug gets here. The dead letter holds the event, and
    # the report stays `accepted`, so the periodic re-drive names it in the log until the bug is fixed.
    log.error("report %s could not be set aside in the database: %r", decision.report.report_id, exc)


# --- re-drive: reports left `accepted` too long ------------------------------------------------------
async def redrive_stale(now: datetime | None = None) -> int:
    """Decide again every report `accepted` for longer than `settings.redrive_after_s`; returns how many."""
    cutoff = (now or _now()) - timedelta(seconds=settings.redrive_after_s)
    async with async_engine().connect() as conn:
        stale = await stale_accepted(conn, cutoff)
    if not stale:
        return 0
    log.warning(
        "re-driving %d reports accepted before %s, still undecided: %s",
        len(stale),
        cutoff.isoformat(),
        ", ".join(str(r.report_id) for r in stale[:20]),
    )

    async def decide(batch: Sequence[ReportSubmitted]) -> list[Decision]:
        return await _route(batch)

    async def set_aside(report: ReportSubmitted, exc: Exception) -> None:
        decisions.append(set_aside_decision(report, stage="redrive", error=exc, at=_now()))

    decisions: list[Decision] = []
    decisions += await isolating("re-drive", stale, decide, set_aside)
    await send_all("send re-driven decisions", [decision_send(d) for d in decisions])
    return len(stale)
