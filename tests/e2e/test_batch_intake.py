"""Batch intake on the live system: each item answered on its own, the accepted ones routed, a resend counted
once, a bad item refused with its field while the rest goes on."""

from __future__ import annotations

from typing import Any

import httpx

from api.reports.batch import BatchResult
from tests.e2e.test_report_trip import as_reporter, post_report, report, wait_decided
from tests.fixtures import LiveSystem, wait_until

ZHONGSHAN = (121.6395, 38.9212)


def post_batch(system: LiveSystem, reports: list[Any]) -> httpx.Response:
    return httpx.post(
        f"{system.api_url}/api/v1/reports/batch",
        json={"reports": reports},
        headers=as_reporter(system),
        timeout=30,
    )


def results(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 207, response.text
    BatchResult.model_validate(response.json())  # the answer is built as JSON: it must be what /docs says
    found: list[dict[str, Any]] = response.json()["results"]
    assert [r["index"] for r in found] == list(range(len(found)))
    return found


def test_every_item_gets_its_own_answer_and_the_good_ones_are_routed(live_system: LiveSystem) -> None:
    good = [report(*ZHONGSHAN, description=f"批量 {n}") for n in range(3)]
    swapped = report(ZHONGSHAN[1], ZHONGSHAN[0])  # latitude and longitude exchanged
    unknown = report(*ZHONGSHAN, category="99999")
    answer = post_batch(
        live_system, [good[0], swapped, good[1], {"report_id": "not-a-uuid"}, unknown, good[2]]
    )
    found = results(answer)
    assert [r["status"] for r in found] == [202, 422, 202, 422, 422, 202]
    assert answer.json()["accepted"] == 3
    assert found[1]["report_id"] == swapped["report_id"]
    assert found[1]["detail"][0]["loc"][:4] == ["body", "reports", 1, "location"]
    assert found[3]["report_id"] is None  # unreadable id: the index tells which item it was
    assert found[4]["detail"][0]["loc"] == ["body", "reports", 4, "category"]
    for item in (found[0], found[2], found[5]):
        assert len(item["content_hash"]) == 64 and item["duplicate"] is False
    for body in good:
        status = wait_decided(live_system, str(body["report_id"]))
        assert status["status"] == "routed"


def test_a_batch_sent_again_is_acknowledged_and_counted_once(live_system: LiveSystem) -> None:
    batch = [report(*ZHONGSHAN, description=f"重发 {n}") for n in range(5)]
    first = results(post_batch(live_system, batch))
    again = results(post_batch(live_system, batch))
    assert [r["status"] for r in first] == [202] * 5
    assert [r["status"] for r in again] == [202] * 5
    assert all(r["duplicate"] for r in again)
    assert [r["content_hash"] for r in again] == [r["content_hash"] for r in first]
    ids = [str(b["report_id"]) for b in batch]
    for rid in ids:
        wait_decided(live_system, rid)
    sql = "SELECT count(*) FROM reports WHERE report_id = ANY(CAST(:ids AS uuid[]))"
    assert live_system.count(sql, ids=ids) == 5
    opened = (
        "SELECT count(*) FROM case_commands c JOIN reports r USING (case_id)"
        " WHERE r.report_id = ANY(CAST(:ids AS uuid[]))"
    )
    wait_until(lambda: live_system.count(opened, ids=ids) >= 5, timeout=60, what="the cases of the batch")


def test_an_id_reused_with_other_content_is_refused_within_and_across_batches(
    live_system: LiveSystem,
) -> None:
    original = report(*ZHONGSHAN, description="原始内容")
    same_again = dict(original)
    other = {**original, "description": "另一份内容"}
    found = results(post_batch(live_system, [original, same_again, other]))
    assert [r["status"] for r in found] == [202, 202, 409]
    assert found[1]["duplicate"] is True and found[1]["content_hash"] == found[0]["content_hash"]
    assert found[2]["error"] == "conflict"
    later = results(post_batch(live_system, [other, report(*ZHONGSHAN)]))
    assert [r["status"] for r in later] == [409, 202]
    status = wait_decided(live_system, str(original["report_id"]))
    assert status["content_hash"] == found[0]["content_hash"]


def test_the_single_and_the_batch_path_recognise_each_other(live_system: LiveSystem) -> None:
    body = report(*ZHONGSHAN)
    single = post_report(live_system, body)
    assert single.status_code == 202
    (item,) = results(post_batch(live_system, [body]))
    assert item["status"] == 202 and item["duplicate"] is True
    assert item["content_hash"] == single.json()["content_hash"]


def test_a_malformed_batch_is_refused_whole(live_system: LiveSystem) -> None:
    url, headers = f"{live_system.api_url}/api/v1/reports/batch", as_reporter(live_system)
    assert httpx.post(url, json={"reports": []}, headers=headers, timeout=10).status_code == 422
    assert httpx.post(url, json=[report(*ZHONGSHAN)], headers=headers, timeout=10).status_code == 422
    too_many = [report(*ZHONGSHAN) for _ in range(501)]
    refused = httpx.post(url, json={"reports": too_many}, headers=headers, timeout=10)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "reports"]
