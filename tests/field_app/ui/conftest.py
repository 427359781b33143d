"""Headless Kivy for the screen tests: real rendering through Mesa EGL, no X server, no frame cap.

The environment must be set before anything imports Kivy, hence at the top of this conftest.
"""

from __future__ import annotations

import os
import tempfile

os.environ.update(
    SDL_VIDEODRIVER="offscreen",
    KIVY_WINDOW="sdl2",  # without it a missing EGL makes Kivy try X11 and exit the process
    KIVY_NO_ARGS="1",
    KIVY_NO_CONSOLELOG="1",
    KIVY_NO_FILELOG="1",
    KIVY_NO_CONFIG="1",
    KIVY_HOME=tempfile.mkdtemp(prefix="gridflow-kivy-"),
)

from field_app.ui.fonts import configure_kivy

# 400 px, not 405: a width that is not a multiple of 4 shears glReadPixels screenshots.
configure_kivy(width=400, height=720, maxfps=0)
