"""The case agent's work on one batch of `cases.commands`, and the timer scan that feeds it.

Load the cases the batch names, apply the commands with the pure `stream.casework`, store the outcome in one
transaction, then publish the new history rows on `cases.transitions`. A command that fails permanently is
set aside alone (dead letter, and a `refused` outcome so an API waiting on it gets an answer).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.db import async_engine
from stream.app import case_commands_topic, deadletter_topic, settings, transitions_topic
from stream.case_store import due_timers, load, record_results, save
from stream.casework import Result, apply_commands, tick_command_id
from stream.events import AreaCodes, CaseCommand, CaseTransitioned
from stream.isolation import isolating
from stream.metrics import case_batch, timed_batch
from stream.quarantine import dead_letter
from stream.router import work_calendar
from stream.stages import Event, Send, send_all

log = logging.getLogger("gridflow.stream.cases")


def _now() -> datetime:
    return datetime.now(UTC)


def transitioned(row: dict[str, Any], area: AreaCodes) -> CaseTransitioned:
    return CaseTransitioned(
        case_id=row["case_id"],
        seq=row["seq"],
        command_id=row["command_id"],
        action=row["action"],
        from_state=row["from_state"],
        to_state=row["to_state"],
        actor=row["actor"],
        at=row["at"],
        reason=row["reason"],
        note=row["note"],
        level=row["level"],
        department_code=row["department_code"],
        deadline_at=row["deadline_at"],
        area=area,
    )


async def _apply(batch: Sequence[CaseCommand]) -> list[Send]:
    share = settings.case_warning_share
    async with async_engine().begin() as conn:
        loaded = await load(conn, [c.case_id for c in batch], [c.command_id for c in batch])
        out = apply_commands(list(batch), loaded.cases, loaded.reporters, loaded.done, work_calendar(), share)
        await save(conn, out, work_calendar(), share)
    case_batch(out)
    known = {**loaded.cases, **out.cases}

    def area(case_id: Any) -> AreaCodes:
        case = known.get(case_id)
        if case is None:
            return AreaCodes()
        return AreaCodes(
            city=case.city_code,
            district=case.district_code,
            township=case.township_code,
            community=case.community_code,
            grid=case.grid_code,
        )

    rows = loaded.replayed_history + out.history  # a replayed batch publishes its rows again (at least once)
    events = [transitioned(row, area(row["case_id"])) for row in rows]
    return [(transitions_topic, e.case_id.bytes, e.model_dump_json().encode()) for e in events]


@timed_batch("cases")
async def case_events(events: Sequence[Event]) -> None:
    commands: list[CaseCommand] = []
    outputs: list[Send] = []
    for event in events:
        try:
            commands.append(CaseCommand.model_validate_json(event.value))
        except ValidationError as exc:
            letter = dead_letter(
                source_topic=str(event.message.topic),
                partition=event.message.partition,
                offset=event.message.offset,
                key=bytes(event.key or b""),
                value=bytes(event.value or b""),
                stage="case-parse",
                error=exc,
                at=_now(),
            )
            outputs.append((deadletter_topic, bytes(event.key or b""), letter.model_dump_json().encode()))

    async def set_aside(command: CaseCommand, exc: Exception) -> None:
        letter = dead_letter(
            source_topic=str(case_commands_topic.get_topic_name()),
            value=command.model_dump_json().encode(),
            key=command.case_id.bytes,
            stage="case",
            error=exc,
            at=_now(),
        )
        outputs.append((deadletter_topic, command.case_id.bytes, letter.model_dump_json().encode()))
        await _record_refusal(
            Result(
                command.command_id,
                command.case_id,
                command.kind,
                "refused",
                command.at,
                "failed",
                str(exc),
                action=command.action,
            )
        )

    sends = await isolating("apply case commands", commands, _apply, set_aside)
    await send_all("send case transitions", sends + outputs)


async def _record_refusal(result: Result) -> None:
    async def write(batch: Sequence[Result]) -> list[None]:
        async with async_engine().begin() as conn:
            await record_results(conn, batch)
        return []

    async def give_up(r: Result, exc: Exception) -> None:
        log.error("could not record the refusal of command %s: %r", r.command_id, exc)

    await isolating("record refusal", [result], write, give_up)


async def due_ticks(conn: AsyncConnection, now: datetime) -> list[CaseCommand]:
    """A tick for every case whose timer is due at `now`. Ids derive from the due time, so a scan repeated
    before the ticks are applied sends the same commands, and each timer fires once."""
    return [
        CaseCommand(command_id=tick_command_id(case_id, due_at), case_id=case_id, kind="tick", at=now)
        for case_id, due_at in await due_timers(conn, now)
    ]


async def scan_timers(now: datetime | None = None) -> int:
    """Send the ticks due at `now` (default: the clock); returns how many."""
    async with async_engine().connect() as conn:
        ticks = await due_ticks(conn, now or _now())
    await send_all(
        "send timer ticks",
        [(case_commands_topic, t.case_id.bytes, t.model_dump_json().encode()) for t in ticks],
    )
    return len(ticks)
