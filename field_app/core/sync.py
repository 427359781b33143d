"""Sending the outbox: one pass at a time (`SyncEngine.run_once`), repeated by a plain worker thread.

Plain Python with an injectable clock, so tests drive passes and time by hand; the UI only hears "changed".
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from field_app.core.action_sync import ActionSender
from field_app.core.actions import ActionOutbox
from field_app.core.api_client import Answer, ApiClient, AttachmentRefused, NetworkError, Outcome
from field_app.core.auth import SignedOut
from field_app.core.backoff import Backoff
from field_app.core.clock import Clock
from field_app.core.models import FailureKind, ReportStatus
from field_app.core.outbox import Outbox, OutboxEntry

log = logging.getLogger(__name__)

# Routing takes seconds; after that, checking every few minutes is enough for the department to show up.
CHECK_BACKOFF = Backoff(base_s=3.0, factor=2.0, cap_s=600.0, jitter=0.1)
IDLE_WAIT_S = 300.0
# A backlog goes in batches of at most this many reports and bytes: small enough that a batch lost on a
# weak link costs little to send again, and well within the API's limits (500 reports, 4 MiB).
BATCH_MAX_REPORTS = 100
BATCH_MAX_BYTES = 1024 * 1024


def batches(entries: list[OutboxEntry]) -> list[list[OutboxEntry]]:
    """`entries` in order, cut into batches within BATCH_MAX_REPORTS and BATCH_MAX_BYTES."""
    out: list[list[OutboxEntry]] = []
    size = 0
    for entry in entries:
        weight = len(json.dumps(entry.payload, ensure_ascii=False).encode())
        if not out or len(out[-1]) >= BATCH_MAX_REPORTS or size + weight > BATCH_MAX_BYTES:
            out.append([])
            size = 0
        out[-1].append(entry)
        size += weight
    return out


@dataclass
class PassResult:
    sent: int = 0
    failed: int = 0
    photos: int = 0
    checked: int = 0
    actions: int = 0  # case actions answered (applied or refused)
    offline: str | None = None  # why the pass stopped early: no point hammering a dead link
    signed_out: bool = False  # the server ended the session: nothing more is sent until the next sign-in

    @property
    def changed(self) -> bool:
        return (
            bool(self.sent or self.failed or self.photos or self.checked or self.actions or self.offline)
            or self.signed_out
        )


class SyncEngine:
    def __init__(
        self,
        outbox: Outbox,
        client: ApiClient,
        clock: Clock,
        backoff: Backoff | None = None,
        actions: ActionOutbox | None = None,
    ):
        self.outbox = outbox
        self.client = client
        self.clock = clock
        self.backoff = backoff or Backoff()
        self.actions = actions
        self.sender = ActionSender(actions, client, clock, self.backoff) if actions else None
        self.link_failures = 0  # consecutive passes that found no server
        self.offline_until = 0.0
        self.last_offline_reason: str | None = None

    @property
    def user(self) -> str | None:
        """Whose work is sent: the signed-in account's (None: anonymous client, everything)."""
        return self.client.auth.username if self.client.auth is not None else None

    @property
    def paused(self) -> bool:
        """Signed out (or the server ended the session): work waits in the outbox for the next sign-in."""
        return self.client.auth is not None and self.client.auth.session is None

    def run_once(self) -> PassResult:
        result = PassResult()
        now = self.clock.now()
        if now < self.offline_until or self.paused:
            return result
        try:
            self._send_reports(result)
            self._upload_photos(result)
            self._check_routing(result)
            self._send_actions(result)
        except SignedOut:
            # Whatever was in flight goes back to waiting, untouched: it is sent after the next sign-in.
            self.outbox.recover()
            if self.actions is not None:
                self.actions.recover()
            result.signed_out = True
            return result
        except NetworkError as exc:
            self.link_failures += 1
            delay = self.backoff.delay(self.link_failures, getattr(exc, "retry_after", None))
            self.offline_until = self.clock.now() + delay
            self.last_offline_reason = result.offline = str(exc)
            return result
        self.link_failures = 0
        self.last_offline_reason = None
        return result

    def next_wakeup(self) -> float | None:
        """When the next pass has work to do (None: nothing is queued, or nobody is signed in)."""
        if self.paused:
            return None
        user = self.user
        due = self.outbox.next_due_at(reporter=user)
        if self.outbox.photos_to_upload(reporter=user):
            due = self.clock.now() if due is None else min(due, self.clock.now())
        if self.actions is not None and user is not None:
            action_due = self.actions.next_due_at(actor=user)
            if action_due is not None:
                due = action_due if due is None else min(due, action_due)
        if due is None:
            return None
        return max(due, self.offline_until)

    def _send_reports(self, result: PassResult) -> None:
        due = self.outbox.due(self.clock.now(), reporter=self.user)
        if len(due) > 1 and self.client.batch_supported is not False:
            due = self._send_batches(due, result)
        for entry in due:
            self.outbox.mark_sending(entry.report_id)
            try:
                answer = self.client.submit_report(entry.payload)
            except NetworkError as exc:
                self.outbox.mark_retry(entry.report_id, error=str(exc), next_attempt_at=0)
                raise
            self._record(entry, answer, result)

    def _send_batches(self, due: list[OutboxEntry], result: PassResult) -> list[OutboxEntry]:
        """A backlog (back online after a dead zone) goes in batches; returns what is to be sent one at a
        time instead (the server has no batch endpoint, or refused a batch's form)."""
        single: list[OutboxEntry] = []
        for chunk in batches(due):
            if self.client.batch_supported is False:  # learnt from this pass's first batch
                single += chunk
                continue
            for entry in chunk:
                self.outbox.mark_sending(entry.report_id)
            try:
                answers = self.client.submit_reports([entry.payload for entry in chunk])
            except NetworkError as exc:
                for entry in chunk:
                    self.outbox.mark_retry(entry.report_id, error=str(exc), next_attempt_at=0)
                raise
            if answers is None:
                single += chunk
                continue
            unavailable: _Unavailable | None = None
            for entry, answer in zip(chunk, answers, strict=True):
                try:
                    self._record(entry, answer, result)
                except _Unavailable as exc:  # the other items' answers are recorded first
                    unavailable = exc
            if unavailable is not None:
                raise unavailable
        return single

    def _record(self, entry: OutboxEntry, answer: Answer, result: PassResult) -> None:
        if answer.outcome is Outcome.ACCEPTED:
            self.outbox.mark_accepted(entry.report_id, content_hash=answer.content_hash)
            result.sent += 1
        elif answer.outcome is Outcome.UNAVAILABLE:
            self.outbox.mark_retry(entry.report_id, error=answer.reason, next_attempt_at=0)
            raise _Unavailable(answer.reason, answer.retry_after)
        elif answer.outcome is Outcome.SERVER_ERROR:
            delay = self.backoff.delay(entry.attempts + 1)
            self.outbox.mark_retry(
                entry.report_id, error=answer.reason, next_attempt_at=self.clock.now() + delay
            )
        else:
            kind = {
                Outcome.INVALID: FailureKind.INVALID,
                Outcome.CONFLICT: FailureKind.CONFLICT,
            }.get(answer.outcome, FailureKind.REJECTED)
            self.outbox.mark_failed(entry.report_id, kind=kind, reason=answer.reason)
            result.failed += 1

    def _upload_photos(self, result: PassResult) -> None:
        for report_id, photo in self.outbox.photos_to_upload(reporter=self.user):
            try:
                self.client.upload_photo(report_id, photo.sha256, Path(photo.path), photo.content_type)
            except AttachmentRefused as exc:
                self.outbox.mark_attachment(report_id, photo.sha256, uploaded=False, error=str(exc))
                result.failed += 1
                continue
            except FileNotFoundError:
                self.outbox.mark_attachment(report_id, photo.sha256, uploaded=False, error="照片文件已丢失")
                result.failed += 1
                continue
            self.outbox.mark_attachment(report_id, photo.sha256, uploaded=True)
            result.photos += 1

    def _check_routing(self, result: PassResult) -> None:
        for entry in self.outbox.to_check(self.clock.now(), reporter=self.user):
            state = self.client.report_state(entry.report_id)
            next_at = self.clock.now() + CHECK_BACKOFF.delay(self._checks(entry.report_id) + 1)
            if self.outbox.record_server_state(entry.report_id, state, next_check_at=next_at):
                log.warning("report %s: the server holds other content under its id", entry.report_id)
                result.failed += 1
            result.checked += 1

    def _send_actions(self, result: PassResult) -> None:
        if self.sender is None or self.user is None:
            return
        tally = self.sender.run(self.user)
        result.actions += tally.applied + tally.refused
        result.failed += tally.refused
        result.photos += tally.photos

    def _checks(self, report_id: str) -> int:
        rows = self.outbox.db.query("SELECT checks FROM reports WHERE report_id = ?", (report_id,))
        return int(rows[0]["checks"]) if rows else 0


class _Unavailable(NetworkError):
    def __init__(self, reason: str, retry_after: float | None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class SyncWorker:
    """Runs passes on a daemon thread; `kick()` wakes it (new report, 重试, network back, app resumed)."""

    def __init__(self, engine: SyncEngine, on_change: Callable[[PassResult], None] | None = None) -> None:
        self.engine = engine
        self.on_change = on_change
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.engine.outbox.recover()
        self._thread = threading.Thread(target=self._loop, name="gridflow-sync", daemon=True)
        self._thread.start()

    def kick(self) -> None:
        self.engine.offline_until = 0.0
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                result = self.engine.run_once()
            except Exception:  # a bug must not kill the thread that keeps reports moving
                log.exception("sync pass failed")
                result = PassResult(offline="内部错误")
            if result.changed and self.on_change is not None:
                self.on_change(result)
            wakeup = self.engine.next_wakeup()
            now = self.engine.clock.now()
            wait = IDLE_WAIT_S if wakeup is None else min(IDLE_WAIT_S, max(0.05, wakeup - now))
            self._wake.wait(wait)


def waiting_count(outbox: Outbox) -> int:
    counts = outbox.counts()
    return counts[ReportStatus.WAITING] + counts[ReportStatus.SENDING]
