"""A form's photos: thumbnails, 拍照 and 从相册选择, copied into the app's own store as they come in.

Used by 新建上报 and 核查; the draft it fills is anything with a `photos` list (a report or a verification).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.clock import mainthread
from kivy.metrics import dp, sp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.image import Image

from field_app.core.photos import PhotoError
from field_app.ui.screens.photo_chooser import choose_photo_file
from field_app.ui.widgets import BLUE, GREY, FlatButton, Text


class PhotoPicker(BoxLayout):
    def __init__(
        self,
        app: Any,
        draft: Callable[[], Any],
        say: Callable[[str], None],
        *,
        most: int,
        caption: str = "照片",
    ) -> None:
        super().__init__(orientation="vertical", size_hint_y=None, spacing=dp(6))
        self.bind(minimum_height=self.setter("height"))
        self.app, self.draft, self.say, self.most, self.caption = app, draft, say, most, caption
        self.row = BoxLayout(size_hint_y=None, height=dp(72), spacing=dp(6))
        self.add_widget(self.row)
        self.note = Text(f"{caption}：0 张", color=GREY, font_size=sp(14))
        self.add_widget(self.note)
        buttons = BoxLayout(size_hint_y=None, height=dp(44), spacing=dp(8))
        buttons.add_widget(FlatButton("拍照", lambda: self.add(self.app.camera), colour=BLUE, height=dp(44)))
        buttons.add_widget(FlatButton("从相册选择", self.pick, colour=BLUE, height=dp(44)))
        self.add_widget(buttons)

    def refresh(self) -> None:
        photos = self.draft().photos
        self.row.clear_widgets()
        for photo in photos:
            self.row.add_widget(Image(source=photo.path, size_hint_x=None, width=dp(72), fit_mode="cover"))
        self.note.text = f"{self.caption}：{len(photos)} 张"

    def _target(self) -> Path:
        folder = self.app.service.data_dir / "incoming"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{uuid.uuid4().hex}.jpg"

    def add(self, source: Any) -> None:
        if len(self.draft().photos) >= self.most:
            self.say(f"最多 {self.most} 张照片")
            return
        source.take(self._target(), self._taken)

    def pick(self) -> None:
        if self.app.gallery is not None:
            self.add(self.app.gallery)
        else:
            choose_photo_file(lambda path: self._taken(path, None if path else "未选择照片"))

    @mainthread
    def _taken(self, path: Path | None, error: str | None) -> None:
        if path is None:
            self.say(error or "")
            return
        try:
            self.app.service.attach_photo(self.draft(), Path(path))
            self.say("")
        except PhotoError as exc:
            self.say(str(exc))
        finally:
            if Path(path).parent == self.app.service.data_dir / "incoming":
                Path(path).unlink(missing_ok=True)  # the outbox keeps its own copy
        self.refresh()
