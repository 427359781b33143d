"""设置: the account and the server it is on, categories download, sync now, sign out."""

from __future__ import annotations

from typing import Any

from kivy.metrics import sp
from kivy.uix.boxlayout import BoxLayout

from field_app import __version__
from field_app.ui.screens.base import AppScreen
from field_app.ui.widgets import BLUE, GREY, RED, FlatButton, Header, Page, Text

APP_VERSION = __version__


class SettingsScreen(AppScreen):
    screen_name = "settings"

    def __init__(self, app: Any, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        root = BoxLayout(orientation="vertical")
        root.add_widget(Header("设置", back=self.back))
        page = Page()
        self.who = Text("", font_size=sp(16))
        page.add_widget(self.who)
        self.server = Text("", color=GREY)
        page.add_widget(self.server)
        self.categories = Text("", color=GREY)
        page.add_widget(self.categories)
        page.add_widget(FlatButton("更新问题类别", self.update_categories, colour=BLUE))
        page.add_widget(FlatButton("立即同步发件箱", self.sync, colour=BLUE))
        page.add_widget(FlatButton("退出登录", self.sign_out, colour=RED))
        page.add_widget(
            Text("退出后发件箱中的内容仍保留，再次登录后继续发送。", color=GREY, font_size=sp(13))
        )
        self.message = Text("", color=GREY)
        page.add_widget(self.message)
        self.about = Text("", color=GREY, font_size=sp(13))
        page.add_widget(self.about)
        page.add_widget(BoxLayout())
        root.add_widget(page)
        self.add_widget(root)

    def refresh(self) -> None:
        service = self.app.service
        account = service.account if service.signed_in else None
        self.who.text = f"{account.role_label}：{account.username}" if account else "未登录"
        self.server.text = f"服务器：{service.server_url}（更换服务器请退出后重新登录）"
        self.categories.text = f"本机已有问题类别：{len(service.catalog.all())} 个"
        self.about.text = f"网格通 {APP_VERSION} · 数据保存在本机：{service.db.path}"

    def update_categories(self) -> None:
        self.message.text = "正在下载问题类别…"
        self.app.background(self.app.service.refresh_categories, self._updated)

    def _updated(self, count: int | None, error: Exception | None) -> None:
        self.message.text = (
            f"下载失败：{error}（继续使用本机已有类别）" if error else f"已更新 {count} 个问题类别"
        )
        self.refresh()

    def sync(self) -> None:
        self.app.service.kick()
        self.message.text = "已开始同步"

    def sign_out(self) -> None:
        self.app.service.sign_out()
        self.app.go("signin")
