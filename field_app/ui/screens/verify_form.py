"""核查 one case: 通过 or 不通过, a note, photos of the site; saved to the outbox, sent once online."""

from __future__ import annotations

from typing import Any

from kivy.metrics import dp, sp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.scrollview import ScrollView
from kivy.uix.togglebutton import ToggleButton

from field_app.core.actions import PHOTOS_MAX, AlreadyQueued, VerifyDraft
from field_app.core.cases import CaseItem
from field_app.ui.photos import PhotoPicker
from field_app.ui.screens.base import AppScreen
from field_app.ui.widgets import GREEN, GREY, INK, RED, Field, FlatButton, Header, Page, Text

RESULTS = ((True, "通过"), (False, "不通过"))


class VerifyFormScreen(AppScreen):
    screen_name = "verify_form"
    parent_screen = "verify"

    def __init__(self, app: Any, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.draft: VerifyDraft | None = None
        root = BoxLayout(orientation="vertical")
        root.add_widget(Header("核查", back=self.back))
        scroll = ScrollView(do_scroll_x=False)
        page = Page(size_hint_y=None)
        page.bind(minimum_height=page.setter("height"))
        self.case = Text("", color=INK, font_size=sp(16), bold=True)
        page.add_widget(self.case)
        self.details = Text("", color=GREY, font_size=sp(14))
        page.add_widget(self.details)
        page.add_widget(Text("核查结果", color=GREY, font_size=sp(14)))
        row = BoxLayout(size_hint_y=None, height=dp(48), spacing=dp(8))
        self.results: dict[bool, ToggleButton] = {}
        for passed, label in RESULTS:
            button = ToggleButton(
                text=label, group="verify-result", allow_no_selection=False, font_size=sp(17)
            )
            button.bind(on_release=lambda _b, p=passed: self.choose(p))
            self.results[passed] = button
            row.add_widget(button)
        page.add_widget(row)
        self.result_error = Text("", color=RED, font_size=sp(13))
        page.add_widget(self.result_error)
        self.note = Field("核查说明（不通过时必填）", hint="例如：井盖已更换，路面已恢复", multiline=True)
        page.add_widget(self.note)
        self.photos = PhotoPicker(app, self.current_draft, self._say, most=PHOTOS_MAX, caption="现场照片")
        page.add_widget(self.photos)
        self.message = Text("", color=RED)
        page.add_widget(self.message)
        page.add_widget(FlatButton("提交核查结果", self.submit, colour=GREEN, height=dp(56)))
        scroll.add_widget(page)
        root.add_widget(scroll)
        self.add_widget(root)

    def start(self, item: CaseItem) -> None:
        """A fresh form for `item` (the same case again keeps what was entered)."""
        if self.draft is None or self.draft.case.case_id != item.case_id:
            self.draft = self.app.service.new_verification(item)
            self.note.input.text = ""
            for button in self.results.values():
                button.state = "normal"
            self.message.text = self.result_error.text = ""
            self.note.show_error(None)

    def current_draft(self) -> VerifyDraft:
        assert self.draft is not None, "start(item) before showing the form"
        return self.draft

    def refresh(self) -> None:
        if self.draft is None:
            return
        item = self.draft.case
        self.case.text = item.title
        department = item.department_name or "未派遣"
        self.details.text = f"{item.place}\n责任部门：{department}\n{item.deadline_text} · {item.due_label}"
        self.photos.refresh()

    def choose(self, passed: bool) -> None:
        self.current_draft().passed = passed
        for value, button in self.results.items():
            button.state = "down" if value is passed else "normal"
        self.result_error.text = ""

    def _say(self, message: str) -> None:
        self.message.text = message

    def submit(self) -> None:
        draft = self.current_draft()
        draft.note = self.note.value
        problems = draft.problems()
        self.result_error.text = problems.get("passed", "")
        self.note.show_error(problems.get("note"))
        if problems:
            self.message.text = problems.get("photos") or problems.get("actor") or "请补全标红的内容"
            return
        try:
            entry = self.app.service.submit_verification(draft)
        except AlreadyQueued as exc:
            self.message.text = str(exc)
            return
        self.draft = None
        result = "通过" if entry.passed else "不通过"
        self.app.screen("verify").flash(f"核查结果（{result}）已保存到发件箱，有网络时自动发送")
        self.app.go("verify")
