"""How well units tile their parent: overlaps between siblings, gaps inside the parent, parts beyond it,
each with its area in square metres. Used to report on an import before it is written."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from geo.locate_rules import M_PER_DEG
from geo.schemas import AreaSpec

REPORT_MIN_M2 = 1.0  # smaller slivers are rounding along shared edges, not findings


@dataclass(frozen=True)
class Finding:
    kind: Literal["overlap", "gap", "beyond_parent"]
    codes: tuple[str, ...]  # overlap: the two siblings; gap: the parent; beyond_parent: child and parent
    area_m2: float


def area_m2(geometry: BaseGeometry) -> float:
    """Area in square metres, in the plane true to scale at the geometry's middle latitude (within 0.5 %
    for anything the size of a Dalian district)."""
    if geometry.is_empty:
        return 0.0
    min_y, max_y = geometry.bounds[1], geometry.bounds[3]
    kx = math.cos(math.radians((min_y + max_y) / 2)) * M_PER_DEG
    return float(shapely.area(geometry)) * kx * M_PER_DEG


def _overlaps(codes: list[str], geoms: list[BaseGeometry], imported: set[str]) -> list[Finding]:
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    array = np.array(geoms, dtype=object)
    # Interiors meeting in an area (DE-9IM 2********), not just a shared edge.
    real = shapely.relate_pattern(array[left], array[right], "2********")
    found = []
    for i, j in zip(left[real].tolist(), right[real].tolist(), strict=True):
        if codes[i] in imported or codes[j] in imported:
            area = area_m2(shapely.intersection(geoms[i], geoms[j]))
            if area >= REPORT_MIN_M2:
                found.append(Finding("overlap", (codes[i], codes[j]), area))
    return found


def tiling_findings(
    specs: Sequence[AreaSpec],
    parents: Mapping[str, BaseGeometry | None],
    siblings: Mapping[str, tuple[str | None, BaseGeometry | None]],
) -> list[Finding]:
    """Findings for the parents of `specs`, as the level will be once `specs` replace their namesakes in
    `siblings` (what the database holds at that level now)."""
    after = {code: (parent, geometry) for code, (parent, geometry) in siblings.items()}
    after.update({spec.code: (spec.parent_code, spec.geometry) for spec in specs})
    imported = {spec.code for spec in specs}
    groups: dict[str, dict[str, BaseGeometry]] = {spec.parent_code or "": {} for spec in specs}
    for code, (parent, geometry) in after.items():
        if geometry is not None and (parent or "") in groups:
            groups[parent or ""][code] = geometry
    findings: list[Finding] = []
    for parent, group in sorted(groups.items()):
        codes = sorted(group)
        geoms = [group[code] for code in codes]
        findings += _overlaps(codes, geoms, imported)
        outline = parents.get(parent)
        if outline is None:
            continue
        union = shapely.union_all(geoms)
        gap = area_m2(shapely.difference(outline, union))
        if gap >= REPORT_MIN_M2:
            findings.append(Finding("gap", (parent,), gap))
        for code, geometry in zip(codes, geoms, strict=True):
            beyond = area_m2(shapely.difference(geometry, outline)) if code in imported else 0.0
            if beyond >= REPORT_MIN_M2:
                findings.append(Finding("beyond_parent", (code, parent), beyond))
    return findings
