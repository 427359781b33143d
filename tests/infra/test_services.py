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
from infra.services import cli, kafka, postgres
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
    return psycopg.connect(
        host=s.pg_host,
        port=s.pg_port,
        user=s.pg_user,
        dbname=dbname,
        autocommit=autocommit,
        connect_timeout=5,
    )


@contextmanager
def throwaway_database(s: Settings) -> Iterator[str]:
    name = unique("gridflow_infra_test")
    with connect(s, "postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with connect(s, "postgres", autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


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


def test_postgis_works_in_a_fresh_database(running: Settings) -> None:
    with throwaway_database(running) as name, connect(running, name) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        version = conn.execute("SELECT postgis_version()").fetchone()
        assert version is not None and version[0].startswith("3.")
        dalian = "ST_MakeEnvelope(121, 38, 122, 39, 4326)"
        point = "ST_SetSRID(ST_Point(121.6, 38.9), 4326)"
        assert conn.execute(f"SELECT ST_Covers({dalian}, {point})").fetchone() == (True,)


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
