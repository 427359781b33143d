"""Shared, read-only fixtures: the whole Dalian hierarchy and its index are built once per test session."""

from __future__ import annotations

import pytest

from geo.hierarchy import dalian_areas
from geo.index import AreaIndex
from geo.schemas import AreaSpec, Level


@pytest.fixture(scope="session")
def areas() -> list[AreaSpec]:
    return dalian_areas()


@pytest.fixture(scope="session")
def by_code(areas: list[AreaSpec]) -> dict[str, AreaSpec]:
    return {area.code: area for area in areas}


@pytest.fixture(scope="session")
def by_level(areas: list[AreaSpec]) -> dict[Level, list[AreaSpec]]:
    grouped: dict[Level, list[AreaSpec]] = {level: [] for level in Level}
    for area in areas:
        grouped[area.level].append(area)
    return grouped


@pytest.fixture(scope="session")
def index(areas: list[AreaSpec]) -> AreaIndex:
    return AreaIndex(areas)
