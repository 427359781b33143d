"""GeoReport v2 at /open311/v2: parse, check the key, call the service, answer in the extension's format.

Keys (`api_key`): POST requests needs one, as the spec says; GET requests and GET requests/{id} need one too,
because a client sees only its own requests (api/open311/service.py says why). Discovery and the services
are public. Every failure is answered in the spec's error format by `Open311Route` (api/open311/errors.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.routing import Match

from api.deps import ConnDep, ProducerDep, SettingsDep
from api.open311 import intake, service
from api.open311.errors import Open311Error, Open311Route, bad_request, not_found
from api.open311.formats import MEDIA_TYPES, Format, format_of, render
from api.open311.keys import client_of
from stream.router import work_calendar

PREFIX = "/open311/v2"
router = APIRouter(prefix=PREFIX, tags=["open311"], route_class=Open311Route)

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"content": {MEDIA_TYPES[f].split(";")[0]: {} for f in Format}, "description": "by the extension"},
    400: {"description": "the spec's errors: [{code, description}] / <errors><error>…"},
}
_KEYED: dict[int | str, dict[str, Any]] = {**_ANSWERS, 403: {"description": "api_key missing or invalid"}}


def _format(fmt: str) -> Format:
    found = format_of(fmt)
    if found is None:
        raise bad_request("format", f"unknown format {fmt[:10]!r}: end the resource in .xml or .json")
    return found


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.get("/discovery.{fmt}", responses=_ANSWERS)
async def discovery(fmt: str, request: Request, conn: ConnDep) -> Response:
    """Service discovery: this endpoint, its formats, how to get a key."""
    out = _format(fmt)
    document = await service.discovery(conn, endpoint_url=_base_url(request) + PREFIX)
    return render(document.model_dump(mode="json"), root="discovery", fmt=out)


@router.get("/services.{fmt}", responses=_ANSWERS)
async def service_list(fmt: str, conn: ConnDep) -> Response:
    """The service types: every report category (事项类别), with its major group as `group`."""
    out = _format(fmt)
    found = [s.model_dump(mode="json") for s in await service.services(conn)]
    return render(found, root="services", fmt=out)


@router.get("/services/{service_code}.{fmt}", responses={**_ANSWERS, 404: {"description": "unknown code"}})
async def service_definition(service_code: str, fmt: str, conn: ConnDep) -> Response:
    """A service type's definition: no attributes (none is required or asked for)."""
    out = _format(fmt)
    found = await service.definition(conn, service_code=service_code)
    return render(found.model_dump(mode="json"), root="service_definition", fmt=out)


@router.post("/requests.{fmt}", responses={**_KEYED, 404: {"description": "unknown service_code"}})
async def create_request(
    fmt: str, request: Request, producer: ProducerDep, settings: SettingsDep
) -> Response:
    """Submit a request (form-encoded, with `api_key`): it joins the field app's pipeline as a report. The
    answer carries its `service_request_id` at once; the case opens within seconds."""
    out = _format(fmt)
    form = await _form(request)
    client = await client_of(form.get("api_key"))
    created = await intake.submit(
        form=form,
        client=client,
        report_id=uuid4(),
        now=datetime.now(UTC),
        producer=producer,
        settings=settings,
    )
    return render([created.model_dump(mode="json")], root="service_requests", fmt=out)


@router.get("/requests.{fmt}", responses=_KEYED)
async def request_list(fmt: str, request: Request, conn: ConnDep) -> Response:
    """The client's own requests: `service_request_id` (comma list, overrides the rest), `service_code`,
    `start_date`, `end_date` (at most 90 days; the last 90 by default), `status` (open, closed)."""
    out = _format(fmt)
    client = await client_of(request.query_params.get("api_key"))
    filters = service.parse_filters(request.query_params, now=datetime.now(UTC))
    found = await service.requests(
        conn, client=client, filters=filters, base_url=_base_url(request), tz=work_calendar().tz
    )
    return render([r.model_dump(mode="json") for r in found], root="service_requests", fmt=out)


@router.get(
    "/requests/{service_request_id}.{fmt}", responses={**_KEYED, 404: {"description": "not the client's"}}
)
async def request_one(service_request_id: str, fmt: str, request: Request, conn: ConnDep) -> Response:
    """One of the client's requests, as a list of one (the spec's shape)."""
    out = _format(fmt)
    client = await client_of(request.query_params.get("api_key"))
    found = await service.one_request(
        conn,
        client=client,
        service_request_id=service_request_id,
        base_url=_base_url(request),
        tz=work_calendar().tz,
    )
    return render([found.model_dump(mode="json")], root="service_requests", fmt=out)


@router.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
async def unknown(rest: str, request: Request) -> Response:
    """Below /open311/v2 every answer is the spec's, an unknown resource or method too (not /api/v1's)."""
    allowed = sorted(
        method
        for route in router.routes
        if route.matches(request.scope)[0] is Match.PARTIAL
        for method in getattr(route, "methods", ())
    )
    if allowed:
        use = ", ".join(allowed)
        raise Open311Error(405, f"{request.method} is not allowed here; use {use}", headers={"Allow": use})
    raise not_found(f"no resource {rest[:60]!r}: see {PREFIX}/discovery.xml")


async def _form(request: Request) -> dict[str, str]:
    """The POSTed form, first value of each field; 400 for any other body (the spec: a form, not JSON)."""
    declared = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if declared not in _FORM_TYPES:
        raise bad_request("Content-Type", "POST a form: application/x-www-form-urlencoded; charset=utf-8")
    fields: dict[str, str] = {}
    for name, item in (await request.form()).multi_items():
        if not isinstance(item, str):
            raise bad_request(name, "files are not taken here: upload photos through /api/v1")
        fields.setdefault(name, item)
    return fields
