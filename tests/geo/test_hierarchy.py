from __future__ import annotations

from collections import Counter

import shapely

from geo.divisions import load_divisions
from geo.hierarchy import build_areas, grids_for
from geo.schemas import CITY_CODE, AreaSpec, Level, ancestor_code


def _expected_grids() -> int:
    return sum(grids_for(d) for d in load_divisions() if d.level is Level.COMMUNITY)


def test_hierarchy_counts_per_level(areas: list[AreaSpec]) -> None:
    counts = Counter(area.level for area in areas)
    assert counts[Level.CITY] == 1
    assert counts[Level.DISTRICT] == 10
    assert counts[Level.TOWNSHIP] == 152
    assert counts[Level.COMMUNITY] == 1832
    assert counts[Level.GRID] == _expected_grids() == 6442


def test_every_community_is_cut_into_a_few_grids(by_level: dict[Level, list[AreaSpec]]) -> None:
    per_community = Counter(grid.parent_code for grid in by_level[Level.GRID])
    assert set(per_community) == {c.code for c in by_level[Level.COMMUNITY]}
    assert set(per_community.values()) <= set(range(2, 7))


def test_grid_codes_extend_their_community_code(by_level: dict[Level, list[AreaSpec]]) -> None:
    for grid in by_level[Level.GRID]:
        assert len(grid.code) == 15
        assert grid.code[:12] == grid.parent_code
        assert 1 <= int(grid.code[12:]) <= 6
        assert grid.name.endswith("网格")


def test_codes_fit_their_parents(by_code: dict[str, AreaSpec]) -> None:
    for area in by_code.values():
        if area.code == CITY_CODE:
            assert area.parent_code is None
            continue
        parent = by_code[area.parent_code or ""]
        assert parent.level.depth == area.level.depth - 1
        if area.level is not Level.GRID:
            assert ancestor_code(area.code, parent.level) == parent.code


def test_parents_come_before_children(areas: list[AreaSpec]) -> None:
    seen: set[str] = set()
    for area in areas:
        assert area.parent_code is None or area.parent_code in seen
        seen.add(area.code)
    keys = [(area.level.depth, area.code) for area in areas]
    assert keys == sorted(keys)


def test_only_generated_boundaries_are_flagged_synthetic(areas: list[AreaSpec]) -> None:
    for area in areas:
        assert area.synthetic is (area.level not in (Level.CITY, Level.DISTRICT))
        assert isinstance(area.geometry, shapely.MultiPolygon)
        assert area.geometry.is_valid and not area.geometry.is_empty


def test_mca_alias_travels_into_the_area_specs(by_code: dict[str, AreaSpec]) -> None:
    assert by_code["210202001000"].mca_code == "210202014"
    assert by_code["210204009000"].mca_code is None  # renamed only; the name alias lives in geo.divisions


def test_grid_residents_add_up_to_their_community(by_level: dict[Level, list[AreaSpec]]) -> None:
    total: Counter[str] = Counter()
    for grid in by_level[Level.GRID]:
        assert grid.population_estimated
        total[grid.parent_code or ""] += grid.population or 0
    assert all(total[c.code] == c.population for c in by_level[Level.COMMUNITY])


def _fingerprint(areas: list[AreaSpec]) -> list[tuple[object, ...]]:
    return [
        (a.code, a.name, a.parent_code, a.kind, a.population, a.mca_code, shapely.to_wkb(a.geometry))
        for a in areas
    ]


def test_two_builds_are_identical(areas: list[AreaSpec]) -> None:
    assert _fingerprint(build_areas()) == _fingerprint(areas)


def test_another_seed_moves_the_boundaries_but_not_the_codes(areas: list[AreaSpec]) -> None:
    other = build_areas(seed=7)
    assert [a.code for a in other] == [a.code for a in areas]
    moved = [a.code for a, b in zip(other, areas, strict=True) if not a.geometry.equals(b.geometry)]
    assert len(moved) > len(areas) // 2
    assert all(a.geometry.equals(b.geometry) for a, b in zip(other[:11], areas[:11], strict=True))


def test_a_fixed_grid_count_applies_to_every_community() -> None:
    grids = [a for a in build_areas(grids_per_community=3) if a.level is Level.GRID]
    assert len(grids) == 3 * 1832
