"""Photos from the camera or the gallery, behind the app's own small interfaces.

On Android the camera is an ACTION_IMAGE_CAPTURE intent writing to a MediaStore URI (plyer's camera crashes
from API 24 on: plyer #812, #549); desktops have no camera and say so; tests use FakeCamera.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from field_app.devices.platform import on_android

OnPhoto = Callable[[Path | None, str | None], None]  # (file, None) or (None, message for the worker)

NO_CAMERA = "此设备没有可用的相机，请从相册选择照片"
NO_GALLERY = "此设备无法打开相册"


class PhotoSource(Protocol):
    def take(self, target: Path, on_done: OnPhoto) -> None:
        """Get one photo into `target` (or fail with a message); on_done may run on another thread."""
        ...


class FakeCamera:
    """Hands out prepared image files, one per call; tests and demos."""

    def __init__(self, files: list[Path] | None = None, error: str | None = None) -> None:
        self.files = list(files or [])
        self.error = error

    def take(self, target: Path, on_done: OnPhoto) -> None:
        if self.error or not self.files:
            on_done(None, self.error or NO_CAMERA)
            return
        source = self.files.pop(0)
        target.write_bytes(source.read_bytes())
        on_done(target, None)


class Unavailable:
    def __init__(self, message: str) -> None:
        self.message = message

    def take(self, target: Path, on_done: OnPhoto) -> None:
        on_done(None, self.message)


def default_camera() -> PhotoSource:
    if on_android():
        from field_app.devices.android import AndroidCamera

        return AndroidCamera()
    return Unavailable(NO_CAMERA)


def default_gallery() -> PhotoSource | None:
    """The system picker on Android; None elsewhere, where the UI offers its own file chooser."""
    if on_android():
        from field_app.devices.android import AndroidGallery

        return AndroidGallery()
    return None
