"""Replay and back-test on the live system: the tables rebuilt from the topics of record equal the live ones,
a live row changed behind the stream's back is named; re-routing under an edited duty rule lists the cases it
would move and changes nothing; the topics of record are kept forever."""

from __future__ import annotations

import random
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic
from shapely import Point
from sqlalchemy import text

from accounts.roles import Role
from geo.boundaries import district_polygons
from infra.db import make_sync_engine
from infra.services.postgres_access import drop_database
from infra.settings import PROJECT_ROOT, Settings
from stream.casework import open_command_id
from stream.events import CaseCommand
from stream.router import work_calendar
from stream.topics import KEEP_FOREVER, ensure_topics, topic_names
from tests.e2e.test_cases_stream import send
from tests.e2e.test_poison import event_bytes, produce
from tests.e2e.test_report_trip import BEIJING, DISTRICTS, SEA_OFF_DALIAN, post_report, report, wait_decided
from tests.fixtures import LiveSystem, auth, wait_until

CATEGORY = "20504"  # 无照经营, a district duty of the market regulator (as in test_editing)
RULE = f"/api/v1/duty-rules/{CATEGORY}/district"
TREES = "10401"  # 行道树, a district duty of the gardens bureau no other test reports


def somewhere_in(districts: list[str]) -> list[tuple[float, float]]:
    """A random point well inside each district: no other test's open case lies within 50 m of it, so the
    reports here open cases of their own (or join each other's, where this test puts them together)."""
    rng, found = random.Random(), []
    for polygon in district_polygons(districts).values():
        inner = polygon.buffer(-0.003)
        minx, miny, maxx, maxy = inner.bounds
        while not inner.contains(Point(where := (rng.uniform(minx, maxx), rng.uniform(miny, maxy)))):
            pass
        found.append(where)
    return found


def gridflow(system: LiveSystem, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI as an operator runs it, with the live system's settings; wide, so ids are not folded."""
    return subprocess.run(
        [sys.executable, "-m", "gridflow_cli", *args],
        cwd=PROJECT_ROOT,
        env={**system.api.env, "COLUMNS": "400"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def post(system: LiveSystem, body: dict[str, Any]) -> None:
    answer = post_report(system, body)
    assert answer.status_code == 202, answer.text


def applied(system: LiveSystem, command_ids: list[uuid.UUID]) -> bool:
    query = "SELECT count(*) FROM case_commands WHERE command_id = ANY(:ids)"
    return system.count(query, ids=command_ids) == len(command_ids)


def cases_of(system: LiveSystem, report_ids: list[str]) -> dict[str, str]:
    with system.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT report_id::text, case_id::text FROM reports WHERE report_id = ANY(CAST(:r AS uuid[]))"
            ),
            {"r": report_ids},
        )
        return dict(rows.all())


def act(case_id: str, action: str) -> CaseCommand:
    at = datetime.now(UTC)
    return CaseCommand(
        command_id=uuid.uuid4(),
        case_id=uuid.UUID(case_id),
        kind="act",
        at=at,
        actor="dept:test",
        action={"action": action},
    )


def report_counts(system: LiveSystem, database: str) -> list[tuple[Any, ...]]:
    """view_reports as the view reads it (rows at 0 left out)."""
    engine = make_sync_engine(system.settings, database)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT * FROM view_reports WHERE n <> 0 ORDER BY 1, 2, 3, 4")).all()
    finally:
        engine.dispose()


def test_replay_rebuilds_the_live_tables_and_names_a_row_changed_behind_the_stream(live_system: LiveSystem):
    places = somewhere_in(DISTRICTS)
    routed = [
        report(*places[i % len(places)], category=TREES) for i in range(30)
    ]  # three at each: duplicates
    triaged = [report(*SEA_OFF_DALIAN), report(*BEIJING), report(*places[0], category="99999")]
    for body in routed + triaged[:2]:
        post(live_system, body)
    # Another producer: the third unknown to the API, a resend of the first with the same content, and the
    # second's id re-used with other content (a conflict).
    first, second = routed[0], routed[1]
    produce(
        live_system,
        [
            (uuid.UUID(str(triaged[2]["report_id"])).bytes, event_bytes(triaged[2])),
            (uuid.UUID(str(first["report_id"])).bytes, event_bytes(first)),
            (uuid.UUID(str(second["report_id"])).bytes, event_bytes({**second, "description": "另一件事"})),
        ],
    )
    ids = [str(b["report_id"]) for b in routed + triaged]
    statuses = [wait_decided(live_system, rid) for rid in ids]
    assert sorted({s["status"] for s in statuses}) == ["routed", "triage"]
    wait_until(
        lambda: (
            live_system.count(
                "SELECT count(*) FROM report_conflicts WHERE report_id = :r", r=second["report_id"]
            )
            == 1
        ),
        timeout=30,
        what="the conflict",
    )
    case_of = cases_of(live_system, ids)
    openings = [open_command_id(uuid.UUID(case_of[rid]), uuid.UUID(rid)) for rid in ids]
    wait_until(lambda: applied(live_system, openings), timeout=60, what="every report's case command")
    one, other = case_of[str(routed[2]["report_id"])], case_of[str(routed[3]["report_id"])]
    acts = [act(one, "accept"), act(one, "accept"), act(other, "accept")]  # the second accept is refused
    send(live_system, *acts)
    wait_until(lambda: applied(live_system, [a.command_id for a in acts]), timeout=60, what="the actions")

    scratch = f"{live_system.settings.pg_database}_replay_kept"
    try:
        same = gridflow(live_system, "stream", "replay", "--database", scratch, "--keep")
        assert same.returncode == 0, same.stdout + same.stderr
        assert "no differences" in same.stdout
        # The report totals, which triggers keep (migration 0009), came out of the replay's writes as live.
        live, replayed = (
            report_counts(live_system, name) for name in (live_system.settings.pg_database, scratch)
        )
        assert replayed == live and live
    finally:
        drop_database(live_system.settings, scratch)

    state = live_system.count(
        "SELECT count(*) FROM cases WHERE case_id = :c AND state = 'in_progress'", c=one
    )
    assert state == 1
    try:
        with live_system.engine.begin() as conn:
            conn.execute(text("UPDATE cases SET state = 'closed' WHERE case_id = :c"), {"c": one})
        changed = gridflow(live_system, "stream", "replay", "--examples", "3")
        assert changed.returncode == 1, changed.stdout + changed.stderr
        named = [line for line in changed.stdout.splitlines() if one in line]
        assert named and "state" in named[0] and "closed" in named[0], changed.stdout
        assert "no differences" not in changed.stdout
    finally:
        with live_system.engine.begin() as conn:
            conn.execute(text("UPDATE cases SET state = 'in_progress' WHERE case_id = :c"), {"c": one})


@pytest.fixture
def rule(live_system: LiveSystem) -> Iterator[dict[str, Any]]:
    """The rule as it stands; put back afterwards, since the live system is shared."""
    original: dict[str, Any] = httpx.get(f"{live_system.api_url}{RULE}", headers=auth(live_system)).json()
    yield original
    keep = ("department_kind", "deadline_hours", "legal_basis")
    restored = httpx.put(
        f"{live_system.api_url}{RULE}",
        json={k: original[k] for k in keep},
        headers=auth(live_system, Role.ADMIN),
    )
    assert restored.status_code == 200, restored.text


def fingerprint(system: LiveSystem) -> tuple[Any, ...]:
    """Row counts and a checksum of every row of the tables a re-route must not touch."""
    with system.engine.connect() as conn:
        return tuple(
            conn.execute(
                text(
                    f"SELECT count(*), md5(string_agg(md5(t::text), '' ORDER BY md5(t::text))) FROM {table} t"
                )
            ).one()
            for table in ("reports", "cases", "case_history", "case_commands", "geo_versions", "duty_rules")
        )


def test_reroute_lists_the_cases_an_edited_rule_would_move_and_changes_nothing(
    live_system: LiveSystem, rule: dict[str, Any]
):
    *places, elsewhere = somewhere_in(["210202", "210203", "210204", "210213"])
    movers = [report(*where, category=CATEGORY) for where in places]
    stays = report(*elsewhere, category=TREES)
    for body in [*movers, stays]:
        post(live_system, body)
    before = {str(b["report_id"]): wait_decided(live_system, str(b["report_id"])) for b in [*movers, stays]}
    assert {before[str(b["report_id"])]["status"] for b in movers} == {"routed"}
    edit = {
        "department_kind": "urban_management",
        "deadline_hours": 36,
        "legal_basis": "《条例》",
        "note": "e2e",
    }
    edited = httpx.put(f"{live_system.api_url}{RULE}", json=edit, headers=auth(live_system, Role.ADMIN))
    assert edited.status_code == 200, edited.text
    today = datetime.now(work_calendar().tz).date().isoformat()

    # A report is routed before the case agent opens its case: wait for the cases, or the fingerprint
    # below would catch them opening.
    case_ids = [str(status["case_id"]) for status in before.values() if status.get("case_id")]
    opened = "SELECT count(*) FROM cases WHERE case_id = ANY(CAST(:ids AS uuid[]))"
    wait_until(
        lambda: live_system.count(opened, ids=case_ids) == len(set(case_ids)),
        timeout=30,
        what="the reports' cases opened",
    )
    untouched = fingerprint(live_system)
    listed = gridflow(live_system, "stream", "reroute", "--since", today)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert fingerprint(live_system) == untouched

    lines = listed.stdout.splitlines()
    for body in movers:
        status = before[str(body["report_id"])]
        (line,) = [line for line in lines if str(status["case_id"]) in line]
        assert str(body["report_id"]) in line and status["department"]["name"] in line
        assert f"{rule['version']} → {edited.json()['rule']['version']}" in line
    assert str(before[str(stays["report_id"])]["case_id"]) not in listed.stdout


def test_bad_input_exits_2_naming_the_option(live_system: LiveSystem):
    bad_date = gridflow(live_system, "stream", "reroute", "--since", "last tuesday")
    assert bad_date.returncode == 2 and "--since" in bad_date.stderr
    backwards = gridflow(live_system, "stream", "reroute", "--since", "2026-12-02", "--until", "2026-11-30")
    assert backwards.returncode == 2 and "--until" in backwards.stderr
    live = gridflow(live_system, "stream", "replay", "--database", live_system.settings.pg_database)
    assert live.returncode == 2 and "--database" in live.stderr


def test_existing_topics_are_altered_to_keep_their_log_forever(services: Settings):
    settings = services.model_copy(update={"topic_prefix": f"test-retention-{uuid.uuid4().hex[:8]}."})
    names = topic_names(settings)
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        made_before = NewTopic(names["submitted"], 1, 1, topic_configs={"retention.ms": "3600000"})
        admin.create_topics([made_before])
        created = ensure_topics(settings)
        assert names["submitted"] not in created and len(created) == len(names) - 1
        keys = dict.fromkeys(KEEP_FOREVER)
        found = admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, n, configs=dict(keys)) for n in names.values()],
            config_filter="all",
        )["topic"]
        assert {n: {k: found[n][k]["value"] for k in KEEP_FOREVER} for n in names.values()} == {
            n: KEEP_FOREVER for n in names.values()
        }
    finally:
        admin.delete_topics(list(names.values()))
        admin.close()
