"""The kill test on the real running system: API process, Faust worker, Kafka and PostGIS.

The app's submit path runs as its own process, signed in with a real grid worker's account, and is SIGKILLed
at random moments across 100 submit cycles; afterwards every report of the phone's outbox is in PostGIS
exactly once and the API tells where it went.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from field_app.core.models import ReportStatus
from tests.field_app.images import write_png
from tests.field_app.killing import submit_with_kills
from tests.fixtures import TEST_PASSWORD, LiveSystem, UserAccount, accounts_of, wait_until

pytestmark = pytest.mark.services
WORKER = "t_field_kill"  # its own account, so that counting its reports counts this test's only


def test_killed_app_delivers_every_report_once_to_the_real_system(
    live_system: LiveSystem, field_worker: UserAccount, tmp_path: Path
) -> None:
    accounts = accounts_of(live_system)
    accounts.grid_worker(*field_worker.grid_codes, name=WORKER)
    photo = write_png(tmp_path / "photo.png", width=320, height=240)
    run = submit_with_kills(
        server=live_system.api_url,
        data=tmp_path / "phone",
        cycles=100,
        seed=20261125,
        worker=WORKER,
        password=TEST_PASSWORD,
        photo=photo,
        photo_every=10,
    )
    ids = {entry.report_id for entry in run.entries}
    print(f"{run.kills} kills in {run.runs} runs")
    assert run.kills >= 10, f"only {run.kills} kills in {run.runs} runs"
    assert len(run.entries) == 100 and len(ids) == 100
    assert run.announced <= ids
    unsent = [
        (e.status, e.failure_reason, e.last_error) for e in run.entries if e.status is not ReportStatus.SENT
    ]
    assert not unsent, unsent[:5]

    count = "SELECT count(*) FROM reports WHERE reporter_id = :worker"
    wait_until(
        lambda: live_system.count(count, worker=WORKER) >= 100, timeout=120, what="100 reports in PostGIS"
    )
    assert live_system.count(count, worker=WORKER) == 100
    assert (
        live_system.count(
            "SELECT count(DISTINCT report_id) FROM reports WHERE reporter_id = :worker", worker=WORKER
        )
        == 100
    )
    stored = {
        str(row[0])
        for row in live_system.engine.connect().exec_driver_sql(
            "SELECT report_id FROM reports WHERE reporter_id = %(w)s", {"w": WORKER}
        )
    }
    assert stored == ids  # the server holds exactly the phone's reports: none lost, none invented
    with httpx.Client(base_url=live_system.api_url, timeout=10, headers=accounts.headers(WORKER)) as client:

        def decided(report_id: str) -> bool:
            answer = client.get(f"/api/v1/reports/{report_id}")
            return answer.status_code == 200 and answer.json()["status"] in ("routed", "triage")

        for report_id in sorted(ids)[:20]:
            wait_until(lambda rid=report_id: decided(rid), timeout=60, what=f"{report_id} routed or triaged")
        for entry in run.entries:
            for attachment in entry.attachments:
                assert attachment.uploaded
                fetched = client.get(f"/api/v1/reports/{entry.report_id}/attachments/{attachment.sha256}")
                assert fetched.status_code == 200 and fetched.content == photo.read_bytes()
