"""Dalian's area hierarchy: the city, real districts, synthetic townships, communities and grid cells."""

from __future__ import annotations

from collections import defaultdict
from functools import cache

import shapely

from geo.boundaries import district_polygons
from geo.divisions import Division, load_divisions
from geo.schemas import AreaSpec, Level
from geo.synthetic import (
    CommunityPlan,
    DistrictPlan,
    TownshipPlan,
    as_multipolygon,
    even_split,
    grid_code,
    synthesize,
)

DEFAULT_SEED = 2102
# One grid cell per about this many residents, as urban 网格 are commonly cut at a few hundred households;
# but at least MIN_GRIDS (so every community really is divided) and at most MAX_GRIDS.
RESIDENTS_PER_GRID = 1_200
MIN_GRIDS, MAX_GRIDS = 2, 6
GRID_KIND = "网格"
# Short community names for grid names: 海军广场社区居委会 → 海军广场社区第1网格.
_NAME_SUFFIXES = (("社区居委会", "社区"), ("居民委员会", ""), ("村民委员会", "村"), ("村委会", "村"))


def grids_for(community: Division, grids_per_community: int | None = None) -> int:
    """How many grid cells a community is cut into: fixed if given, else by its estimated residents."""
    if grids_per_community is not None:
        if not 1 <= grids_per_community <= 999:
            raise ValueError(f"grids_per_community must be 1..999, got {grids_per_community}")
        return grids_per_community
    by_residents = round((community.population or 0) / RESIDENTS_PER_GRID)
    return min(MAX_GRIDS, max(MIN_GRIDS, by_residents))


def grid_name(community_name: str, sequence: int) -> str:
    short = community_name
    for suffix, replacement in _NAME_SUFFIXES:
        if community_name.endswith(suffix):
            short = community_name[: -len(suffix)] + replacement
            break
    return f"{short}第{sequence}网格"


def _split_population(total: int | None, parts: int) -> list[int | None]:
    return [None] * parts if total is None else list(even_split(total, parts))


def _area(division: Division, geometry: object, *, synthetic: bool) -> AreaSpec:
    return AreaSpec(
        code=division.code,
        name=division.name,
        level=division.level,
        parent_code=division.parent_code,
        geometry=geometry,
        synthetic=synthetic,
        mca_code=division.mca_code,
        mca_name=division.mca_name,
        kind=division.kind,
        population=division.population,
        population_estimated=division.population_estimated,
    )


def build_areas(*, seed: int = DEFAULT_SEED, grids_per_community: int | None = None) -> list[AreaSpec]:
    """Build every Dalian area from the shipped codes and the installed district boundaries (uncached)."""
    divisions = load_divisions()
    children: dict[str | None, list[Division]] = defaultdict(list)
    for division in divisions:
        children[division.parent_code].append(division)
    (city,) = children[None]
    districts = children[city.code]
    polygons = district_polygons(d.code[:6] for d in districts)
    missing = [d.code for d in districts if d.code[:6] not in polygons]
    if missing:
        raise LookupError(f"no boundary for districts {missing} in the installed geotool-cn package")

    grid_counts: dict[str, int] = {}
    plans = []
    for district in districts:
        townships = []
        for township in children[district.code]:
            communities = []
            for community in children[township.code]:
                grid_counts[community.code] = grids_for(community, grids_per_community)
                communities.append(CommunityPlan(community.code, community.kind, grid_counts[community.code]))
            townships.append(TownshipPlan(township.code, tuple(communities)))
        plans.append(DistrictPlan(district.code, polygons[district.code[:6]], tuple(townships)))
    shapes = synthesize(plans, seed=seed)

    areas = [_area(city, as_multipolygon(shapely.union_all(list(polygons.values()))), synthetic=False)]
    areas += [_area(d, polygons[d.code[:6]], synthetic=False) for d in districts]
    below = [d for d in divisions if d.level in (Level.TOWNSHIP, Level.COMMUNITY)]
    areas += [_area(d, shapes[d.code], synthetic=True) for d in below]
    for community in (d for d in divisions if d.level is Level.COMMUNITY):
        count = grid_counts[community.code]
        for sequence, residents in enumerate(_split_population(community.population, count), start=1):
            code = grid_code(community.code, sequence)
            areas.append(
                AreaSpec(
                    code=code,
                    name=grid_name(community.name, sequence),
                    level=Level.GRID,
                    parent_code=community.code,
                    geometry=shapes[code],
                    synthetic=True,
                    kind=GRID_KIND,
                    population=residents,
                    population_estimated=community.population_estimated,
                )
            )
    return areas


@cache
def _cached(seed: int, grids_per_community: int | None) -> tuple[AreaSpec, ...]:
    return tuple(build_areas(seed=seed, grids_per_community=grids_per_community))


def dalian_areas(*, seed: int = DEFAULT_SEED, grids_per_community: int | None = None) -> list[AreaSpec]:
    """Every Dalian area, parents before children (by level, then code); the same output on every run.

    The city and its 10 districts carry real boundaries; townships, communities and grid cells carry
    boundaries generated inside them (synthetic=True). Built once per argument set, then served from memory.
    """
    return list(_cached(seed, grids_per_community))
