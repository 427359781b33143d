"""登录: the worker's account (username and password) and the server's address.

Signing in needs the network once; after that the session is kept (core/auth.py) and the app works offline.
"""

from __future__ import annotations

from typing import Any

from kivy.metrics import dp, sp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label

from field_app.core.account import Account
from field_app.core.service import SignInError
from field_app.ui.screens.base import AppScreen
from field_app.ui.widgets import BLUE, GREY, ORANGE, RED, Field, FlatButton, Page, Text

EXPIRED = "登录已过期，请重新登录。发件箱中的内容已保留，登录后继续发送。"


class SignInScreen(AppScreen):
    screen_name = "signin"
    parent_screen = None

    def __init__(self, app: Any, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        page = Page(padding=(dp(24), dp(32)), spacing=dp(10))
        page.add_widget(
            Label(text="网格通", font_size=sp(32), bold=True, color=BLUE, size_hint_y=None, height=dp(56))
        )
        page.add_widget(Text("大连市网格化管理 · 网格员上报与核查", color=GREY, halign="center"))
        self.notice = Text("", color=ORANGE)
        page.add_widget(self.notice)
        self.username = Field("用户名", hint="例如 wg_zhongshan_01")
        self.password = Field("密码")
        self.password.input.password = True
        self.server = Field("服务器地址", hint="例如 http://192.168.1.10:8000")
        for field in (self.username, self.password, self.server):
            page.add_widget(field)
        self.button = FlatButton("登录", self.sign_in)
        page.add_widget(self.button)
        self.message = Text("", color=RED)
        page.add_widget(self.message)
        page.add_widget(BoxLayout())  # pushes the form to the top
        self.add_widget(page)

    def refresh(self) -> None:
        service = self.app.service
        if not self.username.value:
            self.username.input.text = service.last_username
        self.server.input.text = service.server_url
        self.notice.text = EXPIRED if service.expired else ""

    def sign_in(self) -> None:
        for field in (self.username, self.password, self.server):
            field.show_error(None)
        self.message.text = "正在登录…"
        self.message.color = GREY
        self.button.disabled = True
        username, password, server = self.username.value, self.password.value, self.server.value
        self.app.background(lambda: self.app.service.sign_in(username, password, server), self._answered)

    def _answered(self, account: Account | None, error: Exception | None) -> None:
        self.button.disabled = False
        self.message.color = RED
        if isinstance(error, SignInError):
            fields = {"username": self.username, "password": self.password, "server": self.server}
            where = fields.get(error.field)
            self.message.text = "" if where else str(error)
            if where is not None:
                where.show_error(str(error))
            return
        if error is not None:
            self.message.text = f"登录失败：{error}"
            return
        self.password.input.text = ""
        self.message.text = ""
        self.notice.text = ""
        self.app.signed_in()
