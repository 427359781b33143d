"""The live feed of one API process: one group-less consumer reads the feed's topics from their end and hands
each event to the connected clients that may see it.

A new client starts where the feed is. A client that resumes (Last-Event-ID) first reads what it missed
with a consumer of its own, from its position up to where the feed stood when it joined; what the feed read
since waits in the client's queue, and any record at or before the client's position is skipped. Both
follow each partition in order, so the client gets every event once.

Each client has a bounded queue: one that reads too slowly is cut off (with a final event carrying its
position, so that it can resume) rather than stall the others or grow the process without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from api.errors import BrokerUnavailable
from api.events.messages import LiveEvent, live_event
from api.events.positions import LETTERS, Position
from api.ops.metrics import LIVE_CLIENTS, LIVE_DROPPED
from infra.settings import Settings
from stream.topics import topic_names

log = logging.getLogger("gridflow.api.events")
START_TIMEOUT_S = 10.0
FETCH_WAIT_MS = 100  # how long the broker may hold a fetch for more data: the feed's added latency
# A resume further behind than this reads no backlog: the client is told to reload (event `reset`) instead.
MAX_CATCH_UP = 100_000
CATCH_UP_STALL_S = 30.0


def _consumer(settings: Settings) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id="gridflow-live",
        group_id=None,  # every API process reads everything; nothing is committed
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=FETCH_WAIT_MS,
    )


@dataclass(eq=False)
class Subscriber:
    wants: Callable[[LiveEvent], bool]
    queue: asyncio.Queue[LiveEvent | None]
    dropped: bool = False


@dataclass
class Joined:
    subscriber: Subscriber
    position: Position  # where the client stands: the next offset to deliver per partition
    live_from: Position  # where the feed stood: the queue holds what comes from here on
    catch_up: int = field(default=0)  # records between the two


class LiveFeed:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._names = topic_names(settings)
        self._keys = {self._names[key]: key for key in LETTERS}
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._position: Position = {}
        self._subscribers: set[Subscriber] = set()
        self._lock = asyncio.Lock()

    @property
    def names(self) -> dict[str, str]:
        return self._names

    async def start(self) -> None:
        """Start reading (once); raises BrokerUnavailable when Kafka does not answer."""
        async with self._lock:
            if self._task is not None and not self._task.done():
                return
            consumer = _consumer(self._settings)
            try:
                await asyncio.wait_for(self._assign_at_end(consumer), timeout=START_TIMEOUT_S)
            except (KafkaError, OSError, TimeoutError) as exc:
                await consumer.stop()
                raise BrokerUnavailable("消息队列暂不可用，请稍后重试 (Kafka unreachable)") from exc
            self._consumer = consumer
            self._task = asyncio.create_task(self._run(consumer), name="gridflow-live-feed")

    async def _assign_at_end(self, consumer: AIOKafkaConsumer) -> None:
        await consumer.start()
        partitions = await self._partitions()
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        self._position = {tp: await consumer.position(tp) for tp in partitions}

    async def _partitions(self) -> list[TopicPartition]:
        # The consumer's own metadata knows only topics it subscribed to; an admin client asks for ours.
        admin = AIOKafkaAdminClient(
            bootstrap_servers=self._settings.kafka_bootstrap, client_id="gridflow-live"
        )
        try:
            await admin.start()
            described = await admin.describe_topics(list(self._keys))
        finally:
            await admin.close()
        found = [
            TopicPartition(topic["topic"], part["partition"])
            for topic in described
            if not topic["error_code"]
            for part in topic["partitions"]
        ]
        if not found:
            raise KafkaError("the live feed's topics do not exist yet")
        return sorted(found)

    async def _run(self, consumer: AIOKafkaConsumer) -> None:
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=1000, max_records=1000)
                for tp, records in batches.items():
                    for record in records:
                        self._position[tp] = record.offset + 1
                        event = self._event(tp, record.offset, record.value)
                        if event is not None:
                            self._dispatch(event)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("live feed stopped reading; its clients are told to reconnect")
        finally:
            for subscriber in list(self._subscribers):
                self._cut_off(subscriber, slow=False)

    def _event(self, tp: TopicPartition, offset: int, value: bytes | None) -> LiveEvent | None:
        return live_event(self._keys[tp.topic], tp.topic, tp.partition, offset, value or b"")

    def _dispatch(self, event: LiveEvent) -> None:
        for subscriber in list(self._subscribers):
            if not subscriber.wants(event):
                continue
            try:
                subscriber.queue.put_nowait(event)
            except asyncio.QueueFull:
                self._cut_off(subscriber, slow=True)

    def _cut_off(self, subscriber: Subscriber, *, slow: bool) -> None:
        self._subscribers.discard(subscriber)
        subscriber.dropped = True
        if slow:
            LIVE_DROPPED.inc()
        # Wakes a client waiting on an empty queue; a full one has plenty to read before it finds out.
        with contextlib.suppress(asyncio.QueueFull):
            subscriber.queue.put_nowait(None)

    async def join(self, wants: Callable[[LiveEvent], bool], start: Position | None) -> Joined:
        """Join the feed at its current position, or at `start` (partitions it lacks: from their start)."""
        await self.start()
        subscriber = Subscriber(wants, asyncio.Queue(maxsize=self._settings.events_queue_size))
        # No await between the snapshot and the joining: the queue gets exactly what comes after it.
        live_from = dict(self._position)
        self._subscribers.add(subscriber)
        LIVE_CLIENTS.inc()
        if start is None:
            return Joined(subscriber, dict(live_from), live_from)
        position = {tp: start.get(tp, 0) for tp in live_from}
        behind = sum(max(0, live_from[tp] - position[tp]) for tp in live_from)
        return Joined(subscriber, position, live_from, behind)

    def leave(self, joined: Joined) -> None:
        self._subscribers.discard(joined.subscriber)
        LIVE_CLIENTS.dec()

    async def missed(self, joined: Joined) -> AsyncIterator[LiveEvent]:
        """What the client missed: from its position up to where the feed stood when it joined. Raises
        TimeoutError when the broker gives nothing for CATCH_UP_STALL_S (the client then reconnects)."""
        todo = {tp: end for tp, end in joined.live_from.items() if joined.position[tp] < end}
        if not todo:
            return
        consumer = _consumer(self._settings)
        try:
            await asyncio.wait_for(consumer.start(), timeout=START_TIMEOUT_S)
            consumer.assign(list(todo))
            for tp in todo:
                consumer.seek(tp, joined.position[tp])
            stalled_since = time.monotonic()
            while todo:
                batches = await consumer.getmany(*todo, timeout_ms=1000, max_records=1000)
                for tp, records in batches.items():
                    for record in records:
                        if record.offset >= todo[tp]:
                            break
                        event = self._event(tp, record.offset, record.value)
                        if event is not None and joined.subscriber.wants(event):
                            yield event
                if batches:
                    stalled_since = time.monotonic()
                elif time.monotonic() - stalled_since > CATCH_UP_STALL_S:
                    raise TimeoutError("the broker gave nothing to catch up with")
                for tp in list(todo):
                    if await consumer.position(tp) >= todo[tp]:
                        del todo[tp]
                        consumer.pause(tp)
        finally:
            await consumer.stop()

    async def stop(self) -> None:
        task, consumer = self._task, self._consumer
        self._task = self._consumer = None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if consumer is not None:
            await consumer.stop()
