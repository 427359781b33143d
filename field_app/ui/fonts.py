"""Kivy settings that must be in place before any widget (or Kivy's text core) loads.

Kivy's default Roboto has no Chinese glyphs and draws boxes; WenQuanYi Micro Hei ships inside the app
(field_app/fonts, Apache-2.0) because a phone has no Debian font to fall back on.
"""

from __future__ import annotations

import os
from pathlib import Path

FONT_NAME = "WQY"
FONT_FILE = Path(__file__).resolve().parent.parent / "fonts" / "wqy-microhei.ttc"


def configure_kivy(*, width: int | None = None, height: int | None = None, maxfps: int | None = None) -> None:
    """Set the CJK default font (and, for tests, the window size and frame cap). Call before importing uix."""
    os.environ.setdefault("KIVY_NO_ARGS", "1")  # the app's own argv must not be parsed as Kivy options
    from kivy.config import Config

    font = str(FONT_FILE)
    Config.set("kivy", "default_font", repr([FONT_NAME, font, font, font, font]))
    Config.set("kivy", "exit_on_escape", "0")  # Android's back key is handled by the app, not a quit
    Config.set("input", "mouse", "mouse,disable_multitouch")
    if width and height:
        Config.set("graphics", "width", str(width))
        Config.set("graphics", "height", str(height))
    if maxfps is not None:
        Config.set("graphics", "maxfps", str(maxfps))
