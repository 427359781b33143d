"""The outbox keeps every report from the moment it is saved, with one client UUID, whatever happens next."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from field_app.core.clock import FakeClock
from field_app.core.db import MIGRATIONS, Database
from field_app.core.models import Draft, FailureKind, ReportStatus, build_payload
from field_app.core.outbox import Outbox, taken_by_other_content
from field_app.core.service import FieldService
from tests.field_app.conftest import ZHONGSHAN_SQUARE, complete_draft

DALIAN = timezone(timedelta(hours=8))
SEEN = datetime(2026, 11, 25, 9, 30, tzinfo=DALIAN)


def test_payload_matches_the_intake_contract(service: FieldService, photo: Path) -> None:
    draft = complete_draft(service)
    service.attach_photo(draft, photo)
    payload = build_payload(draft, observed_at=SEEN)
    assert payload == {
        "report_id": draft.report_id,
        "reporter_id": "wg-0001",
        "category": "10101",
        "description": "井盖缺失，行人易跌落",
        "location": {"lon": 121.6447, "lat": 38.9206, "accuracy_m": 8.0, "crs": "wgs84"},
        "observed_at": "2026-11-25T09:30:00+08:00",
        "attachments": [draft.photos[0].sha256],
    }


def test_incomplete_draft_names_each_missing_field() -> None:
    assert set(Draft(reporter_id="wg-1").problems()) == {"category", "location"}
    assert (
        Draft(reporter_id="wg-1", description="长" * 2001).problems()["description"] == "描述不能超过2000字"
    )


def test_observed_at_without_timezone_is_refused(service: FieldService) -> None:
    with pytest.raises(ValueError, match="timezone"):
        build_payload(complete_draft(service), observed_at=datetime(2026, 11, 25, 9, 30))


def test_saved_report_survives_reopening_the_database(tmp_path: Path) -> None:
    clock = FakeClock()
    db = Database(tmp_path / "o.sqlite3")
    draft = Draft(
        reporter_id="wg-1", category_code="10101", description="井盖缺失", location=ZHONGSHAN_SQUARE
    )
    Outbox(db, clock).save(draft, observed_at=SEEN)
    db.close()
    reopened = Outbox(Database(tmp_path / "o.sqlite3"), clock)
    entry = reopened.get(draft.report_id)
    assert entry is not None and entry.status is ReportStatus.WAITING
    assert entry.payload["report_id"] == draft.report_id


def test_saving_twice_keeps_one_entry(service: FieldService) -> None:
    draft = complete_draft(service)
    service.outbox.save(draft, observed_at=SEEN)
    service.outbox.save(draft, observed_at=SEEN)  # a double tap on 提交
    assert len(service.outbox.entries()) == 1


def test_other_content_under_a_saved_uuid_is_refused_locally(service: FieldService) -> None:
    draft = complete_draft(service)
    service.outbox.save(draft, observed_at=SEEN)
    draft.description = "改过的描述"
    with pytest.raises(ValueError, match="other content"):
        service.outbox.save(draft, observed_at=SEEN)


def test_request_in_flight_at_a_crash_is_sent_again(service: FieldService) -> None:
    entry = service.outbox.save(complete_draft(service), observed_at=SEEN)
    service.outbox.mark_sending(entry.report_id)
    assert service.outbox.recover() == 1
    assert service.outbox.get(entry.report_id).status is ReportStatus.WAITING  # type: ignore[union-attr]


def test_conflict_resubmitted_as_new_keeps_the_old_entry_visible(service: FieldService) -> None:
    old = service.outbox.save(complete_draft(service), observed_at=SEEN)
    service.outbox.mark_failed(old.report_id, kind=FailureKind.CONFLICT, reason="编号冲突")
    new_id = service.outbox.resubmit_as_new(old.report_id)
    kept = service.outbox.get(old.report_id)
    assert kept is not None and kept.status is ReportStatus.FAILED and kept.superseded_by == new_id
    fresh = service.outbox.get(new_id)
    assert fresh is not None and fresh.status is ReportStatus.WAITING
    assert fresh.payload == {**old.payload, "report_id": new_id}


def test_payload_is_frozen_as_json_text(service: FieldService) -> None:
    entry = service.outbox.save(complete_draft(service), observed_at=SEEN)
    row = service.db.query("SELECT payload FROM reports WHERE report_id = ?", (entry.report_id,))[0]
    assert json.loads(row["payload"]) == entry.payload
    assert "井盖缺失" in row["payload"]  # UTF-8 kept as text, not \\u escapes


def test_counts_cover_every_status(service: FieldService) -> None:
    service.outbox.save(complete_draft(service), observed_at=SEEN)
    counts = service.outbox.counts()
    assert counts[ReportStatus.WAITING] == 1 and counts[ReportStatus.FAILED] == 0


# The reports table as the first release created it, on phones that are already in the field.
FIRST_RELEASE_REPORTS = """
CREATE TABLE reports (
    report_id TEXT PRIMARY KEY, payload TEXT NOT NULL, category_name TEXT, created_at REAL NOT NULL,
    status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at REAL NOT NULL DEFAULT 0,
    last_error TEXT, failure_kind TEXT, failure_reason TEXT, superseded_by TEXT, sent_at REAL,
    server_status TEXT, department_code TEXT, department_name TEXT, triage_reason TEXT, area TEXT,
    checks INTEGER NOT NULL DEFAULT 0, next_check_at REAL
);
"""


def test_database_of_the_first_release_is_upgraded_and_keeps_its_reports(tmp_path: Path) -> None:
    path = tmp_path / "old-phone.sqlite3"
    payload = build_payload(
        Draft(reporter_id="wg-1", category_code="10101", location=ZHONGSHAN_SQUARE), observed_at=SEEN
    )
    with sqlite3.connect(path) as old:
        old.executescript(FIRST_RELEASE_REPORTS)
        old.execute(
            "INSERT INTO reports (report_id, payload, created_at, status, sent_at, server_status,"
            " next_check_at) VALUES (?, ?, 1.0, 'sent', 2.0, 'accepted', 0)",
            (payload["report_id"], json.dumps(payload, ensure_ascii=False, sort_keys=True)),
        )
    old.close()

    db = Database(path)
    assert db.version == len(MIGRATIONS)
    outbox = Outbox(db, FakeClock())
    entry = outbox.get(payload["report_id"])
    assert entry is not None and entry.status is ReportStatus.SENT and entry.payload == payload
    assert entry.content_hash is None  # accepted before the app kept hashes: nothing to compare with
    state = {
        "status": "routed",
        "department": {"code": "x", "name": "中山区城市管理局"},
        "content_hash": "a" * 64,
    }
    assert outbox.record_server_state(entry.report_id, state, next_check_at=0) is False
    assert outbox.get(entry.report_id).department_name == "中山区城市管理局"  # type: ignore[union-attr]
    outbox.mark_accepted(entry.report_id, content_hash="b" * 64)
    db.close()

    reopened = Database(path)  # a second start runs no step twice (ALTER TABLE would fail)
    assert reopened.version == len(MIGRATIONS)
    assert Outbox(reopened, FakeClock()).get(entry.report_id).content_hash == "b" * 64  # type: ignore[union-attr]
    reopened.close()


def test_new_database_starts_at_the_latest_version(tmp_path: Path) -> None:
    db = Database(tmp_path / "new.sqlite3")
    assert db.version == len(MIGRATIONS)
    assert "content_hash" in {row["name"] for row in db.query("PRAGMA table_info(reports)")}
    db.close()


OURS, THEIRS = "a" * 64, "b" * 64


@pytest.mark.parametrize(
    ("accepted_hash", "state", "taken"),
    [
        (OURS, {"status": "routed", "content_hash": OURS, "conflicts": []}, False),
        (OURS, {"status": "routed", "content_hash": THEIRS, "conflicts": []}, True),
        (OURS, {"status": "routed", "conflicts": [{"content_hash": OURS, "submitted_at": "x"}]}, True),
        (OURS, {"status": "routed", "content_hash": OURS, "conflicts": [{"content_hash": THEIRS}]}, False),
        (OURS, {"status": "routed"}, False),  # an older server says nothing about content
        (None, {"status": "routed", "content_hash": THEIRS}, False),  # accepted by an older server
    ],
    ids=["same", "other-named", "ours-refused", "others-refused", "old-server", "no-own-hash"],
)
def test_taken_by_other_content_only_when_the_status_says_so(
    accepted_hash: str | None, state: dict[str, object], taken: bool
) -> None:
    assert taken_by_other_content(accepted_hash, state) is taken
