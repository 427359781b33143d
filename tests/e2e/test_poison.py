"""Events that no intake check stopped (another producer, an older API, a bug) must not stop the city.

They are produced straight to `reports.submitted`, as a second API process or an older version would, so the
stream's own defences are what is tested: each bad event is set aside with its reason, the rest of its
batch is decided, and reports sent afterwards are routed promptly.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from kafka import KafkaConsumer, KafkaProducer
from sqlalchemy import text

from api.reports.schemas import ReportIn
from api.reports.service import build_event
from stream.router import case_id_for
from tests.e2e.test_report_trip import LANDMARKS, post_report, report, wait_decided
from tests.fixtures import LiveSystem, auth, wait_until


def event_bytes(body: dict[str, Any], **override: Any) -> bytes:
    """The event the API would have produced for `body`, with fields overridden after validation."""
    event = build_event(ReportIn.model_validate(body), datetime.now(UTC))
    return event.model_copy(update=override).model_dump_json().encode()


def produce(system: LiveSystem, values: list[tuple[bytes, bytes]]) -> None:
    producer = KafkaProducer(bootstrap_servers=system.settings.kafka_bootstrap, acks="all")
    try:
        for key, value in values:
            producer.send(system.settings.topic("reports.submitted"), key=key, value=value)
        producer.flush(30)
    finally:
        producer.close()


def dead_letters(system: LiveSystem) -> list[dict[str, Any]]:
    consumer = KafkaConsumer(
        system.settings.topic("reports.deadletter"),
        bootstrap_servers=system.settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=3000,
    )
    try:
        return [json.loads(message.value) for message in consumer]
    finally:
        consumer.close()


def status(system: LiveSystem, report_id: str) -> dict[str, Any]:
    response = httpx.get(f"{system.api_url}/api/v1/reports/{report_id}", headers=auth(system), timeout=5)
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def test_a_nul_in_one_report_sets_it_aside_and_its_batch_and_later_ones_are_routed(live_system: LiveSystem):
    point = LANDMARKS["中山广场"][0]
    before = [report(*point) for _ in range(20)]
    poison = report(*point)
    after = [report(*point) for _ in range(20)]
    # One batch: good reports around the one whose description PostgreSQL cannot store.
    values = [(uuid.UUID(b["report_id"]).bytes, event_bytes(b)) for b in before]
    values.append((uuid.UUID(poison["report_id"]).bytes, event_bytes(poison, description="坏\u0000数据")))
    values += [(uuid.UUID(b["report_id"]).bytes, event_bytes(b)) for b in after]
    produce(live_system, values)

    for body in before + after:
        assert wait_decided(live_system, body["report_id"], timeout=30)["status"] == "routed"
    set_aside = wait_decided(live_system, poison["report_id"], timeout=30)
    assert set_aside["status"] == "triage"
    assert set_aside["triage_reason"] == "processing_failed"
    assert "route" in str(set_aside["triage_detail"])
    letters = [d for d in dead_letters(live_system) if d.get("report_id") == poison["report_id"]]
    assert letters and letters[0]["stage"] == "route"
    assert "\\u0000" in letters[0]["value"] or "\\x00" in letters[0]["value"]

    plain = report(*point)
    assert post_report(live_system, plain).status_code == 202
    assert wait_decided(live_system, plain["report_id"], timeout=30)["status"] == "routed"


def test_an_unreadable_event_goes_to_the_dead_letters_and_a_named_report_to_triage(live_system: LiveSystem):
    named = str(uuid.uuid4())
    good = report(*LANDMARKS["金州"][0])
    produce(
        live_system,
        [
            (b"garbage", b"\xff\xfenot json at all"),
            (uuid.UUID(named).bytes, json.dumps({"report_id": named, "category": 10101}).encode()),
            (uuid.UUID(good["report_id"]).bytes, event_bytes(good)),
        ],
    )
    assert wait_decided(live_system, good["report_id"], timeout=30)["status"] == "routed"
    triaged = wait_decided(live_system, named, timeout=30)
    assert triaged["triage_reason"] == "malformed_event"

    def both_letters() -> bool:
        stages = [(d["stage"], d.get("report_id")) for d in dead_letters(live_system)]
        return ("parse", named) in stages and ("parse", None) in stages

    wait_until(both_letters, timeout=30, what="both unreadable events in the dead letters")


def test_a_resend_with_other_content_from_another_producer_is_listed_as_a_conflict(live_system: LiveSystem):
    first = report(*LANDMARKS["人民广场"][0])
    answer = post_report(live_system, first)
    assert answer.status_code == 202
    accepted_hash = answer.json()["content_hash"]
    wait_decided(live_system, first["report_id"])
    other = {**first, "description": "另一件事"}
    other_hash = build_event(ReportIn.model_validate(other), datetime.now(UTC)).content_hash
    # Another API process (or this one after a restart) knows nothing of the first: it accepts the second.
    produce(live_system, [(uuid.UUID(first["report_id"]).bytes, event_bytes(other))])

    def conflict_listed() -> bool:
        conflicts = status(live_system, first["report_id"])["conflicts"]
        return [c["content_hash"] for c in conflicts] == [other_hash]

    wait_until(conflict_listed, timeout=30, what="the conflict in the report's status")
    standing = status(live_system, first["report_id"])
    assert standing["content_hash"] == accepted_hash != other_hash
    assert live_system.count("SELECT count(*) FROM reports WHERE report_id = :r", r=first["report_id"]) == 1
    # The API process that accepted the first answers a resend of the second at once.
    again = post_report(live_system, other)
    assert again.status_code == 409 and again.json()["detail"]["code"] == "conflict"


def test_a_report_left_accepted_too_long_is_re_driven_and_decided(live_system: LiveSystem):
    body = report(*LANDMARKS["旅顺"][0])
    event = json.loads(event_bytes(body))
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    # A receipt recorded an hour ago whose decision never arrived (the state a lost decision would leave).
    with live_system.engine.begin() as conn:
        conn.execute(
            text(
                """INSERT INTO reports (report_id, case_id, reporter_id, category, description, point,
                   accuracy_m, crs, observed_at, submitted_at, content_hash, status, case_state, city_code,
                   decided_at)
                   VALUES (:rid, :cid, 'wg0001', :category, 'x', ST_SetSRID(ST_MakePoint(:lon, :lat), 4326),
                   8, 'wgs84', :at, :at, :hash, 'accepted', 'reported', '210200000000', :at)"""
            ),
            {
                "rid": body["report_id"],
                "cid": str(case_id_for(uuid.UUID(body["report_id"]))),
                "category": body["category"],
                "lon": event["location_wgs84"]["lon"],
                "lat": event["location_wgs84"]["lat"],
                "at": long_ago,
                "hash": event["content_hash"],
            },
        )
    assert wait_decided(live_system, body["report_id"], timeout=30)["status"] == "routed"
    logs = "".join(w.output() for w in live_system.workers)
    assert "re-driving 1 reports" in logs and body["report_id"] in logs
