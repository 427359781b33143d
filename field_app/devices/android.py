"""Android-only code (pyjnius, python-for-android's `android` module); imported only when on_android().

Not exercised by the desktop test suite: it needs a phone. Kept small so a review on a device is quick.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from itertools import count
from pathlib import Path

from android import activity  # type: ignore[import-not-found]
from android.permissions import check_permission, request_permissions  # type: ignore[import-not-found]
from jnius import autoclass, cast  # type: ignore[import-not-found]

from field_app.devices.camera import OnPhoto

log = logging.getLogger(__name__)

Intent = autoclass("android.content.Intent")
MediaStore = autoclass("android.provider.MediaStore")
ContentValues = autoclass("android.content.ContentValues")
Files = autoclass("java.nio.file.Files")
JavaFile = autoclass("java.io.File")
StandardCopyOption = autoclass("java.nio.file.StandardCopyOption")
PythonActivity = autoclass("org.kivy.android.PythonActivity")
RESULT_OK = -1
_request_codes = count(4100)


def with_permissions(names: list[str], then: Callable[[bool], None]) -> None:
    """Ask for runtime permissions if needed, then call `then(granted)` (maybe on a Java thread)."""
    full = [f"android.permission.{name}" for name in names]
    if all(check_permission(p) for p in full):
        then(True)
        return
    request_permissions(full, lambda _perms, grants: then(bool(grants) and all(grants)))


def _copy_uri(uri: object, target: Path) -> None:
    resolver = PythonActivity.mActivity.getContentResolver()
    stream = resolver.openInputStream(uri)
    try:
        # java.nio Files.copy (API 26+) moves the bytes without passing them through Python.
        Files.copy(stream, JavaFile(str(target)).toPath(), [StandardCopyOption.REPLACE_EXISTING])
    finally:
        stream.close()


def _await_result(request_code: int, on_result: Callable[[object | None], None]) -> None:
    def handler(code: int, result: int, intent: object) -> None:
        if code != request_code:
            return
        activity.unbind(on_activity_result=handler)
        on_result(intent if result == RESULT_OK else None)

    activity.bind(on_activity_result=handler)


class AndroidCamera:
    """ACTION_IMAGE_CAPTURE into a MediaStore URI: no FileProvider needed in python-for-android's manifest."""

    def take(self, target: Path, on_done: OnPhoto) -> None:
        def granted(ok: bool) -> None:
            if not ok:
                on_done(None, "没有相机权限：请在系统设置中允许本应用使用相机")
                return
            self._capture(target, on_done)

        with_permissions(["CAMERA"], granted)

    def _capture(self, target: Path, on_done: OnPhoto) -> None:
        values = ContentValues()
        values.put("_display_name", target.name)
        values.put("mime_type", "image/jpeg")
        resolver = PythonActivity.mActivity.getContentResolver()
        uri = resolver.insert(MediaStore.Images.Media.EXTERNAL_CONTENT_URI, values)
        intent = Intent(MediaStore.ACTION_IMAGE_CAPTURE)
        intent.putExtra(MediaStore.EXTRA_OUTPUT, cast("android.os.Parcelable", uri))
        code = next(_request_codes)

        def done(result: object | None) -> None:
            if result is None and not _has_bytes(uri):
                resolver.delete(uri, None, None)  # the empty row the cancelled camera left behind
                on_done(None, "已取消拍照")
                return
            try:
                _copy_uri(uri, target)
            except Exception as exc:
                log.warning("copying the photo failed: %s", exc)
                on_done(None, "无法保存照片")
                return
            on_done(target, None)

        _await_result(code, done)
        PythonActivity.mActivity.startActivityForResult(intent, code)


def _has_bytes(uri: object) -> bool:
    try:
        descriptor = PythonActivity.mActivity.getContentResolver().openAssetFileDescriptor(uri, "r")
        size = descriptor.getLength()
        descriptor.close()
        return size > 0
    except Exception:
        return False


class AndroidGallery:
    """ACTION_GET_CONTENT for one image: needs no storage permission on any Android version."""

    def take(self, target: Path, on_done: OnPhoto) -> None:
        intent = Intent(Intent.ACTION_GET_CONTENT)
        intent.setType("image/*")
        intent.addCategory(Intent.CATEGORY_OPENABLE)
        code = next(_request_codes)

        def done(result: object | None) -> None:
            data = result.getData() if result is not None else None  # type: ignore[attr-defined]
            if data is None:
                on_done(None, "未选择照片")
                return
            try:
                _copy_uri(data, target)
            except Exception as exc:
                log.warning("copying the picked photo failed: %s", exc)
                on_done(None, "无法读取所选照片")
                return
            on_done(target, None)

        _await_result(code, done)
        PythonActivity.mActivity.startActivityForResult(intent, code)
