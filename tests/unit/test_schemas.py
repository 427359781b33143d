from __future__ import annotations

import json
import math
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from api.reports.schemas import CLOCK_SKEW, MAX_ATTACHMENTS, MAX_DESCRIPTION, MAX_REPORTER_ID, ReportIn
from geo.catalog import categories, duty_rules
from geo.schemas import DutyRule, Level, ancestor_code, level_of_code
from infra.settings import get_settings
from stream.events import Point


@pytest.mark.parametrize(
    ("code", "level"),
    [
        ("210200000000", Level.CITY),
        ("210202000000", Level.DISTRICT),
        ("210202001000", Level.TOWNSHIP),
        ("210202001001", Level.COMMUNITY),
        ("210202001001003", Level.GRID),
    ],
)
def test_level_is_read_from_the_statistical_code(code: str, level: Level):
    assert level_of_code(code) is level


@pytest.mark.parametrize("code", ["2102", "21020200000a", ""])
def test_malformed_code_is_refused(code: str):
    with pytest.raises(ValueError):
        level_of_code(code)


def test_ancestor_codes_pad_the_prefix():
    assert ancestor_code("210202001001", Level.DISTRICT) == "210202000000"
    assert ancestor_code("210202001001", Level.TOWNSHIP) == "210202001000"
    assert ancestor_code("210202001001", Level.CITY) == "210200000000"


def test_duty_rule_without_legal_basis_is_refused():
    with pytest.raises(ValidationError, match="legal basis"):
        DutyRule(
            category_code="10101",
            level=Level.DISTRICT,
            department_kind="water",
            deadline_hours=24,
            legal_basis="  ",
        )


def test_duty_rule_without_responsible_department_is_refused():
    with pytest.raises(ValidationError, match="department_kind"):
        DutyRule(
            category_code="10101",
            level=Level.DISTRICT,
            department_kind="",
            deadline_hours=24,
            legal_basis="《城市供水条例》",
        )


def test_every_category_has_a_duty_rule_with_a_legal_basis():
    ruled = {rule.category_code for rule in duty_rules()}
    assert {c.code for c in categories()} == ruled
    assert all(rule.legal_basis.startswith("《") for rule in duty_rules())


def test_category_codes_are_unique_and_keep_kind_in_the_first_digit():
    codes = [c.code for c in categories()]
    assert len(codes) == len(set(codes))
    assert all((c.code[0] == "1") == (c.kind.value == "component") for c in categories())


# The intake contract (api/reports/schemas.py): each refusal names the field, and its echo of the input is
# JSON (a NaN or a lone surrogate in the echo would make the refusal itself fail with a 500).


def report(**change: object) -> dict[str, object]:
    body: dict[str, object] = {
        "report_id": str(uuid.uuid4()),
        "reporter_id": "wg0001",
        "category": "10201",
        "description": "路面破损",
        "location": {"lon": 121.6, "lat": 38.9, "accuracy_m": 8.0, "crs": "wgs84"},
        "observed_at": datetime.now(UTC).isoformat(),
    }
    body.update(change)
    return body


def refusal(body: object) -> dict[str, dict[str, object]]:
    """The errors by dotted field, after checking that the whole answer would encode as strict JSON."""
    with pytest.raises(ValidationError) as caught:
        ReportIn.model_validate(body)
    errors = caught.value.errors(include_url=False, include_context=False)
    json.dumps(errors, allow_nan=False, ensure_ascii=False).encode()
    return {".".join(str(p) for p in error["loc"]): error for error in errors}


def at(lon: object, lat: object = 38.9, **more: object) -> dict[str, object]:
    return {"location": {"lon": lon, "lat": lat, **more}}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (at(math.nan), "location.lon"),
        (at(121.6, -math.inf), "location.lat"),
        (at(121.6, 38.9, accuracy_m=math.inf), "location.accuracy_m"),
        (at(121.6, 38.9, accuracy_m="Infinity"), "location.accuracy_m"),
        (at("NaN"), "location.lon"),
        (at(10**400), "location.lon"),
        ({"location": math.nan}, "location"),
        ({"description": math.nan}, "description"),
        ({"report_id": math.inf}, "report_id"),
    ],
    ids=[
        "nan-lon",
        "minus-inf-lat",
        "inf-accuracy",
        "infinity-string",
        "nan-string",
        "huge-int",
        "nan-point",
        "nan-text",
        "inf-uuid",
    ],
)
def test_a_number_that_is_not_finite_is_refused_naming_the_field(change: dict[str, object], field: str):
    assert field in refusal(report(**change))


def test_json_that_overflows_to_infinity_is_refused_as_not_finite():
    body = json.loads(json.dumps(report()).replace('"accuracy_m": 8.0', '"accuracy_m": 1e400'))
    assert refusal(body)["location.accuracy_m"]["type"] == "finite_number"


@pytest.mark.parametrize("field", ["description", "reporter_id", "category", "report_id", "observed_at"])
def test_a_lone_surrogate_is_refused_naming_the_field(field: str):
    error = refusal(report(**{field: "ab\ud800"}))[field]
    assert "surrogate" in error["msg"]
    assert error["input"] == "ab\\ud800"  # escaped, so the answer still encodes as UTF-8


def test_a_lone_surrogate_in_a_key_or_an_attachment_is_refused():
    assert "\\udfff" in refusal({**report(), "\udfff": 1})
    assert "attachments" in refusal(report(attachments=["\ud800" * 64]))


@pytest.mark.parametrize(
    "char", ["\x00", "\x07", "\r", "\x1b", "\x7f", "\x85", "\x9f", "\ufdd0", "\ufffe", "\U0010ffff"]
)
@pytest.mark.parametrize("field", ["description", "reporter_id"])
def test_control_characters_and_non_characters_are_refused_not_normalised(field: str, char: str):
    error = refusal(report(**{field: f"wg{char}01"}))[field]
    assert f"U+{ord(char):04X} at position 2" in error["msg"]


def test_newline_tab_emoji_and_bidi_marks_are_kept_in_a_description():
    text = "井盖丢失\n\t位置：中山路 😀 \u202eabc\u202c"
    assert ReportIn.model_validate(report(description=text)).description == text


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"description": "字" * (MAX_DESCRIPTION + 1)}, "description"),
        ({"reporter_id": "w" * (MAX_REPORTER_ID + 1)}, "reporter_id"),
        ({"attachments": ["0" * 64] * (MAX_ATTACHMENTS + 1)}, "attachments"),
    ],
    ids=["description", "reporter_id", "attachments"],
)
def test_over_the_limit_is_refused(change: dict[str, object], field: str):
    assert field in refusal(report(**change))


def test_text_at_the_limit_is_accepted():
    body = report(description="字" * MAX_DESCRIPTION, reporter_id="w" * MAX_REPORTER_ID)
    assert len(ReportIn.model_validate(body).description) == MAX_DESCRIPTION


@pytest.mark.parametrize("code", ["١٠٢٠١", "１０２０１", "102", "1020304", "10201\n"])
def test_a_category_that_is_not_four_to_six_ascii_digits_is_refused(code: str):
    assert "category" in refusal(report(category=code))


@pytest.mark.parametrize(
    ("lon", "lat", "crs"),
    [(-180, -90, "bd09"), (-180, 90, "bd09"), (180, -90, "bd09")],
)
def test_a_point_outside_the_world_once_converted_to_wgs84_is_refused(lon: float, lat: float, crs: str):
    error = refusal(report(location={"lon": lon, "lat": lat, "crs": crs}))["location"]
    assert "WGS-84" in error["msg"]


def test_a_point_near_the_edge_that_stays_inside_after_conversion_is_accepted():
    assert ReportIn.model_validate(report(location={"lon": 180, "lat": 90, "crs": "bd09"}))
    assert ReportIn.model_validate(report(location={"lon": -180, "lat": -90, "crs": "gcj02"}))


def test_a_time_without_time_zone_is_refused_saying_a_time_zone_is_needed():
    error = refusal(report(observed_at="2026-12-01T09:30:00"))["observed_at"]
    assert error["type"] == "timezone_aware"
    assert "time zone" in error["msg"] and "时区" in error["msg"]


def test_a_time_too_far_in_the_past_or_the_future_is_refused():
    max_age = get_settings().report_max_age_days
    long_ago = datetime.now(UTC) - timedelta(days=max_age, minutes=1)
    assert "past" in refusal(report(observed_at=long_ago.isoformat()))["observed_at"]["msg"]
    assert "observed_at" in refusal(report(observed_at="0001-01-01T00:00:00+14:00"))
    ahead = datetime.now(UTC) + CLOCK_SKEW + timedelta(minutes=1)
    assert "future" in refusal(report(observed_at=ahead.isoformat()))["observed_at"]["msg"]


def test_a_time_within_the_window_in_another_zone_is_accepted():
    recent = datetime.now(UTC) - timedelta(days=get_settings().report_max_age_days - 1)
    stamp = recent.astimezone(timezone(timedelta(hours=8))).isoformat()
    assert ReportIn.model_validate(report(observed_at=stamp)).observed_at == recent


def test_nesting_deeper_than_a_report_is_cut_short_in_the_echo():
    deep: object = "x"
    for _ in range(500):
        deep = [deep]
    errors = refusal(report(description=deep, extra={"a": deep}))
    assert errors["description"]["input"] == [[["[…]"]]]
    assert "extra" in errors


def test_a_body_that_is_not_json_is_refused_with_a_printable_echo():
    errors = refusal(b"\xff\xfe{not json")
    assert all(isinstance(error["input"], str) for error in errors.values())


def test_the_event_point_refuses_nan_and_infinity():
    with pytest.raises(ValidationError, match="finite"):
        Point(lon=math.nan, lat=38.9)
    with pytest.raises(ValidationError, match="finite"):
        Point(lon=121.6, lat=38.9, accuracy_m=math.inf)
