"""Deterministic township, community and grid (网格) boundaries generated inside a real district polygon.

No public boundaries exist below district level for Dalian, so they are generated, and every geometry made
here is marked synthetic by the caller. How, and why this way:

1. Sample points uniformly inside the district (seeded from the district code). Each community is owed a
   number of samples in proportion to its expected area (a village covers far more land than an urban
   community), so sample counts stand for area.
2. Split the samples recursively with straight cuts at the exact counts owed: first into townships, then
   each township into its communities, then each community into its grid cells. Cuts keep every unit in
   one compact piece of the map, and neighbouring codes end up next to each other.
3. One site per grid cell (the sample nearest the middle of its group), one Voronoi diagram of all sites
   of the district, and every face of (Voronoi edges + district boundary), noded once, goes to the nearest
   site. Because all faces come from one noding, neighbouring cells share identical vertices, and the
   faces inside the district cover it entirely: islands are not lost, they join the nearest site.
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


def as_multipolygon(geom: BaseGeometry) -> MultiPolygon:
    if isinstance(geom, MultiPolygon):
        return geom
    if isinstance(geom, Polygon):
        return MultiPolygon([geom])
    return MultiPolygon([part for part in shapely.get_parts(geom) if isinstance(part, Polygon)])


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


def tile_by_sites(region: MultiPolygon, sites: Points, x_scale: float) -> list[MultiPolygon]:
    """Cut `region` into the parts nearest each site (Voronoi in a metric-like plane), tiling it exactly.

    `sites` must lie inside `region`; `x_scale` (cos of the latitude) makes the cells round on the ground.
    """
    if len(sites) == 1:
        return [region]
    metric = sites * (x_scale, 1.0)
    min_x, min_y, max_x, max_y = region.bounds
    margin = 0.01 + 0.1 * max(max_x - min_x, max_y - min_y)
    frame = shapely.box(
        (min_x - margin) * x_scale, min_y - margin, (max_x + margin) * x_scale, max_y + margin
    )
    edges = shapely.voronoi_polygons(shapely.multipoints(metric), extend_to=frame, only_edges=True)
    edges = shapely.transform(edges, lambda xy: xy / (x_scale, 1.0))
    noded = shapely.node(shapely.geometrycollections([edges, region.boundary]))
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    inner = shapely.get_coordinates(shapely.point_on_surface(faces))
    shapely.prepare(region)
    keep = shapely.contains_xy(region, inner[:, 0], inner[:, 1])
    faces, inner = faces[keep], inner[keep]
    tree = shapely.STRtree(shapely.points(metric))
    owner = tree.query_nearest(shapely.points(inner * (x_scale, 1.0)), all_matches=False)[1]
    order = np.argsort(owner, kind="stable")
    bounds = np.searchsorted(owner[order], np.arange(len(sites) + 1))
    tiles = []
    for site in range(len(sites)):
        mine = faces[order[bounds[site] : bounds[site + 1]]]
        if len(mine) == 0:
            raise ValueError(f"site {site} owns no part of the region (is it inside?)")
        tiles.append(as_multipolygon(mine[0] if len(mine) == 1 else shapely.coverage_union_all(mine)))
    return tiles


def merge_tiles(tiles: Sequence[MultiPolygon]) -> MultiPolygon:
    """Union of tiles that share exact edges (a valid coverage), as one unit's boundary."""
    return as_multipolygon(tiles[0] if len(tiles) == 1 else shapely.coverage_union_all(list(tiles)))


def synthesize_district(
    district: MultiPolygon, townships: Sequence[TownshipPlan], *, seed: int, district_code: str
) -> dict[str, MultiPolygon]:
    """Boundaries for every township, community and grid of one district, keyed by code."""
    rng = np.random.default_rng([seed, int(district_code)])
    owed = [[samples_owed(c) for c in t.communities] for t in townships]
    points = sample_inside(district, sum(map(sum, owed)), rng)
    x_scale = math.cos(math.radians((district.bounds[1] + district.bounds[3]) / 2))
    metric = points * (x_scale, 1.0)
    everyone = np.arange(len(points))
    sites: list[int] = []
    layout: list[tuple[TownshipPlan, list[tuple[CommunityPlan, int]]]] = []  # (community, first site)
    for township, township_owed, township_members in zip(
        townships, owed, split_counts(metric, everyone, [sum(o) for o in owed], rng), strict=True
    ):
        placed = []
        for community, members in zip(
            township.communities, split_counts(metric, township_members, township_owed, rng), strict=True
        ):
            share, extra = divmod(len(members), community.grids)
            counts = [share + (1 if i < extra else 0) for i in range(community.grids)]
            placed.append((community, len(sites)))
            sites += [_site_of(metric, group) for group in split_counts(metric, members, counts, rng)]
        layout.append((township, placed))
    tiles = tile_by_sites(district, points[sites], x_scale)
    shapes: dict[str, MultiPolygon] = {}
    for township, placed in layout:
        community_shapes = []
        for community, first in placed:
            grid_tiles = tiles[first : first + community.grids]
            for sequence, tile in enumerate(grid_tiles, start=1):
                shapes[grid_code(community.code, sequence)] = tile
            shapes[community.code] = merge_tiles(grid_tiles)
            community_shapes.append(shapes[community.code])
        shapes[township.code] = merge_tiles(community_shapes)
    return shapes
