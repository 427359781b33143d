"""The throughput benchmark's ground: its own database and topics, the processes it starts, the reports it
sends, and the counts it waits on. Import this module before anything reads the settings: it points them at
a scratch database and a topic prefix of the run's own (as the tests do), so the live system is untouched.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

RUN_ID = uuid.uuid4().hex[:6]
os.environ["GRIDFLOW_TOPIC_PREFIX"] = f"bench-{RUN_ID}."
os.environ["GRIDFLOW_PG_DATABASE"] = f"gridflow_bench_{RUN_ID}"
os.environ["GRIDFLOW_WORKER_ID"] = "gridflow-bench"
os.environ.setdefault("GRIDFLOW_TOPIC_PARTITIONS", "4")

from sqlalchemy import Engine, text  # noqa: E402

from infra.settings import PROJECT_ROOT, Settings, get_settings  # noqa: E402

LOGS = PROJECT_ROOT / "artifacts" / "bench"
# The four urban districts (中山, 西岗, 沙河口, 甘井子), where most reports come from: about 25 × 20 km, so a
# report has an open case of its category within 50 m now and then (a duplicate), as in a real city.
LON, LAT = (121.50, 121.72), (38.86, 38.98)


def settings() -> Settings:
    return get_settings()


@contextmanager
def scratch_system() -> Iterator[Engine]:
    """A migrated database loaded with Dalian, and the topics; both removed afterwards."""
    from kafka.admin import KafkaAdminClient

    from geo.hierarchy import dalian_areas
    from infra.db import make_sync_engine
    from infra.loading import load_city
    from infra.migrate import upgrade
    from infra.services.postgres_access import drop_database
    from stream.topics import ensure_topics, topic_names

    s = settings()
    upgrade(s)  # the database is made through postgres_access.ensure_database, as the superuser
    engine = make_sync_engine(s)
    try:
        load_city(s, dalian_areas(), quiet=True)
        ensure_topics(s)
        yield engine
    finally:
        engine.dispose()
        drop_database(s, s.pg_database)
        admin = KafkaAdminClient(bootstrap_servers=s.kafka_bootstrap)
        try:  # every phase's topics: they all start with the run's prefix
            ours = [t for t in admin.list_topics() if t.startswith(s.topic_prefix.rstrip("."))]
            admin.delete_topics(sorted(set(ours) | set(topic_names(s).values())))
        finally:
            admin.close()


def categories(engine: Engine) -> list[str]:
    """The codes that have a duty rule (the others would all go to triage)."""
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(text("SELECT DISTINCT category_code FROM duty_rules"))]


def count(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar() or 0)


def done_count(engine: Engine) -> int:
    """Reports that went all the way: routed or in triage, and their case opened or joined."""
    return count(engine, "SELECT count(*) FROM case_commands")


def wait_for(condition: Callable[[], bool], *, timeout: float, what: str, every: float = 0.05) -> float:
    """Poll until `condition` holds; return when it did (time.perf_counter)."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if condition():
            return time.perf_counter()
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


# --- reports -------------------------------------------------------------------------------------------
def report_body(codes: list[str], rng: random.Random, *, report_id: str | None = None) -> dict[str, object]:
    observed = datetime.now(UTC) - timedelta(minutes=rng.randint(1, 600))
    return {
        "report_id": report_id or str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "reporter_id": f"wg{rng.randint(1, 400):04d}",
        "category": rng.choice(codes),
        "description": "井盖缺失，行人易跌落",
        "location": {
            "lon": round(rng.uniform(*LON), 6),
            "lat": round(rng.uniform(*LAT), 6),
            "accuracy_m": 8.0,
            "crs": "wgs84",
        },
        "observed_at": observed.isoformat(),
    }


def submitted_events(codes: list[str], n: int, seed: int) -> list[tuple[bytes, bytes]]:
    """(key, value) of `n` ReportSubmitted events, built as intake builds them."""
    from api.reports.schemas import ReportIn
    from api.reports.service import build_event

    rng = random.Random(seed)
    now = datetime.now(UTC)
    out = []
    for _ in range(n):
        event = build_event(ReportIn.model_validate(report_body(codes, rng)), now)
        out.append((event.report_id.bytes, event.model_dump_json().encode()))
    return out


async def produce(events: list[tuple[bytes, bytes]], prefix: str) -> None:
    """Straight to `prefix`reports.submitted, as the API's producer sends (idempotent, acks=all), at once."""
    from aiokafka import AIOKafkaProducer

    s = settings()
    producer = AIOKafkaProducer(
        bootstrap_servers=s.kafka_bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    try:
        topic = f"{prefix}reports.submitted"
        futures = [await producer.send(topic, value=value, key=key) for key, value in events]
        for future in futures:
            await future
    finally:
        await producer.stop()


# --- processes -----------------------------------------------------------------------------------------
@dataclass
class Proc:
    name: str
    args: list[str]
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return LOGS / f"{RUN_ID}-{self.name}.log"

    def start(self) -> Proc:
        LOGS.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            self.args,
            cwd=PROJECT_ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


def phase_prefix(name: str) -> str:
    """A topic prefix of a phase's own (its workers form their own consumer group and start empty)."""
    return f"{settings().topic_prefix.rstrip('.')}-{name}."


def worker(n: int, prefix: str) -> Proc:
    args = [sys.executable, "-m", "gridflow_cli", "worker", "--loglevel", "warning"]
    return Proc(f"worker-{n}-{prefix.rstrip('.')}", args, {"GRIDFLOW_TOPIC_PREFIX": prefix})


def api(port: int, workers: int, prefix: str) -> Proc:
    args = [sys.executable, "-m", "gridflow_cli", "api", "--port", str(port), "--workers", str(workers)]
    # A token lives 15 minutes by default: longer than a phase, but not than an overloaded one's backlog.
    env = {"GRIDFLOW_TOPIC_PREFIX": prefix, "GRIDFLOW_ACCESS_TOKEN_MINUTES": "60"}
    return Proc(f"api-{workers}w-{prefix.rstrip('.')}", args, env)


def postgres_pid() -> int:
    return int((settings().state_dir / "postgres" / "data" / "postmaster.pid").read_text().split()[0])


def kafka_pid() -> int | None:
    config = settings().state_dir / "kafka" / "config" / "server.properties"  # ours, not another clone's
    found = subprocess.run(["pgrep", "-f", str(config)], capture_output=True, text=True).stdout.split()
    return int(found[0]) if found else None


@contextmanager
def running(*procs: Proc) -> Iterator[list[Proc]]:
    started = [p.start() for p in procs]
    try:
        yield started
    finally:
        for p in reversed(started):
            p.stop()


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes and their children so far (from /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in _with_children(pids):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _with_children(pids: list[int]) -> list[int]:
    found = list(pids)
    for pid in pids:
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except FileNotFoundError:
            continue
        found += _with_children([int(c) for c in children])
    return found


# --- signing in (when the API wants a token) ------------------------------------------------------------
BENCH_USER, BENCH_PASSWORD = "bench_dispatch", f"bench-{RUN_ID}-口令-2026"


def auth(url: str) -> dict[str, str]:
    """{"BENCH_AUTH": "Bearer …", "BENCH_REPORTER": name} for the Lua scripts and the clients, or {} when
    intake takes reports without a token. The user is the city dispatch center (a role that may report)."""
    import httpx

    probe = httpx.post(f"{url}/api/v1/reports", json={}, timeout=10)
    if probe.status_code != 401:
        return {}
    made = subprocess.run(
        [
            sys.executable,
            "-m",
            "gridflow_cli",
            "user",
            "add",
            BENCH_USER,
            "--role=city_dispatch",
            "--password-stdin",
        ],
        input=BENCH_PASSWORD.encode(),
        cwd=PROJECT_ROOT,
        capture_output=True,
    )
    said = (made.stdout + made.stderr).decode()
    if made.returncode != 0 and "已存在" not in said:  # made by the first API of the run: "already exists"
        raise RuntimeError(f"could not make the benchmark's user: {said}")
    signed = httpx.post(
        f"{url}/api/v1/auth/token", data={"username": BENCH_USER, "password": BENCH_PASSWORD}, timeout=30
    )
    signed.raise_for_status()
    return {"BENCH_AUTH": f"Bearer {signed.json()['access_token']}", "BENCH_REPORTER": BENCH_USER}
