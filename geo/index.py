"""In-memory locator: which city, district, township, community and grid cell a WGS-84 point lies in.

The worker's path: built from the areas in PostGIS (`geo.read.read_areas`), rebuilt when their version
changes, and held to the same rules as the PostGIS locator (`geo.locate_db`) by a parity test. The rules
(leaves first, covered within 1e-8 degrees, lowest code on shared edges, nearest leaf within 2 km offshore,
distances in a plane true to scale at the point's latitude) are written down once, in `geo.locate_rules`.

Only the leaf units are searched; every level above comes from a precomputed parent chain, which is what
makes bulk location cheap: a lattice over the leaves gives each point its few candidates by arithmetic, with
no shapely Point made for the common case.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt
import shapely

from geo.lattice import Lattice
from geo.locate_rules import (
    DEFAULT_OFFSHORE_MAX_M,
    EDGE_TOLERANCE_DEG,
    M_PER_DEG,
    TIE_TOLERANCE_M,
    metres_per_degree_lon,
)
from geo.schemas import AreaSpec, Level, LocateMethod, Location

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.intp]
Bools = npt.NDArray[np.bool_]


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


def _accuracies(values: Sequence[float | None] | None, count: int) -> Floats:
    """Accuracy radii in metres, NaN where a point has none (None)."""
    if values is None:
        return np.full(count, np.nan)
    array = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    if array.shape != (count,):
        raise ValueError(f"accuracies: expected {count} values, got shape {array.shape}")
    if np.any(array[~np.isnan(array)] < 0) or np.any(np.isinf(array)):
        raise ValueError("accuracies: must be finite distances >= 0 (or None)")
    return array


class AreaIndex:
    """Locate WGS-84 points in a set of areas; build once per boundary version, then query freely."""

    def __init__(
        self,
        areas: Iterable[AreaSpec],
        *,
        offshore_max_m: float = DEFAULT_OFFSHORE_MAX_M,
        version: int | None = None,
    ) -> None:
        if not (math.isfinite(offshore_max_m) and offshore_max_m >= 0):
            raise ValueError(f"offshore_max_m: must be a finite distance >= 0, got {offshore_max_m}")
        self.offshore_max_m = offshore_max_m
        self.version = version  # the boundaries' version in PostGIS this index was built from, if any
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
        # Boxes grown by the edge tolerance: a point that close to a leaf may belong to it (rule 2).
        self._boxes = shapely.bounds(self._geoms) + np.array([-1, -1, 1, 1]) * EDGE_TOLERANCE_DEG
        # Halos: each leaf grown by twice the tolerance. A point outside a leaf's halo is surely farther than
        # the tolerance from it (the halo rounds corners with chords of 11.25 degrees, which stay within
        # 0.5 % of the buffer distance), so the exact but slow distance test runs only for the few points
        # inside a halo and outside its leaf.
        self._halos = shapely.buffer(self._geoms, 2 * EDGE_TOLERANCE_DEG, quad_segs=8)
        shapely.prepare(self._halos)
        self._lattice = Lattice(self._boxes)
        # One plane for the whole index, only to find candidates for the offshore and accuracy searches; the
        # distances themselves are measured in the plane of each point's own latitude (rule 5).
        min_lat, max_lat = float(self._boxes[:, 1].min()), float(self._boxes[:, 3].max())
        self._kx = float(metres_per_degree_lon(np.array([(min_lat + max_lat) / 2]))[0])
        farthest = min(89.0, max(abs(min_lat), abs(max_lat)) + 0.1)  # 0.1 degree: beyond any bound used
        self._margin = 1.001 * max(1.0, self._kx / float(metres_per_degree_lon(np.array([farthest]))[0]))
        plane = shapely.transform(self._geoms, lambda xy: xy * (self._kx, M_PER_DEG))
        self._plane_tree = shapely.STRtree(plane)
        self._templates: list[Location | None] = [_template(leaf, by_code) for leaf in leaves]
        self._templates.append(None)  # what an index past the last leaf (no leaf found) maps to

    def __len__(self) -> int:
        return len(self.codes)

    def locate(self, lon: float, lat: float, accuracy_m: float | None = None) -> Location | None:
        """Where one point lies, or None outside the jurisdiction; the rules are in `geo.locate_rules`."""
        x, y = _finite_number(lon, "lon"), _finite_number(lat, "lat")
        if accuracy_m is not None and not (math.isfinite(accuracy_m) and accuracy_m >= 0):
            raise ValueError(f"accuracy_m: must be a finite distance >= 0, got {accuracy_m}")
        leaf = self._leaf_at(x, y)
        location = self._offshore(np.array([x]), np.array([y]))[0] if leaf is None else self._templates[leaf]
        if accuracy_m is None or location is None:
            return location
        return self._with_candidates(location, x, y, accuracy_m)

    def _leaf_at(self, x: float, y: float) -> int | None:
        """The lowest-coded leaf covering one point (candidates come in code order)."""
        for leaf in self._lattice.candidates(x, y).tolist():
            if shapely.intersects_xy(self._geoms[leaf], x, y):
                return int(leaf)
            x0, y0, x1, y1 = self._boxes[leaf]
            if (
                x0 <= x <= x1
                and y0 <= y <= y1
                and shapely.intersects_xy(self._halos[leaf], x, y)
                and shapely.dwithin(self._geoms[leaf], shapely.Point(x, y), EDGE_TOLERANCE_DEG)
            ):
                return int(leaf)
        return None

    def locate_many(
        self, lons: npt.ArrayLike, lats: npt.ArrayLike, accuracies: Sequence[float | None] | None = None
    ) -> list[Location | None]:
        """Where each point lies (None outside the jurisdiction), in the order given; with accuracy radii
        (metres, None where unknown) each location lists its other candidate leaves."""
        xs, ys = _finite(lons, "lons"), _finite(lats, "lats")
        if xs.shape != ys.shape:
            raise ValueError(f"lons and lats: lengths differ ({len(xs)} and {len(ys)})")
        radii = _accuracies(accuracies, len(xs))
        best = self._covering(xs, ys)
        located = list(map(self._templates.__getitem__, best.tolist()))
        missed = np.flatnonzero(best == len(self.codes))
        if len(missed):
            for i, location in zip(missed.tolist(), self._offshore(xs[missed], ys[missed]), strict=True):
                located[i] = location
        for i in np.flatnonzero(~np.isnan(radii)).tolist():
            found = located[i]
            if found is not None:
                located[i] = self._with_candidates(found, float(xs[i]), float(ys[i]), float(radii[i]))
        return located

    def _covering(self, xs: Floats, ys: Floats) -> Ints:
        """Per point, the lowest-coded covering leaf (rules 2 and 3), or len(codes) where none covers."""
        point, leaf = self._lattice.pairs(xs, ys)
        px, py = xs[point], ys[point]
        hit = shapely.intersects_xy(self._geoms[leaf], px, py)  # covers: edges included
        best = np.full(len(xs), len(self.codes), dtype=np.intp)
        np.minimum.at(best, point[hit], leaf[hit])
        # Only a lower-coded leaf that the point misses by at most the tolerance can still win.
        box = self._boxes[leaf]
        maybe = ~hit & (leaf < best[point]) & (px >= box[:, 0]) & (px <= box[:, 2])
        maybe &= (py >= box[:, 1]) & (py <= box[:, 3])
        if maybe.any():
            maybe[maybe] = shapely.intersects_xy(self._halos[leaf[maybe]], px[maybe], py[maybe])
        if maybe.any():
            p, lf = point[maybe], leaf[maybe]
            near = shapely.dwithin(self._geoms[lf], shapely.points(xs[p], ys[p]), EDGE_TOLERANCE_DEG)
            np.minimum.at(best, p[near], lf[near])
        return best

    def _offshore(self, xs: Floats, ys: Floats) -> list[Location | None]:
        """For points no leaf covers: the nearest leaf within the offshore bound, else None (rule 4)."""
        out: list[Location | None] = [None] * len(xs)
        if self.offshore_max_m <= 0 or len(xs) == 0:
            return out
        point, leaf = self._near(xs, ys, self.offshore_max_m)
        metres = self.distances_m(xs[point], ys[point], leaf)
        keep = metres <= self.offshore_max_m
        point, leaf, metres = point[keep], leaf[keep], metres[keep]
        nearest = np.full(len(xs), np.inf)
        np.minimum.at(nearest, point, metres)
        tied = metres <= nearest[point] + TIE_TOLERANCE_M
        chosen = np.full(len(xs), len(self.codes), dtype=np.intp)
        np.minimum.at(chosen, point[tied], leaf[tied])
        for i in np.flatnonzero(chosen < len(self.codes)).tolist():
            template = self._templates[int(chosen[i])]
            assert template is not None
            out[i] = template.model_copy(
                update={
                    "method": LocateMethod.NEAREST_OFFSHORE,
                    "offshore_distance_m": round(float(nearest[i]), 1),
                }
            )
        return out

    def _near(self, xs: Floats, ys: Floats, distance_m: float) -> tuple[Ints, Ints]:
        """(point, leaf) pairs that may lie within `distance_m` of each other: a superset, from the tree."""
        points = shapely.points(xs * self._kx, ys * M_PER_DEG)
        found = self._plane_tree.query(points, predicate="dwithin", distance=distance_m * self._margin)
        return found[0], found[1]

    def distances_m(self, xs: Floats, ys: Floats, leaves: Ints) -> Floats:
        """Metres from each point to its leaf, in the plane true to scale at the point's latitude (rule 5)."""
        if len(leaves) == 0:
            return np.empty(0)
        kx = metres_per_degree_lon(ys)
        geoms = self._geoms[leaves]
        scale = np.repeat(
            np.column_stack([kx, np.full(len(kx), M_PER_DEG)]), shapely.get_num_coordinates(geoms), 0
        )
        local = shapely.transform(geoms, lambda xy: xy * scale)
        metres: Floats = shapely.distance(local, shapely.points(xs * kx, ys * M_PER_DEG))
        return metres

    def _with_candidates(self, location: Location, x: float, y: float, accuracy_m: float) -> Location:
        """The location with the other leaves the accuracy circle reaches, nearest first (rule 6)."""
        _, near = self._near(np.array([x]), np.array([y]), accuracy_m)
        metres = self.distances_m(np.full(len(near), x), np.full(len(near), y), near)
        chosen = self._position[location.deepest or ""]
        ranked = sorted(
            (float(d), self.codes[i])
            for i, d in zip(near.tolist(), metres.tolist(), strict=True)
            if i != chosen and d <= accuracy_m
        )
        return location.model_copy(update={"candidates": tuple(code for _, code in ranked)})

    def memory_bytes(self) -> int:
        """Estimated memory held by the index (geometry copies and halos, prepared indexes, lattice, tables).

        GEOS memory is invisible to Python's allocator tracking, so this counts what is stored: 24 bytes
        per coordinate (GEOS keeps room for a third ordinate), 64 per segment of a prepared
        point-in-polygon index, fixed costs per geometry and per cached Location. It errs high:
        benchmarks/locate_bench.py measures the process's resident growth beside it.
        """
        coords = int(shapely.get_num_coordinates(self._geoms).sum())
        parts = int(shapely.get_num_geometries(self._geoms).sum())
        halo_coords = int(shapely.get_num_coordinates(self._halos).sum())
        geometry = 2 * (coords * 24 + parts * 400) + coords * 64 + halo_coords * (24 + 64) + parts * 400
        tables = len(self.codes) * (1_000 + 100)  # a Location, a code, list and tree slots per leaf
        return geometry + tables + self._lattice.nbytes() + int(self._boxes.nbytes)


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
