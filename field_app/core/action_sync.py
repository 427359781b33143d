"""Sending the action outbox, one action at a time: its photos first, then the action under its key.

Called by the sync engine's pass (core/sync.py) after the reports; transport trouble raises NetworkError and
stops the pass, as for reports, and a lost session raises SignedOut with the action back to waiting.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from field_app.core.actions import ActionEntry, ActionOutbox
from field_app.core.api_client import ApiClient, AttachmentRefused, NetworkError
from field_app.core.backoff import Backoff
from field_app.core.cases import ActionAnswer, ActionOutcome, post_action
from field_app.core.clock import Clock


class Unavailable(NetworkError):
    """503/429 for an action: the whole pass waits, honouring Retry-After."""

    def __init__(self, reason: str, retry_after: float | None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


@dataclass
class ActionTally:
    applied: int = 0
    refused: int = 0
    photos: int = 0


class ActionSender:
    def __init__(self, actions: ActionOutbox, client: ApiClient, clock: Clock, backoff: Backoff) -> None:
        self.actions = actions
        self.client = client
        self.clock = clock
        self.backoff = backoff

    def run(self, actor: str) -> ActionTally:
        """Send the actor's due actions, oldest first."""
        tally = ActionTally()
        for entry in self.actions.due(self.clock.now(), actor=actor):
            self._send(entry, tally)
        return tally

    def _send(self, entry: ActionEntry, tally: ActionTally) -> None:
        self.actions.mark_sending(entry.action_id)
        try:
            if entry.body is None:  # photos settle before the body is frozen; after that, nothing changes
                self._upload(entry, tally)
            body = self.actions.freeze_body(entry.action_id)
            answer = post_action(self.client, entry.case_id, body, key=entry.action_id)
        except NetworkError as exc:
            self.actions.mark_retry(entry.action_id, error=str(exc), next_attempt_at=0)
            raise
        self._record(entry, answer, tally)

    def _upload(self, entry: ActionEntry, tally: ActionTally) -> None:
        """Each photo to the case itself (the server takes a case's photos from whoever may verify it, whoever
        reported it). One the server refuses is recorded and left out; the verification goes on without it."""
        for photo in entry.photos_pending:
            try:
                path = Path(photo.path)
                self.client.upload_case_photo(entry.case_id, photo.sha256, path, photo.content_type)
            except AttachmentRefused as exc:
                self.actions.mark_photo(entry.action_id, photo.sha256, uploaded=False, error=str(exc))
                continue
            except FileNotFoundError:
                self.actions.mark_photo(entry.action_id, photo.sha256, uploaded=False, error="照片文件已丢失")
                continue
            self.actions.mark_photo(entry.action_id, photo.sha256, uploaded=True)
            tally.photos += 1

    def _record(self, entry: ActionEntry, answer: ActionAnswer, tally: ActionTally) -> None:
        if answer.outcome is ActionOutcome.APPLIED:
            self.actions.mark_applied(entry.action_id, state=answer.state, state_label=answer.state_label)
            tally.applied += 1
        elif answer.outcome is ActionOutcome.REFUSED:
            self.actions.mark_refused(
                entry.action_id, error=answer.error, detail=answer.detail, state=answer.state
            )
            tally.refused += 1
        elif answer.outcome is ActionOutcome.UNAVAILABLE:
            self.actions.mark_retry(entry.action_id, error=answer.detail, next_attempt_at=0)
            raise Unavailable(answer.detail, answer.retry_after)
        else:
            delay = self.backoff.delay(entry.attempts + 1)
            self.actions.mark_retry(
                entry.action_id, error=answer.detail, next_attempt_at=self.clock.now() + delay
            )
