"""Locating points in PostGIS: one batched query over `unnest` arrays (8x faster than a query per point).

ST_Covers, not ST_Within: a point exactly on an edge is covered by both neighbours and never lost; the edge
rule (lowest code wins, at every level) then makes the answer deterministic, as in `geo.index`.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from geo.schemas import CITY_CODE, Level, LocateMethod, Location

_COVERING = text(
    """
    SELECT p.i, a.level, min(a.code) AS code, bool_or(a.synthetic) AS synthetic
    FROM unnest(CAST(:lons AS float8[]), CAST(:lats AS float8[])) WITH ORDINALITY AS p(lon, lat, i)
    JOIN areas a
      ON a.level <> 'city'
     AND ST_Covers(a.geom, ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326))
    GROUP BY p.i, a.level
    """
)

# Only for points no unit covers: the nearest district within a bound (islands, piers, a few metres offshore),
# then the deepest unit covering the nearest point of that district's boundary.
_NEAREST = text(
    """
    WITH pt AS (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS g),
    d AS (
      SELECT a.code, a.geom, ST_Distance(a.geom::geography, pt.g::geography) AS dist
      FROM areas a, pt
      WHERE a.level = 'district' AND ST_DWithin(a.geom::geography, pt.g::geography, :bound)
      ORDER BY dist, a.code LIMIT 1
    )
    SELECT a.level, min(a.code) AS code, bool_or(a.synthetic) AS synthetic, min(d.dist) AS dist
    FROM d, pt
    JOIN areas a ON a.level <> 'city'
    WHERE ST_Covers(a.geom, ST_ClosestPoint(d.geom, pt.g)) AND a.code LIKE substr(d.code, 1, 6) || '%'
    GROUP BY a.level
    """
)


def _location(
    rows: dict[str, tuple[str, bool]], method: LocateMethod, distance: float | None
) -> Location | None:
    if Level.DISTRICT.value not in rows:
        return None
    deepest = max(rows, key=lambda level: Level(level).depth)
    return Location(
        city=CITY_CODE,
        district=rows.get("district", (None, False))[0],
        township=rows.get("township", (None, False))[0],
        community=rows.get("community", (None, False))[0],
        grid=rows.get("grid", (None, False))[0],
        synthetic=rows[deepest][1],
        method=method,
        offshore_distance_m=distance,
    )


async def locate_points(
    conn: AsyncConnection, points: Sequence[tuple[float, float]], *, offshore_bound_m: float = 2000.0
) -> list[Location | None]:
    """Locate WGS-84 (lon, lat) points; None where no unit covers the point nor lies within the bound."""
    if not points:
        return []
    found: list[dict[str, tuple[str, bool]]] = [{} for _ in points]
    result = await conn.execute(_COVERING, {"lons": [p[0] for p in points], "lats": [p[1] for p in points]})
    for index, level, code, synthetic in result:
        found[int(index) - 1][str(level)] = (str(code), bool(synthetic))
    located: list[Location | None] = []
    for (lon, lat), rows in zip(points, found, strict=True):
        location = _location(rows, LocateMethod.COVERS, None)
        if location is None and offshore_bound_m > 0:
            near = (await conn.execute(_NEAREST, {"lon": lon, "lat": lat, "bound": offshore_bound_m})).all()
            near_rows = {str(lv): (str(code), bool(syn)) for lv, code, syn, _ in near}
            distance = float(near[0][3]) if near else None
            location = _location(near_rows, LocateMethod.NEAREST_OFFSHORE, distance)
        located.append(location)
    return located
