"""How a report's point is located, end to end: converted from the phone's CRS, a pier just off the coast
going to the nearest unit with the distance recorded, and a GPS accuracy circle across a district border
naming every candidate."""

from __future__ import annotations

from geo.crs import from_wgs84
from tests.e2e.test_report_trip import LANDMARKS, post_report, report, wait_decided
from tests.fixtures import LiveSystem


def _routed(system: LiveSystem, body: dict[str, object]) -> dict[str, object]:
    assert post_report(system, body).status_code == 202
    answer = wait_decided(system, str(body["report_id"]))
    assert answer["status"] == "routed", answer
    return answer


def test_gcj02_point_is_converted_and_routed_where_it_really_is(live_system: LiveSystem):
    (lon, lat), district = LANDMARKS["中山广场"]
    shifted = from_wgs84(lon, lat, "gcj02")  # what a phone map SDK in China reports: hundreds of metres off
    body = report(*shifted)
    body["location"] = {"lon": shifted[0], "lat": shifted[1], "accuracy_m": 5.0, "crs": "gcj02"}
    answer = _routed(live_system, body)
    assert answer["area"]["district"] == f"{district}000000"
    stored = live_system.count(
        "SELECT round(100 * ST_Distance(point::geography, ST_MakePoint(:x, :y)::geography)) FROM reports "
        "WHERE report_id = :r",
        x=lon,
        y=lat,
        r=body["report_id"],
    )
    assert stored <= 100  # centimetres: the WGS-84 point kept for the case is within a metre of the truth
    assert (
        live_system.count(
            "SELECT count(*) FROM reports WHERE report_id = :r AND crs = 'gcj02'", r=body["report_id"]
        )
        == 1
    )


def test_point_just_offshore_goes_to_the_nearest_unit_with_the_distance_recorded(live_system: LiveSystem):
    answer = _routed(live_system, report(121.585, 38.866))  # off 星海湾, under 2 km from the shore
    area = answer["area"]
    assert area["method"] == "nearest_offshore"
    assert 0 < area["offshore_distance_m"] <= 2_000
    assert area["district"] == "210204000000" and area["grid"]


def test_accuracy_circle_across_a_district_border_names_every_candidate(live_system: LiveSystem):
    body = report(121.6200, 38.9150)  # 西岗区, 300 m from 中山区
    body["location"] = {"lon": 121.6200, "lat": 38.9150, "accuracy_m": 300.0, "crs": "wgs84"}
    area = _routed(live_system, body)["area"]
    assert area["method"] == "covers" and area["district"] == "210203000000"
    assert area["grid"] not in area["candidates"] and len(set(area["candidates"])) == len(area["candidates"])
    assert {code[:6] for code in area["candidates"]} >= {"210202", "210203"}
    narrow = report(121.6200, 38.9150)  # the same point with a 1 m fix reaches no other unit
    narrow["location"] = {"lon": 121.6200, "lat": 38.9150, "accuracy_m": 1.0, "crs": "wgs84"}
    assert _routed(live_system, narrow)["area"]["candidates"] == []
