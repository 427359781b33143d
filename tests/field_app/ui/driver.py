"""Driving the real app headless: pump frames, wait for the sync thread, tap, take screenshots."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from kivy.base import EventLoop
from kivy.clock import Clock
from kivy.core.window import Window

from field_app.ui.app import FieldApp

SCREENS_DIR = Path(__file__).resolve().parents[3] / "artifacts" / "screens"


def pump(frames: int = 3) -> None:
    for _ in range(frames):
        EventLoop.idle()


def pump_until(condition: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    """Frames until `condition()` holds; the sync thread's news reaches widgets only through frames."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pump(1)
        if condition():
            pump(2)
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def tap(widget: Any) -> None:
    widget.dispatch("on_press")
    widget.dispatch("on_release")
    pump()


def screenshot(name: str) -> Path:
    """Save the whole window (popups included) as artifacts/screens/<name>.png."""
    pump(2)
    SCREENS_DIR.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp()) / "shot.png"
    written = Window.screenshot(name=str(scratch))  # writes shot0001.png and returns that path
    target = SCREENS_DIR / f"{name}.png"
    shutil.move(written, target)
    assert target.stat().st_size > 5_000, f"{target} looks empty"
    return target


def run_app(app: FieldApp) -> Iterator[FieldApp]:
    """Build the app and fire on_start without entering the main loop; frames are pumped by the tests."""
    EventLoop.start()  # a loop closed by an earlier app.stop() would draw nothing
    Clock._max_fps = 0  # type: ignore[attr-defined]
    app._run_prepare()  # type: ignore[attr-defined]
    pump()
    try:
        yield app
    finally:
        app.stop()
        pump(1)


def find(root: Any, kind: type, text: str) -> Any:
    """The first widget of a type whose text contains `text` (buttons are found by what they say)."""
    for widget in root.walk():
        if isinstance(widget, kind) and text in str(getattr(widget, "text", "")):
            return widget
    raise LookupError(f"no {kind.__name__} with text {text!r}")
