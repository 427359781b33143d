"""The real screens, headless, against an API over real HTTP; a screenshot of every screen is saved.

Runs against the fake API (same contract) so that it needs no Kafka; test_live_api.py drives the same
screens against the real running system.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from kivy.uix.button import Button
from kivy.uix.label import Label

from field_app.core.backoff import Backoff
from field_app.core.models import LocationFix, ReportStatus, build_payload
from field_app.core.outbox import LATE_CONFLICT_REASON
from field_app.core.service import FieldService
from field_app.devices.camera import FakeCamera
from field_app.devices.location import NO_LOCATION_ON_DEVICE, FixedLocation
from field_app.ui.app import FieldApp
from field_app.ui.screens.outbox import EntryCard
from field_app.ui.screens.verify import CaseCard
from tests.field_app.conftest import complete_draft
from tests.field_app.fake_api import WORKER, FakeApi
from tests.field_app.fake_auth import PASSWORD
from tests.field_app.images import write_png
from tests.field_app.ui.driver import find, pump, pump_until, run_app, screenshot, tap

HERE = LocationFix(lon=121.6447, lat=38.9206, accuracy_m=6.0)


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeApi, str]]:
    api = FakeApi(tmp_path_factory.mktemp("server") / "photos")
    url, server = api.serve()
    yield api, url
    server.shutdown()


@pytest.fixture(scope="module")
def app(fake: tuple[FakeApi, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[FieldApp]:
    _api, url = fake
    folder = tmp_path_factory.mktemp("phone")
    photos = [write_png(folder / f"p{n}.png", rgb=(30 * n, 120, 200 - 20 * n)) for n in range(1, 8)]
    service = FieldService(folder / "data", backoff=Backoff(base_s=0.2, cap_s=1.0))
    service.prefs.set("server_url", url)
    field_app = FieldApp(
        service,
        location=FixedLocation(HERE),
        camera=FakeCamera(photos),
        gallery=FakeCamera(error="未选择照片"),
    )
    yield from run_app(field_app)
    service.close()


def test_chinese_is_drawn_with_the_shipped_font(app: FieldApp) -> None:
    # With Roboto every CJK character is the same empty box; with WenQuanYi two characters differ.
    first, second = Label(text="网"), Label(text="格")
    first.texture_update()
    second.texture_update()
    assert first.font_name == "WQY"
    assert first.texture.pixels != second.texture.pixels


def sign_in_tap(app: FieldApp) -> None:
    screen = app.screen("signin")
    tap(find(screen, Button, "登录"))
    pump_until(lambda: not screen.button.disabled, what="the server's answer to the sign-in")


def test_sign_in_says_what_went_wrong_in_chinese_then_opens_home(
    app: FieldApp, fake: tuple[FakeApi, str]
) -> None:
    api, _url = fake
    screen = app.screen("signin")
    assert app.manager.current == "signin"
    screen.username.input.text = WORKER
    screen.password.input.text = "wrong-password"
    screenshot("00_signin")
    sign_in_tap(app)
    assert screen.password.error.text == "用户名或密码错误"
    screenshot("01_signin_error")
    api.accounts.throttle_s = 42
    sign_in_tap(app)
    assert screen.message.text == "尝试次数过多，请 42 秒后再试"
    screenshot("01_signin_throttled")
    api.accounts.throttle_s = None
    screen.password.input.text = PASSWORD
    sign_in_tap(app)
    pump_until(lambda: app.manager.current == "home", what="home after signing in")
    assert screen.password.input.text == ""  # the password is not kept anywhere, not even in the form
    home = app.screen("home")
    pump_until(lambda: len(app.service.catalog.all()) == 11, what="categories downloaded")
    pump_until(lambda: "第1网格" in home.grid.text, what="the grids' names")
    assert home.grid.text == "我的网格：青泥洼桥社区第1网格、青泥洼桥社区第2网格"
    assert home.who.text == f"网格员：{WORKER}"
    screenshot("02_home")


def test_new_report_picks_category_locates_photographs_and_submits(
    app: FieldApp, fake: tuple[FakeApi, str]
) -> None:
    api, _url = fake
    tap(find(app.screen("home"), Button, "新建上报"))
    screen = app.screen("new_report")
    assert app.manager.current == "new_report"
    pump_until(lambda: screen.current_draft().location == HERE, what="a location fix")
    assert "精度 ±6 米" in screen.location.text

    tap(screen.category_button)
    picker = app.screen("categories")
    assert app.manager.current == "categories"
    tap(picker.kind_buttons["event"])
    tap(find(picker.majors, Button, "街面秩序类"))
    assert [b.text for b in picker.minors.children[::-1]] == ["占道经营", "无照经营"]
    screenshot("04_categories_event")
    tap(picker.kind_buttons["component"])
    screenshot("03_categories_component")
    picker.search.text = "井盖"
    pump()
    screenshot("05_categories_search")
    tap(find(picker.minors, Button, "上水井盖"))
    assert app.manager.current == "new_report"
    assert screen.category_button.text == "问题类别：部件 · 公用设施类 · 上水井盖 ›"

    screen.description.input.text = "中山广场东侧人行道井盖缺失，有行人跌落危险"
    tap(find(screen, Button, "拍照"))
    tap(find(screen, Button, "拍照"))
    assert len(screen.current_draft().photos) == 2
    tap(find(screen, Button, "从相册选择"))
    assert screen.message.text == "未选择照片"  # the worker left the gallery without a choice
    screenshot("06_new_report")

    tap(find(screen, Button, "手动调整"))
    popup = app.root_window.children[0]
    tap(find(popup, Button, "北 10米"))
    screenshot("07_location_adjust")
    tap(find(popup, Button, "确定"))
    fix = screen.current_draft().location
    assert fix is not None and fix.adjusted and fix.lat == pytest.approx(HERE.lat + 10 / 111_320, abs=1e-6)

    report_id = screen.current_draft().report_id
    tap(find(screen, Button, "提交"))
    assert app.manager.current == "outbox"
    entry = app.service.outbox.get(report_id)
    assert entry is not None  # in the outbox before (or whether or not) anything was sent
    outbox = app.screen("outbox")
    pump_until(lambda: "中山区城市管理局" in _texts(outbox), what="the department in the outbox")
    assert api.accepted[report_id]["description"] == "中山广场东侧人行道井盖缺失，有行人跌落危险"
    pump_until(lambda: app.service.outbox.get(report_id).photos_waiting == 0, what="photos uploaded")
    screenshot("08_outbox_sent")


def test_refusals_and_conflicts_are_shown_with_a_way_out(app: FieldApp, fake: tuple[FakeApi, str]) -> None:
    api, _url = fake
    refused = complete_draft(app.service, "类别编号已停用的上报")
    refused.category_code = "9999"
    app.service.submit(refused)
    clash = complete_draft(app.service, "手机重装后编号重复的上报")
    api.accepted[clash.report_id] = {"report_id": clash.report_id, "description": "另一份内容"}
    app.service.submit(clash)
    # Accepted with 202, then the status shows that another report with this id reached the stream first.
    late = complete_draft(app.service, "同一编号被另一条上报抢先的上报")
    other = build_payload(complete_draft(app.service, "另一条上报"), observed_at=datetime.now().astimezone())
    api.other_content_first(late.report_id, other)
    app.service.submit(late)
    app.go("outbox")
    outbox = app.screen("outbox")
    pump_until(
        lambda: _texts(outbox).count("编号冲突") == 2 and "服务器拒收" in _texts(outbox),
        what="the three failures",
    )
    assert "失败（服务器拒收）：类别：unknown category" in _texts(outbox)
    assert f"失败（编号冲突）：{LATE_CONFLICT_REASON}" in _texts(_card(outbox, late.description))
    screenshot("09_outbox_failed")
    for draft in (clash, late):
        tap(find(_card(outbox, draft.description), Button, "另存为新报告"))
    copies = [app.service.outbox.get(d.report_id).superseded_by for d in (clash, late)]  # type: ignore[union-attr]
    assert None not in copies
    pump_until(
        lambda: all(app.service.outbox.get(c).status is ReportStatus.SENT for c in copies),  # type: ignore[arg-type,union-attr]
        what="the resubmitted copies sent",
    )
    assert api.accepted[copies[1]]["description"] == late.description  # type: ignore[index]


def test_offline_reports_wait_and_go_when_the_network_returns(
    app: FieldApp, fake: tuple[FakeApi, str]
) -> None:
    api, _url = fake
    api.offline = True
    waiting = app.service.submit(complete_draft(app.service, "离线时保存的上报"))
    app.go("home")
    home = app.screen("home")
    pump_until(lambda: app.service.offline_reason is not None, what="the app noticing it is offline")
    app.refresh()
    pump()
    assert "离线" in home.network.text and home.counters["waiting"].number.text == "1"
    screenshot("10_home_offline")
    api.offline = False
    pump_until(
        lambda: app.service.outbox.get(waiting.report_id).status is ReportStatus.SENT,  # type: ignore[union-attr]
        what="the waiting report sent after the network came back",
    )
    assert waiting.report_id in api.accepted


def test_no_location_tells_the_worker_what_to_do(app: FieldApp) -> None:
    app.location = FixedLocation(error=NO_LOCATION_ON_DEVICE)
    app.go("new_report")
    screen = app.screen("new_report")
    pump()
    assert screen.location_error.text == NO_LOCATION_ON_DEVICE
    tap(find(screen, Button, "提交"))
    assert screen.category_error.text == "请选择问题类别"
    screenshot("11_new_report_no_location")
    app.location = FixedLocation(HERE)


def test_settings_screen(app: FieldApp) -> None:
    app.go("settings")
    pump()
    settings = app.screen("settings")
    assert "本机已有问题类别：11 个" in settings.categories.text
    assert settings.who.text == f"网格员：{WORKER}"
    screenshot("12_settings")


def test_verify_lists_handled_cases_and_a_check_goes_through_the_outbox(
    app: FieldApp, fake: tuple[FakeApi, str]
) -> None:
    api, _url = fake
    own = app.service.submit(complete_draft(app.service, "本人上报的井盖缺失"))
    pump_until(lambda: own.report_id in api.accepted, what="the worker's own report accepted")
    fixed = api.cases.add_handled(report_id=own.report_id)
    late = api.cases.add_handled(category="20102", category_name="暴露垃圾", due="overdue")
    taken = api.cases.add_handled(category="20501", category_name="占道经营", due="warning")
    tap(find(app.screen("home"), Button, "核查"))
    listing = app.screen("verify")
    assert app.manager.current == "verify"
    pump_until(lambda: "待核查 3 件" in listing.status.text, what="the 核查 queue")
    texts = _texts(listing)
    for words in (
        "上水井盖",
        "暴露垃圾 ",
        "中山区 青泥洼桥街道 青泥洼桥社区第1网格",
        "责任部门：中山区水务局",
    ):
        assert words.strip() in texts
    assert "· 超期" in texts and "· 预警" in texts and "· 正常" in texts
    screenshot("13_verify_list")

    tap(find(_case_card(listing, fixed.case_id), Button, "核查"))
    form = app.screen("verify_form")
    assert app.manager.current == "verify_form"
    tap(find(form, Button, "提交核查结果"))
    assert form.result_error.text == "请选择核查结果：通过或不通过"
    assert form.message.text == "请拍摄现场照片"
    screenshot("14_verify_form_errors")
    tap(form.results[True])
    form.note.input.text = "井盖已更换，周边路面已恢复"
    tap(find(form, Button, "拍照"))
    assert len(form.current_draft().photos) == 1
    screenshot("15_verify_form")
    tap(find(form, Button, "提交核查结果"))
    assert app.manager.current == "verify"
    assert "核查结果（通过）已保存到发件箱" in listing.notice.text
    pump_until(lambda: api.cases.cases[fixed.case_id].state == "closed", what="the verification applied")
    pump_until(lambda: "已生效：核查通过，已结案" in _texts(listing), what="the outcome on the list")

    # Offline: the check is saved and waits; someone else verified another case meanwhile.
    api.offline = True
    for case, passed, note in ((late, False, "垃圾仍未清运"), (taken, True, "")):
        tap(find(_case_card(listing, case.case_id), Button, "核查"))
        tap(form.results[passed])
        form.note.input.text = note
        tap(find(form, Button, "拍照"))
        tap(find(form, Button, "提交核查结果"))
    api.cases.cases[taken.case_id].state = "closed"
    outbox = app.screen("outbox")
    app.go("outbox")
    pump_until(lambda: app.service.offline_reason is not None, what="the app noticing it is offline")
    app.refresh()
    pump()
    assert "核查待发送 2" in outbox.summary.text
    screenshot("16_outbox_verify_waiting")
    api.offline = False
    tap(find(outbox, Button, "立即发送"))
    pump_until(
        lambda: (
            "未被接受（案件状态已变化）" in _texts(outbox) and "已生效：核查不通过，已返工" in _texts(outbox)
        ),
        what="both outcomes in the outbox",
    )
    assert api.cases.cases[late.case_id].state == "rework"
    screenshot("17_outbox_verify_done")
    app.go("home")
    pump()
    assert app.screen("home").verify_button.text == "核查"  # all three checked on this phone
    screenshot("18_home_after")


def test_a_session_the_server_ended_returns_to_sign_in_and_keeps_the_outbox(
    app: FieldApp, fake: tuple[FakeApi, str]
) -> None:
    api, _url = fake
    api.accounts.end_sessions()
    entry = app.service.submit(complete_draft(app.service, "登录过期前保存的上报"))
    pump_until(lambda: app.manager.current == "signin", what="the sign-in screen")
    screen = app.screen("signin")
    assert "登录已过期" in screen.notice.text and screen.username.value == WORKER
    screenshot("19_signin_expired")
    assert app.service.outbox.get(entry.report_id).status is ReportStatus.WAITING  # type: ignore[union-attr]
    screen.password.input.text = PASSWORD
    sign_in_tap(app)
    pump_until(
        lambda: app.service.outbox.get(entry.report_id).status is ReportStatus.SENT,  # type: ignore[union-attr]
        what="the waiting report sent after signing in again",
    )


def _case_card(listing: object, case_id: str) -> CaseCard:
    return next(c for c in listing.cards.children if c.item.case_id == case_id)  # type: ignore[attr-defined]


def _card(outbox: object, description: str) -> EntryCard:
    cards = outbox.cards.children  # type: ignore[attr-defined]
    return next(c for c in cards if isinstance(c, EntryCard) and c.entry.description == description)


def _texts(root: object) -> str:
    return "\n".join(str(w.text) for w in root.walk() if isinstance(w, Label))  # type: ignore[attr-defined]
