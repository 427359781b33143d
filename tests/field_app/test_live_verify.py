"""核查 against the real running system, without a window: a case first reported by someone else (a 12345
call the dispatch center entered) is verified by the grid worker of its grid. A report's photos come from its
reporter only, so the verification's photo goes to the case, which takes it from whoever may verify it: the
photo sticks, and whoever sees the case reads it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from accounts.roles import Role
from field_app.core.actions import ActionStatus
from field_app.core.labels import action_line
from field_app.core.service import FieldService
from tests.field_app.images import write_png
from tests.fixtures import FIELD_POINT, TEST_PASSWORD, LiveSystem, UserAccount, accounts_of, wait_until

pytestmark = pytest.mark.services


def handled_case_reported_by_the_dispatch_center(live_system: LiveSystem) -> str:
    """A 雨水箅子 report at the field point, entered by the dispatch center; its case accepted and handled by
    its department. Returns the case's id. (A category no other field test reports there: a report of the
    same category within 50 m would join that one's open case.)"""
    accounts = accounts_of(live_system)
    report_id = str(uuid.uuid4())
    report = {
        "report_id": report_id,
        "category": "10103",
        "description": "市民来电：中山广场雨水箅子松动（真实系统测试）",
        "location": {"lon": FIELD_POINT[0], "lat": FIELD_POINT[1], "accuracy_m": 5.0, "crs": "wgs84"},
        "observed_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    dispatch = accounts.headers(Role.CITY_DISPATCH)
    with httpx.Client(base_url=live_system.api_url, timeout=30) as api:
        assert api.post("/api/v1/reports", json=report, headers=dispatch).status_code == 202

        def routed() -> bool:
            answer = api.get(f"/api/v1/reports/{report_id}", headers=dispatch)
            return answer.status_code == 200 and answer.json()["status"] == "routed"

        wait_until(routed, timeout=90, what="the 12345 report routed")
        case_id = str(api.get(f"/api/v1/reports/{report_id}", headers=dispatch).json()["case_id"])
        opened = lambda: api.get(f"/api/v1/cases/{case_id}", headers=dispatch).status_code == 200  # noqa: E731
        wait_until(opened, timeout=30, what="the report's case opened")
        for action in ({"action": "accept"}, {"action": "handle", "note": "已紧固井盖"}):
            department = accounts.headers(accounts.actor_for(action["action"], case_id))
            done = api.post(f"/api/v1/cases/{case_id}/actions", json=action, headers=department)
            assert done.status_code == 200, done.text
    return case_id


def test_verification_of_someone_elses_report_keeps_its_photo_on_the_case(
    live_system: LiveSystem, field_worker: UserAccount, tmp_path: Path
) -> None:
    case_id = handled_case_reported_by_the_dispatch_center(live_system)
    service = FieldService(tmp_path / "phone", start_worker=False)
    try:
        service.sign_in(field_worker.username, TEST_PASSWORD, live_system.api_url)

        def listed() -> bool:
            page = service.load_verify_queue()
            return page is not None and any(i.case_id == case_id for i in page.items)

        wait_until(listed, timeout=30, what="the case in the worker's real 核查 queue")
        page = service.cached_verify_queue()
        assert page is not None
        item = next(i for i in page.items if i.case_id == case_id)
        draft = service.new_verification(item)
        draft.passed, draft.note = False, "雨水箅子仍松动，需重新处置"
        site = write_png(tmp_path / "site.png", rgb=(90, 90, 200))
        service.attach_photo(draft, site)
        entry = service.submit_verification(draft)
        result = service.sync_now()
        assert result.actions == 1 and result.photos == 1
        done = service.actions.get(entry.action_id)
        assert done is not None and done.status is ActionStatus.APPLIED, done
        assert done.case_state == "rework"
        sha = done.photos[0].sha256
        assert done.body is not None and done.body["attachments"] == [sha]
        assert done.photos[0].uploaded and done.photos[0].error is None
        assert action_line(done) == "已生效：核查不通过，已返工"
        dispatch = accounts_of(live_system).headers(Role.CITY_DISPATCH)
        url = f"{live_system.api_url}/api/v1/cases/{case_id}/attachments/{sha}"
        assert httpx.get(url, headers=dispatch, timeout=30).content == site.read_bytes()
    finally:
        service.close()
