"""Locating points in PostGIS: the source of truth, and the reference the in-memory index is tested against.

It follows the rules of `geo.locate_rules` with the same arithmetic: leaves only (a partial GiST index holds
just them), ST_DWithin by EDGE_TOLERANCE_DEG for "covered", the lowest code on shared edges, and for the
few points nothing covers, the nearest leaf within the bound in the plane of the point's latitude
(ST_Scale, then planar ST_Distance). One batched query over `unnest` arrays serves a whole batch; the levels
above each leaf come from its parent chain. Async callers use `AsyncConnection.run_sync`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sqlalchemy import Connection, text

from geo.locate_rules import (
    DEFAULT_OFFSHORE_MAX_M,
    EDGE_TOLERANCE_DEG,
    M_PER_DEG,
    TIE_TOLERANCE_M,
    metres_per_degree_lon,
    offshore_prefilter_deg,
)
from geo.schemas import Level, LocateMethod, Location

_POINTS = "unnest(CAST(:lons AS float8[]), CAST(:lats AS float8[])) WITH ORDINALITY AS p(lon, lat, i)"

# Rules 1-3: the lowest-coded leaf within the edge tolerance (inside counts as distance 0).
_COVERING = text(
    f"""
    SELECT p.i, min(a.code) AS code
    FROM {_POINTS}
    JOIN areas a ON a.leaf AND ST_DWithin(a.geom, ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326), :tolerance)
    GROUP BY p.i
    """
)

# Rules 4-5: the nearest leaf within the bound, in metres in the plane of the point's latitude; leaves as
# near as the nearest up to the tie tolerance go to the lowest code.
_OFFSHORE = text(
    """
    WITH p AS (
      SELECT * FROM unnest(CAST(:lons AS float8[]), CAST(:lats AS float8[]), CAST(:kxs AS float8[]),
                           CAST(:radii AS float8[])) WITH ORDINALITY AS p(lon, lat, kx, radius, i)
    ), near AS (
      SELECT p.i, a.code,
             ST_Distance(ST_Scale(a.geom, p.kx, :m), ST_SetSRID(ST_MakePoint(p.lon * p.kx, p.lat * :m), 4326))
               AS metres
      FROM p JOIN areas a
        ON a.leaf AND ST_DWithin(a.geom, ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326), p.radius)
    ), ranked AS (
      SELECT i, code, metres, min(metres) OVER (PARTITION BY i) AS nearest FROM near WHERE metres <= :bound
    )
    SELECT DISTINCT ON (i) i, code, nearest FROM ranked WHERE metres <= nearest + :tie ORDER BY i, code
    """
)

_CHAINS = text(
    """
    WITH RECURSIVE up(leaf, code, level, parent_code, synthetic) AS (
      SELECT code, code, level, parent_code, synthetic FROM areas WHERE code = ANY(CAST(:codes AS text[]))
      UNION ALL
      SELECT up.leaf, a.code, a.level, a.parent_code, up.synthetic
      FROM up JOIN areas a ON a.code = up.parent_code
    )
    SELECT leaf, code, level, synthetic FROM up
    """
)


def _chains(conn: Connection, codes: set[str]) -> dict[str, Location]:
    """The Location of a point covered by each leaf: the leaf's code and its ancestors'."""
    levels: dict[str, dict[str, str]] = {code: {} for code in codes}
    synthetic: dict[str, bool] = {}
    for leaf, code, level, leaf_synthetic in conn.execute(_CHAINS, {"codes": sorted(codes)}):
        levels[leaf][Level(level).value] = code
        synthetic[leaf] = bool(leaf_synthetic)
    return {
        leaf: Location.model_validate({**found, "synthetic": synthetic[leaf]})
        for leaf, found in levels.items()
    }


def locate_points(
    conn: Connection,
    points: Sequence[tuple[float, float]],
    *,
    offshore_bound_m: float = DEFAULT_OFFSHORE_MAX_M,
) -> list[Location | None]:
    """Locate WGS-84 (lon, lat) points; None where no leaf covers the point nor lies within the bound."""
    if not points:
        return []
    # JIT compilation costs more than it saves on these short joins (about 15 ms a query).
    conn.execute(text("SET LOCAL jit = off"))
    lons, lats = [p[0] for p in points], [p[1] for p in points]
    args = {"lons": lons, "lats": lats, "tolerance": EDGE_TOLERANCE_DEG}
    covering = {int(i) - 1: str(code) for i, code in conn.execute(_COVERING, args)}
    missed = [i for i in range(len(points)) if i not in covering]
    offshore: dict[int, tuple[str, float]] = {}
    if missed and offshore_bound_m > 0:
        miss_lats = np.array([lats[i] for i in missed])
        near_args = {
            "lons": [lons[i] for i in missed],
            "lats": miss_lats.tolist(),
            "kxs": metres_per_degree_lon(miss_lats).tolist(),
            "radii": [offshore_prefilter_deg(offshore_bound_m, lat) for lat in miss_lats.tolist()],
            "m": M_PER_DEG,
            "bound": offshore_bound_m,
            "tie": TIE_TOLERANCE_M,
        }
        for i, code, metres in conn.execute(_OFFSHORE, near_args):
            offshore[missed[int(i) - 1]] = (str(code), float(metres))
    chains = _chains(conn, set(covering.values()) | {code for code, _ in offshore.values()})
    located: list[Location | None] = []
    for i in range(len(points)):
        if i in covering:
            located.append(chains[covering[i]])
        elif i in offshore:
            code, metres = offshore[i]
            method = {"method": LocateMethod.NEAREST_OFFSHORE, "offshore_distance_m": round(metres, 1)}
            located.append(chains[code].model_copy(update=method))
        else:
            located.append(None)
    return located
