"""Sending: accepted once, retried with backoff while offline, refusals and conflicts kept for the worker."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from field_app.core.clock import FakeClock
from field_app.core.labels import status_line
from field_app.core.models import FailureKind, ReportStatus, build_payload
from field_app.core.outbox import LATE_CONFLICT_REASON
from field_app.core.service import FieldService
from tests.field_app.conftest import complete_draft
from tests.field_app.fake_api import FakeApi, content_hash


def test_report_is_sent_once_and_shows_its_department(service: FieldService, fake_api: FakeApi) -> None:
    entry = service.submit(complete_draft(service))
    result = service.sync_now()
    assert result.sent == 1
    assert fake_api.answers[entry.report_id] == 1
    done = service.outbox.get(entry.report_id)
    assert done is not None and done.status is ReportStatus.SENT
    assert done.department_name == "中山区城市管理局"
    assert status_line(done) == "已发送 → 中山区城市管理局"
    service.sync_now()
    assert fake_api.answers[entry.report_id] == 1  # nothing is sent twice once accepted


def test_offline_keeps_waiting_and_retries_after_backoff(
    service: FieldService, fake_api: FakeApi, clock: FakeClock
) -> None:
    fake_api.offline = True
    entry = service.submit(complete_draft(service))
    result = service.sync_now()
    assert result.offline == "无法连接服务器"
    waiting = service.outbox.get(entry.report_id)
    assert waiting is not None and waiting.status is ReportStatus.WAITING and waiting.attempts == 1
    assert "无法连接服务器" in status_line(waiting)
    fake_api.offline = False
    assert service.sync_now().sent == 0  # still inside the backoff window
    clock.advance(3.0)
    assert service.sync_now().sent == 1


def test_backoff_grows_while_the_network_stays_away(
    service: FieldService, fake_api: FakeApi, clock: FakeClock
) -> None:
    fake_api.offline = True
    service.submit(complete_draft(service))
    gaps = []
    for _ in range(6):
        service.sync_now()
        assert service.engine is not None
        gaps.append(service.engine.offline_until - clock.now())
        clock.advance(gaps[-1])
    assert gaps == sorted(gaps) and gaps[-1] > 40


def test_service_unavailable_honours_retry_after(
    service: FieldService, fake_api: FakeApi, clock: FakeClock
) -> None:
    fake_api.unavailable = True
    service.submit(complete_draft(service))
    service.sync_now()
    assert service.engine is not None and service.engine.offline_until - clock.now() >= 5.0


def test_invalid_report_fails_with_the_servers_reason(service: FieldService, fake_api: FakeApi) -> None:
    draft = complete_draft(service)
    draft.category_code = "9999"
    entry = service.submit(draft)
    service.sync_now()
    failed = service.outbox.get(entry.report_id)
    assert failed is not None and failed.status is ReportStatus.FAILED
    assert failed.failure_kind is FailureKind.INVALID
    assert status_line(failed) == "失败（服务器拒收）：类别：unknown category"


def test_conflict_is_shown_never_dropped(service: FieldService, fake_api: FakeApi) -> None:
    draft = complete_draft(service)
    fake_api.accepted[draft.report_id] = {"report_id": draft.report_id, "description": "另一份报告"}
    entry = service.submit(draft)
    service.sync_now()
    failed = service.outbox.get(entry.report_id)
    assert failed is not None and failed.failure_kind is FailureKind.CONFLICT
    assert "编号冲突" in status_line(failed)
    new_id = service.resubmit_as_new(entry.report_id)
    service.sync_now()
    assert fake_api.answers[new_id] == 1
    assert service.outbox.get(entry.report_id).status is ReportStatus.FAILED  # type: ignore[union-attr]


def test_retry_sends_a_failed_report_again(service: FieldService, fake_api: FakeApi) -> None:
    fake_api.unavailable = False
    draft = complete_draft(service)
    draft.category_code = "9999"
    entry = service.submit(draft)
    service.sync_now()
    service.retry(entry.report_id)
    assert service.outbox.get(entry.report_id).status is ReportStatus.WAITING  # type: ignore[union-attr]


def test_resend_after_a_lost_answer_is_counted_once(service: FieldService, fake_api: FakeApi) -> None:
    entry = service.submit(complete_draft(service))
    service.sync_now()
    # As if the 202 had been lost: the phone sends again, the server acknowledges again, counts once.
    service.db.execute("UPDATE reports SET status = 'waiting' WHERE report_id = ?", (entry.report_id,))
    service.sync_now()
    assert fake_api.answers[entry.report_id] == 2
    assert len(fake_api.accepted) == 1


def test_triage_shows_the_reason(service: FieldService, fake_api: FakeApi) -> None:
    fake_api.triage_categories.add("10101")
    entry = service.submit(complete_draft(service))
    service.sync_now()
    line = status_line(service.outbox.get(entry.report_id))  # type: ignore[arg-type]
    assert line == "已发送 → 指挥中心分拣（权责清单中没有对应事项）"


def test_routing_not_known_yet_is_checked_again_later(
    service: FieldService, fake_api: FakeApi, clock: FakeClock
) -> None:
    entry = service.submit(complete_draft(service))
    fake_api.unprocessed.add(entry.report_id)
    service.sync_now()
    assert status_line(service.outbox.get(entry.report_id)) == "已发送，等待分派"  # type: ignore[arg-type]
    fake_api.unprocessed.clear()
    clock.advance(10)
    service.sync_now()
    assert service.outbox.get(entry.report_id).department_name == "中山区城市管理局"  # type: ignore[union-attr]


def test_photos_go_up_after_the_report(service: FieldService, fake_api: FakeApi, photo: Path) -> None:
    draft = complete_draft(service)
    service.attach_photo(draft, photo)
    entry = service.submit(draft)
    result = service.sync_now()
    assert (result.sent, result.photos) == (1, 1)
    sha = draft.photos[0].sha256
    assert fake_api.photos.object_path(sha).read_bytes() == photo.read_bytes()
    assert service.outbox.get(entry.report_id).photos_waiting == 0  # type: ignore[union-attr]


def test_photo_upload_resumes_where_the_server_stands(
    service: FieldService, fake_api: FakeApi, tmp_path: Path
) -> None:
    from uuid import UUID

    from tests.field_app.images import png_bytes

    big = tmp_path / "big.png"
    big.write_bytes(png_bytes(width=600, height=600, rgb=(1, 2, 3)) + bytes(700_000))
    draft = complete_draft(service)
    photo = service.attach_photo(draft, big)
    # The server already holds the first 300,000 bytes of an earlier, interrupted upload.
    fake_api.photos.put_chunk(
        UUID(draft.report_id), photo.sha256, 0, big.read_bytes()[:300_000], photo.size, "image/png"
    )
    service.submit(draft)
    service.sync_now()
    calls = [content_range for method, _path, content_range in fake_api.requests if method == "PUT"]
    assert calls[0] == f"bytes */{photo.size}"
    assert calls[1].startswith("bytes 300000-")
    assert fake_api.photos.object_path(photo.sha256).read_bytes() == big.read_bytes()


def test_late_conflict_fails_the_entry_and_resubmitting_sends_a_new_id(
    service: FieldService, fake_api: FakeApi, clock: FakeClock
) -> None:
    draft = complete_draft(service)
    # Another report with this id and other content reached the stream first; intake did not know yet.
    other = build_payload(complete_draft(service, "另一份报告"), observed_at=datetime.now().astimezone())
    fake_api.other_content_first(draft.report_id, other)
    fake_api.unprocessed.add(draft.report_id)
    entry = service.submit(draft)
    assert service.sync_now().sent == 1
    accepted = service.outbox.get(entry.report_id)
    assert accepted is not None and accepted.status is ReportStatus.SENT
    assert accepted.content_hash == content_hash(entry.payload)

    fake_api.unprocessed.clear()
    clock.advance(10)
    assert service.sync_now().failed == 1
    failed = service.outbox.get(entry.report_id)
    assert failed is not None and failed.status is ReportStatus.FAILED
    assert failed.failure_kind is FailureKind.CONFLICT
    assert failed.department_name is None  # the department routed to is the other report's
    assert status_line(failed) == f"失败（编号冲突）：{LATE_CONFLICT_REASON}"
    assert service.outbox.to_check(clock.now() + 3600) == []  # no more polling for the lost id

    new_id = service.resubmit_as_new(entry.report_id)
    service.sync_now()
    assert fake_api.accepted[new_id] == {**entry.payload, "report_id": new_id}
    resent = service.outbox.get(new_id)
    assert resent is not None and resent.status is ReportStatus.SENT
    assert resent.department_name == "中山区城市管理局"
    assert service.outbox.get(entry.report_id).superseded_by == new_id  # type: ignore[union-attr]


def test_other_reports_conflicts_do_not_touch_the_accepted_entry(
    service: FieldService, fake_api: FakeApi
) -> None:
    entry = service.submit(complete_draft(service))
    fake_api.conflicts[entry.report_id] = [{"content_hash": "f" * 64, "submitted_at": "2026-12-01T03:00:00Z"}]
    service.sync_now()
    routed = service.outbox.get(entry.report_id)
    assert routed is not None and routed.status is ReportStatus.SENT
    assert routed.department_name == "中山区城市管理局"


def test_status_without_content_hash_leaves_the_entry_as_it_was(
    service: FieldService, fake_api: FakeApi, clock: FakeClock
) -> None:
    entry = service.submit(complete_draft(service))
    fake_api.unprocessed.add(entry.report_id)
    service.sync_now()
    # An older server answers the status: no content_hash, no conflicts, even though its record differs.
    fake_api.hashes = False
    fake_api.accepted[entry.report_id] = {**entry.payload, "description": "另一份报告"}
    fake_api.unprocessed.clear()
    clock.advance(10)
    service.sync_now()
    kept = service.outbox.get(entry.report_id)
    assert kept is not None and kept.status is ReportStatus.SENT and kept.failure_kind is None
    assert kept.content_hash == content_hash(entry.payload)
    assert status_line(kept) == "已发送 → 中山区城市管理局"


def test_accepted_by_an_older_server_is_routed_without_a_hash(
    service: FieldService, fake_api: FakeApi
) -> None:
    fake_api.hashes = False
    entry = service.submit(complete_draft(service))
    service.sync_now()
    routed = service.outbox.get(entry.report_id)
    assert routed is not None and routed.content_hash is None
    assert status_line(routed) == "已发送 → 中山区城市管理局"
