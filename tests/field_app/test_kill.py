"""Killing the app at any moment loses nothing: 100 submit cycles killed at random, each report lands once."""

from __future__ import annotations

from pathlib import Path

from field_app.core.models import ReportStatus
from tests.field_app.fake_api import FakeApi
from tests.field_app.fake_auth import PASSWORD
from tests.field_app.images import write_png
from tests.field_app.killing import submit_with_kills


def test_killed_app_delivers_every_report_exactly_once(tmp_path: Path) -> None:
    api = FakeApi(tmp_path / "server-photos")
    api.accounts.add("wg-kill")
    api.delay_s = 0.01  # requests take a little time, as on a phone network, so kills land inside them too
    url, server = api.serve()
    try:
        photo = write_png(tmp_path / "photo.png", width=320, height=240)
        run = submit_with_kills(
            server=url,
            data=tmp_path / "phone",
            cycles=100,
            seed=20261125,
            worker="wg-kill",
            password=PASSWORD,
            photo=photo,
            photo_every=7,
        )
    finally:
        server.shutdown()
    ids = [entry.report_id for entry in run.entries]
    assert run.kills >= 15, f"only {run.kills} kills in {run.runs} runs: the test did not test much"
    assert len(ids) == 100 and len(set(ids)) == 100
    assert run.announced <= set(ids)  # everything the app said it saved is still in its outbox
    unsent = [
        (e.status, e.failure_reason, e.last_error) for e in run.entries if e.status is not ReportStatus.SENT
    ]
    assert not unsent, unsent[:5]
    assert set(api.accepted) == set(ids)  # at the server: every report, nothing else, each key once
    assert sum(1 for body in api.accepted.values() if body.get("attachments")) == 15
    for entry in run.entries:
        for attachment in entry.attachments:
            assert attachment.uploaded
            assert api.photos.object_path(attachment.sha256).read_bytes() == photo.read_bytes()
    resent = sum(count - 1 for count in api.answers.values())
    print(f"{run.kills} kills in {run.runs} runs; {resent} resends acknowledged again and counted once")
