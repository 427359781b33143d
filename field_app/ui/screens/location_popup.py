"""手动调整位置: type coordinates or nudge the point by 10 m when the GPS put it across the street."""

from __future__ import annotations

import math
from collections.abc import Callable

from kivy.metrics import dp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.popup import Popup

from field_app.core.models import LocationFix
from field_app.ui.widgets import BLUE, GREEN, GREY, Field, FlatButton, Text

METRES_PER_DEGREE_LAT = 111_320.0
NUDGE_M = 10.0


def nudge(lon: float, lat: float, north_m: float, east_m: float) -> tuple[float, float]:
    """Move a WGS-84 point by metres (small distances: a local flat approximation is exact enough)."""
    dlat = north_m / METRES_PER_DEGREE_LAT
    dlon = east_m / (METRES_PER_DEGREE_LAT * max(math.cos(math.radians(lat)), 1e-6))
    return lon + dlon, lat + dlat


class AdjustLocationPopup(Popup):
    def __init__(self, fix: LocationFix | None, on_done: Callable[[LocationFix], None]) -> None:
        body = BoxLayout(orientation="vertical", spacing=dp(6), padding=dp(6))
        super().__init__(title="手动调整位置", content=body, size_hint=(0.94, 0.75))
        self.on_done = on_done
        self.lon = Field("经度（WGS-84）", hint="121.6447")
        self.lat = Field("纬度（WGS-84）", hint="38.9206")
        self.accuracy = Field("精度（米）", hint="估计误差，例如 20")
        if fix is not None:
            self.lon.input.text, self.lat.input.text = f"{fix.lon:.6f}", f"{fix.lat:.6f}"
            self.accuracy.input.text = f"{fix.accuracy_m:.0f}"
        for field in (self.lon, self.lat, self.accuracy):
            body.add_widget(field)
        arrows = GridLayout(cols=4, spacing=dp(4), size_hint_y=None, height=dp(44))
        for label, north, east in (("北", 1, 0), ("南", -1, 0), ("西", 0, -1), ("东", 0, 1)):
            arrows.add_widget(
                FlatButton(
                    f"{label} 10米", lambda n=north, e=east: self.move(n, e), colour=GREY, height=dp(44)
                )
            )
        body.add_widget(arrows)
        self.error = Text("", color=(0.78, 0.16, 0.16, 1))
        body.add_widget(self.error)
        buttons = BoxLayout(size_hint_y=None, height=dp(48), spacing=dp(8))
        buttons.add_widget(FlatButton("取消", self.dismiss, colour=GREY))
        buttons.add_widget(FlatButton("确定", self.confirm, colour=GREEN))
        body.add_widget(buttons)
        body.add_widget(BoxLayout())  # takes the spare height below the form, not above it
        self.separator_color = BLUE

    def _read(self) -> LocationFix | None:
        try:
            lon, lat = float(self.lon.value), float(self.lat.value)
            accuracy = float(self.accuracy.value or 0)
        except ValueError:
            self.error.text = "请输入数字坐标"
            return None
        if not (-180 <= lon <= 180 and -90 <= lat <= 90) or accuracy < 0:
            self.error.text = "坐标或精度超出范围"
            return None
        return LocationFix(lon=lon, lat=lat, accuracy_m=accuracy, adjusted=True)

    def move(self, north: int, east: int) -> None:
        fix = self._read()
        if fix is None:
            return
        lon, lat = nudge(fix.lon, fix.lat, north * NUDGE_M, east * NUDGE_M)
        self.lon.input.text, self.lat.input.text = f"{lon:.6f}", f"{lat:.6f}"

    def confirm(self) -> None:
        fix = self._read()
        if fix is not None:
            self.on_done(fix)
            self.dismiss()
