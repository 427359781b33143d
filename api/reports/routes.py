from __future__ import annotations

from uuid import UUID

import orjson
from fastapi import APIRouter, Response, status

from api.auth.scoping import ReporterPrincipal
from api.deps import ConnDep, CurrentPrincipal, ProducerDep, SettingsDep
from api.reports import service
from api.reports.batch import MAX_BATCH, BatchIn, BatchResult, submit_batch
from api.reports.schemas import Accepted, ReportIn, ReportStatus

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses={
        401: {"description": "not signed in"},
        403: {"description": "not a grid worker or the dispatch center: `detail.needed` names them"},
        409: {"description": "report_id re-used with other content (known to this API process)"},
        422: {"description": "refused, naming the field (`body.reporter_id`: not the signed-in user)"},
        503: {"description": "retry later"},
    },
)
async def submit(
    report: ReportIn,
    principal: ReporterPrincipal,
    producer: ProducerDep,
    settings: SettingsDep,
    response: Response,
) -> Accepted:
    """Accept a report (上报) from a grid worker or the dispatch center (12345 calls). 202 only once Kafka
    holds it; the same report_id again is acknowledged and counted once. `content_hash` names what was
    accepted: if the status later shows another one for this id, another submission with other content came
    first (see `conflicts`). The reporter is the signed-in user: `reporter_id` may be left out."""
    accepted = await service.submit_report(
        report=report, reporter_id=principal.reporter_id, producer=producer, settings=settings
    )
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
async def submit_many(
    batch: BatchIn, principal: ReporterPrincipal, producer: ProducerDep, settings: SettingsDep
) -> Response:
    """Accept up to 500 reports at once (批量上报), each answered on its own in `results`, in the order sent:
    202 (in Kafka, counted once; `duplicate` when the id was accepted before), 409 (the id holds other
    content), 422 (refused, with the field), 503 (not acknowledged: send that item again). Sending the same
    batch again is safe: what was accepted is acknowledged again, never counted twice."""
    answer = await submit_batch(
        batch=batch, reporter_id=principal.reporter_id, producer=producer, settings=settings
    )
    # Serialised here (the schema is BatchResult's): validating 500 items again as models would cost more
    # than checking them did.
    return Response(
        orjson.dumps(answer), status_code=status.HTTP_207_MULTI_STATUS, media_type="application/json"
    )


@router.get(
    "/{report_id}",
    response_model=ReportStatus,
    responses={404: {"description": "no such report, or not one the caller sees (the same answer)"}},
)
async def get_status(report_id: UUID, principal: CurrentPrincipal, conn: ConnDep) -> ReportStatus:
    """Where a report is: accepted, routed (with area and department) or in triage (with the reason). Its
    reporter sees it, and whoever sees its place or its case."""
    return await service.report_status(conn=conn, principal=principal, report_id=report_id)
