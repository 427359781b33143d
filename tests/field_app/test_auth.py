"""Signing in with a real account: where the tokens live, renewing them, and what a lost session does to the
outbox (it pauses; nothing is dropped)."""

from __future__ import annotations

import logging
import random
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from field_app.core import redact
from field_app.core.backoff import Backoff
from field_app.core.clock import FakeClock
from field_app.core.models import ReportStatus
from field_app.core.service import SESSION_FILE, FieldService, SignInError
from tests.field_app.conftest import complete_draft
from tests.field_app.fake_api import WORKER, FakeApi
from tests.field_app.fake_auth import GRID_A, GRID_B, PASSWORD

SERVER = "http://api.test"


@pytest.fixture
def fresh(tmp_path: Path, fake_api: FakeApi, clock: FakeClock) -> Iterator[FieldService]:
    """A phone that has never signed in."""
    svc = phone(tmp_path, fake_api, clock)
    yield svc
    svc.close()


def phone(tmp_path: Path, fake_api: FakeApi, clock: FakeClock) -> FieldService:
    return FieldService(
        tmp_path / "phone",
        clock=clock,
        transport=fake_api.transport(),
        backoff=Backoff(rng=random.Random(7)),
        start_worker=False,
    )


def posts(fake_api: FakeApi, path: str) -> int:
    return sum(1 for method, p, _ in fake_api.requests if method == "POST" and p == path)


# --- signing in --------------------------------------------------------------------------------------
def test_sign_in_keeps_the_account_and_its_grids(fresh: FieldService, fake_api: FakeApi) -> None:
    account = fresh.sign_in(WORKER, PASSWORD, SERVER)
    assert fresh.signed_in and fresh.username == WORKER
    assert (account.role, account.role_label, account.grid_codes) == (
        "grid_worker",
        "网格员",
        (GRID_A, GRID_B),
    )
    assert fresh.new_draft().reporter_id == WORKER  # the server takes a report only from its reporter


@pytest.mark.parametrize(
    ("username", "password", "server", "field", "message"),
    [
        ("", PASSWORD, SERVER, "username", "请输入用户名"),
        (WORKER, "", SERVER, "password", "请输入密码"),
        (WORKER, "wrong-password", SERVER, "password", "用户名或密码错误"),
        ("nobody", PASSWORD, SERVER, "password", "用户名或密码错误"),
        (WORKER, PASSWORD, "ftp://x", "server", "服务器地址无效"),
    ],
    ids=["no-username", "no-password", "wrong-password", "unknown-user", "bad-server"],
)
def test_a_refused_sign_in_names_the_field_in_chinese(
    fresh: FieldService, username: str, password: str, server: str, field: str, message: str
) -> None:
    with pytest.raises(SignInError, match=message) as caught:
        fresh.sign_in(username, password, server)
    assert caught.value.field == field
    assert not fresh.signed_in and not (fresh.data_dir / SESSION_FILE).exists()


def test_throttled_sign_in_says_how_long_to_wait(fresh: FieldService, fake_api: FakeApi) -> None:
    fake_api.accounts.throttle_s = 42
    with pytest.raises(SignInError, match="尝试次数过多，请 42 秒后再试") as caught:
        fresh.sign_in(WORKER, PASSWORD, SERVER)
    assert caught.value.retry_after == 42
    fake_api.accounts.throttle_s = 300
    with pytest.raises(SignInError, match="请 5 分钟后再试"):
        fresh.sign_in(WORKER, PASSWORD, SERVER)


def test_an_office_account_is_not_signed_in_on_a_phone(fresh: FieldService, fake_api: FakeApi) -> None:
    fake_api.accounts.add("district_zs", role="admin", grid_codes=())
    with pytest.raises(SignInError, match="网格通供网格员使用；管理员账号请使用网页端"):
        fresh.sign_in("district_zs", PASSWORD, SERVER)
    assert not fresh.signed_in  # its token was never written anywhere


def test_offline_first_sign_in_says_the_server_cannot_be_reached(
    fresh: FieldService, fake_api: FakeApi
) -> None:
    fake_api.offline = True
    with pytest.raises(SignInError, match="无法登录：无法连接服务器") as caught:
        fresh.sign_in(WORKER, PASSWORD, SERVER)
    assert caught.value.field == "server"


# --- where the tokens live ---------------------------------------------------------------------------
def test_tokens_live_in_their_own_0600_file_and_never_in_the_database(service: FieldService) -> None:
    session_file = service.data_dir / SESSION_FILE
    assert stat.S_IMODE(session_file.stat().st_mode) == 0o600
    session = service.auth.session
    assert session is not None and session.access_token in session_file.read_text()
    service.submit(complete_draft(service))
    service.sync_now()
    for path in service.data_dir.glob("gridflow-field.sqlite3*"):  # the database, its WAL and shm
        data = path.read_bytes()
        assert session.access_token.encode() not in data and session.refresh_token.encode() not in data
    assert "access_token" not in repr(session) and session.access_token not in repr(session)


def test_the_session_survives_a_restart_and_a_loose_file_is_tightened(
    service: FieldService, tmp_path: Path, fake_api: FakeApi, clock: FakeClock
) -> None:
    session_file = service.data_dir / SESSION_FILE
    service.close()
    session_file.chmod(0o644)
    again = phone(tmp_path, fake_api, clock)
    try:
        assert again.signed_in and again.username == WORKER
        assert stat.S_IMODE(session_file.stat().st_mode) == 0o600
        again.submit(complete_draft(again))
        assert again.sync_now().sent == 1
    finally:
        again.close()


def test_an_unreadable_session_file_means_signing_in_again(
    service: FieldService, tmp_path: Path, fake_api: FakeApi, clock: FakeClock
) -> None:
    service.close()
    (service.data_dir / SESSION_FILE).write_text("{not json")
    again = phone(tmp_path, fake_api, clock)
    try:
        assert not again.signed_in and again.last_username == WORKER
    finally:
        again.close()


# --- renewing ----------------------------------------------------------------------------------------
def test_a_refused_access_token_is_renewed_once_and_the_report_goes(
    service: FieldService, fake_api: FakeApi
) -> None:
    fake_api.accounts.expire_access_tokens()
    entry = service.submit(complete_draft(service))
    assert service.sync_now().sent == 1
    assert fake_api.accounts.refreshes == 1
    assert service.outbox.get(entry.report_id).status is ReportStatus.SENT  # type: ignore[union-attr]
    assert posts(fake_api, "/api/v1/reports") == 2  # refused once (401), then sent with the new token


def test_a_token_about_to_expire_is_renewed_before_it_is_used(
    service: FieldService, fake_api: FakeApi, clock: FakeClock
) -> None:
    clock.advance(900 - 10)  # 10 s left of the 15 minutes: renewed first, no request is refused
    service.submit(complete_draft(service))
    assert service.sync_now().sent == 1
    assert fake_api.accounts.refreshes == 1
    assert posts(fake_api, "/api/v1/reports") == 1


def test_a_renewed_session_is_written_to_the_file(service: FieldService, fake_api: FakeApi) -> None:
    before = (service.data_dir / SESSION_FILE).read_text()
    fake_api.accounts.expire_access_tokens()
    service.refresh_categories()
    assert (service.data_dir / SESSION_FILE).read_text() != before


# --- losing the session ------------------------------------------------------------------------------
def test_a_session_the_server_ended_pauses_the_outbox_without_dropping_anything(
    service: FieldService, fake_api: FakeApi
) -> None:
    fake_api.accounts.end_sessions()  # password changed, account disabled, or the shift's 8 hours over
    entry = service.submit(complete_draft(service))
    result = service.sync_now()
    assert result.signed_out and result.sent == 0
    assert not service.signed_in and service.expired
    assert not (service.data_dir / SESSION_FILE).exists()
    waiting = service.outbox.get(entry.report_id)
    assert waiting is not None and waiting.status is ReportStatus.WAITING and waiting.attempts == 0
    asked = len(fake_api.requests)
    assert service.engine is not None and service.engine.next_wakeup() is None  # paused: no busy retries
    assert not service.sync_now().changed and len(fake_api.requests) == asked

    service.sign_in(WORKER, PASSWORD, SERVER)
    assert not service.expired
    assert service.sync_now().sent == 1 and entry.report_id in fake_api.accepted


def test_signing_out_keeps_the_outbox_and_sends_nothing_until_the_next_sign_in(
    service: FieldService, fake_api: FakeApi
) -> None:
    draft = complete_draft(service)
    service.sign_out()
    entry = service.submit(draft)  # a draft made before signing out is saved all the same
    assert not service.signed_in and not service.expired
    assert not (service.data_dir / SESSION_FILE).exists()
    with pytest.raises(RuntimeError):
        service.sync_now()
    assert len(service.outbox.entries()) == 1 and not fake_api.accepted
    service.sign_in(WORKER, PASSWORD, SERVER)
    assert service.sync_now().sent == 1 and entry.report_id in fake_api.accepted


def test_another_accounts_reports_wait_for_that_account(service: FieldService, fake_api: FakeApi) -> None:
    """A shared phone: what one worker saved is sent under their own token, never under the next one's."""
    mine = service.submit(complete_draft(service, "第一班上报"))
    fake_api.offline = True
    service.sync_now()
    fake_api.offline = False
    service.sign_out()
    fake_api.accounts.add("wg-0002")
    service.sign_in("wg-0002", PASSWORD, SERVER)
    theirs = service.submit(complete_draft(service, "第二班上报"))
    assert service.engine is not None
    service.engine.offline_until = 0.0
    assert service.sync_now().sent == 1
    assert set(fake_api.accepted) == {theirs.report_id}
    assert service.outbox.get(mine.report_id).status is ReportStatus.WAITING  # type: ignore[union-attr]
    service.sign_out()
    service.sign_in(WORKER, PASSWORD, SERVER)
    assert service.sync_now().sent == 1
    assert fake_api.accepted[mine.report_id]["reporter_id"] == WORKER


def test_every_request_after_sign_in_carries_the_bearer_token(
    service: FieldService, fake_api: FakeApi
) -> None:
    service.submit(complete_draft(service))
    service.sync_now()
    service.refresh_categories()
    assert fake_api.authorizations and all(
        header and header.startswith("Bearer ") for header in fake_api.authorizations[-3:]
    )


# --- never in the logs -------------------------------------------------------------------------------
def test_no_token_or_password_reaches_the_logs(
    fresh: FieldService, fake_api: FakeApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # httpx and httpcore log every request at DEBUG
    fresh.sign_in(WORKER, PASSWORD, SERVER)
    first = fresh.auth.session
    fake_api.accounts.expire_access_tokens()
    fresh.submit(complete_draft(fresh))
    fresh.sync_now()
    second = fresh.auth.session
    assert first is not None and second is not None and first != second
    # Even a careless line of code is scrubbed.
    logging.getLogger("field_app.test").warning("session %s / %r", second.access_token, second)
    logging.getLogger("field_app.test").error("form: username=x&password=%s", PASSWORD)
    text = caplog.text
    assert "HTTP Request" in text  # the capture did see the traffic
    for secret in (
        first.access_token,
        first.refresh_token,
        second.access_token,
        second.refresh_token,
        PASSWORD,
    ):
        assert secret not in text
    assert redact.MASK in text


@pytest.mark.parametrize(
    "line",
    [
        "Authorization: Bearer abc.def-ghi_jkl",
        'body {"refresh_token": "r3fr3sh-t0ken-value"}',
        "username=wg&password=hunter2hunter2",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ3ZyJ9.c2lnbmF0dXJl",
    ],
)
def test_token_shaped_text_is_redacted(line: str) -> None:
    scrubbed = redact.redact(line)
    assert redact.MASK in scrubbed
    assert not any(secret in scrubbed for secret in ("abc.def", "r3fr3sh", "hunter2", "c2lnbmF0dXJl"))
