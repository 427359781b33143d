"""Cases in the stream: a routed report opens a dispatched case, a triaged one a triage case; commands sent
to `cases.commands` move them; timers fire once at their time (driven by the tick's own time, not sleep)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from kafka import KafkaProducer
from sqlalchemy import text

from stream.casework import tick_command_id
from stream.events import CaseCommand
from tests.e2e.test_report_trip import LANDMARKS, SEA_OFF_DALIAN, report, wait_decided
from tests.fixtures import LiveSystem, wait_until


def case_row(system: LiveSystem, case_id: str) -> dict[str, Any] | None:
    with system.engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM cases WHERE case_id = :c"), {"c": case_id}).mappings().first()
    return dict(row) if row else None


def history(system: LiveSystem, case_id: str) -> list[dict[str, Any]]:
    with system.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT * FROM case_history WHERE case_id = :c ORDER BY seq"), {"c": case_id}
        ).mappings()
        return [dict(r) for r in rows]


def send(system: LiveSystem, *commands: CaseCommand) -> None:
    producer = KafkaProducer(bootstrap_servers=system.settings.kafka_bootstrap, acks="all")
    try:
        for c in commands:
            producer.send(
                system.settings.topic("cases.commands"),
                key=c.case_id.bytes,
                value=c.model_dump_json().encode(),
            )
        producer.flush(30)
    finally:
        producer.close()


def opened_case(
    system: LiveSystem, where: tuple[float, float], **extra: object
) -> tuple[str, dict[str, Any]]:
    body = report(*where, **extra)
    assert httpx.post(f"{system.api_url}/api/v1/reports", json=body).status_code == 202
    status = wait_decided(system, str(body["report_id"]))
    case_id = str(status["case_id"])
    wait_until(lambda: case_row(system, case_id) is not None, timeout=30, what="the case to open")
    row = case_row(system, case_id)
    assert row is not None
    return case_id, row


def test_a_routed_report_opens_a_dispatched_case_with_its_deadline(live_system: LiveSystem):
    case_id, row = opened_case(live_system, LANDMARKS["中山广场"][0])
    assert row["state"] == "dispatched"
    assert row["department_code"].startswith("210202")
    assert row["deadline_at"] is not None and row["next_timer_at"] is not None
    assert [h["action"] for h in history(live_system, case_id)] == ["open"]


def test_a_triaged_report_opens_a_case_waiting_in_triage(live_system: LiveSystem):
    _, row = opened_case(live_system, SEA_OFF_DALIAN)
    assert row["state"] == "triage" and row["department_code"] is None


def test_an_accept_command_moves_the_case_and_a_second_is_refused(live_system: LiveSystem):
    case_id, _ = opened_case(live_system, LANDMARKS["人民广场"][0])
    now = datetime.now(UTC)
    first, second = (
        CaseCommand(
            command_id=uuid.uuid4(),
            case_id=uuid.UUID(case_id),
            kind="act",
            at=now,
            actor="dept:test",
            action={"action": "accept"},
        )
        for _ in range(2)
    )
    send(live_system, first, second, first)  # the first again: a replay changes nothing
    wait_until(lambda: case_row(live_system, case_id)["state"] == "in_progress", timeout=30, what="签收")
    with live_system.engine.connect() as conn:
        outcomes = dict(
            conn.execute(
                text(
                    "SELECT command_id::text, outcome || ':' || coalesce(code, '') FROM case_commands"
                    " WHERE case_id = :c AND kind = 'act'"
                ),
                {"c": case_id},
            ).all()
        )
    assert outcomes == {
        str(first.command_id): "applied:",
        str(second.command_id): "refused:illegal_transition",
    }
    assert [h["action"] for h in history(live_system, case_id)] == ["open", "accept"]


def test_a_timer_tick_past_the_deadline_escalates_once(live_system: LiveSystem):
    case_id, row = opened_case(live_system, LANDMARKS["金州"][0])
    level = row["level"]
    due = row["deadline_at"] + timedelta(minutes=1)
    tick = CaseCommand(
        command_id=tick_command_id(uuid.UUID(case_id), row["next_timer_at"]),
        case_id=uuid.UUID(case_id),
        kind="tick",
        at=due,
    )
    send(live_system, tick, tick)
    wait_until(
        lambda: case_row(live_system, case_id)["doc"]["escalations"] == 1, timeout=30, what="escalation"
    )
    actions = [h["action"] for h in history(live_system, case_id)]
    assert actions == ["open", "warn", "escalate"]
    assert case_row(live_system, case_id)["level"] != level
