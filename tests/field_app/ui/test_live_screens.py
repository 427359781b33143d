"""The real screens driven against the real running system (API + Faust worker + Kafka + PostGIS)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kivy.uix.button import Button
from kivy.uix.label import Label

from field_app.core.models import LocationFix
from field_app.core.service import FieldService
from field_app.devices.camera import FakeCamera
from field_app.devices.location import FixedLocation
from field_app.ui.app import FieldApp
from tests.field_app.images import write_png
from tests.field_app.ui.driver import find, pump, pump_until, run_app, screenshot, tap

pytestmark = pytest.mark.services
ZHONGSHAN_SQUARE = LocationFix(lon=121.6395, lat=38.9212, accuracy_m=5.0)  # in 中山区, WGS-84


@pytest.fixture(scope="module")
def live_app(live_api: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FieldApp]:
    folder = tmp_path_factory.mktemp("live-phone")
    service = FieldService(folder / "data")
    service.prefs.set("server_url", live_api)
    photo = write_png(folder / "photo.png", rgb=(200, 80, 40))
    app = FieldApp(service, location=FixedLocation(ZHONGSHAN_SQUARE), camera=FakeCamera([photo]))
    yield from run_app(app)
    service.close()


def test_worker_reports_through_the_real_system_and_sees_the_department(live_app: FieldApp) -> None:
    app = live_app
    signin = app.screen("signin")
    signin.worker.input.text = "wg-live-01"
    tap(find(signin, Button, "登录"))
    pump_until(lambda: len(app.service.catalog.all()) > 10, what="categories from the real API")

    tap(find(app.screen("home"), Button, "新建上报"))
    report = app.screen("new_report")
    pump_until(lambda: report.current_draft().location is not None, what="a location")
    tap(report.category_button)
    picker = app.screen("categories")
    picker.search.text = "井盖"
    pump()
    screenshot("20_live_categories_search")
    tap(find(picker.minors, Button, "上水井盖"))
    report.description.input.text = "中山广场人行道上水井盖缺失（真实系统测试）"
    tap(find(report, Button, "拍照"))
    screenshot("21_live_new_report")
    report_id = report.current_draft().report_id
    tap(find(report, Button, "提交"))

    def department_shown() -> bool:
        entry = app.service.outbox.get(report_id)
        return entry is not None and entry.server_status in ("routed", "triage")

    pump_until(department_shown, timeout=90, what="the real router's decision in the outbox")
    app.refresh()
    pump_until(lambda: app.service.outbox.get(report_id).photos_waiting == 0, what="the photo uploaded")  # type: ignore[union-attr]
    entry = app.service.outbox.get(report_id)
    assert entry is not None and entry.server_status == "routed", entry
    texts = "\n".join(w.text for w in app.screen("outbox").walk() if isinstance(w, Label))
    assert f"已发送 → {entry.department_name}" in texts
    screenshot("22_live_outbox_routed")
    app.go("home")
    pump()
    grid = app.screen("home").grid.text
    assert grid.startswith("我的网格：") and grid.endswith("网格") and "街道" in grid, grid
    screenshot("23_live_home")
