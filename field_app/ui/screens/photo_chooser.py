"""A file chooser for photos where the system has no picker (desktops): plyer's needs zenity and blocks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kivy.metrics import dp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.filechooser import FileChooserListView
from kivy.uix.popup import Popup

from field_app.ui.widgets import GREEN, GREY, FlatButton


def choose_photo_file(on_done: Callable[[Path | None], None], start: Path | None = None) -> Popup:
    body = BoxLayout(orientation="vertical", spacing=dp(6))
    chooser = FileChooserListView(
        path=str(start or Path.home()), filters=["*.jpg", "*.jpeg", "*.png", "*.webp", "*.JPG", "*.PNG"]
    )
    body.add_widget(chooser)
    popup = Popup(title="选择照片", content=body, size_hint=(0.96, 0.9))
    buttons = BoxLayout(size_hint_y=None, height=dp(48), spacing=dp(8))

    def finish(path: Path | None) -> None:
        popup.dismiss()
        on_done(path)

    buttons.add_widget(FlatButton("取消", lambda: finish(None), colour=GREY))
    buttons.add_widget(
        FlatButton(
            "选择", lambda: finish(Path(chooser.selection[0]) if chooser.selection else None), colour=GREEN
        )
    )
    body.add_widget(buttons)
    popup.open()
    return popup
