"""Deterministic township, community and grid (网格) boundaries generated inside a real district polygon.

No public boundaries exist below district level for Dalian, so they are generated, and every geometry made
here is marked synthetic by the caller. How, and why this way:

1. Sample points uniformly inside the district (seeded from the district code). Each community is owed a
   number of samples in proportion to its expected area (a village covers far more land than an urban
   community), so sample counts stand for area.
2. Split the samples recursively with straight cuts at the exact counts owed: first into townships, then
   each township into its communities, then each community into its grid cells. Cuts keep every unit in
   one compact piece of the map, and neighbouring codes end up next to each other.
3. One site per grid cell (the sample nearest the middle of its group) and one Voronoi diagram of the
   sites of each district. The Voronoi edges of all districts and all district outlines are noded
   together, once, and every face inside a district goes to the nearest site of that district. Because
   all faces come from one noding, neighbouring cells share identical vertices, even across a district
   line, and the faces inside a district cover it entirely: islands join the nearest site, never lost.
4. Communities are the coverage union of their grids, townships of their communities, so every level
   tiles its parent exactly (shared edges are bit-identical; only the district outline picks up noded
   vertices, which lie on it up to floating-point noise).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from shapely import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

Points = npt.NDArray[np.float64]
Indices = npt.NDArray[np.intp]

# Relative land area by kind: villages spread over farmland, urban communities over a few blocks.
AREA_WEIGHT: dict[str, float] = {"社区居委会": 1.0, "村委会": 8.0}
OTHER_AREA_WEIGHT = 4.0
SAMPLES_PER_AREA_WEIGHT = 12
MIN_SAMPLES_PER_GRID = 4  # enough for every grid cell to own a distinct site
MAX_CUT_TILT = 0.6  # radians off the long axis, so cuts are not all axis-parallel
CLIP_MARGIN_DEG = 1e-3  # how far (about 100 m) Voronoi edges reach past a district outline before clipping


@dataclass(frozen=True)
class CommunityPlan:
    code: str
    kind: str | None
    grids: int  # number of grid cells to cut the community into


@dataclass(frozen=True)
class TownshipPlan:
    code: str
    communities: tuple[CommunityPlan, ...]


def grid_code(community_code: str, sequence: int) -> str:
    """Grid code: 12-digit community code + 3-digit sequence (after CJ/T 349, GB/T 30428.1)."""
    if not 1 <= sequence <= 999:
        raise ValueError(f"grid sequence must be 1..999, got {sequence}")
    return f"{community_code}{sequence:03d}"


def even_split(total: int, parts: int) -> list[int]:
    """`total` cut into `parts` whole numbers that differ by at most one, the larger ones first."""
    share, extra = divmod(total, parts)
    return [share + (1 if i < extra else 0) for i in range(parts)]


def as_multipolygon(geom: BaseGeometry) -> MultiPolygon:
    """Any areal result (Polygon, MultiPolygon, or a collection of them) as one MultiPolygon."""
    if isinstance(geom, MultiPolygon):
        return geom
    parts = shapely.get_parts(shapely.get_parts(geom))  # twice: collections may hold MultiPolygons
    return MultiPolygon([part for part in parts if isinstance(part, Polygon)])


def samples_owed(community: CommunityPlan) -> int:
    weight = AREA_WEIGHT.get(community.kind or "", OTHER_AREA_WEIGHT)
    return max(MIN_SAMPLES_PER_GRID * community.grids, round(weight * SAMPLES_PER_AREA_WEIGHT))


def sample_inside(region: BaseGeometry, count: int, rng: np.random.Generator) -> Points:
    """`count` uniform points strictly inside `region` (rejection sampling in its bounding box)."""
    shapely.prepare(region)
    min_x, min_y, max_x, max_y = region.bounds
    fill = max(region.area / ((max_x - min_x) * (max_y - min_y)), 0.01)
    batches: list[Points] = []
    found = 0
    while found < count:
        draw = int((count - found) / fill * 1.2) + 16
        xs = rng.uniform(min_x, max_x, draw)
        ys = rng.uniform(min_y, max_y, draw)
        inside = shapely.contains_xy(region, xs, ys)
        batches.append(np.column_stack([xs[inside], ys[inside]]))
        found += int(inside.sum())
    return np.concatenate(batches)[:count]


def split_counts(
    points: Points, members: Indices, counts: Sequence[int], rng: np.random.Generator
) -> list[Indices]:
    """Split `members` (indices into `points`) into groups of exactly `counts`, by recursive straight cuts."""
    if sum(counts) != len(members):
        raise ValueError(f"counts add up to {sum(counts)}, but there are {len(members)} points")
    if len(counts) == 1:
        return [members]
    half = len(counts) // 2
    first = sum(counts[:half])
    xy = points[members]
    span = xy.max(axis=0) - xy.min(axis=0)
    angle = (0.0 if span[0] >= span[1] else math.pi / 2) + rng.uniform(-MAX_CUT_TILT, MAX_CUT_TILT)
    along = xy @ np.array([math.cos(angle), math.sin(angle)])
    order = np.argpartition(along, first - 1) if 0 < first < len(members) else np.arange(len(members))
    low, high = np.sort(members[order[:first]]), np.sort(members[order[first:]])
    return split_counts(points, low, counts[:half], rng) + split_counts(points, high, counts[half:], rng)


def _site_of(points: Points, group: Indices) -> int:
    """The member nearest the group's mean: a real sample, hence inside the district, unlike the mean."""
    xy = points[group]
    return int(group[np.argmin(((xy - xy.mean(axis=0)) ** 2).sum(axis=1))])


def tile_by_sites(
    regions: Sequence[MultiPolygon], sites: Sequence[Points], x_scale: float
) -> list[list[MultiPolygon]]:
    """Cut each region into the parts nearest each of its sites (Voronoi), tiling every region exactly.

    All regions are cut in one noding, so where two regions share an outline the cuts of both land on the
    same vertices and their tiles meet exactly too. Sites must lie inside their region; regions must come
    in code order (where real outlines overlap, the lower code keeps the sliver). `x_scale` (cos of the
    latitude) makes the cells round on the ground.
    """
    lines = [shapely.boundary(region) for region in regions]
    for region, region_sites in zip(regions, sites, strict=True):
        if len(region_sites) > 1:
            lines.append(_voronoi_edges(region, region_sites, x_scale))
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(shapely.union_all(lines))))
    inner = shapely.point_on_surface(faces)
    face, region_of = shapely.STRtree(list(regions)).query(inner, predicate="within")
    owner_region = np.full(len(faces), len(regions))
    np.minimum.at(owner_region, face, region_of)
    tiles = []
    for r, region_sites in enumerate(sites):
        mine = np.flatnonzero(owner_region == r)
        metric = shapely.points(region_sites * (x_scale, 1.0))
        probe = shapely.points(shapely.get_coordinates(inner[mine]) * (x_scale, 1.0))
        owner = shapely.STRtree(metric).query_nearest(probe, all_matches=False)[1]
        tiles.append(
            [
                _merge(faces[mine[owner == site]], f"site {site} of region {r}")
                for site in range(len(region_sites))
            ]
        )
    return tiles


def _voronoi_edges(region: MultiPolygon, sites: Points, x_scale: float) -> BaseGeometry:
    """Voronoi edges of the sites, computed on the ground-like plane, kept only near the region.

    Edges reach a little past the outline so that they cross it cleanly; the stubs left in a neighbour or
    the sea are dangles, which polygonize drops.
    """
    min_x, min_y, max_x, max_y = region.bounds
    margin = 0.01 + 0.1 * max(max_x - min_x, max_y - min_y)
    frame = shapely.box(
        (min_x - margin) * x_scale, min_y - margin, (max_x + margin) * x_scale, max_y + margin
    )
    edges = shapely.voronoi_polygons(
        shapely.multipoints(sites * (x_scale, 1.0)), extend_to=frame, only_edges=True
    )
    edges = shapely.transform(edges, lambda xy: xy / (x_scale, 1.0))
    return shapely.intersection(edges, shapely.buffer(region, CLIP_MARGIN_DEG, quad_segs=2))


def _merge(tiles: npt.NDArray[np.object_] | Sequence[BaseGeometry], what: str) -> MultiPolygon:
    """Union of tiles that share exact edges (a valid coverage), as one unit's boundary."""
    if len(tiles) == 0:
        raise ValueError(f"{what} owns no part of its region (does it lie inside?)")
    return as_multipolygon(tiles[0] if len(tiles) == 1 else shapely.coverage_union_all(list(tiles)))


@dataclass(frozen=True)
class DistrictPlan:
    code: str
    boundary: MultiPolygon
    townships: tuple[TownshipPlan, ...]


_Layout = list[tuple[TownshipPlan, list[tuple[CommunityPlan, int]]]]  # each community with its first site


def _place_sites(district: DistrictPlan, seed: int, x_scale: float) -> tuple[Points, _Layout]:
    """One site per grid cell, placed by splitting area-weighted samples township → community → grid."""
    rng = np.random.default_rng([seed, int(district.code)])
    owed = [[samples_owed(c) for c in t.communities] for t in district.townships]
    points = sample_inside(district.boundary, sum(map(sum, owed)), rng)
    metric = points * (x_scale, 1.0)
    sites: list[int] = []
    layout: _Layout = []
    township_groups = split_counts(metric, np.arange(len(points)), [sum(o) for o in owed], rng)
    for township, township_owed, township_members in zip(
        district.townships, owed, township_groups, strict=True
    ):
        placed = []
        community_groups = split_counts(metric, township_members, township_owed, rng)
        for community, members in zip(township.communities, community_groups, strict=True):
            placed.append((community, len(sites)))
            groups = split_counts(metric, members, even_split(len(members), community.grids), rng)
            sites += [_site_of(metric, group) for group in groups]
        layout.append((township, placed))
    return points[sites], layout


def synthesize(districts: Sequence[DistrictPlan], *, seed: int) -> dict[str, MultiPolygon]:
    """Boundaries for every township, community and grid cell of the districts, keyed by code.

    Districts must come in code order. The same districts, plans and seed always give the same shapes.
    """
    min_y = min(d.boundary.bounds[1] for d in districts)
    max_y = max(d.boundary.bounds[3] for d in districts)
    x_scale = math.cos(math.radians((min_y + max_y) / 2))
    placed = [_place_sites(district, seed, x_scale) for district in districts]
    tiles = tile_by_sites([d.boundary for d in districts], [sites for sites, _ in placed], x_scale)
    shapes: dict[str, MultiPolygon] = {}
    for district_tiles, (_, layout) in zip(tiles, placed, strict=True):
        for township, communities in layout:
            for community, first in communities:
                grid_tiles = district_tiles[first : first + community.grids]
                for sequence, tile in enumerate(grid_tiles, start=1):
                    shapes[grid_code(community.code, sequence)] = tile
                shapes[community.code] = _merge(grid_tiles, community.code)
            shapes[township.code] = _merge([shapes[c.code] for c, _ in communities], township.code)
    return shapes
