"""Fixtures shared by the integration and end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text

from infra.settings import PROJECT_ROOT, Settings, get_settings

LOGS = PROJECT_ROOT / "artifacts" / "logs"


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.25) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def settings() -> Settings:
    return get_settings()


@pytest.fixture(scope="session")
def services(settings: Settings) -> Settings:
    from infra import services as svc

    svc.up(settings)  # raises (fails the run) when a service cannot start
    return settings


@pytest.fixture(scope="session")
def database(services: Settings) -> Iterator[Engine]:
    """A fresh database for this run, migrated and loaded with Dalian; dropped afterwards."""
    from geo.hierarchy import dalian_areas
    from infra.db import make_sync_engine
    from infra.loading import load_city
    from infra.migrate import upgrade
    from infra.services.postgres_access import drop_database

    upgrade(services)  # creates the database (owned by the app's role, with PostGIS) through the superuser
    load_city(services, dalian_areas(), quiet=True)
    engine = make_sync_engine(services)
    yield engine
    engine.dispose()
    drop_database(services, services.pg_database)


@pytest.fixture(scope="session")
def topics(services: Settings) -> Iterator[dict[str, str]]:
    from kafka.admin import KafkaAdminClient

    from stream.topics import ensure_topics, topic_names

    ensure_topics(services)
    names = topic_names(services)
    yield names
    admin = KafkaAdminClient(bootstrap_servers=services.kafka_bootstrap)
    try:
        admin.delete_topics(list(names.values()))
    finally:
        admin.close()


@dataclass
class Process:
    name: str
    args: list[str]
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)
    log_offset: int = 0  # where this start's output begins in the (appended) log

    def output(self) -> str:
        """What the process wrote since it was last started."""
        with self.log.open("rb") as fh:
            fh.seek(self.log_offset)
            return fh.read().decode(errors="replace")

    def __post_init__(self) -> None:
        LOGS.mkdir(parents=True, exist_ok=True)
        self.log = LOGS / f"{self.name}.log"

    def start(self) -> None:
        self.log_offset = self.log.stat().st_size if self.log.exists() else 0
        self.proc = subprocess.Popen(
            self.args,
            cwd=PROJECT_ROOT,
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        """kill -9: no shutdown hooks, no final commit."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class LiveSystem:
    api_url: str
    api: Process
    workers: list[Process]
    settings: Settings
    engine: Engine

    def count(self, sql: str, **params: object) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(text(sql), params).scalar() or 0)


@pytest.fixture(scope="session")
def live_system(services: Settings, database: Engine, topics: dict[str, str]) -> Iterator[LiveSystem]:
    """A real API process and a real Faust worker, on this run's database and topics."""
    port = free_port()
    # The re-drive looks every 2 s, so a test can show it without waiting a minute (its age bound stays).
    env = {
        **os.environ,
        "GRIDFLOW_API_PORT": str(port),
        "PYTHONUNBUFFERED": "1",
        "GRIDFLOW_REDRIVE_EVERY_S": "2",
    }
    api = Process("api", [sys.executable, "-m", "gridflow_cli", "api"], env)
    worker = Process("worker-1", [sys.executable, "-m", "gridflow_cli", "worker"], env)
    api.start()
    worker.start()
    url = f"http://127.0.0.1:{port}"

    def api_answers() -> bool:
        try:
            return httpx.get(f"{url}/api/v1/categories", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(api_answers, timeout=60, what="the API to answer")
    system = LiveSystem(api_url=url, api=api, workers=[worker], settings=services, engine=database)
    yield system
    for process in [api, *system.workers]:
        process.stop()


@pytest.fixture(scope="session")
def live_api(live_system: LiveSystem) -> str:
    """Base URL of a real API with a real worker behind it (the field app's tests use this)."""
    return live_system.api_url
