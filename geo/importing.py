"""Reading a city's official boundaries (GeoJSON, Shapefile, GeoPackage, through pyogrio) and checking them
before anything is written: every refusal names the feature, and nothing is half-imported.

Checks: the file is in WGS-84 (or CGCS2000, which differs by centimetres); each feature has a code of the
level being imported that fits the hierarchy (12 digits, or a grid's 13-15, whose parent exists, and agrees
with the parent field if one is given), a name, and a polygonal boundary. An invalid ring is repaired with
make_valid when that leaves a polygon, else refused. Overlaps between siblings, gaps inside their parent
and parts beyond it are reported with their area (`geo.tiling_check`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyogrio
import shapely
from pyogrio.errors import DataLayerError, DataSourceError
from shapely import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from geo.schemas import LEVEL_ORDER, AreaSpec, Level, ancestor_code, level_of_code
from geo.synthetic import as_multipolygon
from geo.tiling_check import Finding, tiling_findings

# CGCS2000 (EPSG:4490), China's official datum, agrees with WGS-84 to centimetres; taken as is.
ACCEPTED_CRS = ("EPSG:4326", "OGC:CRS84", "EPSG:4490")
Progress = Callable[[int], None]


class ImportRefused(ValueError):
    """The file cannot be imported as it is; the message names the feature or field."""


@dataclass(frozen=True)
class Existing:
    """What the database holds at the imported level and the one above (for parents, siblings, gaps)."""

    parents: Mapping[str, BaseGeometry | None]  # code -> boundary, at the parent level
    siblings: Mapping[str, tuple[str | None, BaseGeometry | None]]  # code -> (parent, boundary), this level


@dataclass
class ImportPlan:
    level: Level
    specs: list[AreaSpec]
    repaired: list[str] = field(default_factory=list)  # "feature 3 (code …): why it was invalid"
    findings: list[Finding] = field(default_factory=list)


@dataclass(frozen=True)
class RawFeature:
    number: int  # 1-based position in the file, as a person counts
    code: object
    name: object
    parent: object
    wkb: bytes | None


def read_features(
    path: Path, *, code_field: str, name_field: str, parent_field: str | None = None, layer: str | None = None
) -> list[RawFeature]:
    """The features of one layer, with the named fields; refuses unknown fields and foreign CRSs."""
    try:
        meta, _fids, geometry, data = pyogrio.raw.read(str(path), layer=layer, force_2d=True)
    except (DataSourceError, DataLayerError) as exc:
        raise ImportRefused(f"cannot read {path}: {exc}") from None
    fields = list(meta["fields"])
    for option, name in (
        ("--code-field", code_field),
        ("--name-field", name_field),
        ("--parent-field", parent_field),
    ):
        if name is not None and name not in fields:
            raise ImportRefused(f"{option}: no field {name!r} in {path.name} (fields: {', '.join(fields)})")
    crs = meta.get("crs")
    if crs is not None and str(crs).upper() not in ACCEPTED_CRS:
        raise ImportRefused(
            f"{path.name} is in {crs}; gridflow stores WGS-84: reproject it to EPSG:4326 first"
        )
    column = {name: data[fields.index(name)] for name in {code_field, name_field, parent_field} if name}
    count = len(geometry) if geometry is not None else 0
    return [
        RawFeature(
            number=i + 1,
            code=column[code_field][i],
            name=column[name_field][i],
            parent=column[parent_field][i] if parent_field else None,
            wkb=geometry[i],
        )
        for i in range(count)
    ]


def _text(value: object) -> str:
    """A field value as text; numeric codes read from a Shapefile come as integers or floats."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def _code(raw: RawFeature, level: Level) -> tuple[str, str | None]:
    """(code, parent code) of one feature, or a refusal that names it."""
    code = _text(raw.code)
    where = f"feature {raw.number} (code {code or 'missing'})"
    if level is Level.GRID:
        if not (code.isdigit() and 13 <= len(code) <= 15):
            raise ImportRefused(f"{where}: a grid code is the community's 12 digits and a sequence")
        parent: str | None = code[:12]
    else:
        try:
            found = level_of_code(code)
        except ValueError as exc:
            raise ImportRefused(f"{where}: {exc}") from None
        if found is not level:
            raise ImportRefused(f"{where}: a {found.value} code, not a {level.value} code")
        parent = None if level is Level.CITY else ancestor_code(code, LEVEL_ORDER[level.depth - 1])
    given = _text(raw.parent)
    if raw.parent is not None and given != parent:
        raise ImportRefused(f"{where}: the parent field says {given!r}, but the code belongs to {parent}")
    return code, parent


def _boundary(raw: RawFeature, code: str, repaired: list[str]) -> MultiPolygon:
    where = f"feature {raw.number} (code {code})"
    if raw.wkb is None:
        raise ImportRefused(f"{where}: no boundary")
    geometry = shapely.from_wkb(raw.wkb)
    if not isinstance(geometry, Polygon | MultiPolygon) or geometry.is_empty:
        raise ImportRefused(f"{where}: boundary is a {geometry.geom_type}, not a polygon")
    if not geometry.is_valid:
        reason = explain_validity(geometry)
        fixed = as_multipolygon(shapely.make_valid(geometry))
        if fixed.is_empty or fixed.area < geometry.area * 1e-6:
            raise ImportRefused(f"{where}: invalid boundary ({reason}) that make_valid cannot repair")
        repaired.append(f"{where}: {reason}")
        return fixed
    return as_multipolygon(geometry)


def plan_import(
    features: Sequence[RawFeature], level: Level, existing: Existing, progress: Progress | None = None
) -> ImportPlan:
    """Check every feature and the tiling; the specs to write, or ImportRefused for the first bad feature."""
    if not features:
        raise ImportRefused("the layer has no features")
    plan = ImportPlan(level=level, specs=[])
    seen: dict[str, int] = {}
    for raw in features:
        code, parent = _code(raw, level)
        if code in seen:
            raise ImportRefused(f"feature {raw.number}: code {code} again (first at feature {seen[code]})")
        seen[code] = raw.number
        if parent is not None and parent not in existing.parents:
            above = LEVEL_ORDER[level.depth - 1].value
            raise ImportRefused(f"feature {raw.number} (code {code}): its {above} {parent} does not exist")
        name = _text(raw.name)
        if not name:
            raise ImportRefused(f"feature {raw.number} (code {code}): no name")
        boundary = _boundary(raw, code, plan.repaired)
        plan.specs.append(
            AreaSpec(
                code=code, name=name, level=level, parent_code=parent, geometry=boundary, synthetic=False
            )
        )
        if progress:
            progress(1)
    plan.findings = tiling_findings(plan.specs, existing.parents, existing.siblings)
    return plan
