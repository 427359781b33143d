"""Which platform the app runs on, without importing Kivy (tests of services must not need it)."""

from __future__ import annotations

import os
import sys


def on_android() -> bool:
    # python-for-android builds CPython for Android (which has getandroidapilevel) and sets ANDROID_ARGUMENT.
    return hasattr(sys, "getandroidapilevel") or "ANDROID_ARGUMENT" in os.environ
