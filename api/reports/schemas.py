"""The report intake contract (POST /api/v1/reports) and the status answer.

Intake refuses, and never normalises, what the stream could not carry or a reader could not trust: numbers
that are not finite, lone surrogates (not encodable as UTF-8), control characters other than newline and tab,
Unicode non-characters, text over its limit, a point that leaves the valid range once converted to WGS-84, a
time without a time zone or outside the plausible window. Each refusal is a 422 that names the field.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Literal
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from api.reports.outline import OUTLINE
from geo.crs import to_wgs84
from infra.settings import get_settings
from stream.events import AreaCodes, DepartmentRef, Point

CLOCK_SKEW = timedelta(minutes=10)
# A grid worker types a few sentences on a phone; 2000 characters leaves room for a dictated account, and
# keeps the largest valid report, even with every character \u-escaped (12 bytes for one outside the BMP),
# well under the 64 KiB body limit of api/limits.py.
MAX_DESCRIPTION = 2000
MAX_REPORTER_ID = 64  # account codes such as wg0001; room for an e-mail address or a UUID
MAX_ATTACHMENTS = 10
# Containers deeper than a valid report (body → location → value) are cut here before validation, so that the
# error, which echoes the input, stays small and shallow.
_MAX_DEPTH = 4

# C0 controls except tab and newline, DEL, C1 controls, surrogates, and the 66 Unicode non-characters.
_REFUSED_CHARACTER = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef"
    + "".join(f"\\U{plane:04X}FFFE\\U{plane:04X}FFFF" for plane in range(17))
    + "]"
)

_SURROGATE = re.compile(r"[\ud800-\udfff]")


class _Unsendable(str):
    """What stands, before validation, for a value that a JSON error could not echo back (a non-finite
    number, a string with a lone surrogate, a container nested too deeply): its printable spelling, and why
    it is refused. A float field then refuses the spelling as not finite; a text field refuses it with the
    reason (see `_no_unsendable`)."""

    problem: str

    def __new__(cls, spelling: str, problem: str) -> _Unsendable:
        value = super().__new__(cls, spelling)
        value.problem = problem
        return value


def _sendable(value: object, depth: int = 0) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        spelling = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        return _Unsendable(spelling, "must be a finite number (须为有限数值)")
    if isinstance(value, str) and _has_surrogate(value):
        return _Unsendable(
            _escaped(value), "contains a lone surrogate, not valid Unicode (含有无效的 Unicode 字符)"
        )
    if isinstance(value, bytes | bytearray):  # a body sent without Content-Type: application/json
        return _Unsendable(bytes(value[:200]).decode("utf-8", "backslashreplace"), "must be a JSON object")
    if isinstance(value, dict | list) and depth >= _MAX_DEPTH:
        return _Unsendable("{…}" if isinstance(value, dict) else "[…]", "is nested too deeply (嵌套过深)")
    if isinstance(value, dict):
        return {_escaped(k) if isinstance(k, str) else k: _sendable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_sendable(v, depth + 1) for v in value]
    return value


def _has_surrogate(text: str) -> bool:
    return _SURROGATE.search(text) is not None


def _escaped(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode() if _has_surrogate(text) else text


def _refuse_characters(value: str) -> str:
    found = _REFUSED_CHARACTER.search(value)
    if found:
        raise ValueError(
            f"contains U+{ord(found.group()):04X} at position {found.start()}: control characters other "
            "than newline and tab, and Unicode non-characters, are refused (不能包含控制字符或非字符)"
        )
    return value


# Batch intake validates each item first without `_sendable` (a third of its cost): every value that it
# replaces would be refused anyway (a non-finite number, a lone surrogate, bytes, a container deeper than any
# valid report), so an item that passes without it would pass with it. An item refused on the first try is
# validated again the usual way, and its 422 echoes what was sent as safely as the single path does.
FIRST_TRY_KEY = "unsanitized"
FIRST_TRY = {FIRST_TRY_KEY: True}


class ReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    report_id: UUID = Field(description="client-generated UUID; the idempotency key")
    reporter_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_REPORTER_ID,
        pattern=r"^[\w.:@-]+$",
        description="optional: the signed-in user's (username); a body naming another reporter is refused",
    )
    # [0-9], not \d: the schema's regex engine reads \d as any Unicode digit (Arabic-Indic, full-width...).
    category: str = Field(pattern=r"^[0-9]{4,6}$", description="category code, see GET /api/v1/categories")
    description: str = Field(
        default="",
        max_length=MAX_DESCRIPTION,
        description="newline and tab allowed; no other control character",
    )
    location: Point
    observed_at: AwareDatetime = Field(
        description="when the worker saw it, ISO-8601 with time zone; at most GRIDFLOW_REPORT_MAX_AGE_DAYS "
        "(30) days ago and 10 minutes ahead"
    )
    attachments: list[str] = Field(
        default_factory=list, max_length=MAX_ATTACHMENTS, description="sha256 of uploaded photos"
    )

    @model_validator(mode="before")
    @classmethod
    def _echoable(cls, data: object, info: ValidationInfo) -> object:
        # A 422 echoes what was sent, and the answer is JSON: a NaN or a lone surrogate in the echo would turn
        # the refusal into a 500. So such values are replaced first by what stands for them.
        if info.context is not None and info.context.get(FIRST_TRY_KEY):
            return data  # see FIRST_TRY
        return _sendable(data)

    @field_validator("*", mode="before")
    @classmethod
    def _no_unsendable(cls, value: object) -> object:
        # Its spelling could pass as text ("NaN" is a fine description): refuse it for what it was.
        if isinstance(value, _Unsendable):
            raise ValueError(value.problem)
        return value

    @field_validator("location", mode="before")
    @classmethod
    def _not_swapped(cls, value: object) -> object:
        # Before the range checks: a swapped Dalian point has a latitude of about 122, which they would
        # refuse without saying why.
        if isinstance(value, dict):
            lon, lat = value.get("lon"), value.get("lat")
            if isinstance(lon, int | float) and isinstance(lat, int | float):
                try:
                    hint = OUTLINE.swap_hint(float(lon), float(lat))
                except OverflowError:  # an integer too large for a float: the range checks refuse it
                    return value
                if hint:
                    raise ValueError(hint)
        return value

    @field_validator("location")
    @classmethod
    def _valid_in_wgs84(cls, value: Point) -> Point:
        # The range checks hold for the coordinates as sent; the conversion from GCJ-02 or BD-09 can still
        # carry a point near the edge of the world beyond it (BD-09 (-180, -90) lands at (-180.007, -90.005)).
        lon, lat = to_wgs84(value.lon, value.lat, value.crs.value)
        if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
            raise ValueError(
                f"({value.lon}, {value.lat}) in {value.crs.value} converts to ({lon}, {lat}) in WGS-84, "
                "outside [-180, 180] × [-90, 90] (坐标转换后超出有效范围)"
            )
        return value

    @field_validator("observed_at", mode="wrap")
    @classmethod
    def _needs_time_zone(cls, value: object, handler: ValidatorFunctionWrapHandler) -> datetime:
        try:
            parsed: datetime = handler(value)
        except ValidationError as exc:
            if any(error["type"] == "timezone_aware" for error in exc.errors()):
                raise PydanticCustomError(
                    "timezone_aware",
                    "observed_at needs a time zone, e.g. 2026-12-01T09:30:00+08:00 (观察时间须带时区)",
                ) from None
            raise
        return parsed

    @field_validator("observed_at")
    @classmethod
    def _plausible_time(cls, value: datetime) -> datetime:
        now = datetime.now(UTC)
        if value > now + CLOCK_SKEW:
            raise ValueError("observed_at lies in the future (观察时间不能晚于当前时间)")
        max_age = get_settings().report_max_age_days
        if value < now - timedelta(days=max_age):
            raise ValueError(f"observed_at lies more than {max_age} days in the past (观察时间过早)")
        return value

    @field_validator("attachments")
    @classmethod
    def _hashes(cls, value: list[str]) -> list[str]:
        for item in value:
            if len(item) != 64 or any(c not in "0123456789abcdef" for c in item):
                raise ValueError(f"attachment {item!r} is not a lowercase sha256 hex digest")
        return value

    @field_validator("reporter_id", "description", mode="before")
    @classmethod
    def _printable(cls, value: object) -> object:
        # Before the pattern and length checks, so that the answer says which character is refused.
        return _refuse_characters(value) if isinstance(value, str) else value

    @field_validator("description")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()


class Accepted(BaseModel):
    report_id: UUID
    status: Literal["accepted"] = "accepted"
    content_hash: str = Field(description="sha256 of the content accepted in this request")
    duplicate: bool = Field(default=False, exclude=True)


class ConflictOut(BaseModel):
    """A later submission with this report_id and other content: refused, the first content stands."""

    content_hash: str
    submitted_at: datetime


class AreaRef(AreaCodes):
    """The codes as far as known, and their Chinese names by level (城市, 区县, 街道, 社区, 网格)."""

    names: dict[str, str] = Field(default_factory=dict)
    method: str | None = None  # covers | nearest_offshore (within the offshore bound, with the distance)
    offshore_distance_m: float | None = None
    candidates: list[str] = Field(default_factory=list)  # other units the GPS accuracy circle reaches


class VersionsOut(BaseModel):
    """The versions of boundaries, duty rules and departments the routing decision used."""

    areas: int
    duty_rules: int
    departments: int


class ReportStatus(BaseModel):
    report_id: UUID
    case_id: UUID
    status: Literal["accepted", "routed", "triage"]
    case_state: str
    category: str
    content_hash: str = Field(description="sha256 of the content that stands for this report_id")
    conflicts: list[ConflictOut] = Field(default_factory=list)
    area: AreaRef
    department: DepartmentRef | None
    triage_reason: str | None
    triage_detail: str | None
    deadline_at: datetime | None
    submitted_at: datetime
    versions: VersionsOut | None = None
