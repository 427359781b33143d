"""Batch intake (POST /api/v1/reports/batch): up to 500 reports in one request, each answered on its own.

The guarantees are those of one report at a time, item by item: an item is answered 202 only once Kafka
holds it; a report_id this process accepted before is acknowledged again (202, `duplicate`), or refused
(409) when its content differs; an item intake cannot carry is refused (422) with its field, and the rest of
the batch goes on. So a batch sent again — after a timeout, a dropped connection — is harmless: what was
accepted is acknowledged, not counted twice (what another API process accepted, the stream counts once).

Within one batch the first item with a report_id stands, as across requests: the same content again is a
duplicate of it (and shares its answer), other content is a 409. The accepted items are produced together,
so they share the producer's batches and are acknowledged in one round trip or a few.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.errors import BrokerUnavailable, InvalidInput, validation_errors
from api.producer import EventProducer
from api.reports.outline import CATEGORIES
from api.reports.schemas import FIRST_TRY, ReportIn
from api.reports.service import RECENT, build_event, claim_reporter
from infra.settings import Settings
from stream.events import TOPICS, ReportSubmitted

MAX_BATCH = 500


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reports: list[Any] = Field(
        min_length=1,
        max_length=MAX_BATCH,
        description=f"1 to {MAX_BATCH} reports, each as POST /api/v1/reports takes it; checked one by one",
    )


class ItemResult(BaseModel):
    index: int = Field(description="the item's position in `reports`, from 0")
    report_id: UUID | None = Field(description="as sent; null when the item has no readable report_id")
    status: Literal[202, 409, 422, 503] = Field(
        description="202 in Kafka (counted once); 409 the report_id holds other content; 422 refused, "
        "see `detail`; 503 not acknowledged by Kafka, send this item again later"
    )
    content_hash: str | None = Field(default=None, description="with 202: sha256 of the content accepted")
    duplicate: bool = Field(default=False, description="with 202: this report_id was accepted before")
    error: str | None = Field(default=None, description="conflict | invalid | broker_unavailable")
    detail: list[dict[str, Any]] | str | None = Field(
        default=None, description="422: FastAPI's located list (loc starts body, reports, index); else text"
    )


class BatchResult(BaseModel):
    accepted: int = Field(description="items answered 202")
    results: list[ItemResult] = Field(description="one per item, in the order sent")


Item = dict[str, Any]  # an ItemResult as JSON: built as a dict, since 500 models a batch cost a tenth of it


def _item(index: int, report_id: UUID | None, status: int, **fields: Any) -> Item:
    return {
        "index": index,
        "report_id": None if report_id is None else str(report_id),
        "status": status,
        "content_hash": None,
        "duplicate": False,
        "error": None,
        "detail": None,
    } | fields


def _invalid(index: int, raw: object, errors: list[dict[str, Any]]) -> Item:
    report_id = raw.get("report_id") if isinstance(raw, dict) else None
    try:
        rid = UUID(report_id) if isinstance(report_id, str) else None
    except ValueError:
        rid = None
    return _item(index, rid, 422, error="invalid", detail=errors)


def _located(index: int, errors: Sequence[Any]) -> list[dict[str, Any]]:
    where: list[object] = ["body", "reports", index]
    located = []
    for error in validation_errors(errors):
        loc = error.get("loc")
        located.append({**error, "loc": where + (list(loc) if isinstance(loc, list) else [])})
    return located


def _accepted(index: int, event: ReportSubmitted, duplicate: bool) -> Item:
    return _item(index, event.report_id, 202, content_hash=event.content_hash, duplicate=duplicate)


def _conflict(index: int, report_id: UUID) -> Item:
    message = f"report_id {report_id} was already used for a report with other content"
    return _item(index, report_id, 409, error="conflict", detail=message)


def _validated(raw: object) -> ReportIn:
    """The item as a report; ValidationError with echo-safe errors when refused (see schemas.FIRST_TRY)."""
    try:
        return ReportIn.model_validate(raw, context=FIRST_TRY)
    except Exception:  # refused (or tripped on what the sanitizer would have replaced): the usual way
        return ReportIn.model_validate(raw)


async def submit_batch(
    *, batch: BatchIn, reporter_id: str, producer: EventProducer, settings: Settings
) -> dict[str, Any]:
    """Check every item, produce the new ones together, answer each (a BatchResult as JSON); 503 only when
    Kafka took none. `reporter_id` is the signed-in user's: every item is theirs (an item naming another
    reporter is a 422)."""
    now = datetime.now(UTC)
    results: list[Item | None] = [None] * len(batch.reports)
    first: dict[UUID, tuple[int, str]] = {}  # report_id → (index, content hash) of its first item here
    repeats: list[tuple[int, int]] = []  # (index, index of the first item it repeats)
    sending: list[tuple[int, ReportSubmitted]] = []
    for index, raw in enumerate(batch.reports):
        try:
            report = claim_reporter(_validated(raw), reporter_id)
        except ValidationError as exc:
            results[index] = _invalid(index, raw, _located(index, exc.errors(include_url=False)))
            continue
        except InvalidInput as exc:
            loc = ["body", "reports", index, "reporter_id"]
            results[index] = _invalid(index, raw, [{"loc": loc, "msg": exc.message, "type": exc.code}])
            continue
        event = build_event(report, now)
        rid = report.report_id
        known = RECENT.get(rid)
        if known is not None:
            results[index] = (
                _accepted(index, event, True) if known == event.content_hash else _conflict(index, rid)
            )
            continue
        if rid in first:
            first_index, first_hash = first[rid]
            if first_hash == event.content_hash:
                repeats.append((index, first_index))
            else:
                results[index] = _conflict(index, rid)
            continue
        if CATEGORIES.refused(report.category):
            loc = ["body", "reports", index, "category"]
            message = f"unknown category code {report.category!r} (未知的事项类别)"
            results[index] = _invalid(index, raw, [{"loc": loc, "msg": message, "type": "invalid"}])
            continue
        first[rid] = (index, event.content_hash)
        sending.append((index, event))
    topic = settings.topic(TOPICS["submitted"])
    acked = await producer.send_many(
        topic, [(e.report_id.bytes, e.model_dump_json().encode()) for _, e in sending]
    )
    if sending and not any(acked):
        raise BrokerUnavailable("消息队列暂不可用，请稍后重试 (Kafka did not acknowledge)")
    for (index, event), ok in zip(sending, acked, strict=True):
        if ok:
            RECENT.add(event.report_id, event.content_hash)
            results[index] = _accepted(index, event, False)
        else:
            results[index] = _item(
                index,
                event.report_id,
                503,
                error="broker_unavailable",
                detail="消息队列未确认，请稍后重发此条 (Kafka did not acknowledge this item)",
            )
    for index, first_index in repeats:
        answer = results[first_index]
        assert answer is not None
        results[index] = answer | {"index": index, "duplicate": answer["status"] == 202}
    done = [r for r in results if r is not None]
    assert len(done) == len(results)
    return {"accepted": sum(1 for r in done if r["status"] == 202), "results": done}
