"""The app's model: everything the screens (and the headless submit runner) do, without Kivy.

Screens call these methods and redraw on `on_change`; the sync thread calls `on_change` from its own thread,
so the UI must hop to its main thread before touching widgets.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from field_app.core.api_client import ApiClient, NetworkError
from field_app.core.backoff import Backoff
from field_app.core.categories import CategoryCatalog
from field_app.core.clock import Clock, SystemClock
from field_app.core.db import Database, Prefs
from field_app.core.models import Draft
from field_app.core.outbox import Outbox, OutboxEntry
from field_app.core.photos import Photo, PhotoStore
from field_app.core.sync import PassResult, SyncEngine, SyncWorker

log = logging.getLogger(__name__)

DEFAULT_SERVER = "http://127.0.0.1:8000"
WORKER_ID = re.compile(r"[\w.:@-]+")  # what the API accepts as reporter_id


class SignInError(ValueError):
    """A sign-in field the app will not take; `field` names it, the message is for the worker."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


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
        self.data_dir = Path(data_dir)
        self.clock = clock or SystemClock()
        self.db = Database(self.data_dir / "gridflow-field.sqlite3")
        self.prefs = Prefs(self.db)
        self.outbox = Outbox(self.db, self.clock)
        self.catalog = CategoryCatalog(self.db)
        self.photos = PhotoStore(self.data_dir / "photos")
        self._transport = transport
        self._backoff = backoff
        self._start_worker = start_worker
        self.listeners: list[Callable[[PassResult], None]] = []
        self.engine: SyncEngine | None = None
        self.worker: SyncWorker | None = None
        self.outbox.recover()
        if self.signed_in:
            self._connect()

    # --- session ---------------------------------------------------------------------------------
    @property
    def worker_id(self) -> str:
        return self.prefs.get("worker_id") or ""

    @property
    def server_url(self) -> str:
        return self.prefs.get("server_url") or DEFAULT_SERVER

    @property
    def signed_in(self) -> bool:
        return bool(self.worker_id)

    def sign_in(self, worker_id: str, server_url: str) -> None:
        worker_id = worker_id.strip()
        if not worker_id:
            raise SignInError("worker_id", "请输入网格员编号")
        if len(worker_id) > 64 or not WORKER_ID.fullmatch(worker_id):
            raise SignInError("worker_id", "网格员编号只能包含字母、数字和 . : @ - _，最多64位")
        self.prefs.set("server_url", normalise_server(server_url or DEFAULT_SERVER))
        self.prefs.set("worker_id", worker_id)
        self._connect()

    def sign_out(self) -> None:
        """Forget the worker; the outbox stays, so nothing waiting is lost by signing out."""
        self._disconnect()
        self.prefs.delete("worker_id")

    def set_server(self, server_url: str) -> None:
        self.prefs.set("server_url", normalise_server(server_url))
        if self.signed_in:
            self._connect()

    def _connect(self) -> None:
        self._disconnect()
        client = ApiClient(self.server_url, transport=self._transport)
        self.engine = SyncEngine(self.outbox, client, self.clock, self._backoff)
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
        for listener in list(self.listeners):
            try:
                listener(result)
            except Exception:
                log.exception("outbox listener failed")

    # --- reports ---------------------------------------------------------------------------------
    def new_draft(self) -> Draft:
        return Draft(reporter_id=self.worker_id)

    def attach_photo(self, draft: Draft, source: Path) -> Photo:
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
        return self.engine.run_once()

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
