"""Versions of the city's places and rules: one counter per kind of edit, in PostGIS (`geo_versions`).

Every edit bumps its kind's counter in the edit's own transaction, so a reader that sees the new data sees
the new number too. Workers compare the numbers before every batch (one primary-key read) and reload what
changed; every routing decision records the numbers it used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from sqlalchemy import Connection, func, select, update

from geo.models import geo_versions

VersionKind = Literal["areas", "duty_rules", "departments"]
VERSION_KINDS: tuple[VersionKind, ...] = get_args(VersionKind)


@dataclass(frozen=True)
class Versions:
    areas: int  # boundaries and the hierarchy
    duty_rules: int  # the responsibility list (and the categories it names)
    departments: int


def read_versions(conn: Connection) -> Versions:
    rows = {
        str(kind): int(version)
        for kind, version in conn.execute(select(geo_versions.c.kind, geo_versions.c.version))
    }
    missing = [kind for kind in VERSION_KINDS if kind not in rows]
    if missing:
        raise LookupError(f"geo_versions has no row for {missing}: is the schema migrated (revision 0002)?")
    return Versions(**{kind: int(rows[kind]) for kind in VERSION_KINDS})


def bump_version(conn: Connection, kind: VersionKind, *, actor: str, note: str = "") -> int:
    """Count one edit of `kind`; returns the new version. The row lock orders concurrent edits."""
    if kind not in VERSION_KINDS:
        raise ValueError(f"kind: expected one of {VERSION_KINDS}, got {kind!r}")
    version = conn.execute(
        update(geo_versions)
        .where(geo_versions.c.kind == kind)
        .values(version=geo_versions.c.version + 1, updated_at=func.now(), updated_by=actor, note=note)
        .returning(geo_versions.c.version)
    ).scalar_one()
    return int(version)
