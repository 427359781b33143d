"""A case's evidence photos on the live system: whoever may verify or handle a case uploads its photos to the
case (not to a report someone else made), the action names them, and whoever sees the case reads them."""

from __future__ import annotations

import hashlib
import uuid

import httpx
import pytest
from sqlalchemy import text

from accounts.roles import Role
from tests.e2e.casework import WATER, Opened, act_as, open_case
from tests.fixtures import Accounts, LiveSystem, accounts_of

JPEG = {"Content-Type": "image/jpeg"}


def photo() -> bytes:
    """A JPEG (by its magic bytes) no other test sends: its first upload to a case answers 201."""
    return b"\xff\xd8\xff\xe0" + uuid.uuid4().bytes * 2000


def sha(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def photos(system: LiveSystem, case_id: str) -> str:
    return f"{system.api_url}/api/v1/cases/{case_id}/attachments"


def upload(system: LiveSystem, case_id: str, who: Role | str, body: bytes) -> httpx.Response:
    """POST the whole photo to the case as `who` (a role of the run's accounts, or a username)."""
    headers = {**JPEG, **accounts_of(system).headers(who)}
    return httpx.post(photos(system, case_id), content=body, headers=headers, timeout=20)


def put_range(url: str, headers: dict[str, str], body: bytes, content_range: str) -> httpx.Response:
    return httpx.put(url, content=body, headers={**headers, "Content-Range": content_range}, timeout=20)


@pytest.fixture
def handled(live_system: LiveSystem, accounts: Accounts) -> Opened:
    """A water case reported by the dispatch center (not the grid worker) in the grid worker's first grid,
    accepted by its lead department."""
    grid = accounts.users[Role.GRID_WORKER].grid_codes[0]
    opened = open_case(live_system, accounts.users[Role.CITY_DISPATCH].username, grid, WATER[0])
    lead = accounts.actor_for("accept", opened.case_id)
    assert act_as(live_system, lead, opened.case_id, "accept").status_code == 200
    return opened


def test_the_lead_department_handles_with_a_photo_it_uploaded_to_the_case(
    live_system: LiveSystem, accounts: Accounts, handled: Opened
) -> None:
    lead = accounts.actor_for("handle", handled.case_id)
    body = photo()
    sent = upload(live_system, handled.case_id, lead, body)
    assert sent.status_code == 201, sent.text
    assert sent.json()["url"] == f"/api/v1/cases/{handled.case_id}/attachments/{sha(body)}"
    done = act_as(live_system, lead, handled.case_id, "handle", note="已更换井盖", attachments=[sha(body)])
    assert done.status_code == 200, done.text


def test_the_grid_worker_verifies_with_a_photo_uploaded_to_the_case_and_the_history_keeps_it(
    live_system: LiveSystem, accounts: Accounts, handled: Opened
) -> None:
    case_id, worker = handled.case_id, accounts.users[Role.GRID_WORKER].username
    lead = accounts.actor_for("handle", case_id)
    assert act_as(live_system, lead, case_id, "handle", note="已处置").status_code == 200
    body = photo()
    url, total, half = f"{photos(live_system, case_id)}/{sha(body)}", len(body), len(body) // 2
    as_worker = {**JPEG, **accounts.headers(worker)}
    first = put_range(url, as_worker, body[:half], f"bytes 0-{half - 1}/{total}")
    assert first.status_code == 308 and first.headers["Range"] == f"bytes=0-{half - 1}"
    asked = put_range(url, as_worker, b"", f"bytes */{total}")
    assert asked.status_code == 308 and asked.headers["Range"] == f"bytes=0-{half - 1}"
    rest = put_range(url, as_worker, body[half:], f"bytes {half}-{total - 1}/{total}")
    assert rest.status_code == 201, rest.text

    verdict = {"passed": True, "note": "现场核查通过", "attachments": [sha(body)]}
    verified = act_as(live_system, worker, case_id, "verify", **verdict)
    assert verified.status_code == 200, verified.text
    assert verified.json()["history"][-1]["action"] == "verify"
    with live_system.engine.connect() as conn:
        payload = conn.execute(
            text("SELECT payload FROM case_history WHERE case_id = :c AND action = 'verify'"), {"c": case_id}
        ).scalar_one()
    assert sha(body) in str(payload)

    served = httpx.get(url, headers=accounts.headers(Role.CITY_DISPATCH), timeout=20)
    assert served.status_code == 200 and served.content == body
    assert served.headers["content-type"] == "image/jpeg"


def test_a_photo_not_uploaded_to_the_case_is_a_422_naming_attachments_and_nothing_is_applied(
    live_system: LiveSystem, accounts: Accounts, handled: Opened
) -> None:
    case_id, worker = handled.case_id, accounts.users[Role.GRID_WORKER].username
    lead = accounts.actor_for("handle", case_id)
    elsewhere = photo()  # stored, but for another case: knowing its hash is not enough
    other = open_case(live_system, worker, handled.case["area"]["grid"], WATER[1])
    sent = upload(live_system, other.case_id, accounts.actor_for("handle", other.case_id), elsewhere)
    assert sent.status_code == 201, sent.text
    for attachments in ([sha(elsewhere)], ["0" * 64]):
        refused = act_as(live_system, lead, case_id, "handle", note="已处置", attachments=attachments)
        assert refused.status_code == 422, refused.text
        assert refused.json()["detail"][0]["loc"] == ["body", "attachments"]
    case_url = f"{live_system.api_url}/api/v1/cases/{case_id}"
    case = httpx.get(case_url, headers=accounts.headers(Role.CITY_DISPATCH), timeout=20).json()
    assert case["state"] != "handled"


def test_another_districts_worker_gets_404_and_the_auditor_403_naming_who_may(
    live_system: LiveSystem, accounts: Accounts, handled: Opened
) -> None:
    stranger = accounts.others[Role.GRID_WORKER].username
    answer = upload(live_system, handled.case_id, stranger, photo())
    assert answer.status_code == 404, answer.text
    auditor = upload(live_system, handled.case_id, Role.AUDITOR, photo())
    assert auditor.status_code == 403, auditor.text  # sees every case, writes nothing
    assert set(auditor.json()["detail"]["needed"]) == {"grid_worker", "department"}
    # The reporter (the dispatch center) sees the case but neither verifies nor handles it.
    reporter = upload(live_system, handled.case_id, handled.reporter, photo())
    assert reporter.status_code == 403, reporter.text


def test_a_case_photo_is_read_by_whoever_sees_the_case_and_no_one_else(
    live_system: LiveSystem, accounts: Accounts, handled: Opened
) -> None:
    body, worker = photo(), accounts.users[Role.GRID_WORKER].username
    sent = upload(live_system, handled.case_id, worker, body)
    assert sent.status_code == 201, sent.text
    url = f"{photos(live_system, handled.case_id)}/{sha(body)}"
    for who in (Role.CITY_DISPATCH, Role.AUDITOR, Role.DISTRICT, Role.DEPARTMENT):
        assert httpx.get(url, headers=accounts.headers(who), timeout=20).content == body, who
    stranger = accounts.others[Role.GRID_WORKER].username
    assert httpx.get(url, headers=accounts.headers(stranger), timeout=20).status_code == 404
    unknown = f"{photos(live_system, handled.case_id)}/{'0' * 64}"
    assert httpx.get(unknown, headers=accounts.headers(Role.CITY_DISPATCH), timeout=20).status_code == 404
