"""The app's model: everything the screens (and the headless submit runner) do, without Kivy.

Screens call these methods and redraw on `on_change`; the sync thread calls `on_change` from its own thread,
so the UI must hop to its main thread before touching widgets.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from field_app.core import account as accounts
from field_app.core import redact
from field_app.core.account import Account, SignInRefused
from field_app.core.actions import ActionEntry, ActionOutbox, ActionStatus, VerifyDraft
from field_app.core.api_client import ApiClient, NetworkError
from field_app.core.auth import Auth, FileTokenStore, MemoryTokenStore, Session, SignedOut
from field_app.core.backoff import Backoff
from field_app.core.cases import VERIFY_QUEUE, CaseItem, QueueCache, QueuePage, fetch_queue
from field_app.core.categories import CategoryCatalog
from field_app.core.clock import Clock, SystemClock
from field_app.core.db import Database, Prefs
from field_app.core.models import Draft, ReportStatus
from field_app.core.outbox import Outbox, OutboxEntry
from field_app.core.photos import Photo, PhotoStore
from field_app.core.sync import PassResult, SyncEngine, SyncWorker

log = logging.getLogger(__name__)

DEFAULT_SERVER = "http://127.0.0.1:8000"
USERNAME_MAX = 64
SESSION_FILE = "session.json"  # beside the database, never inside it (core/auth.py)


class SignInError(ValueError):
    """A sign-in the app or the server will not take. `field` names where to show it (username, password,
    server, or form for the whole form); `retry_after` is the wait when throttled. The message is Chinese."""

    def __init__(self, field: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.retry_after = retry_after


def normalise_server(url: str) -> str:
    url = url.strip().rstrip("/")
    if url and "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SignInError("server", "服务器地址无效，例如 http://192.168.1.10:8000")
    return url


class FieldService:
    def __init__(
        self,
        data_dir: Path,
        *,
        clock: Clock | None = None,
        transport: httpx.BaseTransport | None = None,
        backoff: Backoff | None = None,
        start_worker: bool = True,
    ) -> None:
        redact.install()  # before anything could log a token
        self.data_dir = Path(data_dir)
        self.clock = clock or SystemClock()
        self.db = Database(self.data_dir / "gridflow-field.sqlite3")
        self.prefs = Prefs(self.db)
        self.outbox = Outbox(self.db, self.clock)
        self.actions = ActionOutbox(self.db, self.clock)
        self.catalog = CategoryCatalog(self.db)
        self.queues = QueueCache(self.db)
        self.photos = PhotoStore(self.data_dir / "photos")
        self.auth = Auth(FileTokenStore(self.data_dir / SESSION_FILE), self.clock)
        self._transport = transport
        self._backoff = backoff
        self._start_worker = start_worker
        self.listeners: list[Callable[[PassResult], None]] = []
        self.engine: SyncEngine | None = None
        self.worker: SyncWorker | None = None
        self.expired = False  # the server ended the session (not the worker): say so on the sign-in screen
        self.outbox.recover()
        self.actions.recover()
        if self.signed_in:
            self._connect()

    # --- session ---------------------------------------------------------------------------------
    @property
    def account(self) -> Account | None:
        """The signed-in (or last signed-in) account's profile."""
        stored = self.prefs.get("account")
        return Account.from_json(stored) if stored else None

    @property
    def username(self) -> str:
        return self.auth.username or ""

    @property
    def last_username(self) -> str:
        """To fill in the sign-in form (an app from before accounts kept a worker id instead)."""
        known = self.account
        return known.username if known else self.prefs.get("worker_id") or ""

    @property
    def server_url(self) -> str:
        return self.prefs.get("server_url") or DEFAULT_SERVER

    @property
    def signed_in(self) -> bool:
        return self.auth.session is not None

    def sign_in(self, username: str, password: str, server_url: str) -> Account:
        """Sign in against the server (blocking: call it off the UI thread). The tokens go to the session
        file only once the server has said who they belong to and that the role is a grid worker's."""
        username = username.strip()
        if not username:
            raise SignInError("username", "请输入用户名")
        if len(username) > USERNAME_MAX:
            raise SignInError("username", f"用户名不能超过{USERNAME_MAX}个字符")
        if not password:
            raise SignInError("password", "请输入密码")
        server = normalise_server(server_url or DEFAULT_SERVER)
        trial = Auth(MemoryTokenStore(), self.clock)
        client = ApiClient(server, transport=self._transport, auth=trial)
        try:
            answer = accounts.request_tokens(client, username, password)
            trial.start(Session.from_answer(username, answer, self.clock.now()))
            profile = accounts.fetch_profile(client, self.account)
        except SignInRefused as exc:
            where = {"credentials": "password", "role": "username"}.get(exc.kind, "form")
            raise SignInError(where, str(exc), exc.retry_after) from None
        except (NetworkError, SignedOut) as exc:
            raise SignInError("server", f"无法登录：{exc}") from None
        finally:
            client.close()
        session = trial.session
        assert session is not None
        self._disconnect()
        before = self.account
        if before is None or before.username != profile.username or self.server_url != server:
            self.queues.clear()  # another account's cases must not show, even for a moment
        self.prefs.set("server_url", server)
        self.prefs.set("account", profile.to_json())
        if session.username != profile.username:  # the server's spelling is the reporter_id
            session = replace(session, username=profile.username)
        self.auth.start(session)
        self.expired = False
        self._connect()
        return profile

    def sign_out(self) -> None:
        """Forget the tokens; the outbox stays, so nothing waiting is lost by signing out."""
        self._disconnect()
        self.auth.end()
        self.queues.clear()  # another account's cases must not show to the next one

    def refresh_account(self) -> Account:
        """The assignment again (an admin may have changed the grids) and the names of its grids."""
        client = self._client()
        profile = accounts.fetch_profile(client, self.account)
        profile = profile.named(accounts.fetch_grid_names(client, profile.unnamed_grids))
        self.prefs.set("account", profile.to_json())
        return profile

    def _client(self) -> ApiClient:
        if self.engine is None:
            raise SignedOut("请先登录")
        return self.engine.client

    def _connect(self) -> None:
        self._disconnect()
        client = ApiClient(self.server_url, transport=self._transport, auth=self.auth)
        self.engine = SyncEngine(self.outbox, client, self.clock, self._backoff, actions=self.actions)
        if self._start_worker:
            self.worker = SyncWorker(self.engine, on_change=self._changed)
            self.worker.start()

    def _disconnect(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
        if self.engine is not None:
            self.engine.client.close()
            self.engine = None

    def close(self) -> None:
        self._disconnect()
        self.db.close()

    def _changed(self, result: PassResult) -> None:
        if result.signed_out:
            self.expired = True
        for listener in list(self.listeners):
            try:
                listener(result)
            except Exception:
                log.exception("outbox listener failed")

    # --- reports ---------------------------------------------------------------------------------
    def new_draft(self) -> Draft:
        return Draft(reporter_id=self.username)

    def attach_photo(self, draft: Draft | VerifyDraft, source: Path) -> Photo:
        photo = self.photos.add(source)
        if all(p.sha256 != photo.sha256 for p in draft.photos):
            draft.photos.append(photo)
        return photo

    def submit(self, draft: Draft, *, observed_at: datetime | None = None) -> OutboxEntry:
        """Commit to the outbox first, then wake the sender: the report is safe before any byte leaves."""
        entry = self.outbox.save(draft, observed_at=observed_at or datetime.now().astimezone())
        self.kick()
        return entry

    def kick(self) -> None:
        if self.worker is not None:
            self.worker.kick()

    def sync_now(self) -> PassResult:
        """One pass on the caller's thread (tests, the headless runner)."""
        if self.engine is None:
            raise RuntimeError("not signed in")
        result = self.engine.run_once()
        if result.signed_out:
            self.expired = True
        return result

    def retry(self, report_id: str) -> None:
        self.outbox.retry(report_id)
        self.kick()

    def resubmit_as_new(self, report_id: str) -> str:
        new_id = self.outbox.resubmit_as_new(report_id)
        self.kick()
        return new_id

    def refresh_categories(self) -> int:
        """Download the category list; raises NetworkError when offline (the cached list stays)."""
        if self.engine is None:
            raise NetworkError("未登录")
        return self.catalog.replace(self.engine.client.categories())

    @property
    def offline_reason(self) -> str | None:
        return self.engine.last_offline_reason if self.engine else None

    def outbox_counts(self) -> dict[str, int]:
        """Reports and case actions together: waiting (incl. sending), failed (or refused), sent (applied)."""
        reports, actions = self.outbox.counts(), self.actions.counts()
        return {
            "waiting": reports[ReportStatus.WAITING]
            + reports[ReportStatus.SENDING]
            + actions[ActionStatus.WAITING]
            + actions[ActionStatus.SENDING],
            "failed": reports[ReportStatus.FAILED] + actions[ActionStatus.REFUSED],
            "sent": reports[ReportStatus.SENT] + actions[ActionStatus.APPLIED],
        }

    # --- 核查 ------------------------------------------------------------------------------------
    def load_verify_queue(self) -> QueuePage | None:
        """The handled cases in the worker's grids, from the server (blocking), kept for offline use;
        None when the server has no such queue yet. SignedOut when the session has ended."""
        try:
            page = fetch_queue(self._client(), VERIFY_QUEUE, now=self.clock.now())
        except SignedOut:
            self.expired = True
            raise
        if page is not None:
            self.queues.save(VERIFY_QUEUE, page)
            self._learn_grid_names(page.items)
        return page

    def cached_verify_queue(self) -> QueuePage | None:
        return self.queues.load(VERIFY_QUEUE)

    def verify_todo(self) -> int:
        """Cases of the last queue seen that this phone has not checked yet (home's count)."""
        page = self.cached_verify_queue()
        if page is None:
            return 0
        checked = sum(1 for item in page.items if self.actions.latest_for(item.case_id) is not None)
        return page.total - checked

    def _learn_grid_names(self, items: list[CaseItem]) -> None:
        profile = self.account
        if profile is None:
            return
        names = {
            str(i.codes["grid"]): i.names["grid"]
            for i in items
            if i.codes.get("grid") in profile.unnamed_grids and i.names.get("grid")
        }
        if names:
            self.prefs.set("account", profile.named(names).to_json())

    def new_verification(self, case: CaseItem) -> VerifyDraft:
        return VerifyDraft(case=case, actor=self.username)

    def submit_verification(self, draft: VerifyDraft) -> ActionEntry:
        """Commit the verification to the action outbox, then wake the sender (offline: it waits there)."""
        entry = self.actions.save_verification(draft)
        self.kick()
        return entry
