"""Coordinate systems met in China: WGS-84 (GPS), GCJ-02 (Amap, Tencent, WeChat) and BD-09 (Baidu).

gridflow stores WGS-84 only. GCJ-02 is the published obfuscation formula (the forward direction is exact;
there is no closed inverse, so the inverse iterates the forward formula to under a millimetre). In Dalian
GCJ-02 lies about 440 m east and 100 m north of WGS-84, and BD-09 about 1 km east and 0.75 km north: enough
to put a report in the wrong community, so every report records its CRS and is converted on intake.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from enum import StrEnum

import numpy as np
import numpy.typing as npt
from shapely import Point, box
from shapely.geometry.base import BaseGeometry

Array = npt.NDArray[np.float64]
_Forward = Callable[[Array, Array], tuple[Array, Array]]

_A = 6378245.0  # Krasovsky 1940 semi-major axis, as the GCJ-02 formula uses
_EE = 0.00669342162296594323  # its eccentricity squared
_BD_PI = math.pi * 3000.0 / 180.0
_INVERSE_TOLERANCE_DEG = 1e-10  # about 0.01 mm
_INVERSE_MAX_STEPS = 30


class Crs(StrEnum):
    WGS84 = "wgs84"
    GCJ02 = "gcj02"
    BD09 = "bd09"


_CRS_NAMES = {
    "wgs84": Crs.WGS84,
    "epsg:4326": Crs.WGS84,
    "gps": Crs.WGS84,
    "gcj02": Crs.GCJ02,
    "gcj-02": Crs.GCJ02,
    "bd09": Crs.BD09,
    "bd-09": Crs.BD09,
    "bd09ll": Crs.BD09,
}


def parse_crs(name: str | Crs) -> Crs:
    """A CRS from the names clients send (wgs84, EPSG:4326, gcj02, bd09, bd09ll...), case-insensitive."""
    found = _CRS_NAMES.get(str(name).strip().lower())
    if found is None:
        known = ", ".join(sorted({c.value for c in Crs}))
        raise ValueError(f"crs: unknown coordinate system {name!r}; expected one of {known}")
    return found


def in_china(lon: Array, lat: Array) -> npt.NDArray[np.bool_]:
    """The published bounding-box test: outside it GCJ-02 equals WGS-84."""
    return (lon >= 72.004) & (lon <= 137.8347) & (lat >= 0.8293) & (lat <= 55.8271)


def _shift_lat(x: Array, y: Array) -> Array:
    out = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    out += (20.0 * np.sin(6.0 * x * math.pi) + 20.0 * np.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    out += (20.0 * np.sin(y * math.pi) + 40.0 * np.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    out += (160.0 * np.sin(y / 12.0 * math.pi) + 320.0 * np.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return out


def _shift_lon(x: Array, y: Array) -> Array:
    out = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    out += (20.0 * np.sin(6.0 * x * math.pi) + 20.0 * np.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    out += (20.0 * np.sin(x * math.pi) + 40.0 * np.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    out += (150.0 * np.sin(x / 12.0 * math.pi) + 300.0 * np.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return out


def wgs84_to_gcj02_many(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[Array, Array]:
    lon_a, lat_a = np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    d_lat = _shift_lat(lon_a - 105.0, lat_a - 35.0)
    d_lon = _shift_lon(lon_a - 105.0, lat_a - 35.0)
    rad_lat = np.radians(lat_a)
    magic = 1.0 - _EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * math.pi)
    d_lon = (d_lon * 180.0) / (_A / sqrt_magic * np.cos(rad_lat) * math.pi)
    inside = in_china(lon_a, lat_a)
    return np.where(inside, lon_a + d_lon, lon_a), np.where(inside, lat_a + d_lat, lat_a)


def gcj02_to_bd09_many(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[Array, Array]:
    x, y = np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _BD_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _BD_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _invert(lon_in: npt.ArrayLike, lat_in: npt.ArrayLike, forward: _Forward) -> tuple[Array, Array]:
    """Inverse of a small smooth shift: move the guess by what the forward shift still misses.

    Each point stops on its own once its error is below tolerance, so a point converts to the same value
    alone or in a batch.
    """
    target_lon = np.atleast_1d(np.asarray(lon_in, dtype=np.float64))
    target_lat = np.atleast_1d(np.asarray(lat_in, dtype=np.float64))
    lon, lat = target_lon.copy(), target_lat.copy()
    active = np.arange(len(lon))
    for _ in range(_INVERSE_MAX_STEPS):
        got_lon, got_lat = forward(lon[active], lat[active])
        err_lon, err_lat = target_lon[active] - got_lon, target_lat[active] - got_lat
        lon[active] += err_lon
        lat[active] += err_lat
        active = active[np.abs(err_lon) + np.abs(err_lat) >= _INVERSE_TOLERANCE_DEG]
        if len(active) == 0:
            break
    return lon, lat


def gcj02_to_wgs84_many(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[Array, Array]:
    return _invert(lon, lat, wgs84_to_gcj02_many)


def bd09_to_gcj02_many(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[Array, Array]:
    return _invert(lon, lat, gcj02_to_bd09_many)


def to_wgs84_many(lon: npt.ArrayLike, lat: npt.ArrayLike, crs: str | Crs) -> tuple[Array, Array]:
    """Arrays of points in `crs` converted to WGS-84."""
    source = parse_crs(crs)
    if source is Crs.WGS84:
        return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    if source is Crs.BD09:
        lon, lat = bd09_to_gcj02_many(lon, lat)
    return gcj02_to_wgs84_many(lon, lat)


def from_wgs84_many(lon: npt.ArrayLike, lat: npt.ArrayLike, crs: str | Crs) -> tuple[Array, Array]:
    """Arrays of WGS-84 points converted to `crs` (for display on Amap or Baidu base maps, and for tests)."""
    target = parse_crs(crs)
    if target is Crs.WGS84:
        return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    gcj_lon, gcj_lat = wgs84_to_gcj02_many(lon, lat)
    return gcj02_to_bd09_many(gcj_lon, gcj_lat) if target is Crs.BD09 else (gcj_lon, gcj_lat)


def to_wgs84(lon: float, lat: float, crs: str | Crs) -> tuple[float, float]:
    """One point in `crs` (wgs84, gcj02 or bd09) as WGS-84 (lon, lat)."""
    out_lon, out_lat = to_wgs84_many([lon], [lat], crs)
    return float(out_lon[0]), float(out_lat[0])


def from_wgs84(lon: float, lat: float, crs: str | Crs) -> tuple[float, float]:
    out_lon, out_lat = from_wgs84_many([lon], [lat], crs)
    return float(out_lon[0]), float(out_lat[0])


def swapped_lon_lat(
    lon: float, lat: float, area: BaseGeometry | tuple[float, float, float, float]
) -> tuple[float, float] | None:
    """The point meant, (lat, lon), when (lon, lat) falls outside `area` (a geometry or a bbox) but the
    swapped pair falls inside; None otherwise. Phones and spreadsheets often send latitude first."""
    region = box(*area) if isinstance(area, tuple) else area
    if region.covers(Point(lon, lat)) or not region.covers(Point(lat, lon)):
        return None
    return lat, lon


def swap_hint(lon: float, lat: float, area: BaseGeometry | tuple[float, float, float, float]) -> str | None:
    """A user-facing hint (zh-CN) when the coordinates look swapped, else None."""
    meant = swapped_lon_lat(lon, lat, area)
    if meant is None:
        return None
    return (
        f"经纬度可能填反了：({lon}, {lat}) 不在辖区内，({meant[0]}, {meant[1]}) 在辖区内。"
        "请按“经度, 纬度”的顺序提交。"
    )
