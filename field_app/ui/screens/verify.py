"""核查: the handled cases in the worker's grids, waiting for a check on site.

The list shows the last one seen at once (it opens offline) and asks the server for a fresh one; a case
already checked on this phone shows its verification's state instead of the 核查 button.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kivy.metrics import dp, sp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.scrollview import ScrollView

from field_app.core.auth import SignedOut
from field_app.core.cases import CaseItem, QueuePage
from field_app.core.labels import action_line
from field_app.ui.screens.base import AppScreen
from field_app.ui.widgets import BLUE, GREEN, GREY, INK, ORANGE, RED, FlatButton, Header, Page, Text, paint

DUE_COLOURS = {"on_time": GREEN, "warning": ORANGE, "overdue": RED}
NO_QUEUE = "服务器暂未提供核查任务，请联系管理员更新服务器"


class CaseCard(BoxLayout):
    def __init__(self, item: CaseItem, screen: VerifyListScreen) -> None:
        super().__init__(orientation="vertical", size_hint_y=None, padding=dp(8), spacing=dp(2))
        self.item = item
        paint(self, (1, 1, 1, 1))
        self.bind(minimum_height=self.setter("height"))
        self.add_widget(Text(item.title, color=INK, font_size=sp(16), bold=True))
        self.add_widget(Text(item.place, color=GREY, font_size=sp(14)))
        self.add_widget(Text(f"责任部门：{item.department_name or '未派遣'}", color=GREY, font_size=sp(14)))
        due = DUE_COLOURS.get(item.due, GREY)
        self.add_widget(Text(f"{item.deadline_text} · {item.due_label}", color=due, font_size=sp(14)))
        service = screen.app.service
        mine = service.actions.latest_for(item.case_id)
        if mine is not None:
            self.add_widget(
                Text(f"本机核查：{action_line(mine, service.username)}", color=BLUE, font_size=sp(14))
            )
        if mine is None or mine.outcome_error == "invalid":  # one the server found malformed may be redone
            self.add_widget(FlatButton("核查", lambda: screen.open(item), colour=ORANGE, height=dp(40)))


class VerifyListScreen(AppScreen):
    screen_name = "verify"

    def __init__(self, app: Any, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.page: QueuePage | None = None
        self.status_text = ""
        root = BoxLayout(orientation="vertical")
        root.add_widget(Header("核查", back=self.back))
        body = Page()
        self.notice = Text("", color=GREEN)
        body.add_widget(self.notice)
        self.status = Text("", color=GREY)
        body.add_widget(self.status)
        body.add_widget(FlatButton("刷新", self.load, colour=BLUE, height=dp(44)))
        self.cards = GridLayout(cols=1, spacing=dp(6), size_hint_y=None)
        self.cards.bind(minimum_height=self.cards.setter("height"))
        scroll = ScrollView(do_scroll_x=False)
        scroll.add_widget(self.cards)
        body.add_widget(scroll)
        root.add_widget(body)
        self.add_widget(root)

    def flash(self, message: str) -> None:
        self.notice.text = message

    def on_enter(self, *_args: Any) -> None:
        self.load()

    def on_leave(self, *_args: Any) -> None:
        self.notice.text = ""

    def refresh(self) -> None:
        self.page = self.page or self.app.service.cached_verify_queue()
        self.cards.clear_widgets()
        page = self.page
        if page is None:
            self.status.text = self.status_text or "正在读取核查任务…"
            return
        when = datetime.fromtimestamp(page.fetched_at).strftime("%m-%d %H:%M")
        count = f"待核查 {page.total} 件" if page.total else "暂无待核查的案件"
        self.status.text = f"{count}（{when} 更新）" + (f"\n{self.status_text}" if self.status_text else "")
        for item in page.items:
            self.cards.add_widget(CaseCard(item, self))

    def load(self) -> None:
        self.status_text = "正在刷新…"
        self.refresh()
        self.app.background(self.app.service.load_verify_queue, self._loaded)

    def _loaded(self, page: QueuePage | None, error: Exception | None) -> None:
        if isinstance(error, SignedOut):
            self.app.session_lost()
            return
        if error is not None:
            self.status_text = f"离线：{error}，显示上次的列表"
        elif page is None:
            self.status_text = NO_QUEUE
        else:
            self.page, self.status_text = page, ""
        self.refresh()

    def open(self, item: CaseItem) -> None:
        self.app.screen("verify_form").start(item)
        self.app.go("verify_form")
