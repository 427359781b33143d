"""Never lost, never doubled, with cases and timers: while 5,000 reports flow and their cases are acted on,
a second worker joins (a rebalance), workers are killed with kill -9 twice, the broker and the database are
restarted once each. Afterwards every report is in exactly one case, every case equals the replay of its
history, no timer fired twice, and the view's totals equal an independent count."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from kafka import KafkaProducer
from sqlalchemy import text

from cases.model import Case
from cases.replay import differences
from stream.casework import replay_history, tick_command_id
from stream.events import CaseCommand
from stream.router import work_calendar
from tests.e2e.test_crashes import Feeder, assert_each_decided_exactly_once, decided, restore  # noqa: F401
from tests.fixtures import LiveSystem, Process, auth, wait_until

REPORTS = 5_000
STEPS = [("accept", {}), ("handle", {"note": "已处置"}), ("verify", {"passed": True, "note": "核查通过"})]


class Actor(threading.Thread):
    """Acts on open cases as departments and grid workers would, and ticks some timers past their deadline,
    through `cases.commands`; every command it sent is remembered to check that each got an outcome."""

    def __init__(self, system: LiveSystem) -> None:
        super().__init__(daemon=True)
        self.system = system
        self.stop = threading.Event()
        self.sent: list[uuid.UUID] = []
        self.ticks: list[str] = []
        self.rng = random.Random(2102)

    def run(self) -> None:
        producer = KafkaProducer(
            bootstrap_servers=self.system.settings.kafka_bootstrap, acks="all", retries=50, linger_ms=5
        )
        try:
            while not self.stop.is_set():
                try:
                    self._round(producer)
                except Exception:  # the database or broker is being restarted: try again shortly
                    time.sleep(0.5)
                self.stop.wait(0.3)
            producer.flush(60)
        finally:
            producer.close()

    def _round(self, producer: KafkaProducer) -> None:
        with self.system.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT case_id, state, next_timer_at, deadline_at FROM cases"
                    " WHERE state IN ('dispatched', 'in_progress', 'handled') ORDER BY random() LIMIT 15"
                )
            ).all()
        topic = self.system.settings.topic("cases.commands")
        for case_id, state, next_timer_at, deadline_at in rows:
            if self.rng.random() < 0.2 and next_timer_at is not None and deadline_at is not None:
                # Past its deadline, twice: the timer must fire once.
                tick = CaseCommand(
                    command_id=tick_command_id(case_id, next_timer_at),
                    case_id=case_id,
                    kind="tick",
                    at=deadline_at + timedelta(minutes=1),
                )
                for _ in range(2):
                    producer.send(topic, key=case_id.bytes, value=tick.model_dump_json().encode())
                self.ticks.append(str(case_id))
                continue
            name, fields = STEPS[{"dispatched": 0, "in_progress": 1, "handled": 2}[state]]
            command = CaseCommand(
                command_id=uuid.uuid4(),
                case_id=case_id,
                kind="act",
                at=datetime.now(UTC),
                actor="chaos",
                action={"action": name, **fields},
            )
            producer.send(topic, key=case_id.bytes, value=command.model_dump_json().encode())
            self.sent.append(command.command_id)


def rows(system: LiveSystem, sql: str, **params: Any) -> list[Any]:
    with system.engine.connect() as conn:
        return list(conn.execute(text(sql), params).all())


def test_cases_survive_kills_restarts_and_a_rebalance_with_nothing_lost_or_doubled(restore: LiveSystem):  # noqa: F811
    from infra.services import kafka, postgres

    system = restore
    feeder = Feeder(system, REPORTS, pause=0.0)
    actor = Actor(system)
    feeder.start()
    actor.start()
    args, env = system.workers[0].args, system.workers[0].env

    def at(n: int) -> None:
        wait_until(lambda: len(feeder.accepted) >= n, timeout=300, what=f"{n} reports accepted")

    at(800)
    second = Process(f"worker-{uuid.uuid4().hex[:4]}", args, env)
    second.start()  # a rebalance mid-stream
    system.workers.append(second)
    at(1_500)
    system.workers[0].kill()
    system.workers[0] = Process(f"worker-{uuid.uuid4().hex[:4]}", args, env)
    system.workers[0].start()
    at(2_500)
    kafka.kill(system.settings)
    wait_until(lambda: feeder.statuses[503] > 0, timeout=60, what="503 while the broker is down")
    kafka.start(system.settings)
    at(3_300)
    second.kill()
    at(4_000)
    postgres.kill(system.settings)
    assert not postgres.status(system.settings).answering
    at(4_100)  # intake goes on while the database is down
    postgres.start(system.settings)
    feeder.join(600)
    actor.stop.set()
    actor.join(120)
    system.workers.remove(second)
    assert not feeder.unexpected, feeder.unexpected[:5]
    assert len(feeder.accepted) == REPORTS
    assert_each_decided_exactly_once(system, feeder.accepted)

    ids = feeder.accepted

    # Every report in exactly one case: the case it names holds it, and no other case does.
    def every_report_in_its_case() -> bool:
        return not rows(
            system,
            """SELECT r.report_id FROM reports r LEFT JOIN cases c ON c.case_id = r.case_id
               WHERE r.report_id = ANY(CAST(:ids AS uuid[]))
                 AND (c.case_id IS NULL OR NOT (c.doc->'report_ids') ? CAST(r.report_id AS text))""",
            ids=ids,
        )

    wait_until(every_report_in_its_case, timeout=180, what="every report in its case")
    holders = rows(
        system,
        """SELECT rid, count(*) FROM cases, jsonb_array_elements_text(doc->'report_ids') AS rid
           WHERE rid = ANY(CAST(:ids AS text[])) GROUP BY rid HAVING count(*) <> 1""",
        ids=ids,
    )
    assert holders == []
    # Every command the actor sent was applied or refused, once.
    wait_until(
        lambda: decided_commands(system, actor.sent) == len(actor.sent),
        timeout=180,
        what="every command decided",
    )
    # Every case touched equals the replay of its history; seqs have no gap; no timer fired twice.
    of_reports = "SELECT DISTINCT case_id FROM reports WHERE report_id = ANY(CAST(:ids AS uuid[]))"
    case_ids = [str(r[0]) for r in rows(system, of_reports, ids=ids)]
    history: dict[str, list[dict[str, Any]]] = {}
    in_cases = "case_id = ANY(CAST(:c AS uuid[]))"
    for row in rows(system, f"SELECT * FROM case_history WHERE {in_cases} ORDER BY seq", c=case_ids):
        history.setdefault(str(row.case_id), []).append(dict(row._mapping))
    stored = rows(system, f"SELECT case_id, doc FROM cases WHERE {in_cases}", c=case_ids)
    docs = {str(r.case_id): Case.model_validate(r.doc) for r in stored}
    assert set(docs) == set(case_ids) == set(history)
    for case_id, case in docs.items():
        steps = history[case_id]
        assert [h["seq"] for h in steps] == list(range(len(steps))) and case.seq == len(steps) - 1
        assert differences(case, replay_history(steps, work_calendar())) == {}, case_id
        warned = Counter(h["level"] for h in steps if h["action"] == "warn")
        escalated = Counter(h["level"] for h in steps if h["action"] == "escalate")
        assert max(warned.values(), default=0) <= 1 and max(escalated.values(), default=0) <= 1, case_id
    assert any(h["action"] == "escalate" for steps in history.values() for h in steps)
    assert sum(case.state == "closed" for case in docs.values()) > 0
    # The view's totals equal an independent count.
    view = httpx.get(f"{system.api_url}/api/v1/views/210200000000", headers=auth(system), timeout=30).json()[
        "totals"
    ]
    counted = dict(rows(system, "SELECT status, count(*) FROM reports GROUP BY status"))
    assert view["by_status"] == counted and view["reports"] == sum(counted.values())


def decided_commands(system: LiveSystem, command_ids: list[uuid.UUID]) -> int:
    return int(
        rows(
            system,
            "SELECT count(*) FROM case_commands WHERE command_id = ANY(CAST(:ids AS uuid[]))",
            ids=[str(c) for c in command_ids],
        )[0][0]
    )
