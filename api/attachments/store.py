"""Photos on disk, no database: each stored once by content, linked to an owner (a report or a case) only
by its uploader.

Layout under the root, where `<owner>` is a report's id, or `case-<case_id>` for a case's evidence photos
(核查 and 处置 photos, sent by whoever may act on the case rather than by a report's reporter):
- `objects/<aa>/<sha256>` — a stored photo, read-only. It only ever appears by `os.link` of a finished,
  verified temp file, so no writer ever holds it open: a photo is there whole or not at all.
- `links/<owner>/<sha256>.<who>` — empty marker: uploader `who` sent these bytes for this owner (proof of
  possession). `who` is a hash of the uploader's id, so a photo counts for a report only when its
  reporter sent it, checked once the report is stored (intake writes no database, so the photo may come
  first). A marker without `.<who>` is from before accounts (or a caller that names no uploader).
- `partial/<owner>/<sha256>.<N>[.<who>].part` — an upload for this owner by `who` in progress, locked
  with flock.
- `tmp/` — one unique file per finishing upload, removed when it is linked into `objects/`.
- `quota.lock`, `swept` — the lock around "is there room, then write", and when the last sweep ran.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from uuid import UUID

from api.errors import GridflowError, InvalidInput, QuotaExceeded, UnsupportedMediaType

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
SWEEP_EVERY_S = 15 * 60
_BLOCK = 1 << 16


def sniff(head: bytes) -> str | None:
    """The image type by its magic bytes; None for anything that is not JPEG, PNG or WebP."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def check_content(head: bytes, declared: str) -> None:
    actual = sniff(head)
    if actual is None or actual != declared:
        raise UnsupportedMediaType(
            f"content is not {declared} (found {actual or 'no known image type'})", field="body"
        )


def _who(uploader: str | None) -> str:
    """The uploader as a file name's suffix: a hash, since a reporter id may hold any letter or a colon."""
    if uploader is None:
        return ""
    return "." + hashlib.sha256(uploader.encode()).hexdigest()[:20]


@dataclass(frozen=True)
class Owner:
    """What a photo is linked to: a report (its reporter's photos) or a case (evidence of acting on it)."""

    kind: Literal["report", "case"]
    id: UUID

    @property
    def folder(self) -> str:
        # A report's folder is its bare id, as before cases had photos, so stored links keep counting.
        return str(self.id) if self.kind == "report" else f"{self.kind}-{self.id}"


def _owner(owner: Owner | UUID) -> Owner:
    """A bare UUID is a report's id: the store's first and most common owner."""
    return owner if isinstance(owner, Owner) else Owner("report", owner)


@dataclass(frozen=True)
class Stored:
    sha256: str
    size: int
    content_type: str
    created: bool  # newly linked to this owner (201), not already there (200)


class AttachmentStore:
    def __init__(
        self,
        root: Path,
        *,
        quota_bytes: int = 20 * 1024**3,
        partial_max_age_s: float = 24 * 3600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = root
        self.quota_bytes = quota_bytes
        self.partial_max_age_s = partial_max_age_s
        self.clock = clock

    # --- reading ---------------------------------------------------------------------------------
    def object_path(self, sha256: str) -> Path:
        return self.root / "objects" / sha256[:2] / sha256

    def _link_path(self, owner: Owner | UUID, sha256: str, uploader: str | None) -> Path:
        return self.root / "links" / _owner(owner).folder / f"{sha256}{_who(uploader)}"

    def _partial(self, owner: Owner | UUID, sha256: str, total: int, uploader: str | None) -> Path:
        return self.root / "partial" / _owner(owner).folder / f"{sha256}.{total}{_who(uploader)}.part"

    def linked(self, owner: Owner | UUID, sha256: str, *, uploader: str | None = None) -> bool:
        """Whether `uploader` sent this photo, whole, for this owner (a bare UUID: a report)."""
        path = self._link_path(owner, sha256, uploader)
        return path.exists() and self.object_path(sha256).exists()

    def linked_by_anyone(self, owner: Owner | UUID, sha256: str) -> bool:
        """Whether anyone sent this photo, whole, for this owner (a case's photos: whoever may act on it)."""
        folder = self.root / "links" / _owner(owner).folder
        sent = (folder / sha256).exists() or any(folder.glob(f"{sha256}.*"))
        return sent and self.object_path(sha256).exists()

    def stored(self, sha256: str, created: bool = False) -> Stored:
        path = self.object_path(sha256)
        with path.open("rb") as fh:
            content_type = sniff(fh.read(16)) or "application/octet-stream"
        return Stored(sha256, path.stat().st_size, content_type, created)

    def status(
        self, owner: Owner | UUID, sha256: str, total: int, *, uploader: str | None = None
    ) -> Stored | int:
        """This owner's photo if `uploader` finished it, else the bytes their upload for it holds.

        Only this uploader's upload for this owner counts: that the photo is stored for another owner, or
        sent by someone else, says nothing.
        """
        if self.linked(owner, sha256, uploader=uploader):
            return self.stored(sha256)
        try:
            return self._partial(owner, sha256, total, uploader).stat().st_size
        except FileNotFoundError:
            return 0

    def usage(self) -> int:
        """Bytes of stored, partial and finishing photos (a walk: ~10k files at the default quota)."""
        total = 0
        for part in ("objects", "partial", "tmp"):
            for folder, _dirs, files in os.walk(self.root / part):
                for name in files:
                    with suppress(FileNotFoundError):
                        total += os.stat(os.path.join(folder, name)).st_size
        return total

    # --- uploading -------------------------------------------------------------------------------
    def put_whole(
        self, owner: Owner | UUID, body: bytes, declared: str, *, uploader: str | None = None
    ) -> Stored:
        """Store a whole photo (once, by content) and link it to the owner as sent by `uploader`."""
        self.sweep_if_due()
        check_content(body[:16], declared)
        sha256 = hashlib.sha256(body).hexdigest()
        if not self.object_path(sha256).exists():
            fd, tmp = self._temp_file()
            try:
                with open(fd, "wb") as fh:
                    with self._room_for(len(body)):
                        fh.write(body)
                        fh.flush()
                    os.fsync(fh.fileno())
                self._publish(Path(tmp), sha256)
            finally:
                os.unlink(tmp)
        return self.stored(sha256, created=self._link(owner, sha256, uploader))

    def put_chunk(
        self,
        owner: Owner | UUID,
        sha256: str,
        start: int,
        chunk: bytes,
        total: int,
        declared: str,
        *,
        uploader: str | None = None,
    ) -> Stored | int:
        """Add a chunk to `uploader`'s upload for this owner; the Stored photo when complete, else the bytes
        now held."""
        self.sweep_if_due()
        partial = self._partial(owner, sha256, total, uploader)
        if self.linked(owner, sha256, uploader=uploader):
            # Finished by a parallel upload (a whole one, say) between two of this upload's chunks: what
            # this one held so far is not needed any more.
            if partial.exists():
                with self._locked(partial):
                    partial.unlink()
            return self.stored(sha256)
        with self._locked(partial) as fd:
            if self.linked(
                owner, sha256, uploader=uploader
            ):  # a parallel upload for this owner finished while we waited
                partial.unlink()
                return self.stored(sha256)
            held = os.fstat(fd).st_size
            if start == 0 and chunk:
                check_content(chunk[:16], declared)
            if start <= held < start + len(chunk):
                # Resent bytes the server already has (a lost answer) are skipped, not written twice.
                new = chunk[held - start :]
                with self._room_for(len(new)), open(fd, "r+b", closefd=False) as fh:
                    fh.seek(held)
                    fh.write(new)
                os.fsync(fd)
                held = start + len(chunk)
            if held < total:
                return held
            try:
                self._finish(fd, sha256)
            except GridflowError:
                partial.unlink()  # bytes that are not this photo: the client must start again
                raise
            created = self._link(owner, sha256, uploader)
            partial.unlink()  # while we hold its lock, so a waiter takes a fresh one and sees the link
        return self.stored(sha256, created=created)

    def _finish(self, partial_fd: int, sha256: str) -> None:
        """Copy a complete upload to a fresh temp file while hashing it, and publish that copy.

        A copy, not a rename, so the stored object is never an inode some other request has open to write.
        """
        digest = hashlib.sha256()
        fd, tmp = self._temp_file()
        try:
            with open(partial_fd, "rb", closefd=False) as src, open(fd, "wb") as dst:
                src.seek(0)
                head = src.read(16)
                src.seek(0)
                for block in iter(lambda: src.read(_BLOCK), b""):
                    digest.update(block)
                    dst.write(block)
                dst.flush()
                os.fsync(dst.fileno())
            if digest.hexdigest() != sha256:
                raise InvalidInput("uploaded bytes do not match this sha256", field="path.sha256")
            if sniff(head) is None:
                raise UnsupportedMediaType("content is not a JPEG, PNG or WebP image", field="body")
            self._publish(Path(tmp), sha256)
        finally:
            os.unlink(tmp)

    def _publish(self, tmp: Path, sha256: str) -> None:
        """Make a finished, verified temp file the stored object, unless the same bytes are there already."""
        tmp.chmod(0o444)
        target = self.object_path(sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        # link(2) never replaces: the first upload of these bytes wins, later ones keep the stored object.
        with suppress(FileExistsError):
            os.link(tmp, target)

    def _link(self, owner: Owner | UUID, sha256: str, uploader: str | None) -> bool:
        """Record that `uploader` sent the photo for this owner; False if it was recorded before."""
        marker = self._link_path(owner, sha256, uploader)
        marker.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.close(os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        except FileExistsError:
            return False
        return True

    def _temp_file(self) -> tuple[int, str]:
        (self.root / "tmp").mkdir(parents=True, exist_ok=True)
        return tempfile.mkstemp(dir=self.root / "tmp", suffix=".tmp")

    @contextmanager
    def _room_for(self, nbytes: int) -> Iterator[None]:
        """Hold the quota lock while the caller writes nbytes: two uploads cannot both take the last room."""
        with self._locked(self.root / "quota.lock"):
            if self.usage() + nbytes > self.quota_bytes:
                raise QuotaExceeded(
                    f"照片存储空间已满，请稍后重试 (attachment storage is full: {self.quota_bytes} bytes, "
                    "GRIDFLOW_ATTACHMENTS_QUOTA_BYTES)",
                    field="body",
                )
            yield

    @contextmanager
    def _locked(self, path: Path) -> Iterator[int]:
        """An exclusive flock on the file now at `path` (made if missing).

        A lock taken on a file that was unlinked or replaced while we waited is not a lock on `path`:
        we let go and take the new one, so a waiter never writes to a file that is no longer the upload.
        """
        while True:
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            except FileNotFoundError:  # the sweep removed the empty folder between mkdir and open
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    same = os.stat(path).st_ino == os.fstat(fd).st_ino
                except FileNotFoundError:
                    same = False
                if same:
                    yield fd
                    return
            finally:
                os.close(fd)

    # --- housekeeping ----------------------------------------------------------------------------
    def sweep_if_due(self) -> None:
        """Sweep at most every SWEEP_EVERY_S, across processes (the time is kept as a file's mtime)."""
        marker = self.root / "swept"
        now = self.clock()
        try:
            if now - marker.stat().st_mtime < SWEEP_EVERY_S:
                return
        except FileNotFoundError:
            self.root.mkdir(parents=True, exist_ok=True)
        marker.touch()
        os.utime(marker, (now, now))
        self.sweep()

    def sweep(self) -> int:
        """Remove uploads untouched for partial_max_age_s (and temp files a crash left); how many went."""
        cutoff = self.clock() - self.partial_max_age_s
        removed = 0
        for path in (self.root / "tmp").glob("*.tmp"):
            with suppress(FileNotFoundError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
        for path in (self.root / "partial").glob("*/*.part"):
            removed += self._expire(path, cutoff)
        for folder in (self.root / "partial").glob("*"):
            with suppress(OSError):
                folder.rmdir()  # only when empty
        return removed

    def _expire(self, path: Path, cutoff: float) -> int:
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            return 0
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return 0  # being written right now: not abandoned
            info = os.fstat(fd)
            if info.st_mtime >= cutoff or os.stat(path).st_ino != info.st_ino:
                return 0
            path.unlink()
            return 1
        except FileNotFoundError:
            return 0
        finally:
            os.close(fd)
