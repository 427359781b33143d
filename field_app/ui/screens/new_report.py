"""新建上报: category, description, location (with accuracy and a manual adjustment), photos, submit.

Submitting writes to the outbox first; sending happens on the sync thread, so the worker can walk away.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kivy.clock import mainthread
from kivy.metrics import dp, sp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.scrollview import ScrollView

from field_app.core.categories import KIND_LABELS
from field_app.core.models import Draft, LocationFix
from field_app.ui.photos import PhotoPicker
from field_app.ui.screens.base import AppScreen
from field_app.ui.screens.location_popup import AdjustLocationPopup
from field_app.ui.widgets import GREEN, GREY, INK, RED, Field, FlatButton, Header, Page, Text

MAX_PHOTOS = 6


def location_text(fix: LocationFix | None) -> str:
    if fix is None:
        return "位置：正在定位…"
    note = "（已手动调整）" if fix.adjusted else ""
    return f"位置：经度 {fix.lon:.6f}，纬度 {fix.lat:.6f}\n精度 ±{fix.accuracy_m:.0f} 米{note}"


class NewReportScreen(AppScreen):
    screen_name = "new_report"

    def __init__(self, app: Any, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.draft: Draft | None = None
        root = BoxLayout(orientation="vertical")
        root.add_widget(Header("新建上报", back=self.back))
        scroll = ScrollView(do_scroll_x=False)
        page = Page(size_hint_y=None)
        page.bind(minimum_height=page.setter("height"))
        self.category_button = FlatButton(
            "问题类别：请选择 ›", lambda: self.app.go("categories"), colour=(1, 1, 1, 1)
        )
        self.category_button.color = INK
        page.add_widget(self.category_button)
        self.category_error = Text("", color=RED, font_size=sp(13))
        page.add_widget(self.category_error)
        self.description = Field(
            "问题描述（可不填）", hint="例如：人行道井盖缺失，有跌落危险", multiline=True
        )
        page.add_widget(self.description)
        self.location = Text(location_text(None), font_size=sp(15))
        page.add_widget(self.location)
        self.location_error = Text("", color=RED, font_size=sp(13))
        page.add_widget(self.location_error)
        row = BoxLayout(size_hint_y=None, height=dp(44), spacing=dp(8))
        row.add_widget(FlatButton("重新定位", self.locate, colour=GREY, height=dp(44)))
        row.add_widget(FlatButton("手动调整", self.adjust, colour=GREY, height=dp(44)))
        page.add_widget(row)
        self.photos = PhotoPicker(app, self.current_draft, self._say, most=MAX_PHOTOS)
        page.add_widget(self.photos)
        self.message = Text("", color=RED)
        page.add_widget(self.message)
        page.add_widget(FlatButton("提交", self.submit, colour=GREEN, height=dp(56)))
        scroll.add_widget(page)
        root.add_widget(scroll)
        self.add_widget(root)

    # --- lifecycle -----------------------------------------------------------------------------
    def current_draft(self) -> Draft:
        if self.draft is None:
            self.draft = self.app.service.new_draft()
        return self.draft

    def on_enter(self, *_args: Any) -> None:
        if self.current_draft().location is None:
            self.locate()

    def refresh(self) -> None:
        draft = self.current_draft()
        if draft.category_code:
            item = self.app.service.catalog.get(draft.category_code)
            kind = KIND_LABELS.get(item.kind, "") if item else ""
            label = f"{kind} · {item.label}" if item else draft.category_name or draft.category_code
            self.category_button.text = f"问题类别：{label} ›"
            self.category_error.text = ""
        self.location.text = location_text(draft.location)
        self.photos.refresh()

    def set_category(self, code: str, name: str) -> None:
        draft = self.current_draft()
        draft.category_code, draft.category_name = code, name
        self.refresh()

    # --- location ------------------------------------------------------------------------------
    def locate(self) -> None:
        self.location_error.text = ""
        self.app.location.start(self._on_fix, self._on_location_error)

    @mainthread
    def _on_fix(self, fix: LocationFix) -> None:
        draft = self.current_draft()
        current = draft.location
        # A fix the worker placed by hand wins; otherwise keep the most accurate one seen.
        if current is None or (not current.adjusted and fix.accuracy_m <= current.accuracy_m * 1.5):
            draft.location = fix
        self.location_error.text = ""
        self.refresh()

    @mainthread
    def _on_location_error(self, message: str) -> None:
        self.location_error.text = message
        if self.current_draft().location is None:
            self.location.text = "位置：无法获取"

    def adjust(self) -> None:
        AdjustLocationPopup(self.current_draft().location, self._adjusted).open()

    def _adjusted(self, fix: LocationFix) -> None:
        self.current_draft().location = fix
        self.location_error.text = ""
        self.refresh()

    def _say(self, message: str) -> None:
        self.message.text = message

    # --- submit --------------------------------------------------------------------------------
    def submit(self) -> None:
        draft = self.current_draft()
        draft.description = self.description.value
        problems = draft.problems()
        self.category_error.text = problems.get("category", "")
        self.description.show_error(problems.get("description"))
        if "location" not in problems or not self.location_error.text:
            # A device's own message ("定位服务已关闭…") says more than "no location": keep it.
            self.location_error.text = problems.get("location", "")
        if problems:
            self.message.text = problems.get("reporter_id", "请补全标红的内容")
            return
        entry = self.app.service.submit(draft, observed_at=datetime.now().astimezone())
        self.app.location.stop()
        self.draft = None
        self.description.input.text = ""
        self.message.text = ""
        self.category_button.text = "问题类别：请选择 ›"
        self.app.screen("outbox").flash(f"已保存到发件箱（编号 {entry.report_id[:8]}），正在发送")
        self.app.go("outbox")
