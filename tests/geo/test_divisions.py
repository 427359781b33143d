from __future__ import annotations

from collections import Counter

from geo.divisions import CITY_RESIDENTS_2020, RESIDENT_RANGES, division_by_code, load_divisions
from geo.schemas import CITY_CODE, Level, ancestor_code, level_of_code


def test_divisions_count_one_city_ten_districts_152_townships_1832_communities() -> None:
    counts = Counter(d.level for d in load_divisions())
    assert counts == {Level.CITY: 1, Level.DISTRICT: 10, Level.TOWNSHIP: 152, Level.COMMUNITY: 1832}


def test_every_code_fits_its_level_and_its_parent() -> None:
    divisions = division_by_code()
    for division in divisions.values():
        assert level_of_code(division.code) is division.level
        if division.code == CITY_CODE:
            assert division.parent_code is None
            continue
        assert division.parent_code in divisions
        parent = divisions[division.parent_code]
        assert parent.level.depth == division.level.depth - 1
        assert ancestor_code(division.code, parent.level) == parent.code


def test_divisions_come_parents_first_then_by_code() -> None:
    keys = [(d.level.depth, d.code) for d in load_divisions()]
    assert keys == sorted(keys)


def test_nanshahekou_keeps_its_nbs_code_with_the_mca_name_as_alias() -> None:
    township = division_by_code()["210204009000"]
    assert township.name == "南沙河口街道"
    assert township.mca_name == "南沙街道"
    assert township.mca_code is None  # MCA kept the code


def test_sixty_two_townships_carry_a_different_mca_code() -> None:
    aliased = [d for d in load_divisions() if d.mca_code is not None]
    assert len(aliased) == 62
    assert all(d.level is Level.TOWNSHIP and len(d.mca_code or "") == 9 for d in aliased)
    assert all(d.mca_code != d.code[:9] for d in aliased)
    assert division_by_code()["210202001000"].mca_code == "210202014"  # 海军广场街道


def test_kinds_use_the_official_terms() -> None:
    kinds = Counter(d.kind for d in load_divisions() if d.level in (Level.TOWNSHIP, Level.COMMUNITY))
    assert kinds == {
        "街道": 102, "镇": 33, "乡": 14, "类似乡级单位": 3,
        "社区居委会": 1034, "村委会": 791, "农场生活区": 7,
    }  # fmt: skip
    assert {d.kind for d in load_divisions() if d.level is Level.DISTRICT} == {"市辖区", "县", "县级市"}


def test_residents_are_estimated_and_add_up_to_the_census_at_every_level() -> None:
    divisions = load_divisions()
    assert all(d.population_estimated and (d.population or 0) > 0 for d in divisions)
    assert division_by_code()[CITY_CODE].population == CITY_RESIDENTS_2020
    children_total: Counter[str] = Counter()
    for d in divisions:
        if d.parent_code:
            children_total[d.parent_code] += d.population or 0
    for d in divisions:
        if d.level is not Level.COMMUNITY:
            assert children_total[d.code] == d.population


def test_community_residents_stay_near_the_typical_range_of_their_kind() -> None:
    scale = 1.1  # the ranges are before scaling to the census total, which stays within 10 %
    for d in load_divisions():
        if d.kind in RESIDENT_RANGES:
            low, high = RESIDENT_RANGES[d.kind]
            assert low / scale <= (d.population or 0) <= high * scale


def test_loading_twice_gives_the_same_divisions() -> None:
    load_divisions.cache_clear()
    first = load_divisions()
    load_divisions.cache_clear()
    assert load_divisions() == first
