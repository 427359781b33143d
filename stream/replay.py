"""Rebuilding the derived tables from the topics of record in a scratch database, to compare them to live.

Nothing is decided again: the decisions are read from `reports.routed` / `reports.triage`, so the rebuild is
deterministic. The events go through the agents' own write functions in three phases — receipts
(`stages.record_receipts`), decisions (`sink.apply_decisions`), case commands (`case_store.load` →
`casework.apply_commands` → `case_store.save`) — each phase reading its topics from the beginning to the end
offsets taken before the first read. Partitions are merged by record time, so that what depends on an event of
another partition (a conflicting resend under another key, a duplicate that opens a case of its own) sees it
in the order the live agents most likely did; each partition keeps its own order.

What the agents wrote outside the topics is taken where they left a trace: a decision the database refused
was set aside by the sink with the dead letter's time, and a command that failed is recorded as refused.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from uuid import UUID

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from kafka import KafkaConsumer
from kafka import TopicPartition as KafkaPartition
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from infra.services.postgres_access import drop_database
from infra.settings import Settings
from stream.case_store import load, record_results, save
from stream.casework import Result, apply_commands
from stream.events import CaseCommand, EventSetAside, ReportRouted, ReportSubmitted, ReportTriaged
from stream.isolation import isolating
from stream.quarantine import set_aside_decision
from stream.replay_db import TableDiff, compare, create_indexes, drop_secondary_indexes, prepare_scratch
from stream.router import Decision, work_calendar
from stream.sink import apply_decisions
from stream.stages import record_receipts
from stream.topics import topic_names

log = logging.getLogger("gridflow.stream.replay")
T = TypeVar("T")
Apply = Callable[[list[T]], Awaitable[None]]  # writes one batch to the scratch database

# Larger than the agents' batches (500): the outcome does not depend on where a batch ends (commands apply in
# order, a case opened earlier in the batch is found there), and each batch costs a few round trips.
REPORT_BATCH, CASE_BATCH = 2000, 2000


class Tracker(Protocol):
    """Where progress goes (a rich bar in the CLI); `total` None when unknown."""

    def phase(self, name: str, total: int | None) -> None: ...
    def advance(self, n: int) -> None: ...


@dataclass(frozen=True)
class Replayed:
    records: dict[str, int]  # records read per phase
    seconds: float
    diffs: list[TableDiff]

    @property
    def same(self) -> bool:
        return all(d.same for d in self.diffs)


# --- reading the topics --------------------------------------------------------------------------------
Ranges = dict[TopicPartition, tuple[int, int]]  # [first offset, end offset) to read


def snapshot(settings: Settings, topics: Sequence[str]) -> Ranges:
    """Every partition's range now: the replay reads up to these ends, whatever arrives meanwhile."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False)
    try:
        parts = [(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        ours = [KafkaPartition(t, p) for t, p in parts]
        begins, ends = consumer.beginning_offsets(ours), consumer.end_offsets(ours)
        return {TopicPartition(t, p): (begins[k], ends[k]) for (t, p), k in zip(parts, ours, strict=True)}
    finally:
        consumer.close()


async def merged(
    consumer: AIOKafkaConsumer, ranges: Ranges, size: int
) -> AsyncIterator[list[ConsumerRecord]]:
    """The records of `ranges` in batches of up to `size`, partitions merged by record time (ties by partition
    and offset); a partition's records keep their order."""
    todo = {tp: end for tp, (begin, end) in ranges.items() if begin < end}
    consumer.assign(list(todo))
    for tp in todo:
        consumer.seek(tp, ranges[tp][0])
    rank = {tp: i for i, tp in enumerate(sorted(todo))}
    buffers: dict[TopicPartition, deque[ConsumerRecord]] = {tp: deque() for tp in todo}
    heads: list[tuple[int, int, int, TopicPartition]] = []
    waiting, out = set(todo), []  # waiting: empty buffer, more to read
    while waiting or heads:
        while waiting:  # a record may be merged only while every unfinished partition has one buffered
            fetched = await consumer.getmany(*waiting, timeout_ms=500)
            for tp, records in fetched.items():
                kept = [r for r in records if r.offset < todo[tp]]
                if kept:
                    buffers[tp].extend(kept)
                    heapq.heappush(heads, (kept[0].timestamp, rank[tp], kept[0].offset, tp))
                    waiting.discard(tp)
                if len(kept) < len(records) or (kept and kept[-1].offset >= todo[tp] - 1):
                    todo.pop(tp)
                    waiting.discard(tp)
            for tp in [tp for tp in waiting if tp not in fetched]:
                if await consumer.position(tp) >= todo[tp]:  # the range ended in control records
                    todo.pop(tp)
                    waiting.discard(tp)
        while heads and not waiting:
            _, _, _, tp = heapq.heappop(heads)
            buffer = buffers[tp]
            out.append(buffer.popleft())
            if buffer:
                heapq.heappush(heads, (buffer[0].timestamp, rank[tp], buffer[0].offset, tp))
            elif tp in todo:
                waiting.add(tp)
            if len(out) >= size:
                yield out
                out = []
    if out:
        yield out


def _parsed(record: ConsumerRecord, parse: Callable[[ConsumerRecord], T]) -> T | None:
    try:
        return parse(record)
    except ValidationError:
        return None  # the agent set it aside too (dead letter, and a triage decision on the topic if named)


async def _pipeline(
    consumer: AIOKafkaConsumer,
    ranges: Ranges,
    size: int,
    parse: Callable[[ConsumerRecord], T],
    apply: Apply[T],
    tracker: Tracker,
) -> int:
    """Read and parse the next batch while the database writes this one; returns the records read."""
    queue: asyncio.Queue[list[T] | Exception | None] = asyncio.Queue(maxsize=2)
    count = 0

    async def feed() -> None:
        nonlocal count
        try:
            async for records in merged(consumer, ranges, size):
                count += len(records)
                tracker.advance(len(records))
                await queue.put([item for r in records if (item := _parsed(r, parse)) is not None])
        except Exception as exc:  # handed over, so the writer stops instead of waiting for more
            await queue.put(exc)
            return
        await queue.put(None)

    feeder = asyncio.create_task(feed())
    try:
        while (batch := await queue.get()) is not None:
            if isinstance(batch, Exception):
                raise batch
            await apply(batch)
    finally:
        feeder.cancel()
    return count


# --- applying them with the agents' functions ----------------------------------------------------------
async def _give_up(item: Any, exc: Exception) -> None:
    log.warning("replay: %r refused permanently, as the agent would have set it aside: %r", item, exc)


async def _receipts(engine: AsyncEngine, reports: list[ReportSubmitted], city_code: str) -> None:
    async def step(batch: Sequence[ReportSubmitted]) -> list[None]:
        async with engine.begin() as conn:
            await record_receipts(conn, batch, city_code)
        return []

    # A receipt the database refuses was set aside live: its triage decision is on the topic.
    await isolating("replay receipts", reports, step, _give_up)


async def _decisions(
    engine: AsyncEngine, decisions: list[Decision], city_code: str, letters: dict[UUID, EventSetAside]
) -> None:
    async def step(batch: Sequence[Decision]) -> list[None]:
        async with engine.begin() as conn:
            await apply_decisions(conn, batch, city_code)
        return []

    async def set_aside(decision: Decision, exc: Exception) -> None:
        # The sink wrote a triage decision in its place, timed by its dead letter; the letter's error is the
        # one the sink described, so the detail comes out the same.
        letter = letters.get(decision.report.report_id)
        if letter is None:
            await _give_up(decision, exc)
            return
        fallback = set_aside_decision(decision.report, stage="sink", error=letter.error, at=letter.at)
        await isolating("replay set-aside decision", [fallback], step, _give_up)

    await isolating("replay decisions", decisions, step, set_aside)


async def _cases(engine: AsyncEngine, commands: list[CaseCommand], share: float) -> None:
    calendar = work_calendar()

    async def step(batch: Sequence[CaseCommand]) -> list[None]:
        async with engine.begin() as conn:
            loaded = await load(conn, [c.case_id for c in batch], [c.command_id for c in batch])
            out = apply_commands(list(batch), loaded.cases, loaded.reporters, loaded.done, calendar, share)
            await save(conn, out, calendar, share)
        return []

    async def refuse(command: CaseCommand, exc: Exception) -> None:
        # As the case agent records a command that failed permanently (stream.case_stage).
        failed = Result(
            command.command_id,
            command.case_id,
            command.kind,
            "refused",
            command.at,
            "failed",
            str(exc),
            action=command.action,
        )
        async with engine.begin() as conn:
            await record_results(conn, [failed])

    await isolating("replay case commands", commands, step, refuse)


def _decision(names: dict[str, str]) -> Callable[[ConsumerRecord], Decision]:
    def parse(record: ConsumerRecord) -> Decision:
        if record.topic == names["routed"]:
            return ReportRouted.model_validate_json(record.value)
        return ReportTriaged.model_validate_json(record.value)

    return parse


async def _sink_letters(consumer: AIOKafkaConsumer, ranges: Ranges) -> dict[UUID, EventSetAside]:
    """The sink's first dead letter for each report (the first fallback decision is the one that stood)."""
    found: dict[UUID, EventSetAside] = {}
    async for records in merged(consumer, ranges, REPORT_BATCH):
        for record in records:
            letter = _parsed(record, lambda r: EventSetAside.model_validate_json(r.value))
            if letter is not None and letter.stage == "sink" and letter.report_id is not None:
                found.setdefault(letter.report_id, letter)
    return found


async def rebuild(settings: Settings, database: str, tracker: Tracker) -> dict[str, int]:
    """Apply the topics of record to `database` (prepared), phase by phase; returns the records per phase."""
    names = topic_names(settings)
    ranges = snapshot(settings, list(names.values()))
    if cut := sorted({tp.topic for tp, (begin, _) in ranges.items() if begin > 0}):
        log.warning("the log of %s no longer starts at offset 0: the rebuild cannot be whole", ", ".join(cut))
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 << 20,
    )
    # Commits need not wait for the disk: the scratch database is rebuilt from the topics if lost.
    options = {"options": "-c synchronous_commit=off"}
    engine = create_async_engine(settings.database_url(database), pool_size=2, connect_args=options)
    counts: dict[str, int] = {}

    async def phase(
        name: str, keys: Sequence[str], size: int, parse: Callable[[ConsumerRecord], T], apply: Apply[T]
    ) -> None:
        part = {tp: r for tp, r in ranges.items() if tp.topic in {names[k] for k in keys}}
        tracker.phase(name, sum(end - begin for begin, end in part.values()))
        counts[name] = await _pipeline(consumer, part, size, parse, apply, tracker)

    indexes = drop_secondary_indexes(settings, database)  # built once at the end: see replay_db
    await consumer.start()
    try:
        letters = await _sink_letters(
            consumer, {tp: r for tp, r in ranges.items() if tp.topic == names["deadletter"]}
        )
        city, share = settings.city_code, settings.case_warning_share
        await phase("receipts", ["submitted"], REPORT_BATCH, _submitted, lambda b: _receipts(engine, b, city))
        await phase(
            "decisions",
            ["routed", "triage"],
            REPORT_BATCH,
            _decision(names),
            lambda b: _decisions(engine, b, city, letters),
        )
        await phase(
            "case commands", ["case_commands"], CASE_BATCH, _command, lambda b: _cases(engine, b, share)
        )
        await asyncio.to_thread(create_indexes, settings, database, indexes)
        return counts
    finally:
        await consumer.stop()
        await engine.dispose()


def _submitted(record: ConsumerRecord) -> ReportSubmitted:
    return ReportSubmitted.model_validate_json(record.value)


def _command(record: ConsumerRecord) -> CaseCommand:
    return CaseCommand.model_validate_json(record.value)


def run_replay(
    settings: Settings, database: str, *, keep: bool, tracker: Tracker, examples: int = 5
) -> Replayed:
    """Prepare `database`, rebuild it from the topics, compare it with the live one; drop it unless `keep`."""
    prepare_scratch(settings, database, tracker)
    try:
        start = time.monotonic()
        counts = asyncio.run(rebuild(settings, database, tracker))
        seconds = time.monotonic() - start
        diffs = compare(settings, database, examples=examples, tracker=tracker)
    finally:
        if not keep:
            drop_database(settings, database)
    return Replayed(counts, seconds, diffs)
