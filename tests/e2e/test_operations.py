"""Operations on the live system: /health, /ready (and its 503 naming the broker while it is down), the
metrics of the API and of a worker, and JSON log lines with the report's id."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from accounts.roles import Role
from infra.services import kafka
from tests.e2e.test_report_trip import LANDMARKS, report
from tests.fixtures import Accounts, LiveSystem, wait_until


def metric(text: str, name: str, **labels: str) -> float:
    """The sum of a series' samples whose labels include `labels` (0 when there is none)."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line[: line.rfind("}")])) if "{" in line else {}
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def scrape(url: str) -> str:
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200
    return response.text


def post_report(
    system: LiveSystem, accounts: Accounts, lon: float, lat: float, **extra: object
) -> httpx.Response:
    """A report posted by the city's dispatch center (a reporter of every place)."""
    body = report(lon, lat, **{"category": "10101", **extra})
    body["reporter_id"] = accounts.users[Role.CITY_DISPATCH].username
    return httpx.post(
        f"{system.api_url}/api/v1/reports", json=body, headers=accounts.headers(Role.CITY_DISPATCH)
    )


def wait_status(
    system: LiveSystem, accounts: Accounts, report_id: str, timeout: float = 60
) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def decided() -> bool:
        url = f"{system.api_url}/api/v1/reports/{report_id}"
        answer = httpx.get(url, headers=accounts.headers(Role.CITY_DISPATCH), timeout=10)
        if answer.status_code == 200 and answer.json()["status"] != "accepted":
            found.update(answer.json())
        return bool(found)

    wait_until(decided, timeout=timeout, what=f"report {report_id} decided")
    return found


def routed_report(system: LiveSystem, accounts: Accounts) -> str:
    """A report that opens a case of its own (a duplicate would only join one, and log no case step)."""
    lon, lat = LANDMARKS["沙河口"][0]
    rng = random.Random()
    answer = post_report(system, accounts, lon + rng.uniform(-0.002, 0.002), lat + rng.uniform(-0.002, 0.002))
    assert answer.status_code == 202, answer.text
    report_id = str(answer.json()["report_id"])
    assert wait_status(system, accounts, report_id)["status"] == "routed"
    return report_id


def json_lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_health_answers_while_the_process_runs(live_system: LiveSystem):
    assert httpx.get(f"{live_system.api_url}/health").json() == {"status": "ok"}


def test_ready_with_the_services_up(live_system: LiveSystem):
    def ready() -> bool:
        return httpx.get(f"{live_system.api_url}/ready", timeout=10).status_code == 200

    wait_until(ready, timeout=60, what="/ready to answer 200")
    body = httpx.get(f"{live_system.api_url}/ready", timeout=10).json()
    assert body["failed"] == [] and set(body["checks"]) == {"database", "kafka", "lag"}
    assert body["checks"]["lag"]["total"] <= body["checks"]["lag"]["max"]


@pytest.fixture
def broker_restored(live_system: LiveSystem) -> Iterator[LiveSystem]:
    yield live_system
    kafka.start(live_system.settings)


def test_ready_says_503_naming_kafka_while_the_broker_is_down(broker_restored: LiveSystem):
    system = broker_restored
    kafka.kill(system.settings)
    answers: list[httpx.Response] = []

    def not_ready() -> bool:
        answers.append(httpx.get(f"{system.api_url}/ready", timeout=15))
        return answers[-1].status_code == 503

    wait_until(not_ready, timeout=30, what="/ready to answer 503")
    body = answers[-1].json()
    assert body["error"] == "not_ready" and "kafka" in body["failed"] and "database" not in body["failed"]
    assert body["checks"]["kafka"]["ok"] is False and body["checks"]["kafka"]["error"]
    assert httpx.get(f"{system.api_url}/health").status_code == 200  # up, only not ready
    kafka.start(system.settings)
    wait_until(
        lambda: httpx.get(f"{system.api_url}/ready", timeout=15).status_code == 200,
        timeout=90,
        what="/ready to answer 200 again",
    )


def test_api_metrics_name_their_series_and_move_after_a_report(live_system: LiveSystem, accounts: Accounts):
    url = f"{live_system.api_url}/metrics"
    before = scrape(url)
    route = {"method": "POST", "route": "/api/v1/reports", "status": "202"}
    report_id = routed_report(live_system, accounts)
    after = scrape(url)
    count = "gridflow_http_request_duration_seconds_count"
    assert metric(after, count, **route) == metric(before, count, **route) + 1
    status_route = {"route": "/api/v1/reports/{report_id}", "status": "200"}
    assert metric(after, count, **status_route) > metric(before, count, **status_route)
    assert report_id not in after  # a template, not the raw path
    intake = {"outcome": "accepted", "reason": "new"}
    assert metric(after, "gridflow_intake_reports_total", **intake) == (
        metric(before, "gridflow_intake_reports_total", **intake) + 1
    )
    submitted = live_system.settings.topic("reports.submitted")
    produced = "gridflow_produce_duration_seconds_count"
    assert metric(after, produced, topic=submitted, outcome="acked") > metric(
        before, produced, topic=submitted
    )

    # The lag is read at most every lag_cache_s, and the worker commits its offsets every second.
    def lag_series() -> bool:
        return any(
            line.startswith("gridflow_consumer_lag{")
            and f'topic="{submitted}"' in line
            and 'partition="0"' in line
            for line in scrape(url).splitlines()
        )

    wait_until(lag_series, timeout=30, what="the lag series")


def test_refused_reports_are_counted_by_reason(live_system: LiveSystem, accounts: Accounts):
    url = f"{live_system.api_url}/metrics"
    before = metric(scrape(url), "gridflow_intake_reports_total", outcome="refused", reason="invalid")
    assert post_report(live_system, accounts, 121.6, 38.9, category="99999").status_code == 422
    after = metric(scrape(url), "gridflow_intake_reports_total", outcome="refused", reason="invalid")
    assert after == before + 1


def test_a_worker_serves_its_metrics_on_the_port_it_logged(live_system: LiveSystem, accounts: Accounts):
    report_id = routed_report(live_system, accounts)
    worker = live_system.workers[0]
    found = re.search(r"worker metrics on (http://[\d.]+:\d+/metrics)", worker.output())
    assert found, "the worker did not log its metrics port"

    def counted() -> bool:
        text = scrape(found.group(1))
        return metric(text, "gridflow_reports_decided_total", outcome="routed") >= 1

    wait_until(counted, timeout=15, what="the worker to count its routed reports")
    text = scrape(found.group(1))
    assert metric(text, "gridflow_batch_size_count", stage="route") >= 1
    assert metric(text, "gridflow_batch_duration_seconds_count", stage="sink") >= 1
    assert metric(text, "gridflow_case_commands_total", kind="open", outcome="applied") >= 1
    assert metric(text, "gridflow_case_transitions_total", action="open") >= 1
    assert "gridflow_timer_firings_total" in text and "gridflow_events_set_aside_total" in text
    assert report_id


def test_worker_logs_are_json_lines_with_the_report_id_of_a_routed_report(
    live_system: LiveSystem, accounts: Accounts
):
    report_id = routed_report(live_system, accounts)
    worker = live_system.workers[0]

    def logged() -> list[dict[str, object]]:
        return [e for e in json_lines(worker.output()) if e.get("report_id") == report_id]

    wait_until(lambda: bool(logged()), timeout=15, what="a log line with the report's id")
    line = logged()[0]
    assert line["level"] == "INFO" and line["logger"] == "gridflow.stream.decisions"
    assert str(line["message"]).startswith("report routed to") and line["case_id"]
    assert {"time", "level", "logger", "message"} <= set(line)

    def case_logged() -> list[dict[str, object]]:
        # The case agent takes the open command after the router has logged its decision: wait for it too.
        return [
            e
            for e in json_lines(worker.output())
            if e.get("case_id") == line["case_id"] and e["logger"] == "gridflow.stream.cases"
        ]

    wait_until(lambda: bool(case_logged()), timeout=15, what="the case agent's log line for its case")
    assert all(e.get("command_id") for e in case_logged())


def test_api_logs_uvicorns_lines_as_json_too(live_system: LiveSystem):
    lines = json_lines(live_system.api.output())
    assert any(e["logger"] == "uvicorn.error" and "startup complete" in str(e["message"]) for e in lines)
