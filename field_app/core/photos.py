"""Photos kept by the app: checked by their first bytes, named by content hash, copied into the app's storage.

The API applies the same limits; checking here tells the worker at once instead of after a failed upload.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

MAX_PHOTO_BYTES = 10 * 1024 * 1024
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}


class PhotoError(ValueError):
    """A photo the app will not attach; the message is for the worker."""


@dataclass(frozen=True)
class Photo:
    sha256: str
    path: str
    content_type: str
    size: int


def sniff_image_type(head: bytes) -> str | None:
    """Content type from the magic bytes, or None when it is none of JPEG, PNG, WebP."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


class PhotoStore:
    """A folder of photos named by sha256, so the same picture attached twice is stored once."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def add(self, source: str | Path) -> Photo:
        source = Path(source)
        try:
            size = source.stat().st_size
            with source.open("rb") as fh:
                head = fh.read(16)
        except OSError as exc:
            raise PhotoError(f"无法读取照片：{exc.strerror or exc}") from exc
        if size > MAX_PHOTO_BYTES:
            raise PhotoError(f"照片太大（{size / 1048576:.1f} MB），上限 {MAX_PHOTO_BYTES // 1048576} MB")
        content_type = sniff_image_type(head)
        if content_type is None:
            raise PhotoError("只支持 JPEG、PNG、WebP 格式的照片")
        sha = sha256_file(source)
        target = self.folder / f"{sha}.{EXTENSIONS[content_type]}"
        if not target.exists():
            # Copy then rename, fsynced: a kill mid-copy must never leave a short file under the final name.
            partial = target.with_suffix(".part")
            shutil.copyfile(source, partial)
            with partial.open("rb+") as fh:
                os.fsync(fh.fileno())
            partial.replace(target)
        return Photo(sha256=sha, path=str(target), content_type=content_type, size=size)
