"""Whether the photos an action names are the case's: each sha256 in a verify's or handle's `attachments`
must be linked to the case (api/attachments/case_routes.py) or sent by its reporter for one of its reports.

Checked before the command is sent, so a verification never stands on photos nobody can see with it.
"""

from __future__ import annotations

from uuid import UUID

import anyio.to_thread
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from api.attachments import AttachmentStore, Owner
from api.auth.scoping import report_rows
from api.errors import InvalidInput
from cases.actions import CaseAction, HandleAction, VerifyAction


def unlinked(
    store: AttachmentStore, case_id: UUID, hashes: tuple[str, ...], reporters: dict[UUID, str]
) -> list[str]:
    """The hashes linked neither to the case nor, by its reporter, to one of its reports (`reporters`)."""
    case = Owner("case", case_id)

    def linked(sha256: str) -> bool:
        return store.linked_by_anyone(case, sha256) or any(
            store.linked(Owner("report", rid), sha256, uploader=who) for rid, who in reporters.items()
        )

    return [sha256 for sha256 in dict.fromkeys(hashes) if not linked(sha256)]


async def check_attachments(
    conn: AsyncConnection, store: AttachmentStore, case_id: UUID, action: CaseAction
) -> None:
    """422 naming `body.attachments` when a verify or handle names a photo that is not the case's."""
    if not isinstance(action, VerifyAction | HandleAction) or not action.attachments:
        return
    query = select(report_rows.c.report_id, report_rows.c.reporter_id).where(report_rows.c.case_id == case_id)
    reporters = {row.report_id: row.reporter_id for row in await conn.execute(query)}
    hashes = action.attachments
    missing = await anyio.to_thread.run_sync(lambda: unlinked(store, case_id, hashes, reporters))
    if missing:
        raise InvalidInput(
            f"照片未上传到该案件：{', '.join(missing)} (upload each photo to "
            f"/api/v1/cases/{case_id}/attachments first)",
            field="body.attachments",
        )
