"""核查 through the outbox: the queue of handled cases in the worker's grids, a verification saved offline and
sent with its Idempotency-Key, outcomes kept (applied, or refused with the server's words)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from field_app.core.actions import ActionOutbox, ActionStatus, AlreadyQueued, VerifyDraft
from field_app.core.cases import CaseItem
from field_app.core.clock import FakeClock
from field_app.core.db import MIGRATIONS, Database
from field_app.core.labels import action_line
from field_app.core.service import FieldService
from tests.field_app.conftest import complete_draft
from tests.field_app.fake_api import WORKER, FakeApi
from tests.field_app.fake_auth import GRID_B, PASSWORD
from tests.field_app.fake_cases import FakeCase


def case_in_queue(service: FieldService, fake_api: FakeApi, **kwargs: object) -> CaseItem:
    case = fake_api.cases.add_handled(**kwargs)  # type: ignore[arg-type]
    page = service.load_verify_queue()
    assert page is not None
    return next(item for item in page.items if item.case_id == case.case_id)


def verification(
    service: FieldService, item: CaseItem, photo: Path, *, passed: bool = True, note: str = "井盖已更换"
) -> VerifyDraft:
    draft = service.new_verification(item)
    draft.passed, draft.note = passed, note
    service.attach_photo(draft, photo)
    return draft


def posted(fake_api: FakeApi, case: CaseItem | FakeCase) -> list[tuple[str | None, dict[str, object]]]:
    return [(key, body) for case_id, key, body in fake_api.cases.posts if case_id == case.case_id]


# --- the queue -----------------------------------------------------------------------------------------
def test_queue_lists_handled_cases_in_my_grids_with_what_the_list_shows(
    service: FieldService, fake_api: FakeApi
) -> None:
    mine = fake_api.cases.add_handled(grid=GRID_B, due="warning")
    fake_api.cases.add_handled(grid="210202001002001")  # another worker's grid
    page = service.load_verify_queue()
    assert page is not None and page.total == 1
    (item,) = page.items
    assert item.case_id == mine.case_id and item.title == "上水井盖"
    assert item.place == "中山区 青泥洼桥街道 青泥洼桥社区第2网格"
    assert item.department_name == "中山区水务局"
    assert item.due_label == "预警" and item.deadline_text.startswith("期限 ")


def test_queue_is_read_page_by_page(service: FieldService, fake_api: FakeApi) -> None:
    for _ in range(120):
        fake_api.cases.add_handled()
    page = service.load_verify_queue()
    assert page is not None and page.total == 120 and len(page.items) == 120
    pages = [p for m, p, _ in fake_api.requests if p == "/api/v1/queues/to_verify"]
    assert len(pages) == 3  # 50 a page


def test_queue_opens_offline_from_the_last_one_seen(service: FieldService, fake_api: FakeApi) -> None:
    case = fake_api.cases.add_handled()
    service.load_verify_queue()
    fake_api.offline = True
    with pytest.raises(Exception, match="无法连接"):
        service.load_verify_queue()
    cached = service.cached_verify_queue()
    assert cached is not None and [i.case_id for i in cached.items] == [case.case_id]


def test_the_next_account_does_not_see_the_last_ones_cases(service: FieldService, fake_api: FakeApi) -> None:
    fake_api.cases.add_handled()
    service.load_verify_queue()
    fake_api.accounts.end_sessions()  # the session ends without a sign-out (the list stays for its owner)
    with pytest.raises(Exception, match="登录已过期"):
        service.load_verify_queue()
    assert service.cached_verify_queue() is not None
    fake_api.accounts.add("wg-0002", grid_codes=("210202001002001",))
    service.sign_in("wg-0002", PASSWORD, "http://api.test")
    assert service.cached_verify_queue() is None


def test_grid_names_come_from_the_server(service: FieldService) -> None:
    account = service.refresh_account()
    assert account.grids_text() == "青泥洼桥社区第1网格、青泥洼桥社区第2网格"
    assert service.account == account  # kept for offline starts


# --- the verify form ------------------------------------------------------------------------------------
def test_verification_needs_a_result_a_photo_and_a_reason_when_it_fails(
    service: FieldService, fake_api: FakeApi
) -> None:
    draft = service.new_verification(case_in_queue(service, fake_api))
    assert set(draft.problems()) == {"passed", "photos"}
    draft.passed = False
    assert draft.problems()["note"] == "不通过时请写明原因"
    draft.passed = True
    assert "note" not in draft.problems()  # a pass may go without a note


# --- sending -------------------------------------------------------------------------------------------
def test_offline_verification_waits_and_goes_with_its_key(
    service: FieldService, fake_api: FakeApi, photo: Path, clock: FakeClock
) -> None:
    report = service.submit(complete_draft(service))  # the worker reported the case they now verify
    service.sync_now()
    item = case_in_queue(service, fake_api, report_id=report.report_id)
    fake_api.offline = True
    entry = service.submit_verification(verification(service, item, photo))
    assert service.sync_now().offline is not None
    waiting = service.actions.get(entry.action_id)
    assert waiting is not None and waiting.status is ActionStatus.WAITING and waiting.attempts == 1
    assert action_line(waiting).startswith("待发送（上次：无法连接服务器")

    fake_api.offline = False
    clock.advance(600)
    result = service.sync_now()
    assert result.actions == 1 and result.photos == 1
    done = service.actions.get(entry.action_id)
    assert done is not None and done.status is ActionStatus.APPLIED and done.case_state == "closed"
    assert action_line(done) == "已生效：核查通过，已结案"
    ((key, body),) = posted(fake_api, item)
    assert key == entry.action_id
    assert body == {
        "action": "verify",
        "passed": True,
        "note": "井盖已更换",
        "attachments": [done.photos[0].sha256],
    }
    assert fake_api.photos.object_path(done.photos[0].sha256).read_bytes() == photo.read_bytes()


def test_a_lost_answer_is_resent_with_the_same_key_and_applied_once(
    service: FieldService, fake_api: FakeApi, photo: Path
) -> None:
    item = case_in_queue(service, fake_api)
    fake_api.cases.lose_answers = 1
    entry = service.submit_verification(verification(service, item, photo, passed=False, note="仍有积水"))
    assert service.sync_now().offline == "连接中断"
    assert service.engine is not None
    service.engine.offline_until = 0.0
    assert service.sync_now().actions == 1
    done = service.actions.get(entry.action_id)
    assert done is not None and done.status is ActionStatus.APPLIED and done.case_state == "rework"
    sends = posted(fake_api, item)
    assert len(sends) == 2 and sends[0] == sends[1]  # the same key and the same body
    assert len(fake_api.cases.cases[item.case_id].history) == 1  # applied once
    assert action_line(done) == "已生效：核查不通过，已返工"


def test_a_killed_send_goes_again_after_restart(
    service: FieldService, fake_api: FakeApi, photo: Path
) -> None:
    item = case_in_queue(service, fake_api)
    entry = service.submit_verification(verification(service, item, photo))
    service.actions.mark_sending(entry.action_id)  # the app died with the request in flight
    assert service.actions.recover() == 1
    assert service.sync_now().actions == 1
    assert service.actions.get(entry.action_id).status is ActionStatus.APPLIED  # type: ignore[union-attr]


def test_already_verified_by_someone_else_is_shown_and_not_retried(
    service: FieldService, fake_api: FakeApi, photo: Path
) -> None:
    item = case_in_queue(service, fake_api)
    fake_api.cases.cases[item.case_id].state = "closed"  # the community verified it first
    entry = service.submit_verification(verification(service, item, photo))
    result = service.sync_now()
    assert result.actions == 1 and result.failed == 1
    refused = service.actions.get(entry.action_id)
    assert refused is not None and refused.status is ActionStatus.REFUSED
    assert refused.outcome_error == "illegal_transition" and refused.case_state == "closed"
    assert action_line(refused) == "未被接受（案件状态已变化）：案件当前为「已结案」，不能核查"
    assert service.engine is not None and service.engine.next_wakeup() is None
    service.sync_now()
    assert len(posted(fake_api, item)) == 1


def test_a_case_no_longer_mine_is_refused_with_the_servers_words(
    service: FieldService, fake_api: FakeApi, photo: Path
) -> None:
    item = case_in_queue(service, fake_api)
    fake_api.cases.cases[item.case_id].grid = "210202001002001"  # reassigned to another grid
    entry = service.submit_verification(verification(service, item, photo))
    service.sync_now()
    refused = service.actions.get(entry.action_id)
    assert (
        refused is not None
        and refused.status is ActionStatus.REFUSED
        and refused.outcome_error == "not_found"
    )
    assert action_line(refused).startswith("未被接受（案件不存在或已不在你的网格）")


def test_a_photo_of_a_case_someone_else_reported_goes_to_the_case_and_sticks(
    service: FieldService, fake_api: FakeApi, photo: Path
) -> None:
    """A report's photos come from its reporter only; a verification's go to the case, which takes them from
    the grid worker who verifies it, whoever reported it (a 12345 caller through the dispatch center)."""
    item = case_in_queue(service, fake_api)
    fake_api.reporters[item.report_ids[0]] = "t_city_dispatch"
    entry = service.submit_verification(verification(service, item, photo))
    assert service.sync_now().photos == 1
    done = service.actions.get(entry.action_id)
    assert done is not None and done.status is ActionStatus.APPLIED
    assert done.body is not None and done.body["attachments"] == [done.photos[0].sha256]
    assert done.photos[0].uploaded and done.photos[0].error is None
    puts = {path for method, path, _ in fake_api.requests if method == "PUT"}
    assert puts == {f"/api/v1/cases/{item.case_id}/attachments/{done.photos[0].sha256}"}
    assert action_line(done) == "已生效：核查通过，已结案"


def test_a_photo_the_server_refuses_leaves_the_verification_standing(
    service: FieldService, fake_api: FakeApi, photo: Path
) -> None:
    """A photo the server will not take (here its file was spoiled after it was taken: 415) is left out and
    the verification goes without it, saying so."""
    item = case_in_queue(service, fake_api)
    draft = verification(service, item, photo)
    Path(draft.photos[0].path).write_bytes(b"not an image any more")
    entry = service.submit_verification(draft)
    service.sync_now()
    done = service.actions.get(entry.action_id)
    assert done is not None and done.status is ActionStatus.APPLIED
    assert done.body is not None and done.body["attachments"] == []
    assert done.photos[0].error
    assert action_line(done).startswith("已生效：核查通过，已结案；照片未能上传：")


def test_queued_by_the_server_is_asked_again_later_with_the_same_key(
    service: FieldService, fake_api: FakeApi, photo: Path, clock: FakeClock
) -> None:
    item = case_in_queue(service, fake_api)
    fake_api.cases.queued_answers = 1  # 504: in the case's queue, not applied within the API's wait
    entry = service.submit_verification(verification(service, item, photo))
    service.sync_now()
    later = service.actions.get(entry.action_id)
    assert later is not None and later.status is ActionStatus.WAITING and later.next_attempt_at > clock.now()
    clock.advance(600)
    service.sync_now()
    assert service.actions.get(entry.action_id).status is ActionStatus.APPLIED  # type: ignore[union-attr]
    assert {key for key, _ in posted(fake_api, item)} == {entry.action_id}


def test_a_case_takes_one_standing_verification(
    service: FieldService, fake_api: FakeApi, photo: Path
) -> None:
    item = case_in_queue(service, fake_api)
    draft = verification(service, item, photo)
    first = service.submit_verification(draft)
    assert service.submit_verification(draft).action_id == first.action_id  # a double tap saves once
    with pytest.raises(AlreadyQueued, match="已在发件箱中"):
        service.submit_verification(verification(service, item, photo))
    assert len(service.actions.entries()) == 1


def test_a_session_lost_mid_send_keeps_the_verification_waiting(
    service: FieldService, fake_api: FakeApi, photo: Path
) -> None:
    item = case_in_queue(service, fake_api)
    fake_api.accounts.end_sessions()
    entry = service.submit_verification(verification(service, item, photo))
    assert service.sync_now().signed_out
    waiting = service.actions.get(entry.action_id)
    assert waiting is not None and waiting.status is ActionStatus.WAITING and waiting.attempts == 0
    assert not posted(fake_api, item)


def test_counts_cover_reports_and_verifications_and_the_cases_left_to_check(
    service: FieldService, fake_api: FakeApi, photo: Path
) -> None:
    item = case_in_queue(service, fake_api)
    assert service.verify_todo() == 1
    service.submit(complete_draft(service))
    service.submit_verification(verification(service, item, photo))
    assert service.verify_todo() == 0  # checked on this phone, whether or not sent yet
    assert service.outbox_counts() == {"waiting": 2, "failed": 0, "sent": 0}
    service.sync_now()
    assert service.outbox_counts() == {"waiting": 0, "failed": 0, "sent": 2}


# --- an upgraded phone ---------------------------------------------------------------------------------
def test_a_phone_from_before_accounts_gets_the_action_tables_and_keeps_its_reports(tmp_path: Path) -> None:
    path = tmp_path / "phone.sqlite3"
    old = Database(path)
    old.execute("INSERT INTO prefs (key, value) VALUES ('worker_id', 'wg-0001')")
    old.close()
    with sqlite3.connect(path) as conn:  # as the previous release left it: only the first step run
        conn.execute("PRAGMA user_version = 1")
        for table in ("case_action_photos", "case_actions", "cache"):
            conn.execute(f"DROP TABLE {table}")
    conn.close()
    db = Database(path)
    assert db.version == len(MIGRATIONS)
    tables = {r["name"] for r in db.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"case_actions", "case_action_photos", "cache", "reports"} <= tables
    assert db.query("SELECT value FROM prefs WHERE key = 'worker_id'")[0]["value"] == "wg-0001"
    assert ActionOutbox(db, FakeClock()).entries() == []
    db.close()


def test_the_sign_in_form_offers_the_worker_id_of_an_app_from_before_accounts(
    service: FieldService,
) -> None:
    service.sign_out()
    service.prefs.delete("account")
    service.prefs.set("worker_id", "wg-legacy")
    assert service.last_username == "wg-legacy"
    assert WORKER != "wg-legacy"
