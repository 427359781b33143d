"""Reference data intake checks in memory: the city's outline and the category codes.

The city's outline at intake, to tell a point with latitude and longitude swapped from one that is simply
outside Dalian: the first is refused with a hint (422), the second accepted and triaged by the router.

Read once from PostGIS when the API starts (retried until the database answers) and held in memory: the
check is a box test, then one prepared point-in-polygon test only for the rare point whose swapped pair
falls in the box. It runs on the coordinates as sent, whatever their CRS: GCJ-02 and BD-09 lie within about
1 km of WGS-84, which does not matter for a swap of 80 degrees. Until the outline is loaded, no hint is given
(a swapped Dalian point then still fails the range check of `lat`).
"""

from __future__ import annotations

import asyncio
import logging

import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError, OperationalError

from geo.crs import swap_hint
from geo.models import areas, categories, geo_versions
from infra.db import async_engine

log = logging.getLogger("gridflow.api.outline")
RETRY_S = 5.0
REFRESH_S = 10.0  # an edited category list reaches intake within this


class CityOutline:
    def __init__(self) -> None:
        self.geometry: BaseGeometry | None = None
        self.bbox: tuple[float, float, float, float] | None = None

    def set(self, geometry: BaseGeometry) -> None:
        shapely.prepare(geometry)
        self.geometry, self.bbox = geometry, geometry.bounds

    def swap_hint(self, lon: float, lat: float) -> str | None:
        """The hint when (lon, lat) lies outside the city but (lat, lon) inside it, else None."""
        if self.geometry is None or self.bbox is None:
            return None
        min_x, min_y, max_x, max_y = self.bbox
        in_box = min_x <= lon <= max_x and min_y <= lat <= max_y
        swapped_in_box = min_x <= lat <= max_x and min_y <= lon <= max_y
        if in_box or not swapped_in_box:
            return None
        return swap_hint(lon, lat, self.geometry)


OUTLINE = CityOutline()


class KnownCategories:
    """The category codes intake accepts, held in memory and reloaded when the duty list's version changes
    (categories are edited with it), so intake needs no database round trip per report. `None` until first
    loaded: intake then accepts any well-formed code and the router triages an unknown one."""

    def __init__(self) -> None:
        self.codes: frozenset[str] | None = None
        self.version: int | None = None

    def refused(self, code: str) -> bool:
        return self.codes is not None and code not in self.codes


CATEGORIES = KnownCategories()


async def _load(city_code: str) -> None:
    async with async_engine().connect() as conn:
        if OUTLINE.geometry is None:
            wkb = (
                await conn.execute(select(func.ST_AsBinary(areas.c.geom)).where(areas.c.code == city_code))
            ).scalar()
            if wkb is not None:
                OUTLINE.set(shapely.from_wkb(bytes(wkb)))
                log.info("city outline loaded for the swapped-coordinates check")
        version = (
            await conn.execute(select(geo_versions.c.version).where(geo_versions.c.kind == "duty_rules"))
        ).scalar()
        if version is None or version != CATEGORIES.version:
            codes = frozenset((await conn.execute(select(categories.c.code))).scalars())
            CATEGORIES.codes, CATEGORIES.version = codes, version
            log.info("%d category codes loaded (duty rules v%s)", len(codes), version)


async def keep_loaded(city_code: str, every_s: float = REFRESH_S) -> None:
    """Load the city's outline and the category codes, retrying while the database is away; then look for
    edits of the categories every `every_s` seconds."""
    while True:
        try:
            await _load(city_code)
        except (OperationalError, DBAPIError, OSError) as exc:
            log.warning("intake reference data not loaded (%s); retrying", type(exc).__name__)
        await asyncio.sleep(RETRY_S if OUTLINE.geometry is None else every_s)
