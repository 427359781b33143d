"""Whose photo it is: only a report's reporter adds its photos, and whoever sees the report reads only what
its reporter sent — checked once the report is stored, since the photo may arrive first."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from accounts.roles import Principal, Role
from accounts.scope import ReportFacts
from api.attachments import AttachmentStore
from tests.api.attachment_app import JPEG, WORKER, base, make_app

GRID = WORKER.grid_codes[0]
COLLEAGUE = Principal(
    user_id=uuid.uuid4(), username="wg_same_grid", role=Role.GRID_WORKER, grid_codes=(GRID,)
)
STRANGER = Principal(
    user_id=uuid.uuid4(), username="wg_elsewhere", role=Role.GRID_WORKER, grid_codes=("210203001001001",)
)
DISTRICT = Principal(user_id=uuid.uuid4(), username="qx", role=Role.DISTRICT, area_code="210202000000")
SHA = hashlib.sha256(JPEG).hexdigest()
JPEG_TYPE = {"Content-Type": "image/jpeg"}


def stored(reporter: str) -> ReportFacts:
    return ReportFacts(
        reporter_id=reporter, area_codes=("210200000000", "210202000000", GRID[:12]), grid_code=GRID
    )


@pytest.fixture
def store(tmp_path: Path) -> AttachmentStore:
    return AttachmentStore(tmp_path / "attachments")


def as_(store: AttachmentStore, who: Principal, reports: dict[uuid.UUID, ReportFacts]) -> TestClient:
    return TestClient(make_app(store, who, reports))


def test_only_its_reporter_adds_photos_to_a_stored_report(store: AttachmentStore) -> None:
    rid = uuid.uuid4()
    reports = {rid: stored(WORKER.username)}
    assert as_(store, WORKER, reports).post(base(rid), content=JPEG, headers=JPEG_TYPE).status_code == 201
    colleague = as_(store, COLLEAGUE, reports).post(base(rid), content=JPEG, headers=JPEG_TYPE)
    assert colleague.status_code == 403 and colleague.json()["error"] == "forbidden"  # sees it: 403
    stranger = as_(store, STRANGER, reports).put(
        f"{base(rid)}/{SHA}", headers={**JPEG_TYPE, "Content-Range": f"bytes */{len(JPEG)}"}
    )
    assert stranger.status_code == 404  # does not see it: as if there were no such report


def test_an_office_may_not_upload_and_is_told_who_may(store: AttachmentStore) -> None:
    answer = as_(store, DISTRICT, {}).post(base(uuid.uuid4()), content=JPEG, headers=JPEG_TYPE)
    assert answer.status_code == 403
    assert answer.json()["detail"]["needed"] == ["grid_worker", "city_dispatch"]


def test_a_photo_sent_before_the_report_counts_only_if_its_reporter_sent_it(store: AttachmentStore) -> None:
    rid = uuid.uuid4()
    # Both upload while the report is on its way (nothing stored yet): each sees only their own upload.
    assert as_(store, STRANGER, {}).post(base(rid), content=JPEG, headers=JPEG_TYPE).status_code == 201
    assert as_(store, WORKER, {}).get(f"{base(rid)}/{SHA}").status_code == 404
    assert as_(store, STRANGER, {}).get(f"{base(rid)}/{SHA}").status_code == 200
    # The report is stored as WORKER's: the stranger's upload never counts, WORKER's own does once sent.
    reports = {rid: stored(WORKER.username)}
    assert as_(store, DISTRICT, reports).get(f"{base(rid)}/{SHA}").status_code == 404
    assert as_(store, WORKER, reports).post(base(rid), content=JPEG, headers=JPEG_TYPE).status_code == 201
    for reader in (WORKER, COLLEAGUE, DISTRICT):
        assert as_(store, reader, reports).get(f"{base(rid)}/{SHA}").content == JPEG
    assert as_(store, STRANGER, reports).get(f"{base(rid)}/{SHA}").status_code == 404
