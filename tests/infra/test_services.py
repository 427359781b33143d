"""The real Kafka and PostgreSQL + PostGIS that infra.services runs: they start idempotently, answer real
requests, and come back from kill -9 with what they had acknowledged. Never skipped: a service that
cannot start fails these tests. They leave every service up, since other tests rely on them.
"""

from __future__ import annotations

import socket
import time
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from typer.testing import CliRunner

from infra import services
from infra.services import cli, kafka, postgres, postgres_access, postgres_config
from infra.services._process import wait_until
from infra.services.cli import app
from infra.settings import Settings, get_settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def running() -> Iterator[Settings]:
    s = get_settings()
    services.up(s)
    yield s
    services.up(s)  # a test that failed half-way must not leave a service down for the next ones


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def create_topic(s: Settings, name: str) -> None:
    with KafkaAdminClient(bootstrap_servers=s.kafka_bootstrap) as admin:
        admin.create_topics({name: {"num_partitions": 1, "replication_factor": 1}}, wait_for_metadata=True)


def produce(s: Settings, topic: str, *values: bytes) -> None:
    producer = KafkaProducer(bootstrap_servers=s.kafka_bootstrap, acks="all")
    try:
        for value in values:
            producer.send(topic, value).get(timeout=15)
    finally:
        producer.close()


def read_all(s: Settings, topic: str, expected: int, timeout: float = 20.0) -> list[bytes]:
    """Every value on partition 0 from the start, without a consumer group (no rebalance to wait for)."""
    consumer = KafkaConsumer(bootstrap_servers=s.kafka_bootstrap, enable_auto_commit=False)
    partition = TopicPartition(topic, 0)
    consumer.assign([partition])
    consumer.seek_to_beginning(partition)
    values: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while len(values) < expected and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                values.extend(record.value for record in records)
    finally:
        consumer.close()
    return values


def connect(s: Settings, dbname: str, *, autocommit: bool = False) -> psycopg.Connection:
    """The app's role over TCP with its password, as the app connects."""
    conn = postgres_access.app_connect(s, dbname)
    conn.autocommit = autocommit
    return conn


@contextmanager
def throwaway_database(s: Settings) -> Iterator[str]:
    name = unique("gridflow_infra_test")
    postgres_access.ensure_database(s, name)
    try:
        yield name
    finally:
        postgres_access.drop_database(s, name)


def test_up_again_leaves_the_running_processes_alone(running: Settings) -> None:
    before = {state.name: state.pid for state in services.status(running)}
    started = time.monotonic()
    took = services.up(running)
    assert took == {"postgres": 0.0, "kafka": 0.0}
    assert time.monotonic() - started < 10
    assert {state.name: state.pid for state in services.status(running)} == before


def test_status_reports_every_service_running_and_answering(running: Settings) -> None:
    states = {state.name: state for state in services.status(running)}
    assert set(states) == {"postgres", "kafka"}
    assert states["kafka"].port == running.kafka_port
    assert states["postgres"].port == running.pg_port
    for state in states.values():
        assert state.running and state.answering and state.pid
        assert state.log_path.exists()


def test_kafka_answers_metadata_and_round_trips_a_message(running: Settings) -> None:
    with KafkaAdminClient(bootstrap_servers=running.kafka_bootstrap) as admin:
        brokers = admin.describe_cluster()["brokers"]
    assert [(b["host"], b["port"]) for b in brokers] == [(running.kafka_host, running.kafka_port)]
    topic = unique("infra-roundtrip")
    create_topic(running, topic)
    produce(running, topic, "网格 report".encode(), b"second")
    assert read_all(running, topic, expected=2) == ["网格 report".encode(), b"second"]


def test_a_new_database_belongs_to_the_app_and_has_postgis(running: Settings) -> None:
    with throwaway_database(running) as name, connect(running, name) as conn:
        owner = conn.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (name,))
        assert owner.fetchone() == (running.pg_user,)
        version = conn.execute("SELECT postgis_version()").fetchone()
        assert version is not None and version[0].startswith("3.")
        dalian = "ST_MakeEnvelope(121, 38, 122, 39, 4326)"
        point = "ST_SetSRID(ST_Point(121.6, 38.9), 4326)"
        assert conn.execute(f"SELECT ST_Covers({dalian}, {point})").fetchone() == (True,)


def test_the_app_role_is_no_superuser_and_cannot_make_roles(running: Settings) -> None:
    with connect(running, "postgres") as conn:
        rights = conn.execute(
            "SELECT rolsuper, rolcreaterole, rolreplication, rolbypassrls FROM pg_roles"
            " WHERE rolname = current_user"
        ).fetchone()
        assert rights == (False, False, False, False)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE ROLE gridflow_intruder SUPERUSER")


def test_the_app_role_can_create_no_database(running: Settings) -> None:
    with connect(running, "postgres", autocommit=True) as conn:
        rights = conn.execute(
            "SELECT rolsuper, rolcreatedb FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        assert rights == (False, False)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(unique("gridflow_intruder"))))


def test_up_takes_createdb_from_a_role_that_still_has_it(running: Settings) -> None:
    """A cluster made while the tests still created their databases as the app's role."""
    before = postgres.pid(running)
    try:
        with postgres_access.admin_connect(running) as conn:
            conn.execute(sql.SQL("ALTER ROLE {} CREATEDB").format(sql.Identifier(running.pg_user)))
    finally:
        took = postgres.start(running)
    assert took > 0 and postgres.pid(running) == before  # taken away without a restart
    with connect(running, "postgres") as conn:
        rights = conn.execute("SELECT rolcreatedb FROM pg_roles WHERE rolname = current_user").fetchone()
    assert rights == (False,)
    assert postgres.start(running) == 0.0


@pytest.mark.parametrize("password", ["", "not-the-password"], ids=["none", "wrong"])
def test_tcp_login_without_the_right_password_is_refused(running: Settings, password: str) -> None:
    with pytest.raises(psycopg.OperationalError, match="password"):
        postgres_access.app_connect(running, password=password)


def test_the_superuser_cannot_log_in_over_tcp(running: Settings) -> None:
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(
            host=running.pg_host,
            port=running.pg_port,
            user="postgres",
            dbname="postgres",
            passfile="/nonexistent/.pgpass",
        )


def test_no_rule_of_the_running_server_trusts_anyone(running: Settings) -> None:
    with postgres_access.admin_connect(running) as conn:
        rules = conn.execute("SELECT type, auth_method, error FROM pg_hba_file_rules").fetchall()
    assert rules == [("local", "peer", None), ("host", "scram-sha-256", None)]


def test_the_state_dir_and_the_password_are_closed_to_other_users(running: Settings) -> None:
    state = running.state_dir.resolve().stat()
    assert state.st_mode & 0o077 == 0o010  # the postgres group may traverse to its cluster, nothing more
    assert running.pg_password_file.stat().st_mode & 0o777 == 0o600
    assert postgres_config.paths(running).logs.stat().st_mode & 0o077 == 0


OLD_TRUST_HBA = "local all all trust\nhost  all all 127.0.0.1/32 trust\n"


def test_up_brings_a_cluster_made_with_trust_to_passwords_in_place(running: Settings) -> None:
    """A cluster made before the app had a password: trust for all, the app's role a superuser."""
    p = postgres_config.paths(running)
    before = postgres.pid(running)
    (p.data / "pg_hba.conf").write_text(OLD_TRUST_HBA)
    try:
        with postgres_access.admin_connect(running) as conn:
            conn.execute(sql.SQL("ALTER ROLE {} SUPERUSER").format(sql.Identifier(running.pg_user)))
            conn.execute("SELECT pg_reload_conf()")
        assert wait_until(lambda: not postgres_access.refuses_no_password(running), timeout=10)
    finally:
        took = postgres.start(running)
    assert took > 0 and postgres.pid(running) == before  # upgraded without a restart
    assert postgres_access.refuses_no_password(running)
    with connect(running, "postgres") as conn:
        rights = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
    assert rights == (False,)
    assert postgres.start(running) == 0.0


def test_killed_broker_comes_back_with_the_messages_it_acknowledged(running: Settings) -> None:
    topic = unique("infra-crash")
    create_topic(running, topic)
    produce(running, topic, b"before the crash")
    try:
        kafka.kill(running)
        assert kafka.pid(running) is None
        assert not kafka.is_answering(running, timeout=1.0)
        assert kafka.status(running).running is False
    finally:
        took = kafka.start(running)
    assert took > 0
    produce(running, topic, b"after the restart")
    assert read_all(running, topic, expected=2) == [b"before the crash", b"after the restart"]


def test_killed_database_comes_back_with_its_committed_rows(running: Settings) -> None:
    with throwaway_database(running) as name:
        with connect(running, name) as conn:
            conn.execute("CREATE TABLE survivors (name text)")
            conn.execute("INSERT INTO survivors VALUES ('committed')")
        try:
            postgres.kill(running)
            assert postgres.pid(running) is None
            assert not postgres.is_answering(running, timeout=1.0)
        finally:
            took = postgres.start(running)
        assert took > 0
        with connect(running, name) as conn:
            assert conn.execute("SELECT name FROM survivors").fetchall() == [("committed",)]


def test_cli_up_and_status_report_both_services(running: Settings) -> None:
    runner = CliRunner()
    up = runner.invoke(app, ["up"])
    assert up.exit_code == 0, up.output
    assert "postgres already up" in up.output and "kafka already up" in up.output
    status = runner.invoke(app, ["status"])
    assert status.exit_code == 0, status.output
    assert "postgres" in status.output and "kafka" in status.output


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_cli_fails_with_a_clear_message_where_nothing_is_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = Settings(
        state_dir=tmp_path, kafka_port=free_port(), kafka_controller_port=free_port(), pg_port=free_port()
    )
    monkeypatch.setattr(cli, "get_settings", lambda: empty)
    runner = CliRunner()
    up = runner.invoke(app, ["up", "kafka"])
    assert up.exit_code == 1
    assert "no Kafka jars" in up.output and "infra/bootstrap.sh" in up.output
    status = runner.invoke(app, ["status"])
    assert status.exit_code == 3  # the LSB code for "not running"
