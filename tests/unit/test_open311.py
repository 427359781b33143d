"""Open311's decisions on plain data, without a server: the spec's XML, the list's filters, a form read as a
report (and refused naming the spec's field), a report and its case shown as a service request, and the
error table."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.exc import OperationalError

from api.errors import BrokerUnavailable, InvalidInput
from api.open311.errors import Open311Error, as_open311
from api.open311.intake import MEDIA_NOTE, media_url_of, report_from_form
from api.open311.queries import Filters
from api.open311.service import MAX_SPAN, parse_filters, present, status_notes
from api.open311.xml import to_xml
from api.reports.outline import CATEGORIES
from cases.calendar import default_calendar
from cases.model import open_case
from cases.states import CaseState
from geo.schemas import Level

NOW = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")
ID = UUID("00000000-0000-4000-8000-0000000000aa")
FORM = {"service_code": "10302", "lat": "38.9212", "long": "121.6395", "description": "公厕门锁损坏"}


@pytest.fixture(autouse=True)
def known_categories() -> Iterator[None]:
    saved = CATEGORIES.codes
    CATEGORIES.codes = frozenset({"10101", "10302"})
    yield
    CATEGORIES.codes = saved


def refused(form: dict[str, str], reporter_id: str = "open311:hotline") -> Open311Error:
    with pytest.raises(Open311Error) as caught:
        report_from_form(form, reporter_id=reporter_id, report_id=ID, now=NOW)
    return caught.value


# The spec's XML


def test_a_list_becomes_a_container_of_named_children_and_null_an_empty_element():
    document = [{"service_code": "10101", "metadata": False, "group": None}]
    written = to_xml("services", document)
    assert written.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    root = ET.fromstring(written)
    assert root.tag == "services" and [child.tag for child in root] == ["service"]
    group = root.find("service/group")
    assert root.findtext("service/metadata") == "false" and group is not None and group.text is None


def test_nested_lists_take_the_spec_child_names():
    root = ET.fromstring(to_xml("discovery", {"endpoints": [{"formats": ["text/xml", "application/json"]}]}))
    assert [f.text for f in root.iterfind("endpoints/endpoint/formats/format")] == [
        "text/xml",
        "application/json",
    ]


def test_characters_xml_cannot_carry_are_replaced_not_fatal():
    root = ET.fromstring(to_xml("errors", [{"code": 400, "description": "bad \x00 value \ufffe"}]))
    assert root.findtext("error/description") == "bad \ufffd value \ufffd"


def test_a_list_without_a_child_name_is_a_programming_error():
    with pytest.raises(ValueError, match="child element"):
        to_xml("unknown", [1])


# GET requests' filters


def test_without_dates_the_last_90_days_are_searched():
    assert parse_filters({}, now=NOW) == Filters(start=NOW - MAX_SPAN, end=NOW)


def test_one_date_gives_the_90_days_from_or_to_it():
    start = datetime(2026, 10, 1, tzinfo=UTC)
    assert parse_filters({"start_date": "2026-10-01T00:00:00Z"}, now=NOW).end == start + MAX_SPAN
    assert parse_filters({"end_date": "2026-10-01T00:00:00Z"}, now=NOW).start == start - MAX_SPAN


def test_ids_override_every_other_filter():
    filters = parse_filters({"service_request_id": f"{ID}, {ID}", "status": "nonsense"}, now=NOW)
    assert filters == Filters(ids=(ID, ID))


def test_empty_arguments_count_as_absent_and_lists_are_comma_separated():
    filters = parse_filters(
        {"service_code": "10101,10302", "status": "open,closed", "start_date": ""}, now=NOW
    )
    assert filters.service_codes == ("10101", "10302") and filters.statuses == ("open", "closed")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-04-02T00:00:00Z"}, "start_date"),
        ({"start_date": "2026-03-01T00:00:00Z", "end_date": "2026-02-01T00:00:00Z"}, "end_date"),
        ({"end_date": "2026-03-01T00:00:00"}, "end_date"),
        ({"start_date": "yesterday"}, "start_date"),
        ({"status": "open,pending"}, "status"),
        ({"service_code": "10101,abc"}, "service_code"),
        ({"service_request_id": "42"}, "service_request_id"),
    ],
)
def test_a_bad_filter_is_a_400_naming_it(params: dict[str, str], field: str):
    with pytest.raises(Open311Error) as caught:
        parse_filters(params, now=NOW)
    assert caught.value.status == 400 and caught.value.descriptions[0].startswith(f"{field}: ")


# POST requests: the form as a report


def test_a_form_becomes_the_report_intake_would_take():
    report = report_from_form(FORM, reporter_id="open311:hotline", report_id=ID, now=NOW)
    assert (report.report_id, report.reporter_id, report.category) == (ID, "open311:hotline", "10302")
    assert (report.location.lat, report.location.lon, report.location.crs.value) == (
        38.9212,
        121.6395,
        "wgs84",
    )
    assert report.observed_at == NOW and report.description == "公厕门锁损坏" and report.attachments == []


def test_form_line_breaks_are_kept_as_newlines_and_notes_follow_the_description():
    form = {
        **FORM,
        "description": "门锁损坏\r\n无法关门\r",
        "address_string": "中山路 1号\n",
        "media_url": "https://example.org/1.jpg",
    }
    report = report_from_form(form, reporter_id="open311:hotline", report_id=ID, now=NOW)
    assert report.description.splitlines() == [
        "门锁损坏",
        "无法关门",
        "",
        "地址描述 address_string：中山路 1号",
        "",
        MEDIA_NOTE + "https://example.org/1.jpg",
    ]
    assert media_url_of(report.description) == "https://example.org/1.jpg"


def test_the_residents_contact_details_are_not_kept():
    contact = {"email": "a@example.org", "phone": "13800000000", "first_name": "三", "attribute[x]": "y"}
    report = report_from_form({**FORM, **contact}, reporter_id="open311:hotline", report_id=ID, now=NOW)
    assert "13800000000" not in report.model_dump_json() and "a@example.org" not in report.model_dump_json()


@pytest.mark.parametrize(
    ("changes", "status", "field"),
    [
        ({"lat": "91"}, 400, "lat"),
        ({"long": "east"}, 400, "long"),
        ({"lat": "Infinity"}, 400, "lat"),
        ({"lat": ""}, 400, "lat"),
        ({"lat": "", "long": "", "address_string": "中山路1号"}, 400, "lat"),
        ({"service_code": ""}, 400, "service_code"),
        ({"service_code": "99999"}, 404, None),
        ({"service_code": "x" * 500}, 404, None),
        ({"description": "a\x07b"}, 400, "description"),
        ({"media_url": "ftp://example.org/1.jpg"}, 400, "media_url"),
        ({"media_url": "https://example.org/a b.jpg"}, 400, "media_url"),
        ({"address_string": "路" * 201}, 400, "address_string"),
    ],
)
def test_a_refused_form_names_the_spec_field(changes: dict[str, str], status: int, field: str | None):
    error = refused({**FORM, **changes})
    assert error.status == status
    assert field is None or error.descriptions[0].startswith(f"{field}: "), error.descriptions


def test_a_client_name_that_cannot_be_a_reporter_id_is_a_problem_of_the_key():
    assert refused(FORM, reporter_id="open311:市民 热线").status == 403


# A report and its case as a service request


def row(state: str, **extra: Any) -> SimpleNamespace:
    fields: dict[str, Any] = {
        "report_id": ID,
        "state": state,
        "category": "10302",
        "category_name": "公共厕所",
        "description": "公厕门锁损坏",
        "department_name": None,
        "deadline_at": None,
        "submitted_at": NOW,
        "attachments": [],
        "lat": 38.9212,
        "long": 121.6395,
        **{f"{level}_code": None for level in ("grid", "community", "township", "district", "city")},
        "district_code": "210202000000",
        "city_code": "210200000000",
    }
    return SimpleNamespace(**{**fields, **extra})


NAMES = {"210202000000": "中山区", "210200000000": "大连市", "210202000000:urban_management": "中山区城管局"}


def test_a_received_report_is_open_and_says_so():
    shown = present(row("reported"), None, names=NAMES, base_url="http://x", tz=SHANGHAI)
    assert (shown.status, shown.status_notes, shown.agency_responsible) == ("open", "已受理 (reported)", None)
    assert shown.address == "中山区, 大连市" and shown.media_url is None
    assert shown.model_dump(mode="json")["requested_datetime"] == "2026-12-01T09:00:00+08:00"


def test_a_dispatched_case_gives_its_deadline_and_lead_department():
    case = open_case(
        case_id=uuid4(),
        report_id=ID,
        category="10302",
        opened_at=NOW,
        calendar=default_calendar(),
        department_code="210202000000:urban_management",
        level=Level.DISTRICT,
        deadline_hours=48,
    )
    shown = present(row("dispatched"), case, names=NAMES, base_url="http://x", tz=SHANGHAI)
    assert shown.status == "open" and shown.status_notes == "已派遣 (dispatched)"
    assert shown.agency_responsible == "中山区城管局" and shown.expected_datetime == case.deadline_at
    closed = case.model_copy(update={"state": CaseState.CLOSED, "closed_at": NOW + timedelta(days=1)})
    done = present(row("closed"), closed, names=NAMES, base_url="http://x", tz=SHANGHAI)
    assert done.status == "closed" and done.updated_datetime == NOW + timedelta(days=1)


def test_the_first_photo_is_the_media_url():
    photo = "ab" * 32
    shown = present(row("reported", attachments=[photo]), None, names={}, base_url="http://x", tz=SHANGHAI)
    assert shown.media_url == f"http://x/api/v1/reports/{ID}/attachments/{photo}" and shown.address is None


@pytest.mark.parametrize(
    ("state", "notes"), [("voided", "已作废 (voided)"), ("evaluated", "已评价 (evaluated)"), ("new", "new")]
)
def test_status_notes_carry_the_label_and_the_state(state: str, notes: str):
    assert status_notes(state) == notes


# The error table


def test_domain_errors_take_the_spec_statuses_and_name_the_field():
    unknown = as_open311(InvalidInput("unknown category", field="body.category"))
    assert unknown is not None and (unknown.status, unknown.descriptions) == (
        400,
        ("category: unknown category",),
    )
    down = as_open311(BrokerUnavailable("Kafka unreachable"))
    assert down is not None and down.status == 503
    database = as_open311(OperationalError("SELECT 1", {}, Exception("gone")))
    assert database is not None and database.status == 503
    assert as_open311(RuntimeError("a bug")) is None
