"""Where the worker stands: the app's own small location interface, plyer behind it on Android.

Callbacks may arrive on any thread (plyer calls them from a Java thread): the UI hops to its own thread.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Protocol

from field_app.core.models import LocationFix
from field_app.devices.platform import on_android

log = logging.getLogger(__name__)

OnFix = Callable[[LocationFix], None]
OnError = Callable[[str], None]

NO_LOCATION_ON_DEVICE = "此设备不支持定位，请手动输入坐标"
LOCATION_DENIED = "没有定位权限：请在系统设置中允许本应用使用位置信息，或手动输入坐标"
LOCATION_OFF = "定位服务已关闭：请打开手机的定位（GPS），或手动输入坐标"


class LocationSource(Protocol):
    def start(self, on_fix: OnFix, on_error: OnError) -> None:
        """Deliver fixes as they come; errors tell the worker, in Chinese, what to do."""
        ...

    def stop(self) -> None: ...


class FixedLocation:
    """A location that never moves: tests, demos on a desktop (GRIDFLOW_FIELD_LOCATION="lon,lat,accuracy")."""

    def __init__(self, fix: LocationFix | None = None, error: str | None = None) -> None:
        self.fix = fix
        self.error = error
        self.started = 0

    def start(self, on_fix: OnFix, on_error: OnError) -> None:
        self.started += 1
        if self.fix is not None:
            on_fix(self.fix)
        else:
            on_error(self.error or NO_LOCATION_ON_DEVICE)

    def stop(self) -> None:
        pass

    @classmethod
    def parse(cls, text: str) -> FixedLocation:
        lon, lat, accuracy = (float(part) for part in text.split(","))
        return cls(LocationFix(lon=lon, lat=lat, accuracy_m=accuracy))


class PlyerLocation:
    """plyer's GPS: on Android LocationManager with GPS_PROVIDER, which reports WGS-84 (not GCJ-02)."""

    def __init__(self, min_time_ms: int = 1000, min_distance_m: float = 0) -> None:
        self.min_time_ms = min_time_ms
        self.min_distance_m = min_distance_m
        self._running = False

    def start(self, on_fix: OnFix, on_error: OnError) -> None:
        try:
            from plyer import gps
        except ImportError:
            on_error(NO_LOCATION_ON_DEVICE)
            return

        def on_location(**kwargs: float) -> None:
            on_fix(
                LocationFix(
                    lon=float(kwargs["lon"]),
                    lat=float(kwargs["lat"]),
                    accuracy_m=float(kwargs.get("accuracy") or 0.0),
                    crs="wgs84",
                )
            )

        def on_status(stype: str, status: str) -> None:
            # plyer reports 'provider-disabled' when the worker switched location off.
            if stype == "provider-disabled":
                on_error(LOCATION_OFF)

        if on_android():
            from field_app.devices.android import with_permissions

            def granted(ok: bool) -> None:
                if ok:
                    self._start_gps(gps, on_location, on_status, on_error)
                else:
                    on_error(LOCATION_DENIED)

            with_permissions(["ACCESS_FINE_LOCATION", "ACCESS_COARSE_LOCATION"], granted)
            return
        self._start_gps(gps, on_location, on_status, on_error)

    def _start_gps(self, gps: object, on_location: object, on_status: object, on_error: OnError) -> None:
        try:
            gps.configure(on_location=on_location, on_status=on_status)  # type: ignore[attr-defined]
            gps.start(minTime=self.min_time_ms, minDistance=self.min_distance_m)  # type: ignore[attr-defined]
            self._running = True
        except NotImplementedError:
            on_error(NO_LOCATION_ON_DEVICE)  # plyer has no GPS on Linux, Windows, macOS desktops
        except Exception as exc:  # a broken provider must leave the manual way open
            log.warning("GPS failed to start: %s", exc)
            on_error(NO_LOCATION_ON_DEVICE)

    def stop(self) -> None:
        if not self._running:
            return
        from plyer import gps

        with contextlib.suppress(NotImplementedError):
            gps.stop()
        self._running = False
