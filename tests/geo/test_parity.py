"""The in-memory index (built from PostGIS, as the worker builds it) and PostGIS itself give the same answer
on 100,000 points: random ones over land and sea, exact vertices, points on edges, points a hair either side
of an edge, and points offshore within and beyond the bound. The rules both follow are in geo.locate_rules.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from sqlalchemy import Engine

from geo.index import AreaIndex
from geo.locate_db import locate_points
from geo.locate_rules import DEFAULT_OFFSHORE_MAX_M, EDGE_TOLERANCE_DEG, M_PER_DEG
from geo.read import read_index
from geo.schemas import LocateMethod, Location
from geo.versions import read_versions

Points = tuple[np.ndarray, np.ndarray]


@pytest.fixture(scope="module")
def db_index(database: Engine) -> AreaIndex:
    with database.connect() as conn:
        snapshot = conn.execution_options(isolation_level="REPEATABLE READ")
        with snapshot.begin():
            return read_index(snapshot)


def _leaf_rings(index: AreaIndex) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates of every leaf ring, with the ring each belongs to."""
    rings = shapely.get_rings(shapely.get_parts(index._geoms))
    coords, ring = shapely.get_coordinates(rings, return_index=True)
    return coords, ring


def _uniform(rng: np.random.Generator, index: AreaIndex, count: int) -> Points:
    min_x, min_y, max_x, max_y = shapely.total_bounds(index._geoms)
    return rng.uniform(min_x - 0.05, max_x + 0.05, count), rng.uniform(min_y - 0.05, max_y + 0.05, count)


def _on_edges(rng: np.random.Generator, coords: np.ndarray, ring: np.ndarray, count: int) -> Points:
    starts = np.flatnonzero(ring[:-1] == ring[1:])  # a segment: two consecutive points of one ring
    pick = rng.choice(starts, count)
    f = rng.uniform(0, 1, count)
    a, b = coords[pick], coords[pick + 1]
    return a[:, 0] + f * (b[:, 0] - a[:, 0]), a[:, 1] + f * (b[:, 1] - a[:, 1])


def _around(rng: np.random.Generator, xy: np.ndarray, reach: np.ndarray) -> Points:
    """Each point moved `reach` metres (rule 5's plane) in a random direction."""
    angle = rng.uniform(0, 2 * np.pi, len(xy))
    kx = np.cos(np.radians(xy[:, 1])) * M_PER_DEG
    return xy[:, 0] + reach * np.cos(angle) / kx, xy[:, 1] + reach * np.sin(angle) / M_PER_DEG


def _sample(index: AreaIndex) -> dict[str, Points]:
    rng = np.random.default_rng(2102)
    coords, ring = _leaf_rings(index)
    vertices = coords[rng.choice(len(coords), 20_000)]
    coast = shapely.get_coordinates(shapely.boundary(shapely.union_all(index._geoms)))
    near = vertices[:10_000]
    hair = rng.uniform(0.3, 3.0, len(near)) * EDGE_TOLERANCE_DEG  # either side of the tolerance
    angle = rng.uniform(0, 2 * np.pi, len(near))
    return {
        "uniform over land and sea": _uniform(rng, index, 30_000),
        "exact vertices": (vertices[:, 0], vertices[:, 1]),
        "on edges": _on_edges(rng, coords, ring, 20_000),
        "a hair off vertices": (near[:, 0] + hair * np.cos(angle), near[:, 1] + hair * np.sin(angle)),
        "off the coast, 0-3 km": _around(
            rng, coast[rng.choice(len(coast), 20_000)], rng.uniform(0, 1.5 * DEFAULT_OFFSHORE_MAX_M, 20_000)
        ),
    }


def _same(a: Location | None, b: Location | None) -> bool:
    if a is None or b is None:
        return a is b
    # Distances are rounded to 0.1 m; two sums that differ in the 12th digit may round apart.
    near = abs((a.offshore_distance_m or 0.0) - (b.offshore_distance_m or 0.0)) <= 0.1
    rest = {"offshore_distance_m"}
    return near and a.model_dump(exclude=rest) == b.model_dump(exclude=rest)


def test_index_and_postgis_agree_on_100_000_points_edges_and_offshore_included(
    database: Engine, db_index: AreaIndex
) -> None:
    samples = _sample(db_index)
    lons = np.concatenate([xs for xs, _ in samples.values()])
    lats = np.concatenate([ys for _, ys in samples.values()])
    assert len(lons) == 100_000
    in_memory = db_index.locate_many(lons, lats)
    with database.connect() as conn:
        in_postgis = locate_points(conn, list(zip(lons.tolist(), lats.tolist(), strict=True)))
    differ = [i for i, (a, b) in enumerate(zip(in_memory, in_postgis, strict=True)) if not _same(a, b)]
    assert not differ, [(lons[i], lats[i], in_memory[i], in_postgis[i]) for i in differ[:5]]
    # The sample really covers every case the rules speak of.
    methods = {None if found is None else found.method for found in in_memory}
    assert methods == {None, LocateMethod.COVERS, LocateMethod.NEAREST_OFFSHORE}
    offshore = [f.offshore_distance_m for f in in_memory if f and f.method is LocateMethod.NEAREST_OFFSHORE]
    assert len(offshore) > 1_000 and max(d or 0 for d in offshore) > 0.9 * DEFAULT_OFFSHORE_MAX_M
    start = len(samples["uniform over land and sea"][0])
    on_vertices = in_memory[start : start + 20_000]
    assert all(found is not None and found.method is LocateMethod.COVERS for found in on_vertices)


def test_index_from_postgis_carries_the_boundaries_version(database: Engine, db_index: AreaIndex) -> None:
    with database.connect() as conn:
        assert db_index.version == read_versions(conn).areas >= 1
    assert len(db_index) == 6_442  # the grid cells are the leaves
