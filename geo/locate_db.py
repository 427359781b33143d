"""Locating points in PostGIS: the source of truth, and the reference the in-memory index is tested against.

It follows the rules of `geo.locate_rules` with the same arithmetic: leaves only, ST_DWithin by
EDGE_TOLERANCE_DEG for "covered", the lowest code on shared edges, and for the few points nothing covers,
the nearest leaf within the bound in the plane of the point's latitude (ST_Scale, then planar ST_Distance;
the partial GiST index over the leaves serves it). One batched query over `unnest` arrays serves a whole
batch; the levels above each leaf come from its parent chain, which its code spells. Async callers use
`AsyncConnection.run_sync`.

Candidates for "covered" come from `leaf_cells`, a coverage table of the leaves over a fixed lattice of
CELL_DEG cells: the batch's points are hash-joined to it by their cell key, and only the leaves found are
tested exactly. On this project's 2-core machines a GiST probe costs about 35 µs a point; the whole batched
locate runs at 50,000-80,000 points/s (benchmarks/RESULTS.md). The table is rebuilt with the leaf flags on
every write of areas.
"""

from __future__ import annotations

import functools
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
from geo.schemas import LEVEL_ORDER, LocateMethod, Location, ancestor_code, level_of_code

# About 1 km: some 50,000 rows for Dalian's 6,442 grid cells. Migration 0004 fills the table at this size;
# a change needs a migration that rebuilds it (loads and imports rebuild it with the size here).
CELL_DEG = 0.01


def _key(ix: str, iy: str) -> str:
    """SQL for the key of lattice cell (ix, iy). The multiplier spreads the key's bits (PostgreSQL hashes an
    int8 by folding its halves, so a shifted pair would collide) and keeps keys unique for |lat| <= 90."""
    return f"({ix} * 1000003 + {iy})"


def _cell_key(lon: str, lat: str) -> str:
    """SQL for the key of the lattice cell holding (lon, lat)."""
    return _key(f"floor({lon} / {CELL_DEG})::int8", f"floor({lat} / {CELL_DEG})::int8")


_REFRESH_CELLS = (
    text("DELETE FROM leaf_cells"),
    text(
        f"""
        INSERT INTO leaf_cells (cell, code)
        SELECT {_key("ix", "iy")}, a.code
        FROM areas a,
          generate_series(floor((ST_XMin(a.geom) - {EDGE_TOLERANCE_DEG}) / {CELL_DEG})::int8,
                          floor((ST_XMax(a.geom) + {EDGE_TOLERANCE_DEG}) / {CELL_DEG})::int8) AS ix,
          generate_series(floor((ST_YMin(a.geom) - {EDGE_TOLERANCE_DEG}) / {CELL_DEG})::int8,
                          floor((ST_YMax(a.geom) + {EDGE_TOLERANCE_DEG}) / {CELL_DEG})::int8) AS iy
        WHERE a.leaf
        ORDER BY 1, 2
        """
    ),
    text("ANALYZE leaf_cells"),
)


def refresh_leaf_cells(conn: Connection) -> None:
    """Rebuild the coverage table from the leaves' boxes grown by the edge tolerance (rule 2), so a point
    that close to a leaf finds it (floor is monotonic, so the point's cell lies within the box's cells)."""
    for statement in _REFRESH_CELLS:
        conn.execute(statement)


# Rules 1-3: the lowest-coded leaf within the edge tolerance (inside counts as distance 0). Written for the
# driver (`%(name)b`: psycopg sends the arrays in binary, about eight times cheaper than as text).
_COVERING = f"""
    SELECT DISTINCT ON (p.i) p.i, a.code, a.synthetic
    FROM (
      SELECT i, {_cell_key("lon", "lat")} AS cell, ST_SetSRID(ST_MakePoint(lon, lat), 4326) AS g
      FROM unnest(%(lons)b::float8[], %(lats)b::float8[]) WITH ORDINALITY AS u(lon, lat, i)
    ) p
    JOIN leaf_cells c ON c.cell = p.cell
    JOIN areas a ON a.leaf AND a.code = c.code AND ST_DWithin(a.geom, p.g, %(tolerance)s)
    ORDER BY p.i, a.code
    """

# Rules 4-5: the nearest leaf within the bound, in metres in the plane of the point's latitude; leaves as
# near as the nearest up to the tie tolerance go to the lowest code.
_OFFSHORE = text(
    """
    WITH p AS (
      SELECT * FROM unnest(CAST(:lons AS float8[]), CAST(:lats AS float8[]), CAST(:kxs AS float8[]),
                           CAST(:radii AS float8[])) WITH ORDINALITY AS p(lon, lat, kx, radius, i)
    ), near AS (
      SELECT p.i, a.code, a.synthetic,
             ST_Distance(ST_Scale(a.geom, p.kx, :m), ST_SetSRID(ST_MakePoint(p.lon * p.kx, p.lat * :m), 4326))
               AS metres
      FROM p JOIN areas a
        ON a.leaf AND ST_DWithin(a.geom, ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326), p.radius)
    ), ranked AS (
      SELECT i, code, synthetic, metres, min(metres) OVER (PARTITION BY i) AS nearest
      FROM near WHERE metres <= :bound
    )
    SELECT DISTINCT ON (i) i, code, synthetic, nearest FROM ranked WHERE metres <= nearest + :tie
    ORDER BY i, code
    """
)


@functools.lru_cache(maxsize=1 << 16)
def _chain(leaf: str, synthetic: bool) -> Location:
    """The Location of a point covered by `leaf`: its code and its ancestors'. Codes nest (a parent's code is
    its children's prefix: the loader builds them so and every import checks it), so the parent chain is
    spelt by the leaf's code and needs no query; a pure function of its arguments, hence cached."""
    above = LEVEL_ORDER[: level_of_code(leaf).depth + 1]
    levels: dict[str, object] = {level.value: ancestor_code(leaf, level) for level in above}
    return Location.model_validate({**levels, "synthetic": synthetic})


# Settings for this transaction only (set_config's third argument), in one round trip.
_SETTINGS = text(
    "SELECT set_config('jit', 'off', true), set_config('work_mem', '32MB', true), "
    "set_config('plan_cache_mode', 'force_custom_plan', true)"
)


def locate_points(
    conn: Connection,
    points: Sequence[tuple[float, float]],
    *,
    offshore_bound_m: float = DEFAULT_OFFSHORE_MAX_M,
) -> list[Location | None]:
    """Locate WGS-84 (lon, lat) points; None where no leaf covers the point nor lies within the bound."""
    if not points:
        return []
    # JIT compilation costs more than it saves on these short joins (about 15 ms a query); the hash of the
    # coverage table (a few MB) must fit in memory, or the join spills to disk; and psycopg prepares a query
    # run five times, after which PostgreSQL may switch to a generic plan that cannot see the batch's size
    # and probes the coverage table point by point (three times slower, measured).
    conn.execute(_SETTINGS)
    lons, lats = [float(p[0]) for p in points], [float(p[1]) for p in points]
    args = {"lons": lons, "lats": lats, "tolerance": EDGE_TOLERANCE_DEG}
    found = conn.exec_driver_sql(_COVERING, args).all()
    covering = {int(i) - 1: str(code) for i, code, _ in found}
    leaves = {str(code): bool(synthetic) for _, code, synthetic in found}
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
        for i, code, synthetic, metres in conn.execute(_OFFSHORE, near_args):
            offshore[missed[int(i) - 1]] = (str(code), float(metres))
            leaves[str(code)] = bool(synthetic)
    chains = {leaf: _chain(leaf, synthetic) for leaf, synthetic in leaves.items()}
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
