"""发件箱: every report with its state — waiting, sending, sent (to which department) or failed (why)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kivy.metrics import dp, sp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.scrollview import ScrollView

from field_app.core.labels import STATUS_LABELS, status_line
from field_app.core.models import FailureKind, ReportStatus
from field_app.core.outbox import OutboxEntry
from field_app.ui.screens.base import AppScreen
from field_app.ui.widgets import BLUE, GREEN, GREY, INK, ORANGE, RED, FlatButton, Header, Page, Text, paint

STATUS_COLOURS = {
    ReportStatus.WAITING: ORANGE,
    ReportStatus.SENDING: BLUE,
    ReportStatus.SENT: GREEN,
    ReportStatus.FAILED: RED,
}


class EntryCard(BoxLayout):
    def __init__(self, entry: OutboxEntry, screen: OutboxScreen) -> None:
        super().__init__(orientation="vertical", size_hint_y=None, padding=dp(8), spacing=dp(2))
        self.entry = entry
        paint(self, (1, 1, 1, 1))
        self.bind(minimum_height=self.setter("height"))
        when = datetime.fromtimestamp(entry.created_at).strftime("%m-%d %H:%M")
        title = (
            f"[{STATUS_LABELS[entry.status]}] {entry.category_name or entry.payload.get('category')}  {when}"
        )
        self.add_widget(Text(title, color=STATUS_COLOURS[entry.status], font_size=sp(15), bold=True))
        if entry.description:
            self.add_widget(Text(entry.description[:80], color=INK, font_size=sp(14)))
        self.add_widget(Text(status_line(entry), color=GREY, font_size=sp(14)))
        if entry.status is ReportStatus.FAILED and not entry.superseded_by:
            row = BoxLayout(size_hint_y=None, height=dp(40), spacing=dp(6))
            row.add_widget(
                FlatButton("重试", lambda: screen.retry(entry.report_id), colour=BLUE, height=dp(40))
            )
            if entry.failure_kind is FailureKind.CONFLICT:
                row.add_widget(
                    FlatButton(
                        "另存为新报告", lambda: screen.resubmit(entry.report_id), colour=ORANGE, height=dp(40)
                    )
                )
            self.add_widget(row)


class OutboxScreen(AppScreen):
    screen_name = "outbox"

    def __init__(self, app: Any, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        root = BoxLayout(orientation="vertical")
        root.add_widget(Header("发件箱", back=self.back))
        page = Page()
        self.notice = Text("", color=GREEN)
        page.add_widget(self.notice)
        self.summary = Text("", color=GREY)
        page.add_widget(self.summary)
        page.add_widget(FlatButton("立即发送", self.send_now, colour=BLUE, height=dp(44)))
        self.cards = GridLayout(cols=1, spacing=dp(6), size_hint_y=None)
        self.cards.bind(minimum_height=self.cards.setter("height"))
        scroll = ScrollView(do_scroll_x=False)
        scroll.add_widget(self.cards)
        page.add_widget(scroll)
        root.add_widget(page)
        self.add_widget(root)

    def flash(self, message: str) -> None:
        self.notice.text = message

    def on_leave(self, *_args: Any) -> None:
        self.notice.text = ""

    def refresh(self) -> None:
        service = self.app.service
        entries = service.outbox.entries()
        counts = service.outbox.counts()
        parts = [f"{STATUS_LABELS[s]} {counts[s]}" for s in ReportStatus if counts[s]]
        offline = service.offline_reason
        self.summary.text = ("，".join(parts) or "发件箱是空的") + (f"\n离线：{offline}" if offline else "")
        self.cards.clear_widgets()
        for entry in entries[:100]:
            self.cards.add_widget(EntryCard(entry, self))

    def send_now(self) -> None:
        self.app.service.kick()
        self.flash("正在发送…")

    def retry(self, report_id: str) -> None:
        self.app.service.retry(report_id)
        self.refresh()

    def resubmit(self, report_id: str) -> None:
        new_id = self.app.service.resubmit_as_new(report_id)
        self.flash(f"已另存为新报告（编号 {new_id[:8]}），正在发送")
        self.refresh()
