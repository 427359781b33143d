"""The signed-in session: its tokens, where they are kept, and who may renew them.

The tokens live in a file of their own (`session.json`, mode 0600, in the app's private folder), never in
the outbox database: the database is the thing a worker may be asked to hand over for support, and its
reports must survive a sign-out that forgets the tokens. `TokenStore` is the small interface a platform
keystore would implement instead of the file.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from field_app.core import redact
from field_app.core.clock import Clock

log = logging.getLogger(__name__)

# Renew a little before the server would refuse: a request in flight must not carry a token that dies on
# the way. The server's access tokens live 15 minutes.
RENEW_BEFORE_S = 30.0


class SignedOut(Exception):
    """The server no longer takes this phone's session (refresh refused): the worker must sign in again.
    Outbox work stays where it is and goes on after the next sign-in."""

    def __init__(self, message: str = "登录已过期，请重新登录") -> None:
        super().__init__(message)


@dataclass(frozen=True)
class Session:
    username: str
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    access_expires_at: float  # seconds since the epoch, by the app's clock
    refresh_expires_at: float

    @classmethod
    def from_answer(cls, username: str, answer: dict[str, Any], now: float) -> Session:
        """A session from the token endpoint's answer (OAuth 2's token response)."""
        access_s = float(answer["expires_in"])
        return cls(
            username=username,
            access_token=str(answer["access_token"]),
            refresh_token=str(answer["refresh_token"]),
            access_expires_at=now + access_s,
            refresh_expires_at=now + float(answer.get("refresh_expires_in") or access_s),
        )


class TokenStore(Protocol):
    def load(self) -> Session | None: ...

    def save(self, session: Session) -> None: ...

    def clear(self) -> None: ...


class FileTokenStore:
    """One JSON file readable by the app's user only, replaced atomically (a kill mid-write keeps the old)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def load(self) -> Session | None:
        try:
            if self.path.stat().st_mode & 0o077:
                os.chmod(self.path, 0o600)  # copied in by hand, or made by an older build: tighten it
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return Session(**data)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError):
            log.warning("session file unreadable: signing in again")  # never its content
            return None

    def save(self, session: Session) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(self.path.name + ".part")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)  # O_CREAT's mode only applies to a new file
            os.write(fd, json.dumps(asdict(session)).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        partial.replace(self.path)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
        self.path.with_name(self.path.name + ".part").unlink(missing_ok=True)


class MemoryTokenStore:
    """For tests that want no file."""

    def __init__(self) -> None:
        self.session: Session | None = None

    def load(self) -> Session | None:
        return self.session

    def save(self, session: Session) -> None:
        self.session = session

    def clear(self) -> None:
        self.session = None


class Auth:
    """The current session, shared by the sync thread and the UI's background tasks.

    `lock` serialises renewals: two requests refused at once renew once, the second finds the new token.
    """

    def __init__(self, store: TokenStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self.lock = threading.RLock()
        self._session = store.load()
        if self._session is not None:
            redact.remember(self._session.access_token, self._session.refresh_token)

    @property
    def session(self) -> Session | None:
        return self._session

    @property
    def username(self) -> str | None:
        return self._session.username if self._session else None

    def access_token(self) -> str | None:
        return self._session.access_token if self._session else None

    def due_for_renewal(self) -> bool:
        session = self._session
        return session is not None and self.clock.now() >= session.access_expires_at - RENEW_BEFORE_S

    def start(self, session: Session) -> None:
        """Keep a new session (sign-in or renewal): on disk before anything uses it."""
        redact.remember(session.access_token, session.refresh_token)
        with self.lock:
            self.store.save(session)
            self._session = session

    def end(self) -> None:
        """Forget the tokens (sign-out, or the server refused to renew them)."""
        with self.lock:
            self._session = None
            self.store.clear()
