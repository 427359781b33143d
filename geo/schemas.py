"""Leaf contracts of the city's places and rules: areas, categories, departments, duty rules.

Imports nothing else from gridflow, so every other package may use it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

CITY_CODE = "210200000000"


class Level(StrEnum):
    CITY = "city"  # 市
    DISTRICT = "district"  # 区/县
    TOWNSHIP = "township"  # 街道/乡镇
    COMMUNITY = "community"  # 社区/村
    GRID = "grid"  # 网格

    @property
    def depth(self) -> int:
        return LEVEL_ORDER.index(self)

    @property
    def label(self) -> str:
        return LEVEL_LABELS[self]


LEVEL_ORDER: tuple[Level, ...] = (Level.CITY, Level.DISTRICT, Level.TOWNSHIP, Level.COMMUNITY, Level.GRID)
LEVEL_LABELS = {
    Level.CITY: "市",
    Level.DISTRICT: "区/县",
    Level.TOWNSHIP: "街道/乡镇",
    Level.COMMUNITY: "社区/村",
    Level.GRID: "网格",
}
# How many leading digits of a 12-digit statistical code identify the unit at each level.
CODE_PREFIX = {Level.CITY: 4, Level.DISTRICT: 6, Level.TOWNSHIP: 9, Level.COMMUNITY: 12}


def level_of_code(code: str) -> Level:
    """Level of a statistical code: 12 digits padded with zeros, or a grid code (community code + seq)."""
    if not code.isdigit():
        raise ValueError(f"area code must be digits, got {code!r}")
    if len(code) > 12:
        return Level.GRID
    if len(code) != 12:
        raise ValueError(f"area code must have 12 digits (grid codes more), got {len(code)}")
    if code[4:] == "00000000":
        return Level.CITY
    if code[6:] == "000000":
        return Level.DISTRICT
    if code[9:] == "000":
        return Level.TOWNSHIP
    return Level.COMMUNITY


def ancestor_code(code: str, level: Level) -> str:
    """The code of the unit at `level` that contains the unit `code` (itself if at that level)."""
    if level is Level.GRID:
        if len(code) <= 12:
            raise ValueError(f"{code} is not below grid level")
        return code
    keep = CODE_PREFIX[level]
    return code[:keep].ljust(12, "0")


class AreaSpec(BaseModel):
    """One unit of the four-level hierarchy (or a grid cell), as loaded into PostGIS."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    code: str
    name: str
    level: Level
    parent_code: str | None
    geometry: Any = None  # shapely (Multi)Polygon in WGS-84, or None where no boundary is known
    synthetic: bool = False  # True for generated boundaries (no public source below district level)
    mca_code: str | None = None  # Ministry of Civil Affairs code where it differs (kept as an alias)
    mca_name: str | None = None  # Ministry of Civil Affairs name where it differs (南沙河口街道 → 南沙街道)
    kind: str | None = None  # 街道 / 镇 / 乡 / 社区居委会 / 村委会 ...
    population: int | None = None
    population_estimated: bool = False

    @model_validator(mode="after")
    def _code_fits_level(self) -> AreaSpec:
        if level_of_code(self.code) is not self.level:
            raise ValueError(f"code {self.code} is not a {self.level.value} code")
        return self


class CategoryKind(StrEnum):
    COMPONENT = "component"  # 部件
    EVENT = "event"  # 事件


class Category(BaseModel):
    """A report category after GB/T 30428.2: a 小类 inside a 大类 of 部件 or 事件."""

    model_config = ConfigDict(frozen=True)

    code: str = Field(pattern=r"^\d{4,6}$")
    name: str
    kind: CategoryKind
    major_code: str
    major_name: str


class Department(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    name: str
    kind: str  # e.g. urban_management, housing, water, civil_affairs
    level: Level
    area_code: str  # jurisdiction


class DutyRule(BaseModel):
    """权责清单 entry: category handled at a level by a kind of department, with a deadline and a legal basis.

    工作事项准入: a rule without a legal basis or a responsible department kind is refused.
    """

    model_config = ConfigDict(frozen=True)

    category_code: str
    level: Level
    department_kind: str
    deadline_hours: int = Field(gt=0, le=24 * 90)
    working_hours: bool = True  # the deadline counts working hours; False: natural (calendar) hours
    helper_kinds: tuple[str, ...] = ()  # 协办: kinds of department at the same level that help on every case
    legal_basis: str
    version: int = 1

    @field_validator("legal_basis", "department_kind")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError(
                "must not be blank (工作事项准入: a duty needs a legal basis and a responsible body)"
            )
        return value.strip()


class LocateMethod(StrEnum):
    COVERS = "covers"  # the point lies in (or on the edge of) the unit
    NEAREST_OFFSHORE = "nearest_offshore"  # a short bounded distance outside every unit: nearest one taken


class Location(BaseModel):
    """Where a point lies: one code per level, as deep as boundaries exist.

    Edge rule: a point on a shared edge is covered by both units; the one with the lower code wins, at every
    level, so the in-memory index and PostGIS agree.
    """

    model_config = ConfigDict(frozen=True)

    city: str | None = None
    district: str | None = None
    township: str | None = None
    community: str | None = None
    grid: str | None = None
    synthetic: bool = False  # the deepest unit's boundary was generated, not surveyed
    method: LocateMethod = LocateMethod.COVERS
    offshore_distance_m: float | None = None
    # Units (deepest level) that the GPS accuracy circle also touches, besides the chosen one.
    candidates: tuple[str, ...] = ()

    @property
    def deepest(self) -> str | None:
        return self.grid or self.community or self.township or self.district or self.city

    def code_at(self, level: Level) -> str | None:
        value: str | None = getattr(self, level.value)
        return value
