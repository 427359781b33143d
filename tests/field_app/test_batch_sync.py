"""A backlog goes in batches: one request for many reports, each answered on its own; a single report and an
older server without the batch endpoint keep the one-at-a-time path."""

from __future__ import annotations

from field_app.core.clock import FakeClock
from field_app.core.labels import status_line
from field_app.core.models import FailureKind, ReportStatus
from field_app.core.service import FieldService
from field_app.core.sync import BATCH_MAX_REPORTS
from tests.field_app.conftest import complete_draft
from tests.field_app.fake_api import FakeApi

BATCH = ("POST", "/api/v1/reports/batch")
SINGLE = ("POST", "/api/v1/reports")


def posts(fake_api: FakeApi) -> list[tuple[str, str]]:
    return [(m, p) for m, p, _ in fake_api.requests if m == "POST"]


def backlog(service: FieldService, fake_api: FakeApi, n: int) -> list[str]:
    """`n` reports saved while offline; the network is back when this returns."""
    fake_api.offline = True
    ids = [service.submit(complete_draft(service, f"积压 {i}")).report_id for i in range(n)]
    fake_api.offline = False
    return ids


def test_a_backlog_goes_in_one_request_and_each_report_is_sent_once(
    service: FieldService, fake_api: FakeApi
) -> None:
    ids = backlog(service, fake_api, 3)
    result = service.sync_now()
    assert result.sent == 3
    assert posts(fake_api) == [BATCH] and fake_api.batch_sizes == [3]
    for rid in ids:
        entry = service.outbox.get(rid)
        assert entry is not None and entry.status is ReportStatus.SENT and entry.content_hash
        assert fake_api.answers[rid] == 1
    service.sync_now()
    assert posts(fake_api) == [BATCH]  # nothing is sent twice once accepted


def test_one_report_goes_alone(service: FieldService, fake_api: FakeApi) -> None:
    service.submit(complete_draft(service))
    assert service.sync_now().sent == 1
    assert posts(fake_api) == [SINGLE]


def test_an_older_server_gets_them_one_by_one_and_is_not_asked_again(
    service: FieldService, fake_api: FakeApi
) -> None:
    fake_api.batch = False
    backlog(service, fake_api, 3)
    assert service.sync_now().sent == 3
    assert posts(fake_api) == [BATCH, SINGLE, SINGLE, SINGLE]
    backlog(service, fake_api, 2)
    assert service.sync_now().sent == 2
    assert posts(fake_api)[4:] == [SINGLE, SINGLE]


def test_each_item_is_answered_on_its_own(service: FieldService, fake_api: FakeApi) -> None:
    fake_api.offline = True
    good = service.submit(complete_draft(service, "好的"))
    bad = complete_draft(service, "类别错误")
    bad.category_code = "9999"
    invalid = service.submit(bad)
    taken = complete_draft(service, "编号已被占用")
    fake_api.accepted[taken.report_id] = {"report_id": taken.report_id, "description": "另一份报告"}
    conflict = service.submit(taken)
    fake_api.offline = False
    result = service.sync_now()
    assert (result.sent, result.failed) == (1, 2)
    assert fake_api.batch_sizes == [3]
    assert service.outbox.get(good.report_id).status is ReportStatus.SENT  # type: ignore[union-attr]
    refused = service.outbox.get(invalid.report_id)
    assert refused is not None and refused.failure_kind is FailureKind.INVALID
    assert status_line(refused) == "失败（服务器拒收）：类别：unknown category"
    clash = service.outbox.get(conflict.report_id)
    assert clash is not None and clash.failure_kind is FailureKind.CONFLICT


def test_broker_down_keeps_the_backlog_waiting_and_honours_retry_after(
    service: FieldService, fake_api: FakeApi, clock: FakeClock
) -> None:
    ids = backlog(service, fake_api, 4)
    fake_api.unavailable = True
    service.sync_now()
    assert service.engine is not None and service.engine.offline_until - clock.now() >= 5.0
    assert all(service.outbox.get(r).status is ReportStatus.WAITING for r in ids)  # type: ignore[union-attr]
    fake_api.unavailable = False
    clock.advance(service.engine.offline_until - clock.now())
    assert service.sync_now().sent == 4


def test_a_batch_whose_answer_was_lost_is_sent_again_and_counted_once(
    service: FieldService, fake_api: FakeApi
) -> None:
    ids = backlog(service, fake_api, 3)
    service.sync_now()
    # As if the 207 had been lost: the phone sends the batch again, the server acknowledges, counts once.
    service.db.execute("UPDATE reports SET status = 'waiting'")
    assert service.sync_now().sent == 3
    assert fake_api.batch_sizes == [3, 3]
    assert [fake_api.answers[r] for r in ids] == [2, 2, 2] and len(fake_api.accepted) == 3


def test_a_long_backlog_is_cut_into_batches(service: FieldService, fake_api: FakeApi) -> None:
    backlog(service, fake_api, BATCH_MAX_REPORTS + 20)
    assert service.sync_now().sent == BATCH_MAX_REPORTS + 20
    assert fake_api.batch_sizes == [BATCH_MAX_REPORTS, 20]
