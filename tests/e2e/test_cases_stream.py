"""Cases in the stream: a routed report opens a dispatched case, a triaged one a triage case; commands sent
to `cases.commands` move them; timers fire once at their time (driven by the tick's own time, not sleep)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from kafka import KafkaProducer
from sqlalchemy import text

from stream.casework import tick_command_id
from stream.events import CaseCommand
from tests.e2e.test_report_trip import LANDMARKS, SEA_OFF_DALIAN, post_report, report, wait_decided
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
    assert post_report(system, body).status_code == 202
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


def test_reports_of_one_spot_join_one_case_counted_by_reporter_and_a_late_upload_joins_by_when_seen(
    live_system: LiveSystem,
):
    lon, lat = LANDMARKS["沙河口"][0]
    first_id, _ = opened_case(live_system, (lon, lat), category="20501", reporter_id="wg0101")
    near = report(lon + 0.0002, lat, category="20501", reporter_id="wg0102")  # about 17 m away
    again = report(lon, lat + 0.0001, category="20501", reporter_id="wg0101")  # the first reporter again
    seen_earlier = (datetime.now(UTC) - timedelta(hours=30)).isoformat()
    offline = report(lon, lat, category="20501", reporter_id="wg0103", observed_at=seen_earlier)
    elsewhere = report(lon + 0.01, lat, category="20501")  # about 870 m
    other_kind = report(lon, lat, category="10201")
    bodies = [near, again, offline, elsewhere, other_kind]
    for body in bodies:
        assert post_report(live_system, body).status_code == 202
    statuses = {b["report_id"]: wait_decided(live_system, str(b["report_id"])) for b in bodies}
    joined = [near, again, offline]
    assert all(statuses[b["report_id"]]["status"] == "routed" for b in bodies)
    assert all(str(statuses[b["report_id"]]["case_id"]) == first_id for b in joined)
    assert str(statuses[elsewhere["report_id"]]["case_id"]) != first_id
    assert str(statuses[other_kind["report_id"]]["case_id"]) != first_id

    def all_joined() -> bool:
        row = case_row(live_system, first_id)
        return row is not None and len(row["doc"]["report_ids"]) == 4

    wait_until(all_joined, timeout=30, what="the duplicates in the case")
    row = case_row(live_system, first_id)
    assert row is not None and row["reporter_count"] == 3  # wg0101 twice counts once
    with live_system.engine.connect() as conn:
        cases_of_spot = conn.execute(
            text("SELECT count(DISTINCT case_id) FROM reports WHERE report_id = ANY(CAST(:ids AS uuid[]))"),
            {"ids": [first_id_report(live_system, first_id), *(b["report_id"] for b in joined)]},
        ).scalar()
    assert cases_of_spot == 1


def first_id_report(system: LiveSystem, case_id: str) -> str:
    row = case_row(system, case_id)
    assert row is not None
    return str(row["doc"]["report_ids"][0])


def test_an_accuracy_circle_across_a_district_border_opens_one_case_with_a_helper(live_system: LiveSystem):
    body = report(121.6200, 38.9150, category="10201")  # 西岗区, 300 m from 中山区 (see test_locating)
    body["location"] = {"lon": 121.6200, "lat": 38.9150, "accuracy_m": 300.0, "crs": "wgs84"}
    assert post_report(live_system, body).status_code == 202
    status = wait_decided(live_system, str(body["report_id"]))
    case_id = str(status["case_id"])
    wait_until(lambda: case_row(live_system, case_id) is not None, timeout=30, what="the case")
    row = case_row(live_system, case_id)
    assert row is not None
    assert row["department_code"].startswith("210202")  # the lowest code leads
    assert [code[:6] for code in row["helper_codes"]] == ["210203"]


def scan(system: LiveSystem, now: datetime) -> dict[str, uuid.UUID]:
    """The leader's timer scan at a chosen time (the clock is a parameter): case id → tick command id."""
    from sqlalchemy.ext.asyncio import create_async_engine

    from stream.case_stage import due_ticks

    async def run() -> dict[str, uuid.UUID]:
        engine = create_async_engine(system.settings.database_url())
        try:
            async with engine.connect() as conn:
                return {str(t.case_id): t.command_id for t in await due_ticks(conn, now)}
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_the_timer_scan_finds_a_case_once_its_timer_is_due_and_names_that_timer_once(live_system: LiveSystem):
    case_id, row = opened_case(live_system, LANDMARKS["旅顺"][0])
    due = row["next_timer_at"]
    assert case_id not in scan(live_system, due - timedelta(seconds=1))
    first, later = scan(live_system, due), scan(live_system, due + timedelta(minutes=5))
    assert first[case_id] == later[case_id] == tick_command_id(uuid.UUID(case_id), due)
