"""登录: the worker's id and the server's address (a password field waits for accounts in the API)."""

from __future__ import annotations

from typing import Any

from kivy.metrics import dp, sp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label

from field_app.core.service import SignInError
from field_app.ui.screens.base import AppScreen
from field_app.ui.widgets import BLUE, GREY, Field, FlatButton, Page, Text


class SignInScreen(AppScreen):
    screen_name = "signin"
    parent_screen = None

    def __init__(self, app: Any, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        page = Page(padding=(dp(24), dp(40)), spacing=dp(10))
        page.add_widget(
            Label(text="网格通", font_size=sp(32), bold=True, color=BLUE, size_hint_y=None, height=dp(56))
        )
        page.add_widget(Text("大连市网格化管理 · 网格员上报", color=GREY, halign="center"))
        self.worker = Field("网格员编号", hint="例如 wg-0001")
        self.server = Field("服务器地址", hint="例如 http://192.168.1.10:8000")
        self.password = Field("密码", hint="账号体系上线后启用")
        self.password.input.disabled = True
        self.password.input.password = True
        for field in (self.worker, self.server, self.password):
            page.add_widget(field)
        page.add_widget(FlatButton("登录", self.sign_in))
        self.message = Text("", color=GREY)
        page.add_widget(self.message)
        page.add_widget(BoxLayout())  # pushes the form to the top
        self.add_widget(page)

    def refresh(self) -> None:
        service = self.app.service
        self.worker.input.text = service.worker_id
        self.server.input.text = service.server_url

    def sign_in(self) -> None:
        self.worker.show_error(None)
        self.server.show_error(None)
        service = self.app.service
        try:
            service.sign_in(self.worker.value, self.server.value)
        except SignInError as exc:
            {"worker_id": self.worker, "server": self.server}[exc.field].show_error(str(exc))
            return
        self.message.text = "正在下载问题类别…"
        self.app.background(service.refresh_categories, self._categories_loaded)
        self.app.go("home")

    def _categories_loaded(self, count: int | None, error: Exception | None) -> None:
        # Offline sign-in is allowed: reports wait in the outbox, the cached categories serve the picker.
        self.message.text = f"已离线登录：{error}" if error else f"已下载 {count} 个问题类别"
        self.app.refresh()
