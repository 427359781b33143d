"""Real district (区/县) boundaries of Dalian, read from the geotool-cn package installed at set-up.

The polygons carry DataV/Amap terms without a redistribution grant, so gridflow never commits them: it reads
them from the pinned PyPI package (already converted to WGS-84, residual about 5 m) or from a file the city
imports. geotool-cn's public API only answers reverse look-ups, so this reads its private `GTCData` reader;
the exact pin in pyproject.toml and `tests/geo/test_boundaries.py` catch a change of that format.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from shapely import MultiPolygon, Polygon, make_valid
from shapely.geometry.base import BaseGeometry

BOUNDARY_SOURCE = "geotool-cn 3.1.0 (DataV.GeoAtlas, GCJ-02 converted to WGS-84)"


def _gtc_path() -> str:
    import GeoToolCN

    return os.path.join(os.path.dirname(GeoToolCN.__file__), "data", "china.full.gtc")


def _as_multipolygon(geom: BaseGeometry) -> MultiPolygon:
    if isinstance(geom, MultiPolygon):
        return geom
    if isinstance(geom, Polygon):
        return MultiPolygon([geom])
    polys = [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon)]
    polys += [p for g in getattr(geom, "geoms", []) if isinstance(g, MultiPolygon) for p in g.geoms]
    return MultiPolygon(polys)


def district_polygons(district_codes: Iterable[str]) -> dict[str, MultiPolygon]:
    """Map each 6-digit district code to its WGS-84 boundary; codes the package lacks are left out."""
    from GeoToolCN._gtc import GTCData

    data = GTCData(_gtc_path())
    try:
        result: dict[str, MultiPolygon] = {}
        for code in district_codes:
            index = data.index_of(code, "district")
            if index is None:
                continue
            decoded = data.geometry(index)
            if decoded is None:
                continue
            _bbox, polygons = decoded
            shapes = []
            for rings in polygons:
                coords = [
                    [(x / data.scale, y / data.scale) for x, y in zip(xs, ys, strict=True)]
                    for xs, ys in rings
                ]
                shapes.append(Polygon(coords[0], coords[1:]))
            result[code] = _as_multipolygon(make_valid(MultiPolygon(shapes)))
        return result
    finally:
        data.close()
