"""我的任务（核查）: on-site verification of handled cases, waiting for the case workflow API.

The screen is registered already so that navigation, back handling and screenshots include it; its list
will come from the case API (cases dispatched to this worker for 核查) once that exists.
"""

from __future__ import annotations

from typing import Any

from kivy.metrics import sp
from kivy.uix.boxlayout import BoxLayout

from field_app.ui.screens.base import AppScreen
from field_app.ui.widgets import GREY, Header, Page, Text


class TasksScreen(AppScreen):
    screen_name = "tasks"

    def __init__(self, app: Any, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        root = BoxLayout(orientation="vertical")
        root.add_widget(Header("我的任务（核查）", back=self.back))
        page = Page()
        page.add_widget(Text("暂无核查任务", font_size=sp(18)))
        page.add_widget(
            Text(
                "案件处理完成后，需要网格员到现场核查的任务会显示在这里。此功能将在案件流程接口上线后开放。",
                color=GREY,
            )
        )
        page.add_widget(BoxLayout())
        root.add_widget(page)
        self.add_widget(root)
