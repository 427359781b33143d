"""The report intake contract (POST /api/v1/reports) and the status answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from api.reports.outline import OUTLINE
from stream.events import AreaCodes, DepartmentRef, Point

CLOCK_SKEW = timedelta(minutes=10)


class ReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    report_id: UUID = Field(description="client-generated UUID; the idempotency key")
    reporter_id: str = Field(min_length=1, max_length=64, pattern=r"^[\w.:@-]+$")
    category: str = Field(pattern=r"^\d{4,6}$", description="category code, see GET /api/v1/categories")
    description: str = Field(default="", max_length=2000)
    location: Point
    observed_at: AwareDatetime = Field(description="when the worker saw it, ISO-8601 with time zone")
    attachments: list[str] = Field(
        default_factory=list, max_length=10, description="sha256 of uploaded photos"
    )

    @field_validator("location", mode="before")
    @classmethod
    def _not_swapped(cls, value: object) -> object:
        # Before the range checks: a swapped Dalian point has a latitude of about 122, which they would
        # refuse without saying why.
        if isinstance(value, dict):
            lon, lat = value.get("lon"), value.get("lat")
            if isinstance(lon, int | float) and isinstance(lat, int | float):
                hint = OUTLINE.swap_hint(float(lon), float(lat))
                if hint:
                    raise ValueError(hint)
        return value

    @field_validator("observed_at")
    @classmethod
    def _not_in_future(cls, value: datetime) -> datetime:
        if value > datetime.now(UTC) + CLOCK_SKEW:
            raise ValueError("observed_at lies in the future (观察时间不能晚于当前时间)")
        return value

    @field_validator("attachments")
    @classmethod
    def _hashes(cls, value: list[str]) -> list[str]:
        for item in value:
            if len(item) != 64 or any(c not in "0123456789abcdef" for c in item):
                raise ValueError(f"attachment {item!r} is not a lowercase sha256 hex digest")
        return value

    @field_validator("description")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()


class Accepted(BaseModel):
    report_id: UUID
    status: Literal["accepted"] = "accepted"


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
    area: AreaRef
    department: DepartmentRef | None
    triage_reason: str | None
    triage_detail: str | None
    deadline_at: datetime | None
    submitted_at: datetime
    versions: VersionsOut | None = None
