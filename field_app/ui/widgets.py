"""Shared widgets: a header bar, buttons, wrapped labels and labelled inputs, in one plain style."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kivy.graphics import Color, Rectangle
from kivy.metrics import dp, sp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.label import Label
from kivy.uix.textinput import TextInput

BLUE = (0.08, 0.40, 0.75, 1)
GREEN = (0.18, 0.55, 0.24, 1)
RED = (0.78, 0.16, 0.16, 1)
ORANGE = (0.90, 0.45, 0.05, 1)
GREY = (0.45, 0.45, 0.45, 1)
INK = (0.10, 0.10, 0.10, 1)
PAPER = (0.96, 0.96, 0.97, 1)
WHITE = (1, 1, 1, 1)


def paint(widget: Any, rgba: tuple[float, ...]) -> None:
    """A solid background that follows the widget's size and position."""
    with widget.canvas.before:
        Color(*rgba)
        rect = Rectangle(pos=widget.pos, size=widget.size)

    def follow(*_args: object) -> None:
        rect.pos, rect.size = widget.pos, widget.size

    widget.bind(pos=follow, size=follow)


class Page(BoxLayout):
    """A screen's body: vertical, padded, on a light background."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("orientation", "vertical")
        kwargs.setdefault("padding", (dp(12), dp(8)))
        kwargs.setdefault("spacing", dp(8))
        super().__init__(**kwargs)
        paint(self, PAPER)


class Header(BoxLayout):
    def __init__(self, title: str, back: Callable[[], None] | None = None, **kwargs: Any) -> None:
        super().__init__(
            orientation="horizontal", size_hint_y=None, height=dp(52), padding=(dp(4), 0), **kwargs
        )
        paint(self, BLUE)
        if back is not None:
            button = Button(text="‹ 返回", size_hint_x=None, width=dp(76), background_color=(0, 0, 0, 0))
            button.bind(on_release=lambda *_: back())
            self.add_widget(button)
        self.title = Label(text=title, font_size=sp(19), bold=True, color=WHITE)
        self.add_widget(self.title)
        if back is not None:
            self.add_widget(Label(size_hint_x=None, width=dp(76)))  # keeps the title centred


class FlatButton(Button):
    def __init__(self, text: str, on_press: Callable[[], None] | None = None, **kwargs: Any) -> None:
        colour = kwargs.pop("colour", BLUE)
        kwargs.setdefault("size_hint_y", None)
        kwargs.setdefault("height", dp(48))
        kwargs.setdefault("font_size", sp(17))
        super().__init__(text=text, background_normal="", background_color=colour, color=WHITE, **kwargs)
        if on_press is not None:
            self.bind(on_release=lambda *_: on_press())


class Text(Label):
    """A label that wraps to its width and grows to its text, for lists and messages."""

    def __init__(self, text: str = "", **kwargs: Any) -> None:
        kwargs.setdefault("color", INK)
        kwargs.setdefault("font_size", sp(15))
        kwargs.setdefault("halign", "left")
        kwargs.setdefault("valign", "middle")
        kwargs.setdefault("size_hint_y", None)
        super().__init__(text=text, **kwargs)
        self.bind(width=self._wrap, texture_size=self._grow, text=self._grow)
        self._wrap()
        self._grow()  # an empty label never gets a new texture_size, and Label's default height is 100

    def _grow(self, *_args: object) -> None:
        self.height = max(self.texture_size[1], dp(22)) if self.text else dp(4)

    def _wrap(self, *_args: object) -> None:
        self.text_size = (self.width, None)


class Field(BoxLayout):
    """A caption over a text input, with room under it for the field's error."""

    def __init__(self, caption: str, hint: str = "", multiline: bool = False, **kwargs: Any) -> None:
        height = dp(120) if multiline else dp(44)
        super().__init__(orientation="vertical", size_hint_y=None, spacing=dp(2), **kwargs)
        self.add_widget(Text(caption, color=GREY, font_size=sp(14)))
        self.input = TextInput(
            hint_text=hint,
            multiline=multiline,
            size_hint_y=None,
            height=height,
            font_size=sp(16),
            write_tab=False,
        )
        self.add_widget(self.input)
        self.error = Text("", color=RED, font_size=sp(13))
        self.add_widget(self.error)
        self.bind(minimum_height=self.setter("height"))

    @property
    def value(self) -> str:
        return str(self.input.text)

    def show_error(self, message: str | None) -> None:
        self.error.text = message or ""
