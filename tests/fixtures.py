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

from accounts.roles import Role
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


TEST_PASSWORD = "gridflow-测试-密码-2026"  # every `accounts` fixture user's password


@dataclass
class UserAccount:
    username: str
    role: Role
    area_code: str | None = None
    department_code: str | None = None
    grid_codes: tuple[str, ...] = ()
    password: str = TEST_PASSWORD


@dataclass
class Accounts:
    """Users of every role and their bearer tokens, on the live system (see the `accounts` fixture)."""

    api_url: str
    users: dict[Role, UserAccount]
    others: dict[Role, UserAccount]  # the area- and department-bound roles, in another district
    _tokens: dict[str, tuple[str, float]] = field(default_factory=dict)

    def sign_in(self, username: str, password: str = TEST_PASSWORD) -> dict[str, object]:
        """The token response (access_token, refresh_token, expires_in...) of a fresh sign-in."""
        response = httpx.post(
            f"{self.api_url}/api/v1/auth/token", data={"username": username, "password": password}, timeout=30
        )
        assert response.status_code == 200, response.text
        body: dict[str, object] = response.json()
        return body

    def token(self, who: Role | str) -> str:
        """An access token of the role's user (or any username's, same password), renewed before it ends."""
        username = self.users[who].username if isinstance(who, Role) else who
        cached = self._tokens.get(username)
        if cached is None or time.monotonic() > cached[1]:
            body = self.sign_in(username)
            lifetime = float(str(body["expires_in"]))
            cached = (str(body["access_token"]), time.monotonic() + lifetime * 0.6)
            self._tokens[username] = cached
        return cached[0]

    def headers(self, who: Role | str) -> dict[str, str]:
        """`{"Authorization": "Bearer …"}` for the role's user, or for a username."""
        return {"Authorization": f"Bearer {self.token(who)}"}


@pytest.fixture(scope="session")
def accounts(live_system: LiveSystem) -> Accounts:
    """One user of every role, made once per run through the accounts store, with their tokens on demand.

    `accounts.users[Role.X]` are bound in 中山区 (210202): `t_grid_worker` walks the first two grids of a
    community there, `t_community` is that community, `t_township` its township, `t_district` 中山区,
    `t_department` the district's water bureau `210202000000:water` (lead on water cases: categories
    10101-10103, 20402, 20404); `t_city_dispatch`, `t_auditor` and `t_admin` are city-wide.
    `accounts.others[Role.X]` (`t_<role>_other`) are the same five area- and department-bound roles in 西岗区
    (210203), for "another area's / another department's object" checks. Every password is TEST_PASSWORD.
    `accounts.headers(Role.X)` (or `accounts.headers("username")`) gives a bearer header, signed in once and
    renewed before the access token expires; `accounts.sign_in(name)` a fresh token response.
    """
    from api.auth import store

    def bound(district: str, suffix: str) -> dict[Role, UserAccount]:
        with live_system.engine.connect() as conn:
            grids = [
                code
                for (code,) in conn.execute(
                    text(
                        "SELECT code FROM areas WHERE level = 'grid' AND code LIKE :p ORDER BY code LIMIT 2"
                    ),
                    {"p": district[:6] + "%"},
                )
            ]
        community = grids[0][:12]
        return {
            Role.GRID_WORKER: UserAccount(
                f"t_grid_worker{suffix}", Role.GRID_WORKER, grid_codes=tuple(grids)
            ),
            Role.COMMUNITY: UserAccount(f"t_community{suffix}", Role.COMMUNITY, area_code=community),
            Role.TOWNSHIP: UserAccount(f"t_township{suffix}", Role.TOWNSHIP, area_code=community[:9] + "000"),
            Role.DISTRICT: UserAccount(f"t_district{suffix}", Role.DISTRICT, area_code=district),
            Role.DEPARTMENT: UserAccount(
                f"t_department{suffix}", Role.DEPARTMENT, department_code=f"{district}:water"
            ),
        }

    users = bound("210202000000", "")
    users |= {
        role: UserAccount(f"t_{role.value}", role) for role in (Role.CITY_DISPATCH, Role.AUDITOR, Role.ADMIN)
    }
    others = bound("210203000000", "_other")
    with live_system.engine.begin() as conn:
        for account in [*users.values(), *others.values()]:
            if store.get_by_username(conn, username=account.username) is None:
                store.create_user(
                    conn,
                    username=account.username,
                    password=account.password,
                    role=account.role,
                    area_code=account.area_code,
                    department_code=account.department_code,
                    grid_codes=account.grid_codes,
                    actor="test:fixtures",
                )
    return Accounts(api_url=live_system.api_url, users=users, others=others)
