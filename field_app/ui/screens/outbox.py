"""发件箱: every report and verification with its state — waiting, sending, sent (to which department) or
applied, failed or refused (why)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kivy.metrics import dp, sp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.scrollview import ScrollView

from field_app.core.actions import ActionEntry, ActionStatus
from field_app.core.labels import ACTION_LABELS, STATUS_LABELS, action_line, status_line
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
ACTION_COLOURS = {
    ActionStatus.WAITING: ORANGE,
    ActionStatus.SENDING: BLUE,
    ActionStatus.APPLIED: GREEN,
    ActionStatus.REFUSED: RED,
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
        self.add_widget(Text(status_line(entry, screen.app.service.username), color=GREY, font_size=sp(14)))
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


class ActionCard(BoxLayout):
    """A verification (核查) in the outbox: which case, the result entered, and what the server made of it."""

    def __init__(self, entry: ActionEntry, screen: OutboxScreen) -> None:
        super().__init__(orientation="vertical", size_hint_y=None, padding=dp(8), spacing=dp(2))
        self.entry = entry
        paint(self, (1, 1, 1, 1))
        self.bind(minimum_height=self.setter("height"))
        when = datetime.fromtimestamp(entry.created_at).strftime("%m-%d %H:%M")
        result = "通过" if entry.passed else "不通过"
        title = f"[{ACTION_LABELS[entry.status]}] 核查{result} · {entry.summary.get('category_name')}  {when}"
        self.add_widget(Text(title, color=ACTION_COLOURS[entry.status], font_size=sp(15), bold=True))
        self.add_widget(Text(str(entry.summary.get("place") or ""), color=INK, font_size=sp(14)))
        if entry.fields.get("note"):
            self.add_widget(Text(str(entry.fields["note"])[:80], color=INK, font_size=sp(14)))
        self.add_widget(Text(action_line(entry, screen.app.service.username), color=GREY, font_size=sp(14)))


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
        counts = service.outbox.counts()
        parts = [f"上报{STATUS_LABELS[s]} {counts[s]}" for s in ReportStatus if counts[s]]
        actions = service.actions.counts()
        parts += [f"核查{ACTION_LABELS[s]} {actions[s]}" for s in ActionStatus if actions[s]]
        offline = service.offline_reason
        self.summary.text = ("，".join(parts) or "发件箱是空的") + (f"\n离线：{offline}" if offline else "")
        self.cards.clear_widgets()
        # Newest first, reports and verifications together, as the worker made them.
        entries: list[OutboxEntry | ActionEntry] = [*service.outbox.entries(), *service.actions.entries()]
        entries.sort(key=lambda e: e.created_at, reverse=True)
        for entry in entries[:100]:
            card = ActionCard(entry, self) if isinstance(entry, ActionEntry) else EntryCard(entry, self)
            self.cards.add_widget(card)

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
