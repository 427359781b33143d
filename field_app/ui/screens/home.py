"""首页: who is signed in, their grids (我的网格), the outbox's counts, and the way to every screen."""

from __future__ import annotations

from typing import Any

from kivy.metrics import dp, sp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label

from field_app.core.account import Account
from field_app.ui.screens.base import AppScreen
from field_app.ui.widgets import BLUE, GREEN, GREY, INK, ORANGE, RED, FlatButton, Header, Page, Text, paint


def grid_line(account: Account | None) -> str:
    """我的网格 from the account's assignment: the grids by name where the server gave them, else by code."""
    if account is None:
        return "我的网格：登录后显示"
    return f"我的网格：{account.grids_text()}"


class Counter(BoxLayout):
    def __init__(self, caption: str, colour: tuple[float, ...]) -> None:
        super().__init__(orientation="vertical", padding=dp(6))
        paint(self, (1, 1, 1, 1))
        self.number = Label(text="0", font_size=sp(28), bold=True, color=colour)
        self.add_widget(self.number)
        self.add_widget(Label(text=caption, font_size=sp(14), color=GREY, size_hint_y=None, height=dp(22)))


class HomeScreen(AppScreen):
    screen_name = "home"
    parent_screen = None

    def __init__(self, app: Any, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        root = BoxLayout(orientation="vertical")
        root.add_widget(Header("网格通 · 首页"))
        page = Page()
        self.who = Text("", font_size=sp(17), color=INK)
        self.grid = Text("", color=GREY)
        self.network = Text("", color=GREY)
        for widget in (self.who, self.grid, self.network):
            page.add_widget(widget)
        counters = GridLayout(cols=3, spacing=dp(8), size_hint_y=None, height=dp(86))
        self.counters = {
            "waiting": Counter("待发送", ORANGE),
            "failed": Counter("失败", RED),
            "sent": Counter("已发送", GREEN),
        }
        for counter in self.counters.values():
            counters.add_widget(counter)
        page.add_widget(counters)
        page.add_widget(
            FlatButton("＋ 新建上报", lambda: self.app.go("new_report"), height=dp(64), colour=BLUE)
        )
        self.outbox_button = FlatButton("发件箱", lambda: self.app.go("outbox"), colour=GREEN)
        page.add_widget(self.outbox_button)
        self.verify_button = FlatButton("核查", lambda: self.app.go("verify"), colour=ORANGE)
        page.add_widget(self.verify_button)
        page.add_widget(FlatButton("设置", lambda: self.app.go("settings"), colour=GREY))
        page.add_widget(BoxLayout())
        root.add_widget(page)
        self.add_widget(root)

    def refresh(self) -> None:
        service = self.app.service
        counts = service.outbox_counts()
        waiting = counts["waiting"]
        for name, counter in self.counters.items():
            counter.number.text = str(counts[name])
        account = service.account if service.signed_in else None
        self.who.text = f"{account.role_label}：{account.username}" if account else "未登录"
        self.grid.text = grid_line(account)
        todo = service.verify_todo()
        self.verify_button.text = f"核查（{todo} 件待核查）" if todo else "核查"
        offline = service.offline_reason
        self.network.text = f"网络：离线（{offline}），上报会保存在发件箱" if offline else "网络：正常"
        self.network.color = RED if offline else GREY
        self.outbox_button.text = f"发件箱（{waiting} 条待发送）" if waiting else "发件箱"
