"""What a worker routes with: the area index and the rule book, read from PostGIS with the versions they
were read at, and read again before a batch whenever `geo_versions` says boundaries or rules were edited.

Several workers share one consumer group, so an `areas.changes` event reaches only one of them; comparing
versions (one small primary-key read per batch) is how every worker sees every edit without a restart.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from geo.duties import category_codes, list_departments, list_rules
from geo.index import AreaIndex
from geo.read import read_areas
from geo.schemas import AreaSpec, Department, DutyRule
from geo.versions import Versions, read_versions
from stream.events import RoutingVersions

log = logging.getLogger("gridflow.stream.rulebook")


@dataclass(frozen=True)
class RuleBook:
    categories: frozenset[str]
    rules: tuple[DutyRule, ...]
    departments: dict[tuple[str, str], Department]  # by (area code, kind)
    duty_rules_version: int = 0
    departments_version: int = 0


def read_rulebook(conn: Connection) -> RuleBook:
    """The rule book as this transaction sees it (use REPEATABLE READ so the versions match the rows)."""
    versions = read_versions(conn)
    return RuleBook(
        categories=category_codes(conn),
        rules=tuple(list_rules(conn)),
        departments={(d.area_code, d.kind): d for d in list_departments(conn)},
        duty_rules_version=versions.duty_rules,
        departments_version=versions.departments,
    )


def _read_areas(conn: Connection) -> tuple[int, list[AreaSpec]]:
    return read_versions(conn).areas, read_areas(conn)


class RoutingState:
    """One worker's index and rule book; `refresh` brings them up to the versions in PostGIS."""

    def __init__(self) -> None:
        self.index: AreaIndex | None = None
        self.rulebook: RuleBook | None = None

    def needs(self, current: Versions) -> tuple[bool, bool]:
        """(index out of date, rule book out of date)."""
        book = self.rulebook
        stale_rules = book is None or (book.duty_rules_version, book.departments_version) != (
            current.duty_rules,
            current.departments,
        )
        return self.index is None or self.index.version != current.areas, stale_rules

    async def refresh(self, engine: AsyncEngine, current: Versions) -> None:
        stale_index, stale_rules = self.needs(current)
        if not (stale_index or stale_rules):
            return
        async with engine.connect() as conn:
            snapshot = await conn.execution_options(isolation_level="REPEATABLE READ")
            async with snapshot.begin():
                if stale_rules:
                    self.rulebook = await snapshot.run_sync(read_rulebook)
                    log.info(
                        "rule book loaded: duty rules v%d, departments v%d",
                        self.rulebook.duty_rules_version,
                        self.rulebook.departments_version,
                    )
                if stale_index:
                    version, specs = await snapshot.run_sync(_read_areas)
        if stale_index:
            # Building takes a fraction of a second: off the event loop, so heartbeats go on meanwhile.
            self.index = await asyncio.to_thread(lambda: AreaIndex(specs, version=version))
            log.info("area index built: boundaries v%d, %d leaves", version, len(self.index))

    def versions(self) -> RoutingVersions:
        assert self.index is not None and self.rulebook is not None, "refresh first"
        return RoutingVersions(
            areas=self.index.version or 0,
            duty_rules=self.rulebook.duty_rules_version,
            departments=self.rulebook.departments_version,
        )
