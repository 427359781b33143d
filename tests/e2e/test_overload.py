"""Intake and heavy reads do not starve each other: while readers hold every database connection, reports
are still accepted (intake needs no database), and readers that cannot get a connection answer 503."""

from __future__ import annotations

import threading
import time
from collections import Counter

import httpx

from tests.e2e.test_report_trip import LANDMARKS, as_reporter, report, wait_decided
from tests.fixtures import LiveSystem, auth

READERS = 40  # four times the API's pool (5 + 5 overflow)


def test_reports_are_accepted_while_readers_exhaust_the_database_pool(live_system: LiveSystem):
    stop = threading.Event()
    read_statuses: Counter[int] = Counter()
    lock = threading.Lock()

    def read() -> None:
        with httpx.Client(base_url=live_system.api_url, headers=auth(live_system), timeout=60) as client:
            while not stop.is_set():
                status = client.get("/api/v1/views/210200000000").status_code
                with lock:
                    read_statuses[status] += 1

    readers = [threading.Thread(target=read, daemon=True) for _ in range(READERS)]
    for thread in readers:
        thread.start()
    time.sleep(1.0)  # let the readers take the pool before the reports arrive
    bodies = [report(*LANDMARKS["沙河口"][0]) for _ in range(50)]
    with httpx.Client(base_url=live_system.api_url, headers=as_reporter(live_system), timeout=30) as client:
        answers = [client.post("/api/v1/reports", json=body).status_code for body in bodies]
    stop.set()
    for thread in readers:
        thread.join(90)
    assert answers == [202] * 50
    assert sum(read_statuses.values()) >= READERS
    assert set(read_statuses) <= {200, 503}, read_statuses
    for body in bodies[:5]:
        assert wait_decided(live_system, str(body["report_id"]), timeout=60)["status"] == "routed"
