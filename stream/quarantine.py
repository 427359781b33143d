"""What an event set aside becomes: a dead letter with its error, and — when it names a report — a triage
decision with the reason, so that the report is decided (visible in its status and in the dispatch center's
queue), never left `accepted`.

Pure functions: the stages send and write what these build.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from datetime import datetime

from stream.events import (
    SCHEMA_VERSION,
    EventSetAside,
    Point,
    ReportSubmitted,
    ReportTriaged,
    TriageReason,
)
from stream.router import case_id_for

# What PostgreSQL's text cannot hold (NUL) or UTF-8 cannot encode (lone surrogates), and the other controls.
_UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
DETAIL_LIMIT = 500


def storable(text: str) -> str:
    """`text` with every character the database refuses replaced by U+FFFD."""
    return _UNSTORABLE.sub("\ufffd", text)


def dead_letter(
    *,
    source_topic: str,
    value: bytes,
    stage: str,
    error: BaseException | str,
    at: datetime,
    key: bytes = b"",
    partition: int | None = None,
    offset: int | None = None,
    report_id: uuid.UUID | None = None,
) -> EventSetAside:
    return EventSetAside(
        source_topic=source_topic,
        partition=partition,
        offset=offset,
        key_hex=key.hex(),
        value=value.decode("utf-8", errors="backslashreplace"),
        stage=stage,
        error=_describe(error),
        report_id=report_id,
        at=at,
    )


def _describe(error: BaseException | str) -> str:
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    return storable(text)[:DETAIL_LIMIT]


def sanitized(report: ReportSubmitted) -> ReportSubmitted:
    """The report with its text made storable; the content hash stays the one of what the reporter sent."""
    return report.model_copy(
        update={
            "reporter_id": storable(report.reporter_id),
            "category": storable(report.category)[:8],
            "description": storable(report.description),
            "attachments": tuple(storable(a) for a in report.attachments),
        }
    )


def set_aside_decision(
    report: ReportSubmitted, *, stage: str, error: BaseException | str, at: datetime
) -> ReportTriaged:
    """A report that failed permanently in `stage` waits in triage with the reason `processing_failed`."""
    return ReportTriaged(
        report=sanitized(report),
        case_id=case_id_for(report.report_id),
        reason=TriageReason.PROCESSING_FAILED,
        detail=f"{stage}: {_describe(error)}",
        triaged_at=at,
    )


def report_id_in(value: bytes) -> uuid.UUID | None:
    """The report_id an unreadable event still names, if any."""
    try:
        data = json.loads(value)
        return uuid.UUID(str(data["report_id"])) if isinstance(data, dict) else None
    except (ValueError, KeyError, TypeError):
        return None


def unreadable_decision(
    report_id: uuid.UUID, value: bytes, error: BaseException, at: datetime
) -> ReportTriaged:
    """A placeholder for an event no schema can read that names a report: its status says `malformed_event`
    (the dead letter holds the bytes), so the sender is not left waiting on `accepted`."""
    placeholder = ReportSubmitted(
        schema_version=SCHEMA_VERSION,
        report_id=report_id,
        reporter_id="unknown",
        category="",
        description="",
        location=Point(lon=0, lat=0),
        location_wgs84=Point(lon=0, lat=0),
        observed_at=at,
        submitted_at=at,
        content_hash=hashlib.sha256(value).hexdigest(),
    )
    return ReportTriaged(
        report=placeholder,
        case_id=case_id_for(report_id),
        reason=TriageReason.MALFORMED_EVENT,
        detail=_describe(error),
        triaged_at=at,
    )
