"""What a report is on the phone: the draft the worker fills in and the frozen payload the outbox sends."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from field_app.core.photos import Photo

CRS_VALUES = ("wgs84", "gcj02", "bd09")
MAX_DESCRIPTION = 2000


class ReportStatus(StrEnum):
    WAITING = "waiting"  # 待发送: in the outbox, not yet accepted (also after a network failure)
    SENDING = "sending"  # 发送中: a request is in flight
    SENT = "sent"  # 已发送: the API answered 202, the report is in Kafka
    FAILED = "failed"  # 失败: the server refused it; the worker must look (never dropped)


class FailureKind(StrEnum):
    INVALID = "invalid"  # 422: a field the server does not accept
    CONFLICT = "conflict"  # 409, or a later status naming other content: another report holds this report_id
    REJECTED = "rejected"  # any other refusal (4xx)


@dataclass(frozen=True)
class LocationFix:
    lon: float
    lat: float
    accuracy_m: float
    crs: str = "wgs84"
    adjusted: bool = False  # moved by hand after the fix; shown to the worker, not sent

    def to_json(self) -> dict[str, Any]:
        return {"lon": self.lon, "lat": self.lat, "accuracy_m": self.accuracy_m, "crs": self.crs}


@dataclass
class Draft:
    """A report being filled in. Its UUID is made once, here, so every resend carries the same key."""

    reporter_id: str
    report_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    category_code: str | None = None
    category_name: str | None = None
    description: str = ""
    location: LocationFix | None = None
    photos: list[Photo] = field(default_factory=list)  # copies in the app's own storage

    def problems(self) -> dict[str, str]:
        """Field → what is wrong, in the worker's words; empty when the draft can be saved."""
        found: dict[str, str] = {}
        if not self.reporter_id.strip():
            found["reporter_id"] = "请先登录"
        if not self.category_code:
            found["category"] = "请选择问题类别"
        # The description may stay empty (the API allows it): category, place and a photo can say enough,
        # and typing on a phone in the street is the slowest step of a report.
        text = self.description.strip()
        if len(text) > MAX_DESCRIPTION:
            found["description"] = f"描述不能超过{MAX_DESCRIPTION}字"
        if self.location is None:
            found["location"] = "没有位置：请重新定位或手动输入坐标"
        else:
            loc = self.location
            if not (-180 <= loc.lon <= 180 and -90 <= loc.lat <= 90):
                found["location"] = "坐标超出范围"
            elif loc.accuracy_m < 0:
                found["location"] = "定位精度无效"
            elif loc.crs not in CRS_VALUES:
                found["location"] = "坐标系无效"
        return found


def build_payload(draft: Draft, *, observed_at: datetime) -> dict[str, Any]:
    """The exact JSON body of POST /api/v1/reports; frozen in the outbox so that resends are identical."""
    if observed_at.tzinfo is None:
        raise ValueError("observed_at needs a timezone")
    if draft.problems():
        raise ValueError(f"draft is not complete: {draft.problems()}")
    assert draft.location is not None and draft.category_code is not None
    payload: dict[str, Any] = {
        "report_id": draft.report_id,
        "reporter_id": draft.reporter_id.strip(),
        "category": draft.category_code,
        "description": draft.description.strip(),
        "location": draft.location.to_json(),
        "observed_at": observed_at.isoformat(timespec="seconds"),
    }
    hashes = list(dict.fromkeys(photo.sha256 for photo in draft.photos))
    if hashes:
        payload["attachments"] = hashes
    return payload
