"""Fixtures shared by the integration and end-to-end tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from alembic.config import Config
from sqlalchemy import Engine, text

from accounts.roles import Role
from infra.settings import PROJECT_ROOT, Settings, get_settings

LOGS = PROJECT_ROOT / "artifacts" / "logs"
CASEWORK_CATEGORIES = ("10101", "10102", "10103", "20402", "20404", "10106")


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


@contextmanager
def migration_database(services: Settings, suffix: str) -> Iterator[tuple[Config, Engine]]:
    """An empty database of a migration test's own, with its alembic config and an engine; dropped after."""
    from infra.db import make_sync_engine
    from infra.migrate import alembic_config
    from infra.services.postgres_access import drop_database, ensure_database

    name = f"{services.pg_database}_{suffix}"
    drop_database(services, name)
    ensure_database(services, name)
    engine = make_sync_engine(services, name)
    try:
        yield alembic_config(services, name), engine
    finally:
        engine.dispose()
        drop_database(services, name)


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
        # The categories tests/e2e/casework.py hands out fresh points for: duplicates within 5 m instead of
        # 50 m, so a grid holds enough separate cases for the whole suite (other categories keep 50 m, and
        # test_cases_stream.py proves the duplicate rule with one of them).
        "GRIDFLOW_DUPLICATE_RULES": json.dumps({c: {"radius_m": 5.0} for c in CASEWORK_CATEGORIES}),
    }
    api = Process("api", [sys.executable, "-m", "gridflow_cli", "api"], env)
    worker = Process("worker-1", [sys.executable, "-m", "gridflow_cli", "worker"], env)
    api.start()
    worker.start()
    url = f"http://127.0.0.1:{port}"

    def api_answers() -> bool:
        try:  # /openapi.json: every /api/v1 route asks for a token
            return httpx.get(f"{url}/openapi.json", timeout=2).status_code == 200
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
    engine: Engine | None = None  # to make users on demand (`ensure`)
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

    def ensure(self, account: UserAccount) -> UserAccount:
        """The account, made in the store unless a user of that name exists (then kept as it is)."""
        from api.auth import store

        assert self.engine is not None, "made by accounts_of(live_system)"
        with self.engine.begin() as conn:
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
        return account

    def department(self, code: str) -> str:
        """The username of a user of department `code` (made on first use)."""
        name = "t_d." + code.replace(":", ".")
        return self.ensure(UserAccount(name, Role.DEPARTMENT, department_code=code)).username

    def office(self, area_code: str) -> str:
        """The username of the office of a city (the dispatch center), district, township or community."""
        from geo.schemas import Level, level_of_code

        level = level_of_code(area_code)
        if level is Level.CITY:
            return self.users[Role.CITY_DISPATCH].username
        role = Role(level.value)
        return self.ensure(UserAccount(f"t_{role.value}.{area_code}", role, area_code=area_code)).username

    def grid_worker(self, *grid_codes: str, name: str | None = None) -> str:
        """The username of a grid worker walking `grid_codes` (made on first use)."""
        account = UserAccount(name or f"t_gw.{grid_codes[0]}", Role.GRID_WORKER, grid_codes=grid_codes)
        return self.ensure(account).username

    def actor_for(self, action: str, case_id: str) -> str:
        """A user who may take `action` on the case as it stands now (accounts/scope.py's ACTION_RULES)."""
        url = f"{self.api_url}/api/v1/cases/{case_id}"
        deadline = time.monotonic() + 30  # a case opens just after its report is routed: wait for it
        while (
            answer := httpx.get(url, headers=self.headers(Role.CITY_DISPATCH), timeout=10)
        ).status_code == 404:
            if time.monotonic() > deadline:  # no such case: whoever asks gets the same 404
                return self.users[Role.CITY_DISPATCH].username
            time.sleep(0.2)
        case = answer.json()
        lead = (case.get("department") or {}).get("code")
        area = case["area"]
        if action in ("accept", "return", "handle", "postpone", "suspend", "resume", "escalate") and lead:
            return self.department(lead)
        if action in ("approve", "reject"):
            return self.office(area[case["level"]] if case["level"] != "city" else area["city"])
        if action == "verify":
            return self.grid_worker(area["grid"]) if area.get("grid") else self.office(area["community"])
        return self.users[Role.CITY_DISPATCH].username  # dispatch, void, evaluate (and escalate in triage)


_ACCOUNTS: dict[str, Accounts] = {}


def accounts_of(system: LiveSystem) -> Accounts:
    """The run's accounts on the live system, made once: what the `accounts` fixture gives, for helpers that
    are handed only the system."""
    found = _ACCOUNTS.get(system.api_url)
    if found is None:
        found = _ACCOUNTS[system.api_url] = _make_accounts(system)
    return found


def auth(system: LiveSystem, who: Role | str = Role.CITY_DISPATCH) -> dict[str, str]:
    """A bearer header of the run's accounts: by default the dispatch center's, which sees the whole city.
    Reports are posted as `REPORTER` (`auth(system, Role.GRID_WORKER)`)."""
    return accounts_of(system).headers(who)


REPORTER = "t_grid_worker"  # the `accounts` fixture's grid worker: the reporter of the tests' reports


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
    `accounts.actor_for(action, case_id)` names a user who may take an action on a case as it stands (made on
    demand: `department(code)`, `office(area_code)`, `grid_worker(*grids)`).
    """
    return accounts_of(live_system)


def _make_accounts(live_system: LiveSystem) -> Accounts:
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
    made = Accounts(api_url=live_system.api_url, users=users, others=others, engine=live_system.engine)
    for account in [*users.values(), *others.values()]:
        made.ensure(account)
    return made


FIELD_POINT = (121.6447, 38.9206)  # 中山广场, the field app tests' ZHONGSHAN_SQUARE


@pytest.fixture(scope="session")
def field_worker(live_system: LiveSystem) -> UserAccount:
    """A grid worker for the field app's live tests, walking the grid of the point its drafts are made at
    (tests/field_app/conftest.py ZHONGSHAN_SQUARE): sign the app in with `username` and `password`
    (TEST_PASSWORD); `accounts_of(live_system).token(username)` gives a token directly."""
    with live_system.engine.connect() as conn:
        grid = conn.execute(
            text(
                "SELECT code FROM areas WHERE level = 'grid'"
                " AND ST_Covers(geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) ORDER BY code LIMIT 1"
            ),
            {"lon": FIELD_POINT[0], "lat": FIELD_POINT[1]},
        ).scalar_one()
    account = UserAccount("t_field_worker", Role.GRID_WORKER, grid_codes=(grid,))
    return accounts_of(live_system).ensure(account)
