"""A case's evidence photos (核查 and 处置 photos): the report photo protocol, linked to the case.

Whoever may act on the case with photos — verify (the grid worker of its grid, its community without a grid)
or handle (the lead department) — uploads them here, whoever reported it; whoever sees the case reads them.
The action then names them in `attachments`, and api/cases checks that each one is linked to the case.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from accounts.roles import Principal
from accounts.scope import CaseFacts, may_act, sees_case
from api.attachments.routes import (
    PROBLEMS,
    RANGE_RESPONSES,
    AttachmentOut,
    Sha256,
    StoreDep,
    receive_range,
    receive_whole,
    serve,
)
from api.attachments.store import Owner
from api.auth import scoping
from api.deps import CurrentPrincipal
from api.errors import Forbidden, NotFound
from cases.states import ActionName
from infra.db import async_engine

# The actions whose body carries photos (cases.actions: HandleAction, VerifyAction).
EVIDENCE_ACTIONS = (ActionName.VERIFY, ActionName.HANDLE)

router = APIRouter(prefix="/api/v1/cases/{case_id}/attachments", tags=["attachments"])
CaseLookup = Callable[[UUID], Awaitable[CaseFacts | None]]


async def _stored_case(case_id: UUID) -> CaseFacts | None:
    async with async_engine().connect() as conn:
        found = await scoping.case_and_facts(conn, case_id)
    return found[1] if found is not None else None


def get_case_lookup() -> CaseLookup:
    """How a route learns a stored case's place and departments (a dependency, so tests can stand in)."""
    return _stored_case


CaseLookupDep = Annotated[CaseLookup, Depends(get_case_lookup)]


def may_add_evidence(principal: Principal, facts: CaseFacts) -> None:
    """Whether `principal` may add photos to the case: 404 out of scope, 403 naming the roles that may."""
    refusals = [may_act(principal, action, facts) for action in EVIDENCE_ACTIONS]
    if any(refusal is None for refusal in refusals):
        return
    if any(refusal is not None and refusal.out_of_scope for refusal in refusals):
        raise NotFound("案件不存在 (no such case)")
    roles = (role.value for refusal in refusals if refusal is not None for role in refusal.needed)
    needed = dict.fromkeys(roles)
    raise Forbidden("仅可核查或处置该案件者可上传照片 (only who verifies or handles it)", needed=list(needed))


async def _uploader(case_id: UUID, principal: CurrentPrincipal, lookup: CaseLookupDep) -> str:
    facts = await lookup(case_id)
    if facts is None or not sees_case(principal, facts):
        raise scoping.case_missing(case_id)  # word for word as for a case that does not exist
    may_add_evidence(principal, facts)
    return principal.actor


UploaderDep = Annotated[str, Depends(_uploader)]
CASE_PROBLEMS = {
    **PROBLEMS,
    403: {"description": "sees the case but may not verify or handle it: `detail.needed` names the roles"},
    404: {"description": "no such case, or not one the caller sees (the same answer)"},
}


@router.post("", status_code=201, response_model=AttachmentOut, responses=CASE_PROBLEMS)
async def upload(case_id: UUID, request: Request, store: StoreDep, uploader: UploaderDep) -> JSONResponse:
    """Upload a whole photo (raw body) as the case's evidence. Idempotent: the same bytes again answer 200."""
    return await receive_whole(Owner("case", case_id), request, store, uploader)


@router.put(
    "/{sha256}",
    status_code=201,
    response_model=AttachmentOut,
    responses={**CASE_PROBLEMS, **RANGE_RESPONSES},
)
async def upload_range(
    case_id: UUID, sha256: Sha256, request: Request, store: StoreDep, uploader: UploaderDep
) -> Response:
    """Resumable upload by content hash with Content-Range, as for a report's photos."""
    return await receive_range(Owner("case", case_id), sha256, request, store, uploader)


@router.get(
    "/{sha256}",
    response_class=FileResponse,
    responses={404: {"description": "no such photo for this case, or the case is not one the caller sees"}},
)
async def fetch(
    case_id: UUID, sha256: Sha256, store: StoreDep, principal: CurrentPrincipal, lookup: CaseLookupDep
) -> FileResponse:
    """The photo as uploaded, with its content type, to whoever sees the case."""
    facts = await lookup(case_id)
    if facts is None or not sees_case(principal, facts):
        raise scoping.case_missing(case_id)
    if not store.linked_by_anyone(Owner("case", case_id), sha256):
        raise NotFound("no such photo for this case", field="path.sha256")
    return serve(store, sha256)
