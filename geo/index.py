"""In-memory locator: which city, district, township, community and grid cell a WGS-84 point lies in.

Only the leaf units (the grid cells, for `dalian_areas()`) are searched; every level above comes from a
precomputed parent chain. That is exact because each level is the union of its leaves, and it is what makes
bulk location cheap.

Rules, shared with the PostGIS locator (`geo.locate_db`):
- covers: a point on an edge is located, never lost.
- On a shared edge the unit with the lower code wins. Leaves are searched in code order and codes nest
  (a parent's code is a prefix of its children's), so the lowest covering leaf also has the lowest
  covering township, district... the rule holds at every level at once.
- A point outside every leaf but within `offshore_max_m` (default 2,000 m) of one goes to the nearest leaf,
  with method NEAREST_OFFSHORE and the distance; farther is outside the jurisdiction (None). A point within
  COVERS_TOLERANCE_M counts as covered: that only absorbs floating-point noise along generated boundaries.
- With a GPS accuracy, `Location.candidates` lists the other leaves (grid cells) that the accuracy circle
  touches, nearest first, so a dispatcher can see when the choice was close.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt
import shapely

from geo.schemas import AreaSpec, Level, LocateMethod, Location

DEFAULT_OFFSHORE_MAX_M = 2_000.0
COVERS_TOLERANCE_M = 0.001
EARTH_RADIUS_M = 6_371_008.8
_M_PER_DEG = EARTH_RADIUS_M * math.pi / 180.0
# The nearest-unit search runs in one plane scaled for the city's middle latitude; across Dalian that is
# off by at most about 1.5 %, so it searches a little wider and then measures on the sphere.
_PLANE_MARGIN = 1.05
_BUCKETS_MAX = 1 << 22  # lattice cells, bounds the lattice's memory to a few tens of MB

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.intp]


def _finite_number(value: float, name: str) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name}: must be a finite number, got {value}")
    return number


def _finite(values: npt.ArrayLike, name: str) -> Floats:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name}: expected a flat sequence of numbers, got shape {array.shape}")
    bad = np.flatnonzero(~np.isfinite(array))
    if len(bad):
        raise ValueError(f"{name}: must be finite numbers, got {array[bad[0]]} at position {bad[0]}")
    return array


def haversine_m(lon1: Floats, lat1: Floats, lon2: Floats, lat2: Floats) -> Floats:
    phi1, phi2 = np.radians(lat1), np.radians(lat2)
    h = (
        np.sin((phi2 - phi1) / 2) ** 2
        + np.cos(phi1) * np.cos(phi2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    )
    metres: Floats = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(h, 1.0)))
    return metres


class _Lattice:
    """A regular lattice over all leaves: each cell lists the leaves whose bounding box touches it.

    Finding the cell of a point is plain arithmetic, so no Point objects are made for the common case; the
    few candidates per cell are then tested exactly (prepared point-in-polygon).
    """

    def __init__(self, bounds: Floats) -> None:
        self.x0, self.y0 = float(bounds[:, 0].min()), float(bounds[:, 1].min())
        extent_x, extent_y = float(bounds[:, 2].max()) - self.x0, float(bounds[:, 3].max()) - self.y0
        # Cells a quarter of the median leaf: about 2 candidates per point on land and 3 in the dense urban
        # core (measured on Dalian), for a lattice of a few MB.
        typical = float(np.median(np.maximum(bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1])))
        size = max(typical / 4, math.sqrt(extent_x * extent_y / _BUCKETS_MAX), 1e-9)
        self.size = size
        self.nx, self.ny = int(extent_x / size) + 1, int(extent_y / size) + 1
        ix0, iy0 = self._cell_xy(bounds[:, 0], bounds[:, 1])
        ix1, iy1 = self._cell_xy(bounds[:, 2], bounds[:, 3])
        widths, heights = ix1 - ix0 + 1, iy1 - iy0 + 1
        per_leaf = widths * heights
        leaf = np.repeat(np.arange(len(bounds)), per_leaf)
        offset = np.arange(len(leaf)) - np.repeat(np.cumsum(per_leaf) - per_leaf, per_leaf)
        cell = (np.repeat(iy0, per_leaf) + offset // np.repeat(widths, per_leaf)) * self.nx + (
            np.repeat(ix0, per_leaf) + offset % np.repeat(widths, per_leaf)
        )
        order = np.argsort(cell, kind="stable")  # stable: candidates stay in code order within a cell
        self.leaves: Ints = leaf[order]
        self.starts: Ints = np.searchsorted(cell[order], np.arange(self.nx * self.ny + 1))

    def _cell_xy(self, xs: Floats, ys: Floats) -> tuple[Ints, Ints]:
        ix = np.floor((xs - self.x0) / self.size).astype(np.intp)
        iy = np.floor((ys - self.y0) / self.size).astype(np.intp)
        return ix, iy

    def pairs(self, xs: Floats, ys: Floats) -> tuple[Ints, Ints]:
        """(point index, leaf index) for every leaf whose box may hold the point, leaves in code order."""
        ix, iy = self._cell_xy(xs, ys)
        inside = (ix >= 0) & (ix < self.nx) & (iy >= 0) & (iy < self.ny)
        cell = np.where(inside, iy * self.nx + ix, 0)
        first = np.where(inside, self.starts[cell], 0)
        counts = np.where(inside, self.starts[cell + 1] - first, 0)
        point = np.repeat(np.arange(len(xs)), counts)
        offset = np.arange(len(point)) - np.repeat(np.cumsum(counts) - counts, counts)
        return point, self.leaves[np.repeat(first, counts) + offset]

    def candidates(self, x: float, y: float) -> Ints:
        """The leaves whose box may hold one point (the scalar twin of `pairs`, same arithmetic)."""
        ix, iy = math.floor((x - self.x0) / self.size), math.floor((y - self.y0) / self.size)
        if not (0 <= ix < self.nx and 0 <= iy < self.ny):
            return self.leaves[:0]
        cell = iy * self.nx + ix
        return self.leaves[self.starts[cell] : self.starts[cell + 1]]

    def nbytes(self) -> int:
        return int(self.leaves.nbytes + self.starts.nbytes)


class AreaIndex:
    """Locate WGS-84 points in a set of areas; build once per boundary version, then query freely."""

    def __init__(self, areas: Iterable[AreaSpec], *, offshore_max_m: float = DEFAULT_OFFSHORE_MAX_M) -> None:
        if not (math.isfinite(offshore_max_m) and offshore_max_m >= 0):
            raise ValueError(f"offshore_max_m: must be a finite distance >= 0, got {offshore_max_m}")
        self.offshore_max_m = offshore_max_m
        by_code = {area.code: area for area in areas}
        parents = {area.parent_code for area in by_code.values() if area.geometry is not None}
        leaves = sorted(
            (area for area in by_code.values() if area.geometry is not None and area.code not in parents),
            key=lambda area: area.code,
        )
        if not leaves:
            raise ValueError("areas: no area has a geometry to locate in")
        self.codes: tuple[str, ...] = tuple(leaf.code for leaf in leaves)
        self._position = {code: i for i, code in enumerate(self.codes)}
        self.level: Level = max((leaf.level for leaf in leaves), key=lambda level: level.depth)
        self._geoms = np.array([leaf.geometry for leaf in leaves], dtype=object)
        shapely.prepare(self._geoms)
        self._lattice = _Lattice(shapely.bounds(self._geoms))
        bounds = shapely.total_bounds(self._geoms)
        self._kx = _M_PER_DEG * math.cos(math.radians((bounds[1] + bounds[3]) / 2))
        self._plane = shapely.transform(self._geoms, lambda xy: xy * (self._kx, _M_PER_DEG))
        self._plane_tree = shapely.STRtree(self._plane)
        self._templates: list[Location | None] = [_template(leaf, by_code) for leaf in leaves]
        self._templates.append(None)  # what an index past the last leaf (no leaf found) maps to

    def __len__(self) -> int:
        return len(self.codes)

    def locate(self, lon: float, lat: float, accuracy_m: float | None = None) -> Location | None:
        """Where one point lies, or None outside the jurisdiction; see the module notes for the rules."""
        x, y = _finite_number(lon, "lon"), _finite_number(lat, "lat")
        if accuracy_m is not None and not (math.isfinite(accuracy_m) and accuracy_m >= 0):
            raise ValueError(f"accuracy_m: must be a finite distance >= 0, got {accuracy_m}")
        leaf = self._leaf_at(x, y)
        location = self._nearest(np.array([x]), np.array([y]))[0] if leaf is None else self._templates[leaf]
        if accuracy_m is None or location is None:
            return location
        chosen = self._position[location.deepest or ""]
        near, distances = self._within(x, y, accuracy_m)
        ranked = sorted(
            (float(d), self.codes[i]) for i, d in zip(near, distances, strict=True) if i != chosen
        )
        return location.model_copy(update={"candidates": tuple(code for _, code in ranked)})

    def _leaf_at(self, x: float, y: float) -> int | None:
        """The lowest-coded leaf covering one point (candidates come in code order)."""
        for leaf in self._lattice.candidates(x, y).tolist():
            if shapely.intersects_xy(self._geoms[leaf], x, y):
                return int(leaf)
        return None

    def locate_many(self, lons: npt.ArrayLike, lats: npt.ArrayLike) -> list[Location | None]:
        """Where each point lies (None outside the jurisdiction), in the order given."""
        xs, ys = _finite(lons, "lons"), _finite(lats, "lats")
        if xs.shape != ys.shape:
            raise ValueError(f"lons and lats: lengths differ ({len(xs)} and {len(ys)})")
        point, leaf = self._lattice.pairs(xs, ys)
        hit = shapely.intersects_xy(self._geoms[leaf], xs[point], ys[point])  # covers, edges included
        best = np.full(len(xs), len(self.codes), dtype=np.intp)
        np.minimum.at(best, point[hit], leaf[hit])  # lowest code wins on shared edges
        located = list(map(self._templates.__getitem__, best.tolist()))
        missed = np.flatnonzero(best == len(self.codes))
        if len(missed):
            for i, location in zip(missed.tolist(), self._nearest(xs[missed], ys[missed]), strict=True):
                located[i] = location
        return located

    def _nearest(self, xs: Floats, ys: Floats) -> list[Location | None]:
        """For points no leaf covers: the nearest leaf within the offshore bound, else None."""
        out: list[Location | None] = [None] * len(xs)
        limit = max(self.offshore_max_m, COVERS_TOLERANCE_M)
        points = shapely.points(xs * self._kx, ys * _M_PER_DEG)
        (point, leaf), _ = self._plane_tree.query_nearest(
            points, max_distance=limit * _PLANE_MARGIN, return_distance=True, all_matches=True
        )
        if len(point) == 0:
            return out
        order = np.lexsort((leaf, point))  # equally near leaves: the lowest code comes first
        point, leaf = point[order], leaf[order]
        first = np.unique(point, return_index=True)[1]
        point, leaf = point[first], leaf[first]
        metres = self._sphere_distance(xs[point], ys[point], leaf)
        for i, j, d in zip(point.tolist(), leaf.tolist(), metres.tolist(), strict=True):
            template = self._templates[j]
            if template is None or d > limit:
                continue
            if d <= COVERS_TOLERANCE_M:
                out[i] = template
            else:
                out[i] = template.model_copy(
                    update={"method": LocateMethod.NEAREST_OFFSHORE, "offshore_distance_m": round(d, 1)}
                )
        return out

    def _within(self, x: float, y: float, distance_m: float) -> tuple[Ints, Floats]:
        """Leaves within `distance_m` of one point, with their distances on the sphere."""
        point = shapely.Point(x * self._kx, y * _M_PER_DEG)
        near = self._plane_tree.query(point, predicate="dwithin", distance=distance_m * _PLANE_MARGIN)
        metres = self._sphere_distance(np.full(len(near), x), np.full(len(near), y), near)
        keep = metres <= distance_m
        return near[keep], metres[keep]

    def _sphere_distance(self, xs: Floats, ys: Floats, leaves: Ints) -> Floats:
        """Great-circle distance from each point to the nearest point of its leaf (found in the plane)."""
        points = shapely.points(xs * self._kx, ys * _M_PER_DEG)
        lines = shapely.shortest_line(points, self._plane[leaves])
        ends = shapely.get_coordinates(shapely.get_point(lines, 1))
        return haversine_m(xs, ys, ends[:, 0] / self._kx, ends[:, 1] / _M_PER_DEG)

    def memory_bytes(self) -> int:
        """Estimated memory held by the index (both geometry copies, prepared indexes, lattice, tables).

        GEOS memory is invisible to Python's allocator tracking, so this counts what is stored: 24 bytes
        per coordinate (GEOS keeps room for a third ordinate), 64 per segment of a prepared
        point-in-polygon index, fixed costs per geometry and per cached Location. It errs high:
        benchmarks/locate_bench.py measures the process's resident growth beside it.
        """
        coords = int(shapely.get_num_coordinates(self._geoms).sum())
        parts = int(shapely.get_num_geometries(self._geoms).sum())
        geometry = 2 * (coords * 24 + parts * 400) + coords * 64
        tables = len(self.codes) * (1_000 + 100)  # a Location, a code, list and tree slots per leaf
        return geometry + tables + self._lattice.nbytes()


def _template(leaf: AreaSpec, by_code: dict[str, AreaSpec]) -> Location:
    """The Location of any point covered by `leaf`: its code and its ancestors' from the parent chain."""
    codes: dict[str, str] = {}
    area: AreaSpec | None = leaf
    while area is not None:
        codes[area.level.value] = area.code
        area = by_code.get(area.parent_code) if area.parent_code else None
    return Location(
        city=codes.get(Level.CITY.value),
        district=codes.get(Level.DISTRICT.value),
        township=codes.get(Level.TOWNSHIP.value),
        community=codes.get(Level.COMMUNITY.value),
        grid=codes.get(Level.GRID.value),
        synthetic=leaf.synthetic,
    )
