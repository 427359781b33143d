"""What every screen has: its app, a name, a refresh, and where the back button goes."""

from __future__ import annotations

from typing import Any

from kivy.uix.screenmanager import Screen

from field_app.ui.widgets import PAPER, paint


class AppScreen(Screen):
    screen_name = ""
    parent_screen: str | None = "home"

    def __init__(self, app: Any, **kwargs: Any) -> None:
        super().__init__(name=self.screen_name, **kwargs)
        self.app = app
        paint(self, PAPER)  # behind scroll views shorter than the screen

    def on_pre_enter(self, *_args: Any) -> None:
        self.refresh()

    def refresh(self) -> None:
        """Redraw from the model; called on entering and when the outbox changes."""

    def back(self) -> None:
        if self.parent_screen:
            self.app.go(self.parent_screen)
