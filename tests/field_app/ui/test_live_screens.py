"""The real screens driven against the real running system (API + Faust worker + Kafka + PostGIS): a grid
worker signs in with a real account, sees their grid by name, reports, and verifies the case once its
department has handled it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from kivy.uix.button import Button
from kivy.uix.label import Label

from field_app.core.actions import ActionStatus
from field_app.core.models import LocationFix
from field_app.core.service import FieldService
from field_app.devices.camera import FakeCamera
from field_app.devices.location import FixedLocation
from field_app.ui.app import FieldApp
from tests.field_app.images import write_png
from tests.field_app.ui.driver import find, pump, pump_until, run_app, screenshot, tap
from tests.fixtures import FIELD_POINT, TEST_PASSWORD, Accounts, UserAccount

pytestmark = pytest.mark.services
HERE = LocationFix(lon=FIELD_POINT[0], lat=FIELD_POINT[1], accuracy_m=5.0)  # 中山广场, in the worker's grid


@pytest.fixture(scope="module")
def live_app(live_api: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FieldApp]:
    folder = tmp_path_factory.mktemp("live-phone")
    service = FieldService(folder / "data")
    service.prefs.set("server_url", live_api)
    photos = [write_png(folder / f"photo{n}.png", rgb=(200, 80 + 40 * n, 40)) for n in range(2)]
    app = FieldApp(service, location=FixedLocation(HERE), camera=FakeCamera(photos))
    yield from run_app(app)
    service.close()


def texts(root: object) -> str:
    return "\n".join(w.text for w in root.walk() if isinstance(w, Label))  # type: ignore[attr-defined]


def sign_in(app: FieldApp, username: str, password: str) -> None:
    signin = app.screen("signin")
    signin.username.input.text, signin.password.input.text = username, password
    tap(find(signin, Button, "登录"))
    pump_until(lambda: not signin.button.disabled, timeout=30, what="the real API's answer to the sign-in")


def test_worker_signs_in_reports_and_verifies_through_the_real_system(
    live_app: FieldApp, field_worker: UserAccount, accounts: Accounts
) -> None:
    app = live_app
    sign_in(app, field_worker.username, "not-the-password")
    assert app.screen("signin").password.error.text == "用户名或密码错误"
    sign_in(app, field_worker.username, TEST_PASSWORD)
    pump_until(lambda: app.manager.current == "home", what="home after a real sign-in")
    pump_until(lambda: len(app.service.catalog.all()) > 10, what="categories from the real API")
    home = app.screen("home")
    (grid,) = field_worker.grid_codes
    pump_until(lambda: grid not in home.grid.text, what="the grid's name from its view")
    assert home.grid.text.startswith("我的网格：") and home.grid.text.endswith("网格"), home.grid.text
    screenshot("20_live_home")

    # A report in the worker's own grid: routed to its department, which opens a case there.
    tap(find(home, Button, "新建上报"))
    report = app.screen("new_report")
    pump_until(lambda: report.current_draft().location is not None, what="a location")
    tap(report.category_button)
    picker = app.screen("categories")
    picker.search.text = "井盖"
    pump()
    # 污水井盖: no other field test reports this category here (one within 50 m would join its open case).
    tap(find(picker.minors, Button, "污水井盖"))
    report.description.input.text = "中山广场人行道污水井盖缺失（真实系统测试）"
    tap(find(report, Button, "拍照"))
    screenshot("21_live_new_report")
    report_id = report.current_draft().report_id
    tap(find(report, Button, "提交"))

    def routed() -> bool:
        entry = app.service.outbox.get(report_id)
        return entry is not None and entry.server_status in ("routed", "triage")

    pump_until(routed, timeout=90, what="the real router's decision in the outbox")
    pump_until(lambda: app.service.outbox.get(report_id).photos_waiting == 0, what="the photo uploaded")  # type: ignore[union-attr]
    entry = app.service.outbox.get(report_id)
    assert entry is not None and entry.server_status == "routed", entry
    assert entry.payload["reporter_id"] == field_worker.username
    app.refresh()
    pump()
    assert f"已发送 → {entry.department_name}" in texts(app.screen("outbox"))
    screenshot("22_live_outbox_routed")

    # Its department signs for it and handles it; then it waits for the worker's check on site.
    with httpx.Client(base_url=app.service.server_url, timeout=30) as api:
        status = api.get(f"/api/v1/reports/{report_id}", headers=accounts.headers(field_worker.username))
        case_id = status.json()["case_id"]
        for action in ({"action": "accept"}, {"action": "handle", "note": "已更换井盖"}):
            department = accounts.actor_for(action["action"], case_id)
            done = api.post(
                f"/api/v1/cases/{case_id}/actions", json=action, headers=accounts.headers(department)
            )
            assert done.status_code == 200, done.text
    app.go("verify")
    listing = app.screen("verify")
    pump_until(
        lambda: any(c.item.case_id == case_id for c in listing.cards.children),
        timeout=30,
        what="the handled case in the real 核查 queue",
    )
    assert "污水井盖" in texts(listing) and "待核查" in listing.status.text
    screenshot("23_live_verify_list")
    card = next(c for c in listing.cards.children if c.item.case_id == case_id)
    tap(find(card, Button, "核查"))
    form = app.screen("verify_form")
    tap(form.results[True])
    form.note.input.text = "现场核查：井盖已更换（真实系统测试）"
    tap(find(form, Button, "拍照"))
    tap(find(form, Button, "提交核查结果"))
    verified = app.service.actions.latest_for(case_id)
    assert verified is not None

    def applied() -> bool:
        latest = app.service.actions.get(verified.action_id)
        return latest is not None and latest.status in (ActionStatus.APPLIED, ActionStatus.REFUSED)

    pump_until(applied, timeout=60, what="the verification's outcome from the real API")
    done_entry = app.service.actions.get(verified.action_id)
    assert done_entry is not None and done_entry.status is ActionStatus.APPLIED, done_entry
    assert done_entry.case_state == "closed"
    # The photo goes to the case, which takes it from the grid worker who verifies it.
    assert done_entry.photos[0].uploaded and done_entry.body["attachments"] == [done_entry.photos[0].sha256]  # type: ignore[index]
    with httpx.Client(base_url=app.service.server_url, timeout=30) as api:
        case = api.get(f"/api/v1/cases/{case_id}", headers=accounts.headers(field_worker.username)).json()
    assert case["state"] == "closed"
    assert (
        case["history"][-1]["action"] == "verify"
        and case["history"][-1]["actor"] == f"user:{field_worker.username}"
    )
    app.go("outbox")
    pump()
    assert "已生效：核查通过，已结案" in texts(app.screen("outbox"))
    screenshot("24_live_outbox_verified")
