"""API keys on the live system: listed without their secrets, revoked by an admin through the API or the CLI,
and refused by Open311 afterwards as an unknown key is: at once by the API process that revoked the key,
within `revocation_recheck_s` after a revocation elsewhere (the CLI)."""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from accounts.roles import Role
from api.auth.api_keys import verify_api_key
from tests.e2e.test_accounts import gridflow
from tests.e2e.test_open311 import issue_key, listed
from tests.fixtures import Accounts, LiveSystem, wait_until

pytestmark = pytest.mark.services

RECORD_FIELDS = {"key_id", "client_name", "created_at", "created_by", "revoked_at", "revoked_by"}


def key_id_of(live_system: LiveSystem, key: str) -> str:
    digest = hashlib.sha256(key.encode()).hexdigest()
    with live_system.engine.connect() as conn:
        found = conn.execute(text("SELECT key_id FROM api_keys WHERE key_hash = :h"), {"h": digest})
        return str(found.scalar_one())


def revoke(accounts: Accounts, key_id: str, who: Role = Role.ADMIN) -> httpx.Response:
    return httpx.post(
        f"{accounts.api_url}/api/v1/api-keys/{key_id}/revoke", headers=accounts.headers(who), timeout=10
    )


def listed_keys(accounts: Accounts) -> httpx.Response:
    return httpx.get(f"{accounts.api_url}/api/v1/api-keys", headers=accounts.headers(Role.ADMIN), timeout=10)


def refusal(answer: httpx.Response) -> tuple[int, Any]:
    return answer.status_code, answer.json()


def test_a_key_revoked_through_the_api_is_refused_at_once_as_an_unknown_key_is(
    accounts: Accounts, live_system: LiveSystem
) -> None:
    key = issue_key(accounts, f"12345热线-{uuid.uuid4().hex[:6]}")
    assert listed(live_system, key).status_code == 200  # verified, and cached as valid for 10 s
    key_id = key_id_of(live_system, key)

    answer = revoke(accounts, key_id)

    assert answer.status_code == 200, answer.text
    record = answer.json()
    assert record["key_id"] == key_id and record["revoked_by"] == "user:t_admin" and record["revoked_at"]
    unknown = refusal(listed(live_system, "no-such-key-" + uuid.uuid4().hex))
    assert unknown[0] == 403
    assert refusal(listed(live_system, key)) == unknown  # no hint that the key existed
    with live_system.engine.connect() as conn:
        assert verify_api_key(conn, key=key) is None


def test_a_key_revoked_by_the_cli_is_refused_within_the_revocation_bound(
    accounts: Accounts, live_system: LiveSystem
) -> None:
    key = issue_key(accounts, f"cli-revoked-{uuid.uuid4().hex[:6]}")
    key_id = key_id_of(live_system, key)
    assert listed(live_system, key).status_code == 200  # the API's verdict: valid, cached

    revoked = gridflow(live_system, "apikey", "revoke", key_id)
    since = time.monotonic()

    assert revoked.returncode == 0, revoked.stderr
    assert key_id in revoked.stdout and "已撤销" in revoked.stdout
    bound = live_system.settings.revocation_recheck_s
    wait_until(
        lambda: listed(live_system, key).status_code == 403, timeout=bound + 10, what="the key refused"
    )
    assert time.monotonic() - since <= bound + 2


def test_the_list_shows_who_issued_and_revoked_each_key_but_never_a_key_or_its_hash(
    accounts: Accounts, live_system: LiveSystem
) -> None:
    key, revoked_key = (issue_key(accounts, f"listed-{uuid.uuid4().hex[:6]}") for _ in range(2))
    revoked_id = key_id_of(live_system, revoked_key)
    assert revoke(accounts, revoked_id).status_code == 200

    answer = listed_keys(accounts)

    assert answer.status_code == 200, answer.text
    records = {r["key_id"]: r for r in answer.json()}
    assert all(set(r) == RECORD_FIELDS for r in records.values())
    valid = records[key_id_of(live_system, key)]
    assert valid["created_by"] == "user:t_admin" and valid["revoked_at"] is None
    assert valid["revoked_by"] is None
    assert records[revoked_id]["revoked_by"] == "user:t_admin" and records[revoked_id]["revoked_at"]
    with live_system.engine.connect() as conn:
        hashes = conn.scalars(text("SELECT key_hash FROM api_keys")).all()
    assert hashes and not any(secret in answer.text for secret in [key, revoked_key, *hashes])


def test_revoking_a_revoked_key_answers_the_same_record_and_audits_one_revocation(
    accounts: Accounts, live_system: LiveSystem
) -> None:
    key_id = key_id_of(live_system, issue_key(accounts, f"twice-{uuid.uuid4().hex[:6]}"))

    first, second = revoke(accounts, key_id), revoke(accounts, key_id)

    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    with live_system.engine.connect() as conn:
        events = conn.execute(
            text(
                "SELECT actor, subject FROM account_events"
                " WHERE action = 'revoke_api_key' AND detail->>'key_id' = :k"
            ),
            {"k": key_id},
        ).all()
    assert events == [("user:t_admin", f"client:{first.json()['client_name']}")]


def test_revoking_an_unknown_key_is_404_in_the_apis_error_shape(accounts: Accounts) -> None:
    answer = revoke(accounts, str(uuid.uuid4()))
    assert answer.status_code == 404
    body = answer.json()
    assert body["error"] == "not_found" and body["detail"]["code"] == "not_found"
    assert "API 密钥" in body["detail"]["message"]


@pytest.mark.parametrize("key_id", ["not-a-uuid", "12345", "0" * 40])
def test_a_malformed_key_id_is_422_naming_the_path_parameter(accounts: Accounts, key_id: str) -> None:
    answer = revoke(accounts, key_id)
    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid"
    assert answer.json()["detail"][0]["loc"] == ["path", "key_id"]


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.ADMIN])
def test_a_revocation_by_another_role_is_403_and_leaves_the_key_working(
    accounts: Accounts, live_system: LiveSystem, role: Role
) -> None:
    key = issue_key(accounts, f"kept-{uuid.uuid4().hex[:6]}")

    answer = revoke(accounts, key_id_of(live_system, key), role)

    assert answer.status_code == 403 and answer.json()["detail"]["needed"] == ["admin"]
    assert listed(live_system, key).status_code == 200


def test_the_cli_lists_keys_without_secrets_and_revokes_once(
    accounts: Accounts, live_system: LiveSystem
) -> None:
    name = f"cli-list-{uuid.uuid4().hex[:6]}"
    key = issue_key(accounts, name)
    key_id = key_id_of(live_system, key)

    shown = gridflow(live_system, "apikey", "list")

    assert shown.returncode == 0, shown.stderr
    line = next(line for line in shown.stdout.splitlines() if key_id in line)
    assert name in line and "有效" in line and "user:t_admin" in line
    assert key not in shown.stdout and hashlib.sha256(key.encode()).hexdigest() not in shown.stdout
    assert gridflow(live_system, "apikey", "revoke", key_id).returncode == 0
    again = gridflow(live_system, "apikey", "revoke", key_id)
    assert again.returncode == 0 and "已撤销" in again.stdout
    after = gridflow(live_system, "apikey", "list").stdout
    assert "已撤销" in next(line for line in after.splitlines() if key_id in line)


@pytest.mark.parametrize("key_id", ["not-a-uuid", str(uuid.uuid4())])
def test_the_cli_refuses_a_malformed_or_unknown_key_id_with_exit_2_naming_it(
    live_system: LiveSystem, key_id: str
) -> None:
    result = gridflow(live_system, "apikey", "revoke", key_id)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "KEY_ID" in result.stderr
