"""选择问题类别: 部件 or 事件, then 大类, then 小类 — or search across all of them."""

from __future__ import annotations

from typing import Any

from kivy.metrics import dp, sp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.gridlayout import GridLayout
from kivy.uix.scrollview import ScrollView
from kivy.uix.textinput import TextInput
from kivy.uix.togglebutton import ToggleButton

from field_app.core.categories import KIND_LABELS, CategoryItem
from field_app.ui.screens.base import AppScreen
from field_app.ui.widgets import BLUE, GREY, INK, WHITE, Header, Page, Text


def _list() -> tuple[ScrollView, GridLayout]:
    column = GridLayout(cols=1, spacing=dp(4), size_hint_y=None)
    column.bind(minimum_height=column.setter("height"))
    scroll = ScrollView(do_scroll_x=False)
    scroll.add_widget(column)
    return scroll, column


def _item_button(text: str, selected: bool = False) -> Button:
    return Button(
        text=text,
        size_hint_y=None,
        height=dp(46),
        font_size=sp(15),
        halign="left",
        valign="middle",
        padding=(dp(10), 0),
        background_normal="",
        background_color=BLUE if selected else WHITE,
        color=WHITE if selected else INK,
    )


class CategoryScreen(AppScreen):
    screen_name = "categories"
    parent_screen = "new_report"

    def __init__(self, app: Any, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.kind = "component"
        self.major: str | None = None
        root = BoxLayout(orientation="vertical")
        root.add_widget(Header("选择问题类别", back=self.back))
        page = Page()
        self.search = TextInput(
            hint_text="搜索类别，例如：井盖", multiline=False, size_hint_y=None, height=dp(44)
        )
        self.search.bind(text=lambda *_: self.refresh())
        page.add_widget(self.search)
        kinds = BoxLayout(size_hint_y=None, height=dp(44), spacing=dp(6))
        self.kind_buttons = {}
        for kind, label in KIND_LABELS.items():
            button = ToggleButton(text=label, group="kind", allow_no_selection=False, font_size=sp(16))
            button.state = "down" if kind == self.kind else "normal"
            button.bind(on_release=lambda _b, k=kind: self.choose_kind(k))
            self.kind_buttons[kind] = button
            kinds.add_widget(button)
        page.add_widget(kinds)
        self.note = Text("", color=GREY, font_size=sp(14))
        page.add_widget(self.note)
        lists = BoxLayout(spacing=dp(6))
        self.majors_scroll, self.majors = _list()
        self.majors_scroll.size_hint_x = 0.42
        minors_scroll, self.minors = _list()
        lists.add_widget(self.majors_scroll)
        lists.add_widget(minors_scroll)
        page.add_widget(lists)
        root.add_widget(page)
        self.add_widget(root)

    def choose_kind(self, kind: str) -> None:
        self.kind, self.major = kind, None
        self.refresh()

    def choose_major(self, major_code: str) -> None:
        self.major = major_code
        self.refresh()

    def choose(self, item: CategoryItem) -> None:
        self.search.text = ""
        self.app.screen("new_report").set_category(item.code, item.name)
        self.app.go("new_report")

    def refresh(self) -> None:
        catalog = self.app.service.catalog
        self.majors.clear_widgets()
        self.minors.clear_widgets()
        if not catalog.all():
            self.note.text = "还没有问题类别：请联网后在“设置”中点击“更新问题类别”"
            return
        query = self.search.text.strip()
        # Search results span 部件 and 事件 and every 大类: the 大类 column steps aside for them.
        self.majors_scroll.size_hint_x = 0.001 if query else 0.42
        self.majors_scroll.opacity = 0 if query else 1
        if query:
            found = catalog.search(query)
            self.note.text = f"搜索“{query}”：{len(found)} 个结果" if found else f"没有找到“{query}”"
            for item in found:
                self._add_minor(item, f"{KIND_LABELS.get(item.kind, '')} · {item.label}")
            return
        majors = catalog.majors(self.kind)
        if self.major not in {code for code, _ in majors}:
            self.major = majors[0][0] if majors else None
        self.note.text = f"{KIND_LABELS[self.kind]}：先选大类，再选小类"
        for code, name in majors:
            button = _item_button(name, selected=code == self.major)
            button.bind(size=lambda b, *_: setattr(b, "text_size", b.size))
            button.bind(on_release=lambda _b, c=code: self.choose_major(c))
            self.majors.add_widget(button)
        for item in catalog.minors(self.major) if self.major else []:
            self._add_minor(item, item.name)

    def _add_minor(self, item: CategoryItem, text: str) -> None:
        button = _item_button(text)
        button.bind(size=lambda b, *_: setattr(b, "text_size", b.size))
        button.bind(on_release=lambda _b, i=item: self.choose(i))
        self.minors.add_widget(button)
