"""The map's answers as GeoJSON (RFC 7946) text, and the cache of simplified shapes.

A shape's geometry is PostGIS's GeoJSON text, spliced in as it is: the largest part of an answer is never
parsed or written again in Python. Foreign members (RFC 7946 §6.1) carry what the page needs beside the
features: the area drawn (`area`, `outline`), the counts' limits (`total`, `truncated`).
"""

from __future__ import annotations

import json
from collections import Counter, OrderedDict
from datetime import datetime
from typing import Any

from api.map.queries import Shape, Shapes
from cases.states import STATE_LABELS, CaseState

PER = 10_000  # cases per 10,000 residents, as the map colours areas
_CACHED_SHAPES = 512  # (parent, version) entries: every area with children is about 2,000 of them


class ShapeCache:
    """Simplified shapes by (parent, areas version): a boundary edit bumps the version, so a stale entry is
    never read again and ages out of the LRU."""

    def __init__(self, size: int = _CACHED_SHAPES) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[str, int], Shapes] = OrderedDict()

    def get(self, parent: str, version: int) -> Shapes | None:
        found = self._entries.get((parent, version))
        if found is not None:
            self._entries.move_to_end((parent, version))
        return found

    def put(self, parent: str, version: int, shapes: Shapes) -> None:
        self._entries[(parent, version)] = shapes
        self._entries.move_to_end((parent, version))
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _per_10k(n: int, population: int | None) -> float | None:
    return round(n * PER / population, 2) if population else None


def _area_info(shape: Shape) -> dict[str, Any]:
    return {
        "code": shape.code,
        "name": shape.name,
        "level": shape.level,
        "parent_code": shape.parent_code,
        "population": shape.population,
        "synthetic": shape.synthetic,
        "label": list(shape.label),
    }


def _feature(geometry: str, properties: dict[str, Any]) -> str:
    return f'{{"type":"Feature","geometry":{geometry},"properties":{_dumps(properties)}}}'


def areas_collection(
    shapes: Shapes, version: int, opened: Counter[str], overdue: Counter[str], visible: set[str]
) -> str:
    """The children of `shapes.area` that the caller sees, each with its open and overdue cases (and per
    10,000 residents); the area itself as `area` and `outline`."""
    features = []
    for child in shapes.children:
        if child.code not in visible:
            continue
        n_open, n_late = opened.get(child.code, 0), overdue.get(child.code, 0)
        properties = {
            **_area_info(child),
            "open": n_open,
            "overdue": n_late,
            "open_per_10k": _per_10k(n_open, child.population),
            "overdue_per_10k": _per_10k(n_late, child.population),
        }
        features.append(_feature(child.geometry, properties))
    head = {
        "type": "FeatureCollection",
        "bbox": [round(v, 6) for v in shapes.bbox],
        "area": _area_info(shapes.area),
        "areas_version": version,
    }
    body = _dumps(head)[:-1]
    outline = shapes.area.geometry
    return f'{body},"outline":{outline},"features":[{",".join(features)}]}}'


def _point(lon: float, lat: float) -> str:
    return _dumps({"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]})


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def cases_collection(rows: list[Any], total: int, limit: int) -> str:
    """Cases as points, newest first; `total` counts every match, `truncated` says whether all are drawn."""
    features = [
        _feature(
            _point(row.lon, row.lat),
            {
                "case_id": str(row.case_id),
                "state": row.state,
                "state_label": STATE_LABELS[CaseState(row.state)],
                "category": row.category,
                "level": row.level,
                "pending": row.pending,
                "deadline_at": _iso(row.deadline_at),
                "opened_at": _iso(row.opened_at),
                "overdue": bool(row.overdue),
            },
        )
        for row in rows
    ]
    head = {"type": "FeatureCollection", "total": total, "limit": limit, "truncated": total > len(rows)}
    return f'{_dumps(head)[:-1]},"features":[{",".join(features)}]}}'


def reports_collection(case_id: str, rows: list[Any]) -> str:
    """A case's reports as points (none where a report had no usable place), with their photos' hashes."""
    features = [
        _feature(
            _point(row.lon, row.lat) if row.lon is not None else "null",
            {
                "report_id": str(row.report_id),
                "category": row.category,
                "description": row.description,
                "status": row.status,
                "observed_at": _iso(row.observed_at),
                "submitted_at": _iso(row.submitted_at),
                "attachments": list(row.attachments or []),
            },
        )
        for row in rows
    ]
    head = {"type": "FeatureCollection", "case_id": case_id}
    return f'{_dumps(head)[:-1]},"features":[{",".join(features)}]}}'
