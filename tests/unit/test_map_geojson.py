"""The map's GeoJSON writing and its shapes cache, with plain data (no database)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from types import SimpleNamespace
from uuid import uuid4

from api.map.geojson import ShapeCache, areas_collection, cases_collection, reports_collection
from api.map.queries import Shape, Shapes

SQUARE = '{"type":"Polygon","coordinates":[[[121.6,38.9],[121.7,38.9],[121.7,39.0],[121.6,38.9]]]}'


def shape(code: str, population: int | None = 20_000, parent: str | None = "210202000000") -> Shape:
    return Shape(code, f"区划{code[-3:]}", "township", parent, population, True, SQUARE, (121.65, 38.95))


def shapes(*children: Shape) -> Shapes:
    return Shapes(
        area=shape("210202000000", 380_630, "210200000000"),
        bbox=(121.6, 38.9, 121.7, 39.0),
        children=children,
    )


def test_children_carry_their_open_and_overdue_cases_per_10k_residents():
    a, b = shape("210202001000"), shape("210202005000", population=None)
    text = areas_collection(
        shapes(a, b), 3, Counter({a.code: 5, b.code: 2}), Counter({a.code: 1}), {a.code, b.code}
    )
    body = json.loads(text)
    assert body["type"] == "FeatureCollection" and body["areas_version"] == 3
    assert body["area"]["code"] == "210202000000" and body["outline"]["type"] == "Polygon"
    first, second = (f["properties"] for f in body["features"])
    assert (first["open"], first["overdue"], first["open_per_10k"], first["overdue_per_10k"]) == (
        5,
        1,
        2.5,
        0.5,
    )
    assert second["open_per_10k"] is None and second["overdue"] == 0  # no residents known: no rate
    assert body["features"][0]["geometry"]["coordinates"][0][0] == [121.6, 38.9]


def test_children_the_caller_does_not_see_are_left_out():
    a, b = shape("210202001000"), shape("210202005000")
    body = json.loads(areas_collection(shapes(a, b), 1, Counter(), Counter(), {b.code}))
    assert [f["properties"]["code"] for f in body["features"]] == [b.code]


def test_cases_say_when_more_matched_than_were_drawn():
    row = SimpleNamespace(
        case_id=uuid4(), state="triage", category="10101", level="city", pending=None, deadline_at=None,
        opened_at=datetime(2026, 12, 1, tzinfo=UTC), overdue=False, lon=121.6395, lat=38.9212,
    )  # fmt: skip
    body = json.loads(cases_collection([row], total=7, limit=1))
    assert body["truncated"] is True and body["total"] == 7
    props = body["features"][0]["properties"]
    assert props["state_label"] == "待分拨" and body["features"][0]["geometry"]["coordinates"] == [
        121.6395,
        38.9212,
    ]


def test_a_report_without_a_place_has_no_geometry_but_keeps_its_photos():
    row = SimpleNamespace(
        report_id=uuid4(), category="10101", description="井盖缺失", status="triage", lon=None, lat=None,
        observed_at=datetime(2026, 12, 1, tzinfo=UTC), submitted_at=None, attachments=["ab" * 32],
    )  # fmt: skip
    body = json.loads(reports_collection("c", [row]))
    assert body["features"][0]["geometry"] is None
    assert body["features"][0]["properties"]["attachments"] == ["ab" * 32]


def test_the_cache_keys_shapes_by_areas_version_and_forgets_the_least_used():
    cache = ShapeCache(size=2)
    cache.put("a", 1, shapes())
    cache.put("b", 1, shapes())
    assert cache.get("a", 1) is not None  # a is now the most recently used
    cache.put("c", 1, shapes())
    assert cache.get("b", 1) is None and cache.get("a", 1) is not None
    assert cache.get("a", 2) is None  # an edit of the boundaries: the old shapes are never read again
