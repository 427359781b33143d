"""The reading side of Open311: discovery, the service list and definitions, and a client's requests as the
spec shows them, from gridflow's reports and cases.

A request is a report: `service_request_id` is the report id, and what happens to it is its case's (a
duplicate joins an open case and follows it). `status` is closed once the case is closed, evaluated or voided
(cases.states.TERMINAL_STATES), open before; `status_notes` carries the state itself, in Chinese and as its
code; `expected_datetime` is the case's deadline; `agency_responsible` its lead department (主办).

A client sees only the requests it submitted, though the spec has GET requests public: a request holds a
resident's words and the point where they stood, personal data under the PIPL (个人信息保护法) which another
client has no need of. Who reported is never shown (a case's other reporters neither).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, tzinfo
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from accounts.roles import Principal
from api.open311 import queries
from api.open311.errors import bad_request, not_found
from api.open311.formats import MEDIA_TYPES
from api.open311.intake import media_url_of
from api.open311.queries import Filters
from api.open311.schemas import Discovery, Endpoint, Service, ServiceDefinition, ServiceRequest
from cases.model import Case
from cases.states import STATE_LABELS, TERMINAL_STATES, CaseState
from geo.schemas import CategoryKind

MAX_SPAN = timedelta(days=90)  # the spec's default window and the widest it allows
MAX_IDS = 200
KIND_LABELS = {CategoryKind.COMPONENT.value: "部件", CategoryKind.EVENT.value: "事件"}
# A report's state before its case exists (stream.events.CaseState.REPORTED): received, not yet decided.
RECEIVED = ("reported", "已受理")
CONTACT = "gridflow 网格化管理平台（城市运行管理指挥中心），接入问题请联系平台管理员"
KEY_SERVICE = (
    "API 密钥由平台管理员签发给具名客户端（POST /api/v1/api-keys，或 gridflow apikey issue <名称>），"
    "只显示一次"
)
_SERVICE_CODE = re.compile(r"^[0-9]{4,6}$")


async def discovery(conn: AsyncConnection, *, endpoint_url: str) -> Discovery:
    changed = await queries.catalogue_changed_at(conn)
    changeset = changed.isoformat(timespec="seconds") if changed else "0"
    formats = [MEDIA_TYPES[f].split(";")[0] for f in MEDIA_TYPES]
    endpoint = Endpoint(url=endpoint_url, changeset=changeset, formats=formats)
    return Discovery(changeset=changeset, contact=CONTACT, key_service=KEY_SERVICE, endpoints=[endpoint])


async def services(conn: AsyncConnection) -> list[Service]:
    """Every category (小类), grouped by its GB/T 30428.2 kind and major group (部件·市容环境类): the major
    groups' names repeat across kinds, so the kind is part of the group."""
    found = []
    for row in await queries.service_list(conn):
        kind = KIND_LABELS.get(row.kind, row.kind)
        found.append(
            Service(
                service_code=row.code,
                service_name=row.name,
                description=f"{row.name}（{kind}·{row.major_name}，GB/T 30428.2）",
                keywords=f"{row.name}, {row.major_name}, {kind}",
                group=f"{kind}·{row.major_name}",
            )
        )
    return found


async def definition(conn: AsyncConnection, *, service_code: str) -> ServiceDefinition:
    """The code's definition: no attributes, for no category asks for any; 404 for an unknown code."""
    if not any(service.service_code == service_code for service in await services(conn)):
        raise not_found(f"service_code {service_code[:20]!r} was not found (未知的事项类别)")
    return ServiceDefinition(service_code=service_code)


def _listed(raw: str | None) -> list[str]:
    return [item.strip() for item in (raw or "").split(",") if item.strip()]


def _datetime(params: Mapping[str, str], name: str) -> datetime | None:
    raw = params.get(name) or None
    if raw is None:
        return None
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        example = "2026-12-01T00:00:00Z"
        raise bad_request(name, f"{raw[:40]!r} is not a w3c datetime with a time zone, e.g. {example}")
    return parsed


def parse_filters(params: Mapping[str, str], *, now: datetime) -> Filters:
    """GET requests' filters as the spec defines them; 400 naming the argument that is wrong.

    Without dates, the most recent 90 days; with one date, the 90 days from or to it; never more than 90.
    """
    ids = _listed(params.get("service_request_id"))
    if ids:  # the spec: it overrides all other arguments
        if len(ids) > MAX_IDS:
            raise bad_request("service_request_id", f"at most {MAX_IDS} ids at once")
        try:
            return Filters(ids=tuple(UUID(item) for item in ids))
        except ValueError:
            raise bad_request("service_request_id", "ids are UUIDs, comma separated") from None
    codes = _listed(params.get("service_code"))
    if not all(_SERVICE_CODE.match(code) for code in codes):
        raise bad_request("service_code", "codes of 4 to 6 digits, comma separated (see services.xml)")
    statuses = _listed(params.get("status"))
    if not set(statuses) <= {"open", "closed"}:
        raise bad_request("status", "open or closed, comma separated")
    start, end = _datetime(params, "start_date"), _datetime(params, "end_date")
    if start is None and end is None:
        start, end = now - MAX_SPAN, now
    elif start is None:
        assert end is not None
        start = end - MAX_SPAN
    elif end is None:
        end = start + MAX_SPAN
    if end < start:
        raise bad_request("end_date", "end_date lies before start_date")
    if end - start > MAX_SPAN:
        raise bad_request("start_date", "the range may not span more than 90 days")
    return Filters(service_codes=tuple(codes), start=start, end=end, statuses=tuple(statuses))


async def requests(
    conn: AsyncConnection, *, client: Principal, filters: Filters, base_url: str, tz: tzinfo
) -> list[ServiceRequest]:
    """The client's requests matching `filters`, newest first, at most the spec's 1000."""
    rows = await queries.requests(conn, reporter_id=client.reporter_id, filters=filters)
    found = [(row, Case.model_validate(row.doc) if row.doc is not None else None) for row in rows]
    areas = {code for row, _ in found for code in _area_codes(row)}
    departments = {case.department_code for _, case in found if case and case.department_code}
    names = await queries.names(conn, area_codes=areas, department_codes=departments)
    return [present(row, case, names=names, base_url=base_url, tz=tz) for row, case in found]


async def one_request(
    conn: AsyncConnection, *, client: Principal, service_request_id: str, base_url: str, tz: tzinfo
) -> ServiceRequest:
    """One of the client's requests; 404 for an id that is not one (or not yet recorded)."""
    missing = not_found(
        f"service_request_id {service_request_id[:40]!r} was not found: a request just submitted shows "
        "within seconds (请求不存在或尚在处理队列中)"
    )
    try:
        report_id = UUID(service_request_id)
    except ValueError:
        raise missing from None
    found = await requests(conn, client=client, filters=Filters(ids=(report_id,)), base_url=base_url, tz=tz)
    if not found:
        raise missing
    return found[0]


def _area_codes(row: Any) -> list[str]:
    return [code for level in queries.AREA_LEVELS if (code := getattr(row, f"{level}_code"))]


def status_notes(state: str) -> str:
    """The lifecycle state as `已派遣 (dispatched)`."""
    if state == RECEIVED[0]:
        return f"{RECEIVED[1]} ({state})"
    try:
        return f"{STATE_LABELS[CaseState(state)]} ({state})"
    except ValueError:  # a state newer than this API: show it rather than fail the request
        return state


def present(
    row: Any, case: Case | None, *, names: Mapping[str, str], base_url: str, tz: tzinfo
) -> ServiceRequest:
    """A report and its case (None before the case opens) as the spec's service request."""
    closed = row.state in {s.value for s in TERMINAL_STATES}
    if case is not None:
        agency = names.get(case.department_code) if case.department_code else None
        expected, updated = case.deadline_at, case.closed_at or case.updated_at
    else:  # routed, the case not yet open: what the routing decided
        agency, expected, updated = row.department_name, row.deadline_at, row.submitted_at
    attachments: Sequence[str] = row.attachments or ()
    media = (
        f"{base_url}/api/v1/reports/{row.report_id}/attachments/{attachments[0]}"
        if attachments
        else media_url_of(row.description or "")
    )
    address = ", ".join(names[code] for code in _area_codes(row) if code in names)
    return ServiceRequest(
        service_request_id=str(row.report_id),
        status="closed" if closed else "open",
        status_notes=status_notes(row.state),
        service_name=row.category_name,
        service_code=row.category,
        description=row.description or None,
        agency_responsible=agency,
        requested_datetime=row.submitted_at.astimezone(tz),
        updated_datetime=updated.astimezone(tz),
        expected_datetime=expected.astimezone(tz) if expected else None,
        address=address or None,
        lat=row.lat,
        long=row.long,
        media_url=media,
    )
