"""A case's evidence photos without the live system: the store keeps them apart from any report's, the case
routes let whoever may verify or handle the case upload and whoever sees it read, and an action's
`attachments` must be the case's."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from accounts.roles import Principal, Role
from accounts.scope import CaseFacts
from api.attachments import AttachmentStore, Owner
from api.attachments.case_routes import get_case_lookup
from api.cases.evidence import unlinked
from tests.api.attachment_app import JPEG, PNG, WORKER, make_app

GRID = WORKER.grid_codes[0]
CASE = CaseFacts(
    area_codes=("210200000000", "210202000000", GRID[:9] + "000", GRID[:12]),
    grid_code=GRID,
    department_code="210202000000:water",
    reporter_ids=("t_city_dispatch",),
)
LEAD = Principal(
    user_id=uuid.uuid4(), username="water", role=Role.DEPARTMENT, department_code="210202000000:water"
)
STRANGER = Principal(
    user_id=uuid.uuid4(), username="wg_elsewhere", role=Role.GRID_WORKER, grid_codes=("210203001001001",)
)
DISTRICT = Principal(user_id=uuid.uuid4(), username="qx", role=Role.DISTRICT, area_code="210202000000")
SHA = hashlib.sha256(JPEG).hexdigest()
JPEG_TYPE = {"Content-Type": "image/jpeg"}


@pytest.fixture
def store(tmp_path: Path) -> AttachmentStore:
    return AttachmentStore(tmp_path / "attachments")


def as_(store: AttachmentStore, who: Principal, cases: dict[uuid.UUID, CaseFacts]) -> TestClient:
    app = make_app(store, who)

    async def lookup(case_id: uuid.UUID) -> CaseFacts | None:
        return cases.get(case_id)

    app.dependency_overrides[get_case_lookup] = lambda: lookup
    return TestClient(app)


def base(case_id: uuid.UUID) -> str:
    return f"/api/v1/cases/{case_id}/attachments"


def test_a_case_photo_is_linked_to_the_case_and_not_to_a_report_of_the_same_id(
    store: AttachmentStore,
) -> None:
    same_id = uuid.uuid4()
    stored = store.put_whole(Owner("case", same_id), JPEG, "image/jpeg", uploader="user:wg")
    assert stored.created and store.linked_by_anyone(Owner("case", same_id), SHA)
    assert not store.linked(same_id, SHA) and not store.linked_by_anyone(Owner("report", same_id), SHA)
    assert (store.root / "links" / f"case-{same_id}").is_dir()
    assert store.put_whole(Owner("case", same_id), JPEG, "image/jpeg", uploader="user:wg").created is False


def test_a_case_upload_in_progress_is_its_uploaders_alone(store: AttachmentStore) -> None:
    case = Owner("case", uuid.uuid4())
    assert store.put_chunk(case, SHA, 0, JPEG[:100], len(JPEG), "image/jpeg", uploader="user:a") == 100
    assert store.status(case, SHA, len(JPEG), uploader="user:b") == 0
    done = store.put_chunk(case, SHA, 100, JPEG[100:], len(JPEG), "image/jpeg", uploader="user:a")
    assert not isinstance(done, int) and done.created
    assert store.linked_by_anyone(case, SHA)


def test_an_action_may_name_the_cases_photos_and_its_reporters_photos_only(store: AttachmentStore) -> None:
    case_id, report_id = uuid.uuid4(), uuid.uuid4()
    png = hashlib.sha256(PNG).hexdigest()
    store.put_whole(Owner("case", case_id), JPEG, "image/jpeg", uploader="user:wg")
    store.put_whole(report_id, PNG, "image/png", uploader="t_city_dispatch")
    reporters = {report_id: "t_city_dispatch"}
    assert unlinked(store, case_id, (SHA, png), reporters) == []
    assert unlinked(store, case_id, (png,), {report_id: "someone_else"}) == [png]  # not its reporter's
    assert unlinked(store, uuid.uuid4(), (SHA, "0" * 64), {}) == [SHA, "0" * 64]  # another case's photo


def test_the_grid_worker_and_the_lead_department_upload_and_whoever_sees_the_case_reads(
    store: AttachmentStore,
) -> None:
    case_id = uuid.uuid4()
    cases = {case_id: CASE}
    first = as_(store, WORKER, cases).post(base(case_id), content=JPEG, headers=JPEG_TYPE)
    assert first.status_code == 201 and first.json()["url"] == f"{base(case_id)}/{SHA}"
    resumed = as_(store, LEAD, cases).put(
        f"{base(case_id)}/{SHA}",
        content=JPEG,
        headers={**JPEG_TYPE, "Content-Range": f"bytes 0-{len(JPEG) - 1}/{len(JPEG)}"},
    )
    assert resumed.status_code == 201  # linked now by the department too
    served = as_(store, DISTRICT, cases).get(f"{base(case_id)}/{SHA}")
    assert served.status_code == 200 and served.content == JPEG


def test_out_of_scope_is_404_and_a_role_that_may_not_act_is_403_naming_who_may(
    store: AttachmentStore,
) -> None:
    case_id = uuid.uuid4()
    cases = {case_id: CASE}
    assert as_(store, STRANGER, cases).post(base(case_id), content=JPEG, headers=JPEG_TYPE).status_code == 404
    assert as_(store, WORKER, {}).post(base(case_id), content=JPEG, headers=JPEG_TYPE).status_code == 404
    office = as_(store, DISTRICT, cases).post(base(case_id), content=JPEG, headers=JPEG_TYPE)
    assert office.status_code == 403 and office.json()["detail"]["needed"] == ["grid_worker", "department"]
    as_(store, WORKER, cases).post(base(case_id), content=JPEG, headers=JPEG_TYPE)
    assert as_(store, STRANGER, cases).get(f"{base(case_id)}/{SHA}").status_code == 404
    assert as_(store, DISTRICT, cases).get(f"{base(case_id)}/{'0' * 64}").status_code == 404
