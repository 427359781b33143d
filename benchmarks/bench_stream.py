"""The stream's part of the benchmark: reports from Kafka to routed report and case row with one and with two
real workers, the naive agent as a baseline (one event, one transaction: written here, not in the product),
and the replay of the topics into an empty database."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from sqlalchemy import Engine

from benchmarks import bench_env as be


@dataclass
class StreamResult:
    label: str
    reports: int
    seconds: float
    cpu: dict[str, float]  # CPU seconds per process kind over the measured span

    @property
    def rate(self) -> float:
        return self.reports / self.seconds


def measure_workers(engine: Engine, codes: list[str], n: int, workers: int, seed: int) -> StreamResult:
    """`workers` real workers on a fresh prefix: warm them up, then time `n` reports produced at once until
    every one is routed (or in triage) and its case opened or joined."""
    prefix = be.phase_prefix(f"stream{workers}")
    procs = [be.worker(i, prefix) for i in range(workers)]
    warm = 100 * workers * 4  # enough to reach every partition of every worker
    with be.running(*procs):
        start_count = be.done_count(engine)
        asyncio.run(be.produce(be.submitted_events(codes, warm, seed), prefix))
        be.wait_for(lambda: be.done_count(engine) >= start_count + warm, timeout=300, what="the warm-up")
        events = be.submitted_events(codes, n, seed + 1)
        target = start_count + warm + n
        pids = {"workers": [p.pid for p in procs], "postgres": [be.postgres_pid()]}
        if (kafka := be.kafka_pid()) is not None:
            pids["kafka"] = [kafka]
        cpu0 = {k: be.cpu_seconds(v) for k, v in pids.items()}
        t0 = time.perf_counter()
        asyncio.run(be.produce(events, prefix))
        end = be.wait_for(lambda: be.done_count(engine) >= target, timeout=3600, what="reports", every=0.1)
        cpu = {k: be.cpu_seconds(v) - cpu0[k] for k, v in pids.items()}
    return StreamResult(f"{workers} worker{'s' if workers > 1 else ''}", n, end - t0, cpu)


# --- the naive agent ------------------------------------------------------------------------------------
async def _naive(engine_url: str, prefix: str, n: int, city: str) -> float:
    """One event at a time, each in its own transaction, through the product's functions: receipt, duplicate
    search, decision, the report's row, the case. Offsets committed per event. No Kafka hops between the
    steps (kinder to the baseline than the three agents). Returns the seconds for `n` events."""
    from aiokafka import AIOKafkaConsumer
    from sqlalchemy.ext.asyncio import create_async_engine

    from geo.versions import read_versions
    from infra.settings import get_settings
    from stream.case_store import load, open_cases_near, save
    from stream.casework import apply_commands, case_command_for
    from stream.events import ReportSubmitted
    from stream.router import decide_batch, work_calendar
    from stream.rulebook import RoutingState
    from stream.sink import apply_decisions, standing
    from stream.stages import duplicate_rules, joined, record_receipts

    share = get_settings().case_warning_share
    engine = create_async_engine(engine_url, pool_size=1)
    state = RoutingState()
    consumer = AIOKafkaConsumer(
        f"{prefix}reports.submitted",
        bootstrap_servers=be.settings().kafka_bootstrap,
        group_id=f"{prefix}naive",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        async with engine.connect() as conn:
            current = await conn.run_sync(read_versions)
        await state.refresh(engine, current)
        assert state.index is not None and state.rulebook is not None
        start = time.perf_counter()
        for _ in range(n):
            record = await consumer.getone()
            report = ReportSubmitted.model_validate_json(record.value)
            async with engine.begin() as conn:
                await record_receipts(conn, [report], city)
                rules = duplicate_rules([report])
                near = await open_cases_near(conn, [report], rules)
                (decision,) = decide_batch([report], state.index, state.rulebook, report.submitted_at)
                if report.report_id in near:
                    decision = joined(decision, near[report.report_id])
                await apply_decisions(conn, [decision], city)
                command = case_command_for((await standing(conn, [decision]))[0])
                loaded = await load(conn, [command.case_id], [command.command_id])
                cal = work_calendar()
                out = apply_commands([command], loaded.cases, loaded.reporters, loaded.done, cal, share)
                await save(conn, out, cal, share)
            await consumer.commit()
        return time.perf_counter() - start
    finally:
        await consumer.stop()
        await engine.dispose()


def measure_naive(codes: list[str], n: int, seed: int) -> StreamResult:
    from stream.topics import ensure_topics

    prefix = be.phase_prefix("naive")
    s = be.settings()
    ensure_topics(s.model_copy(update={"topic_prefix": prefix}))
    asyncio.run(be.produce(be.submitted_events(codes, n, seed), prefix))
    seconds = asyncio.run(_naive(s.database_url(), prefix, n, s.city_code))
    return StreamResult("naive agent (one event, one transaction)", n, seconds, {})


# --- replay ---------------------------------------------------------------------------------------------
class _Quiet:
    def phase(self, name: str, total: int | None) -> None: ...
    def advance(self, n: int) -> None: ...


def measure_replay(workers: int) -> StreamResult:
    """Rebuild the derived tables from the topics of the `workers` phase into an empty scratch database."""
    from infra.services.postgres_access import drop_database
    from stream.replay import rebuild
    from stream.replay_db import prepare_scratch

    s = be.settings().model_copy(update={"topic_prefix": be.phase_prefix(f"stream{workers}")})
    scratch = f"{s.pg_database}_replay"
    prepare_scratch(s, scratch, _Quiet())
    try:
        start = time.perf_counter()
        counts = asyncio.run(rebuild(s, scratch, _Quiet()))
        seconds = time.perf_counter() - start
    finally:
        drop_database(s, scratch)
    return StreamResult("replay into empty tables", counts.get("receipts", 0), seconds, {})
