from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response, status

from api.deps import ConnDep, ProducerDep, SettingsDep
from api.reports import service
from api.reports.batch import MAX_BATCH, BatchIn, BatchResult, submit_batch
from api.reports.schemas import Accepted, ReportIn, ReportStatus

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses={
        409: {"description": "report_id re-used with other content (known to this API process)"},
        503: {"description": "retry later"},
    },
)
async def submit(
    report: ReportIn, producer: ProducerDep, settings: SettingsDep, response: Response
) -> Accepted:
    """Accept a report (上报). 202 only once Kafka holds it; the same report_id again is acknowledged and
    counted once. `content_hash` names what was accepted: if the status later shows another one for this id,
    another submission with other content came first (see `conflicts`)."""
    accepted = await service.submit_report(report=report, producer=producer, settings=settings)
    if accepted.duplicate:
        response.headers["X-Gridflow-Duplicate"] = "true"
    return accepted


@router.post(
    "/batch",
    status_code=status.HTTP_207_MULTI_STATUS,
    response_model=BatchResult,
    responses={
        413: {"description": "body larger than api.limits.BATCH_BODY_LIMIT (4 MiB)"},
        422: {"description": f"not an object with 1 to {MAX_BATCH} `reports` (a bad item is answered in it)"},
        503: {"description": "Kafka acknowledged none of the items: send the batch again later"},
    },
)
async def submit_many(batch: BatchIn, producer: ProducerDep, settings: SettingsDep) -> BatchResult:
    """Accept up to 500 reports at once (批量上报), each answered on its own in `results`, in the order sent:
    202 (in Kafka, counted once; `duplicate` when the id was accepted before), 409 (the id holds other
    content), 422 (refused, with the field), 503 (not acknowledged: send that item again). Sending the same
    batch again is safe: what was accepted is acknowledged again, never counted twice."""
    return await submit_batch(batch=batch, producer=producer, settings=settings)


@router.get("/{report_id}", response_model=ReportStatus)
async def get_status(report_id: UUID, conn: ConnDep) -> ReportStatus:
    """Where a report is: accepted, routed (with area and department) or in triage (with the reason)."""
    return await service.report_status(conn=conn, report_id=report_id)
