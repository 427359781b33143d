"""The documents of GeoReport v2, field for field as the spec names them (http://wiki.open311.org/GeoReport_v2).

Each is dumped to JSON-ready data once (`model_dump(mode="json")`) and written as JSON or, by the Spark
convention, as XML (api/open311/xml.py). Times are w3c datetimes with their offset, to the second, in the
city's time zone (`W3cDatetime`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, PlainSerializer

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# What a client learns on submitting: gridflow routes every request by the duty list (权责清单).
SERVICE_NOTICE = "已受理，将按权责清单派遣至责任部门办理，可凭 service_request_id 查询进度"


def _w3c(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


W3cDatetime = Annotated[AwareDatetime, PlainSerializer(_w3c, return_type=str)]


class _Document(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Endpoint(_Document):
    specification: str = SPECIFICATION
    url: str
    changeset: str
    type: Literal["production", "test"] = "production"
    formats: list[str]


class Discovery(_Document):
    changeset: str
    contact: str
    key_service: str
    endpoints: list[Endpoint]


class Service(_Document):
    """One category (小类) as a service type; `group` its GB/T 30428.2 major group (大类) with its kind."""

    service_code: str
    service_name: str
    description: str
    metadata: bool = False  # no category asks for attributes
    type: Literal["realtime", "batch", "blackbox"] = "realtime"  # the id is returned at once
    keywords: str
    group: str


class Attribute(_Document):
    """Declared for the definition's shape; gridflow's categories define none."""

    variable: bool
    code: str
    datatype: Literal["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]
    required: bool
    datatype_description: str | None = None
    order: int
    description: str


class ServiceDefinition(_Document):
    service_code: str
    attributes: list[Attribute] = []


class Created(_Document):
    """The answer to a POST: the id at once (`type` realtime), never a token."""

    service_request_id: str
    service_notice: str | None = SERVICE_NOTICE
    account_id: str | None = None  # gridflow keeps no accounts of the client's residents


class ServiceRequest(_Document):
    service_request_id: str
    status: Literal["open", "closed"]
    status_notes: str | None
    service_name: str | None
    service_code: str
    description: str | None
    agency_responsible: str | None
    service_notice: str | None = None
    requested_datetime: W3cDatetime
    updated_datetime: W3cDatetime
    expected_datetime: W3cDatetime | None
    address: str | None
    address_id: str | None = None  # gridflow has no master address register
    zipcode: str | None = None
    lat: float | None
    long: float | None
    media_url: str | None
