"""POST requests: the spec's form as a gridflow report, through the same intake as the field app's.

The form becomes a `ReportIn`, so a request is refused for exactly what a report would be (and the refusal
names the spec's field: `lat`, `long`, `service_code`, `description`), then `submit_report` produces it to
`reports.submitted`: routing, duplicates and the case loop treat it as any other report. Its id is a UUID the
API makes and answers at once (`type` realtime); the case opens asynchronously, so GET answers 404 for the
moment until the stream has recorded the report.

What the spec offers and gridflow does not keep, on purpose:
- the resident's `email`, `first_name`, `last_name`, `phone`, `device_id`, `account_id`: personal data the
  platform has no use for (the client system keeps its residents and answers them); not stored, not logged.
- `attribute[...]`: no category defines any, and some clients send their own with every request (FixMyStreet
  sends `attribute[title]`, `attribute[report_url]`...): ignored rather than refused.
- `media_url` is kept as a note at the end of the description for the staff, never fetched: downloading a
  URL a client names would let anyone with a key make the server call into the city's internal network
  (SSRF) or fetch anything large. Photos reach gridflow through its own upload route.
- `jurisdiction_id`: gridflow serves one city, which the spec lets a server ignore it for.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from pydantic import ValidationError

from accounts.roles import Principal
from api.open311.errors import Open311Error, bad_request, forbidden, not_found
from api.open311.schemas import Created
from api.producer import EventProducer
from api.reports.outline import CATEGORIES
from api.reports.schemas import ReportIn
from api.reports.service import submit_report
from infra.settings import Settings

log = logging.getLogger("gridflow.open311")

MAX_MEDIA_URL = 500
MAX_ADDRESS = 200
# The notes' prefixes: staff read them in the description; `media_url_of` finds the link again for GET.
MEDIA_NOTE = "外部附件链接 media_url（平台未下载）："
ADDRESS_NOTE = "地址描述 address_string："
_SERVICE_CODE = re.compile(r"^[0-9]{4,6}$")
# ReportIn's fields by the spec's names, for refusals.
_SPEC_FIELDS = {"category": "service_code"}


def value(form: Mapping[str, str], name: str) -> str | None:
    """A form field, None when absent or empty (the spec: an empty optional argument is no argument)."""
    found = form.get(name)
    return found if found else None


def report_from_form(
    form: Mapping[str, str], *, reporter_id: str, report_id: UUID, now: datetime
) -> ReportIn:
    """The report a POSTed form describes; an Open311Error (400, 404 for an unknown service_code) if none."""
    code = value(form, "service_code")
    if code is None:
        raise bad_request("service_code", "service_code was not provided (缺少事项类别)")
    if not _SERVICE_CODE.match(code) or CATEGORIES.refused(code):
        raise not_found(f"service_code {code[:20]!r} was not found (未知的事项类别): see services.xml")
    lat, long = value(form, "lat"), value(form, "long")
    if lat is None or long is None:
        raise _no_point(form, lat, long)
    # HTML forms send line breaks as CR LF; the spec allows line breaks and intake keeps them as LF only.
    description = (value(form, "description") or "").replace("\r\n", "\n").replace("\r", "\n")
    notes = [_address_note(form), _media_note(form)]
    description = "\n\n".join(part for part in [description.strip(), *notes] if part)
    try:
        return ReportIn.model_validate(
            {
                "report_id": report_id,
                "reporter_id": reporter_id,
                "category": code,
                "description": description,
                "location": {"lat": lat, "lon": long, "crs": "wgs84"},
                "observed_at": now,
            }
        )
    except ValidationError as exc:
        raise refusal(exc.errors(include_url=False)) from None


def _no_point(form: Mapping[str, str], lat: str | None, long: str | None) -> Open311Error:
    if lat is None and long is None:
        # gridflow routes by the point (area × category → department) and has no geocoder for addresses.
        given = (
            "address_string/address_id alone cannot be located"
            if (value(form, "address_string") or value(form, "address_id"))
            else "a location is required"
        )
        return bad_request("lat", f"lat and long are required: {given} (须提供 WGS-84 坐标 lat、long)")
    return bad_request("long" if long is None else "lat", "lat and long must be sent together")


def _address_note(form: Mapping[str, str]) -> str:
    address = value(form, "address_string")
    if address is None:
        return ""
    if len(address) > MAX_ADDRESS:
        raise bad_request("address_string", f"at most {MAX_ADDRESS} characters (地址描述过长)")
    return ADDRESS_NOTE + " ".join(address.split())


def _media_note(form: Mapping[str, str]) -> str:
    url = value(form, "media_url")
    if url is None:
        return ""
    parts = urlsplit(url)
    if len(url) > MAX_MEDIA_URL or parts.scheme not in ("http", "https") or not parts.netloc:
        raise bad_request("media_url", f"must be an http(s) URL of at most {MAX_MEDIA_URL} characters")
    if any(not c.isprintable() or c.isspace() for c in url):
        raise bad_request("media_url", "must not contain spaces or control characters")
    return MEDIA_NOTE + url


def media_url_of(description: str) -> str | None:
    """The client's media_url kept in a description by `_media_note`, if any."""
    for line in reversed(description.splitlines()):
        if line.startswith(MEDIA_NOTE):
            return line.removeprefix(MEDIA_NOTE)
    return None


def refusal(errors: list[Any]) -> Open311Error:
    """ReportIn's refusals as the spec's errors, each naming the spec's field; 403 when the key's client
    name cannot serve as a reporter id (a matter of the key, not of the request)."""
    descriptions: list[str] = []
    for error in errors:
        loc = tuple(error.get("loc", ()))
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        if loc[:1] == ("reporter_id",):
            return forbidden(
                "this api_key's client name cannot be a reporter id (letters, digits, . : @ - only, at most "
                "56 characters): ask for a key under another name (客户端名称不可用作上报人标识)"
            )
        descriptions.append(f"{_spec_field(loc)}: {message}")
    return Open311Error(400, *descriptions)


def _spec_field(loc: tuple[Any, ...]) -> str:
    if loc[:1] == ("location",):
        return {"lat": "lat", "lon": "long"}.get(str(loc[1]) if len(loc) > 1 else "", "lat/long")
    return _SPEC_FIELDS.get(str(loc[0]), str(loc[0])) if loc else "request"


async def submit(
    *,
    form: Mapping[str, str],
    client: Principal,
    report_id: UUID,
    now: datetime,
    producer: EventProducer,
    settings: Settings,
) -> Created:
    """Accept the form's request into the pipeline (202 semantics: once Kafka holds it)."""
    report = report_from_form(form, reporter_id=client.reporter_id, report_id=report_id, now=now)
    accepted = await submit_report(
        report=report, reporter_id=client.reporter_id, producer=producer, settings=settings
    )
    log.info("open311 request %s from client %s", accepted.report_id, client.username)
    return Created(service_request_id=str(accepted.report_id))
