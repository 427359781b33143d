"""Event contracts on Kafka: pydantic models serialized as JSON bytes, each with a schema_version.

A leaf module: it imports nothing else from gridflow, so any consumer (or another language) can read the
topics from these definitions alone.

schema_version says which shape of an event a reader must expect, and it changes only when a change would
break a reader. A new field with a default is not such a change: old events still parse (the field takes its
default, e.g. `versions` is None on decisions made before boundaries and rules were versioned), and readers
that do not know the field ignore it; so those fields are added without a bump.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

SCHEMA_VERSION: Literal[1] = 1


class Crs(StrEnum):
    WGS84 = "wgs84"  # Android LocationManager, GPS
    GCJ02 = "gcj02"  # Amap / Tencent / WeChat
    BD09 = "bd09"  # Baidu


class Point(BaseModel):
    # NaN and Infinity are refused: neither JSON nor PostGIS can carry them.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    lon: float = Field(ge=-180, le=180, description="经度 longitude, degrees")
    lat: float = Field(ge=-90, le=90, description="纬度 latitude, degrees")
    accuracy_m: float | None = Field(
        default=None, ge=0, le=100_000, description="GPS accuracy radius, metres"
    )
    crs: Crs = Crs.WGS84


class ReportSubmitted(BaseModel):
    """`reports.submitted`: a report as received at intake (the API is its only producer)."""

    model_config = ConfigDict(frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    report_id: UUID
    reporter_id: str
    category: str
    description: str
    location: Point  # as the phone sent it
    location_wgs84: Point  # converted on intake; what every locate uses
    observed_at: AwareDatetime
    submitted_at: AwareDatetime
    attachments: tuple[str, ...] = ()
    content_hash: str  # of what the reporter sent, so a re-use of a report_id with other content is caught

    @staticmethod
    def hash_content(
        *,
        reporter_id: str,
        category: str,
        description: str,
        location: Point,
        observed_at: datetime,
        attachments: tuple[str, ...],
    ) -> str:
        canonical = json.dumps(
            [
                reporter_id,
                category,
                description,
                [location.lon, location.lat, location.accuracy_m, location.crs.value],
                observed_at.isoformat(),
                sorted(attachments),
            ],
            ensure_ascii=False,
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


class AreaCodes(BaseModel):
    model_config = ConfigDict(frozen=True)

    city: str | None = None
    district: str | None = None
    township: str | None = None
    community: str | None = None
    grid: str | None = None
    synthetic: bool = False


class DepartmentRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    name: str


class DutyRuleRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    category_code: str
    level: str
    department_kind: str
    deadline_hours: int
    legal_basis: str
    version: int
    working_hours: bool = True


class RoutingVersions(BaseModel):
    """The versions of the boundaries and rules a decision used (`geo_versions` in PostGIS)."""

    model_config = ConfigDict(frozen=True)

    areas: int
    duty_rules: int
    departments: int


class ReportRouted(BaseModel):
    """`reports.routed`: where the report lies and who handles it. Carries the report for replayable sinks."""

    model_config = ConfigDict(frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    report: ReportSubmitted
    case_id: UUID
    area: AreaCodes
    department: DepartmentRef
    helpers: tuple[DepartmentRef, ...] = ()  # 协办: departments across a boundary the GPS circle crosses
    duty_rule: DutyRuleRef
    deadline_at: AwareDatetime
    duplicate_of: UUID | None = None  # the first report of the open case this one joins (case_id is its case)
    locate_method: str = "covers"
    offshore_distance_m: float | None = None
    candidates: tuple[str, ...] = ()  # other units the GPS accuracy circle reaches, nearest first
    routed_at: AwareDatetime
    versions: RoutingVersions | None = None  # None only in events written before versioning


class TriageReason(StrEnum):
    OUTSIDE_JURISDICTION = "outside_jurisdiction"  # 不在辖区内
    UNKNOWN_CATEGORY = "unknown_category"  # 类别不存在
    NO_DUTY_RULE = "no_duty_rule"  # 权责清单无此事项
    NO_DEPARTMENT = "no_department"  # 辖区内无对应责任部门
    SUSPICIOUS_COORDINATES = "suspicious_coordinates"  # 坐标可疑 (e.g. lat/lon swapped, 0,0)
    MALFORMED_EVENT = "malformed_event"  # an event no version of the schema can read
    PROCESSING_FAILED = "processing_failed"  # the router or the database refused this one event


TRIAGE_REASON_LABELS = {
    TriageReason.OUTSIDE_JURISDICTION: "不在本市辖区内",
    TriageReason.UNKNOWN_CATEGORY: "未知的事项类别",
    TriageReason.NO_DUTY_RULE: "权责清单中没有该事项",
    TriageReason.NO_DEPARTMENT: "辖区内没有对应的责任部门",
    TriageReason.SUSPICIOUS_COORDINATES: "坐标可疑",
    TriageReason.MALFORMED_EVENT: "事件格式无法识别",
    TriageReason.PROCESSING_FAILED: "处理失败，已转人工分拨",
}


class ReportTriaged(BaseModel):
    """`reports.triage`: could not be routed; waits in the dispatch center's queue with a reason."""

    model_config = ConfigDict(frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    report: ReportSubmitted
    case_id: UUID
    reason: TriageReason
    detail: str
    area: AreaCodes = AreaCodes()
    triaged_at: AwareDatetime
    duplicate_of: UUID | None = None  # the first report of the open case this one joins (case_id is its case)
    versions: RoutingVersions | None = None  # None only in events written before versioning


class CaseState(StrEnum):
    REPORTED = "reported"
    REGISTERED = "registered"
    DISPATCHED = "dispatched"
    HANDLING = "handling"
    HANDLED = "handled"
    CLOSED = "closed"
    RETURNED = "returned"
    ESCALATED = "escalated"
    REJECTED = "rejected"
    TRIAGE = "triage"


class CaseTransition(BaseModel):
    """A report's own audit trail (reported, then dispatched or sent to triage), in the `case_transitions`
    table. The case's transitions are `CaseTransitioned` events on `cases.transitions`."""

    model_config = ConfigDict(frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    case_id: UUID
    report_id: UUID
    from_state: CaseState | None
    to_state: CaseState
    actor: str
    at: AwareDatetime
    note: str = ""


class CaseOpening(BaseModel):
    """What a routing decision brings to a case: opens it (routed: dispatched; triage) or joins it."""

    model_config = ConfigDict(frozen=True)

    report_id: UUID
    reporter_id: str
    category: str
    area: AreaCodes
    department_code: str | None = None
    helper_codes: tuple[str, ...] = ()
    level: str | None = None  # the duty rule's level (city … community, grid held by the community)
    deadline_hours: int | None = None
    working_hours: bool = True
    triage_reason: str | None = None
    lon: float | None = None
    lat: float | None = None
    observed_at: AwareDatetime


class CaseCommand(BaseModel):
    """`cases.commands`, keyed by case_id: everything that may change a case, in the order it is applied.

    One partition holds all the commands of a case, so one worker applies them one after another: two
    conflicting actions sent at once are applied in turn and the second is refused. `command_id` makes a
    replayed command harmless. The topic is the log of record of the cases: replaying it through the pure
    lifecycle gives the same tables.
    """

    model_config = ConfigDict(frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    command_id: UUID
    case_id: UUID
    kind: Literal["open", "attach", "act", "tick"]
    at: AwareDatetime  # when it happened (an action's receipt, a timer's due time)
    actor: str = "system"
    opening: CaseOpening | None = None  # open, attach
    action: dict[str, Any] | None = None  # act: a `cases.actions` payload, validated by the case agent


class CaseTransitioned(BaseModel):
    """`cases.transitions`: one step of a case's history (seq 0 opens it), published once it is stored."""

    model_config = ConfigDict(frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    case_id: UUID
    seq: int
    command_id: UUID
    action: str  # open, or a `cases.states.ActionName`
    from_state: str | None
    to_state: str
    actor: str
    at: AwareDatetime
    reason: str | None = None
    note: str | None = None
    level: str
    department_code: str | None = None
    deadline_at: AwareDatetime | None = None
    area: AreaCodes = AreaCodes()


class AreaChange(BaseModel):
    """`areas.changes`: boundaries, departments or duty rules edited (the log of every edit).

    `version` is the kind's new number in `geo_versions`. Workers do not depend on receiving this event
    (several share one consumer group, so only one of them would): each compares versions before a batch.
    """

    model_config = ConfigDict(frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    kind: Literal["areas", "departments", "duty_rules", "categories"]
    version: int
    actor: str
    at: AwareDatetime
    note: str = ""


class EventSetAside(BaseModel):
    """`reports.deadletter`: an event that failed permanently, kept whole with the error, so that nothing a
    client sent can stall a partition and nothing is dropped without a trace."""

    model_config = ConfigDict(frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    source_topic: str
    partition: int | None = None
    offset: int | None = None
    key_hex: str = ""
    value: str  # the event's bytes as text (undecodable bytes escaped)
    stage: str  # parse | route | record | sink
    error: str
    report_id: UUID | None = None
    at: AwareDatetime


class ReportConflict(BaseModel):
    """A report_id submitted again with other content: the first content stands, the second is recorded
    here (and shown in the report's status) so that its sender can learn it."""

    model_config = ConfigDict(frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    report_id: UUID
    content_hash: str
    submitted_at: AwareDatetime


TOPICS = {
    "submitted": "reports.submitted",
    "routed": "reports.routed",
    "triage": "reports.triage",
    "transitions": "cases.transitions",
    "area_changes": "areas.changes",
    "deadletter": "reports.deadletter",
    "case_commands": "cases.commands",
}
